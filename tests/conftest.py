"""Shared fixtures: the local stack's servers, started for the test session on free ports.

Servers live in private temp dirs (never a developer's .sparkify/) and are stopped at the end.
Nothing here skips: a server that cannot start fails the tests that need it.

Each server takes any free port as it starts (port 0), never one picked beforehand that another
process could take meanwhile. A test that fails on a timeout (a wait of the stack, a subprocess's
timeout) gets a report section with the tail of the log of every server it used.
`--under-load` runs the session on a busy machine on purpose (tests/under_load.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.client import BaseClient

from local_stack import timeouts
from local_stack.airflow import connection_env
from local_stack.mail import MailCatcher, Mailbox
from local_stack.postgres import PostgresServer, run_sql_file, warehouse_schema
from local_stack.process import ANY_PORT, LOG_TAIL_LINES, StackTimeout, log_tail
from local_stack.s3 import REGION, S3Server, Seed, client, create_bucket
from local_stack.stack import any_free_ports_env
from tests.under_load import Load, default_hogs

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/sparkify"

# fixture name -> the log files (or folders of *.log) of the servers it started, for timeout reports
SERVICE_LOGS: dict[str, list[Path]] = {}


# --- running the session under load on purpose ------------------------------------------------------


def pytest_addoption(parser):
    group = parser.getgroup("sparkify", "sparkify: the local stack's tests")
    group.addoption("--under-load", action="store_const", const="stack", dest="under_load", default=None,
                    help="run the session on a busy machine: CPU hogs on every core and a second local stack "
                    "backfilling beside it; all stopped at the end (tests/under_load.py)")
    group.addoption("--under-load-cpu", action="store_const", const="cpu", dest="under_load",
                    help="as --under-load, without the second stack")
    group.addoption("--load-hogs", type=int, default=None, metavar="N",
                    help=f"CPU hogs with --under-load (default: two per core, here {default_hogs()})")


def pytest_configure(config):
    mode = config.getoption("under_load")
    if mode and not config.getoption("help") and not hasattr(config, "workerinput"):
        hogs = config.getoption("load_hogs")
        load = Load(hogs=default_hogs() if hogs is None else hogs, with_stack=mode == "stack")
        config.stash[LOAD] = load
        load.start()


def pytest_report_header(config):
    if load := config.stash.get(LOAD, None):
        return load.describe()
    return None


def pytest_sessionfinish(session):
    if load := session.config.stash.get(LOAD, None):
        load.stop()


def pytest_unconfigure(config):
    if load := config.stash.get(LOAD, None):
        load.stop()


def pytest_terminal_summary(terminalreporter, config):
    if load := config.stash.get(LOAD, None):
        terminalreporter.write_line(load.summary())


LOAD = pytest.StashKey[Load]()


# --- a timeout's failure shows the logs of the servers the test used --------------------------------


def _is_timeout(error: BaseException | None) -> bool:
    """A wait that ran out: the stack's, a subprocess's, a socket's, Playwright's (its expect() fails saying so)."""
    while error is not None:
        if isinstance(error, (StackTimeout, subprocess.TimeoutExpired, TimeoutError)) or "Timeout" in type(error).__name__:
            return True
        if isinstance(error, AssertionError) and re.search(r"Timeout \d+ ?ms exceeded", str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False


def _tail(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-LOG_TAIL_LINES:]) or "(nothing)"


def timeout_report(fixtures: list[str], error: BaseException,
                   service_logs: dict[str, list[Path]] | None = None) -> str:
    """The tail of every log of the servers behind fixtures (those not shown in error's message already),
    and for a subprocess that timed out, the tail of what it printed."""
    parts = []
    if isinstance(error, subprocess.TimeoutExpired):
        parts.append(f"--- {error} ---\n--- its stdout, last {LOG_TAIL_LINES} lines ---\n{_tail(error.stdout)}"
                     f"\n--- its stderr, last {LOG_TAIL_LINES} lines ---\n{_tail(error.stderr)}")
    service_logs = SERVICE_LOGS if service_logs is None else service_logs
    shown = set(getattr(error, "logs", []))
    for name in fixtures:
        for path in service_logs.get(name, []):
            for log in sorted(path.glob("*.log")) if path.is_dir() else [path]:
                if log not in shown:
                    shown.add(log)
                    parts.append(f"--- {name}: last {LOG_TAIL_LINES} lines of {log} ---\n{log_tail(log)}")
    return "\n".join(parts) or "(no server log: the test used no server of the session)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.excinfo is not None and _is_timeout(call.excinfo.value):
        report.sections.append(("timed out: the logs of the servers it used",
                                timeout_report(list(item.fixturenames), call.excinfo.value)))
    return report


# --- servers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_tmp_factory() -> Iterator[Callable[[str], Path]]:
    """make(prefix) -> a fresh dir under the system temp dir that the `postgres` OS user can enter.

    (pytest's own tmp dirs are mode 0700 under root, which that user cannot enter.) Removed at session end.
    """
    made: list[Path] = []

    def make(prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"sparkify-{prefix}-"))
        path.chmod(0o711)
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def private_stack(server_tmp_factory) -> Callable[[str], AbstractContextManager[dict[str, str]]]:
    """private_stack(name): the environment of a whole `./sparkify` stack of its own (state dir, any free ports).

    The user runs `python -m local_stack.cli up|demo ...` with it; leaving the `with` block runs `down`.
    """

    @contextmanager
    def stack_env(name: str) -> Iterator[dict[str, str]]:
        state_dir = server_tmp_factory(name) / "state"
        env = {**os.environ, "SPARKIFY_STATE_DIR": str(state_dir), **any_free_ports_env()}
        SERVICE_LOGS["private_stack"] = [state_dir / "logs"]  # the latest private stack's logs
        try:
            yield env
        finally:
            down = subprocess.run([sys.executable, "-m", "local_stack.cli", "down"], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=timeouts.STACK_DOWN)
        if down.returncode != 0:  # only when nothing failed before: a failure of the block is the one to see
            pytest.fail(f"`sparkify down` of the private stack {name} failed (exit {down.returncode}):\n"
                        f"{down.stdout}\n{down.stderr}")

    return stack_env


@pytest.fixture(scope="session")
def shared_sample() -> Path:
    """The real Sparkify sample (log_data/, song_data/, log_json_path.json) from ../shared."""
    if not (SHARED_SAMPLE / "log_data").is_dir():
        pytest.fail(f"real Sparkify sample missing: expected {SHARED_SAMPLE} (shared/ beside the repo)")
    return SHARED_SAMPLE


@pytest.fixture(scope="session")
def postgres_server(server_tmp_factory) -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session on a free port."""
    base = server_tmp_factory("pg")
    server = PostgresServer(base / "pgdata", ANY_PORT, base / "postgres.log")
    SERVICE_LOGS["postgres_server"] = [server.log_file]
    server.start()
    yield server
    server.stop()


def _fresh_database(server: PostgresServer) -> str:
    name = f"test_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    for path in warehouse_schema(REPO):
        run_sql_file(server.uri(name), path)
    return name


@pytest.fixture
def warehouse(postgres_server) -> Iterator[str]:
    """URI of a fresh database for this test, made by the warehouse schema files (local_stack.postgres.WAREHOUSE_SCHEMA)."""
    name = _fresh_database(postgres_server)
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def module_warehouse(postgres_server) -> Iterator[str]:
    """URI of a fresh database shared by one test module, made by the warehouse schema files (local_stack.postgres.WAREHOUSE_SCHEMA)."""
    name = _fresh_database(postgres_server)
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def s3_server(server_tmp_factory) -> Iterator[str]:
    """A moto S3 server for the session; yields its endpoint_url."""
    server = S3Server(ANY_PORT, server_tmp_factory("s3") / "s3.log")
    SERVICE_LOGS["s3_server"] = [server.log_file]
    server.start()
    yield server.endpoint_url
    server.stop()


@pytest.fixture(scope="session")
def s3_client_for() -> Callable[[str], BaseClient]:
    """client(endpoint_url) -> a boto3 S3 client with the local stack's credentials."""
    return client


@pytest.fixture
def s3_client(s3_server) -> BaseClient:
    """A boto3 S3 client for s3_server."""
    return client(s3_server)


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """Name of a fresh, empty bucket on s3_server."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_server, name)
    return name


@dataclass(frozen=True)
class SampleS3:
    endpoint_url: str
    bucket: str


@pytest.fixture(scope="session")
def sample_s3(shared_sample, server_tmp_factory) -> Iterator[SampleS3]:
    """A separate moto server whose bucket `sparkify-sample` holds the whole real sample (seeded at start)."""
    server = S3Server(ANY_PORT, server_tmp_factory("s3-sample") / "s3.log", seed=Seed("sparkify-sample", shared_sample))
    SERVICE_LOGS["sample_s3"] = [server.log_file]
    server.start()
    yield SampleS3(server.endpoint_url, "sparkify-sample")
    server.stop()


@pytest.fixture
def airflow_connections_for(monkeypatch) -> Callable[[str, str, str], dict[str, str]]:
    """set(warehouse_uri, endpoint_url, bucket): AIRFLOW_CONN_REDSHIFT / _AWS_CREDENTIALS and the bucket
    variable as env vars for this test; returns them."""

    def set_env(warehouse_uri: str, endpoint_url: str, bucket: str) -> dict[str, str]:
        env = connection_env(warehouse_uri, endpoint_url, bucket, REGION)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return set_env


@pytest.fixture
def airflow_connections(airflow_connections_for, warehouse, s3_server, s3_bucket) -> dict[str, str]:
    """airflow_connections_for() applied to this test's warehouse, s3_server and s3_bucket."""
    return airflow_connections_for(warehouse, s3_server, s3_bucket)


@pytest.fixture(scope="session")
def smtp_catcher(server_tmp_factory) -> Iterator[MailCatcher]:
    """The local stack's SMTP catcher on a free port for the session (host, port, mail_dir)."""
    base = server_tmp_factory("smtp")
    catcher = MailCatcher(ANY_PORT, base / "mail", base / "smtp.log")
    SERVICE_LOGS["smtp_catcher"] = [catcher.log_file]
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture
def mailbox(smtp_catcher) -> Mailbox:
    """smtp_catcher's mailbox, emptied for this test."""
    box = Mailbox(smtp_catcher.mail_dir)
    box.clear()
    return box


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections for the whole test: bound here (so no other process
    can take it meanwhile) and never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclass
class HttpReceiver:
    """A local HTTP server answering 200 to every request; each request is kept as (method, path, headers, body)."""

    url: str
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def json_posts(self) -> list:
        return [json.loads(body) for method, _, _, body in self.requests if method == "POST"]


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    """An HttpReceiver on a free port of 127.0.0.1 for this test."""

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.requests.append((self.command, self.path, dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = _record

        def log_message(self, format: str, *args) -> None:  # keep pytest's output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = HttpReceiver(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)

"""Shared fixtures: the local stack's servers, started for the test session on free ports.

Servers live in private temp dirs (never a developer's .sparkify/) and are stopped at the end.
Nothing here skips: a server that cannot start fails the tests that need it.
"""

from __future__ import annotations

import json
import os
import shutil
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

from local_stack.airflow import connection_env
from local_stack.mail import MailCatcher, Mailbox
from local_stack.postgres import PostgresServer, run_sql_file
from local_stack.process import free_port
from local_stack.s3 import REGION, S3Server, Seed, client, create_bucket

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/sparkify"
CREATE_TABLES = REPO / "create_tables.sql"


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
    """private_stack(name): the environment of a whole `./sparkify` stack of its own (state dir, free ports).

    The user runs `python -m local_stack.cli up|demo ...` with it; leaving the `with` block runs `down`.
    """

    @contextmanager
    def stack_env(name: str) -> Iterator[dict[str, str]]:
        env = {
            **os.environ,
            "SPARKIFY_STATE_DIR": str(server_tmp_factory(name) / "state"),
            "SPARKIFY_PG_PORT": str(free_port()),
            "SPARKIFY_S3_PORT": str(free_port()),
            "SPARKIFY_SMTP_PORT": str(free_port()),
            "SPARKIFY_AIRFLOW_PORT": str(free_port()),
        }
        try:
            yield env
        finally:
            subprocess.run([sys.executable, "-m", "local_stack.cli", "down"], cwd=REPO, env=env, capture_output=True,
                           timeout=180)

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
    server = PostgresServer(base / "pgdata", free_port(), base / "postgres.log")
    server.start()
    yield server
    server.stop()


def _fresh_database(server: PostgresServer) -> str:
    name = f"test_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    if CREATE_TABLES.exists():
        run_sql_file(server.uri(name), CREATE_TABLES)
    return name


@pytest.fixture
def warehouse(postgres_server) -> Iterator[str]:
    """URI of a fresh database for this test, with create_tables.sql applied (if present)."""
    name = _fresh_database(postgres_server)
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def module_warehouse(postgres_server) -> Iterator[str]:
    """URI of a fresh database shared by one test module, with create_tables.sql applied (if present)."""
    name = _fresh_database(postgres_server)
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def s3_server(server_tmp_factory) -> Iterator[str]:
    """A moto S3 server for the session; yields its endpoint_url."""
    server = S3Server(free_port(), server_tmp_factory("s3") / "s3.log")
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
    server = S3Server(free_port(), server_tmp_factory("s3-sample") / "s3.log",
                      seed=Seed("sparkify-sample", shared_sample))
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
    catcher = MailCatcher(free_port(), base / "mail", base / "smtp.log")
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture
def mailbox(smtp_catcher) -> Mailbox:
    """smtp_catcher's mailbox, emptied for this test."""
    box = Mailbox(smtp_catcher.mail_dir)
    box.clear()
    return box


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

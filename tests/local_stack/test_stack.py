"""The whole stack in a temp state dir on free ports: up, idempotent up, env, status, down."""

import json
import shutil
import smtplib
import socket
import subprocess
import sys
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import psycopg2
import pytest

from local_stack.mail import Mailbox
from local_stack import stack as stack_module
from local_stack import timeouts
from local_stack.process import (
    ProcessRecord, StackError, pid_alive, port_in_use, session_members, spawn, stop_all,
)
from local_stack.postgres import warehouse_schema
from local_stack.s3 import client
from local_stack.stack import Stack, shell_quote

REPO = Path(__file__).resolve().parents[2]


def bash(script: str) -> str:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def test_shell_quote_round_trips_through_bash():
    value = """it's "$HOME" `x` \\ ;"""
    assert bash(f"printf %s {shell_quote(value)}") == value


@pytest.fixture(scope="module")
def stack(server_tmp_factory, tmp_path_factory):
    """A stack over a copy of the repo's schema with an empty dags/ (no DAG runs during the test), on any free ports."""
    root = server_tmp_factory("stack")
    for folder in ("dags", "plugins"):
        (root / folder).mkdir()
    for path in warehouse_schema(REPO):
        shutil.copy(path, root)
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SPARKIFY_PG_PORT", "SPARKIFY_S3_PORT", "SPARKIFY_SMTP_PORT", "SPARKIFY_AIRFLOW_PORT"):
            mp.setenv(var, "0")
        stack = Stack(repo=root)
        first = stack.up()
        yield stack, first
        stack.down()


def test_up_starts_everything_healthy(stack):
    stack, first = stack
    status = first["status"]
    assert first["already_running"] == []
    assert set(first["started"]) == {"postgres", "s3", "smtp", "scheduler", "triggerer", "dag-processor", "api-server"}
    assert status["postgres"]["running"] and status["s3"]["running"] and status["smtp"]["running"]
    assert all(c["running"] for c in status["airflow"]["components"].values())
    assert {v["status"] for v in status["airflow"]["health"].values()} == {"healthy"}
    assert status["airflow"]["password"]
    assert Path(status["state_dir"]) == stack.state_dir


def test_second_up_reports_already_running(stack):
    stack, first = stack
    again = stack.up()
    assert again["started"] == []
    assert len(again["already_running"]) == 7
    assert again["status"]["airflow"]["components"] == first["status"]["airflow"]["components"]


def test_up_made_the_databases_schema_and_bucket(stack):
    stack, first = stack
    env = stack.environment()
    with psycopg2.connect(env["WAREHOUSE_URI"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        assert {"airflow", "sparkify"} <= {row[0] for row in cur.fetchall()}
        cur.execute("SELECT to_regclass('staging_events') IS NOT NULL, to_regclass('songplays_start_time') IS NOT NULL")
        assert cur.fetchone() == (True, True)  # both schema files applied
    endpoint = json.loads(env["AIRFLOW_CONN_AWS_CREDENTIALS"])["extra"]["endpoint_url"]
    assert env["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"] in [b["Name"] for b in client(endpoint).list_buckets()["Buckets"]]


def test_mail_sent_to_the_alert_connection_lands_in_the_mail_folder(stack):
    stack, first = stack
    env = stack.environment()
    smtp = json.loads(env["AIRFLOW_CONN_SPARKIFY_ALERTS_SMTP"])
    assert (smtp["host"], smtp["port"]) == ("127.0.0.1", first["status"]["smtp"]["port"])
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp["extra"]["from_email"], env["AIRFLOW_VAR_SPARKIFY_ALERT_EMAILS"], "probe"
    message.set_content("hello")
    with smtplib.SMTP(smtp["host"], smtp["port"], timeout=timeouts.SMTP_SEND) as server:
        server.send_message(message)
    (mail,) = Mailbox(stack.mail_dir).messages()
    assert mail.subject == "probe" and mail.text().strip() == "hello"


def test_admin_can_log_in_with_the_generated_password(stack):
    stack, first = stack
    airflow = first["status"]["airflow"]
    request = urllib.request.Request(
        f"{airflow['url']}/auth/token", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "admin", "password": airflow["password"]}).encode(),
    )
    with urllib.request.urlopen(request, timeout=timeouts.AIRFLOW_REQUEST) as response:
        assert json.load(response)["access_token"]


def test_env_output_evals_in_bash_and_points_at_the_stack(stack):
    stack, first = stack
    exports = stack.env()
    out = bash(exports + 'printf "%s\\n" "$AIRFLOW_HOME" "$AIRFLOW__CORE__EXECUTION_API_SERVER_URL" '
                         '"$AIRFLOW_CONN_AWS_CREDENTIALS" "$(command -v airflow)"')
    home, execution_url, aws, airflow_bin = out.splitlines()
    assert home == str(stack.state_dir / "airflow")
    assert execution_url == f"{first['status']['airflow']['url']}/execution/"
    assert json.loads(aws)["extra"] == {"endpoint_url": first["status"]["s3"]["endpoint_url"], "region_name": "us-west-2"}
    assert Path(airflow_bin).parent == Path(stack.environment()["PATH"].split(":")[0])


def test_up_after_s3_died_loads_again_what_it_served(stack, tmp_path):
    stack, first = stack
    for folder in ("log_data", "song_data"):
        (tmp_path / folder).mkdir()
    (tmp_path / "log_data" / "day-events.json").write_text('{"ts": 1}\n')
    (tmp_path / "log_json_path.json").write_text('{"jsonpaths": ["$.ts"]}')
    stack.up(seed_dir=tmp_path, reseed=True)
    endpoint = json.loads(stack.environment()["AIRFLOW_CONN_AWS_CREDENTIALS"])["extra"]["endpoint_url"]
    bucket = stack.environment()["AIRFLOW_VAR_SPARKIFY_S3_BUCKET"]
    stop_all([ProcessRecord.from_json(json.loads(stack.state_file.read_text())["processes"]["s3"])])
    again = stack.up()
    assert again["started"] == ["s3"]
    assert client(endpoint).get_object(Bucket=bucket, Key="log_data/day-events.json")["Body"].read() == b'{"ts": 1}\n'


def test_up_after_a_postgresql_outage_brings_every_service_back(stack):
    stack, first = stack
    state = json.loads(stack.state_file.read_text())
    assert stack._postgres(state["ports"]["postgres"]).stop()  # the outage
    again = stack.up()
    assert "postgres" in again["started"]
    status = again["status"]
    assert status["postgres"]["running"] and all(c["running"] for c in status["airflow"]["components"].values())
    assert {v["status"] for v in status["airflow"]["health"].values()} == {"healthy"}
    with psycopg2.connect(stack.environment()["WAREHOUSE_URI"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")


def test_down_stops_everything_it_started_and_nothing_is_left(stack):
    stack, first = stack
    state = json.loads(stack.state_file.read_text())
    pg_pid = first["status"]["postgres"]["pid"]
    sessions = [state["processes"][name]["pid"] for name in ("s3", "smtp", "scheduler", "triggerer", "dag-processor", "api-server")]
    assert all(session_members(sid) for sid in sessions)

    result = stack.down()
    assert set(result["stopped"]) == set(first["started"])
    assert [sid for sid in sessions if session_members(sid)] == []
    assert not pid_alive(pg_pid)
    status = stack.status()
    assert not status["postgres"]["running"] and not status["s3"]["running"] and not status["smtp"]["running"]
    assert not any(c["running"] for c in status["airflow"]["components"].values())
    assert stack.down() == {"stopped": []}


# --- ports: chosen as the server starts, never ahead of it ------------------------------------------

# Stands in for `airflow <component>`: the api-server serves a health report on $AIRFLOW__API__PORT,
# or says as uvicorn does that the port is taken; the others idle.
FAKE_COMPONENT = """
import http.server, json, os, sys, time
if sys.argv[1] != "api-server":
    time.sleep(300)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"metadatabase": {"status": "healthy"}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
try:
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["AIRFLOW__API__PORT"])), Health)
except OSError as error:
    print(f"ERROR: [Errno {error.errno}] error while attempting to bind on address: {error.strerror.lower()}")
    sys.exit(1)
server.serve_forever()
"""


@pytest.fixture
def bare_stack(tmp_path):
    """A Stack in tmp_path that nothing was started for; whatever a test starts is stopped after it."""
    bare = Stack(repo=tmp_path, state_dir=tmp_path / "state")
    state = {"ports": {}, "processes": {}}
    yield bare, state
    stop_all(ProcessRecord.from_json(record) for record in state["processes"].values())


def test_the_api_server_moves_to_another_port_when_its_own_was_taken_before_it_bound_it(bare_stack, monkeypatch):
    stack, state = bare_stack
    monkeypatch.setattr(stack_module.airflow, "start_component", lambda name, env, log_file: spawn(
        [sys.executable, "-c", FAKE_COMPONENT, name], log_file, env=env))
    with socket.socket() as squatter:  # free to a probe, taken to a bind: what another process does meanwhile
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        state["ports"]["airflow"] = taken  # recorded, so tried first
        monkeypatch.setenv("SPARKIFY_AIRFLOW_PORT", "0")
        result = {"started": [], "already_running": []}
        logs = {name: stack.logs / f"airflow-{name}.log" for name in ("scheduler", "triggerer", "dag-processor", "api-server")}
        stack._start_all_airflow(state, result, logs)
    port = state["ports"]["airflow"]
    assert port != taken and port_in_use(port)
    assert sorted(result["started"]) == sorted(logs) and set(state["processes"]) == set(logs)
    assert "address already in use" in logs["api-server"].read_text()
    assert stack._environment(state)["AIRFLOW__API__PORT"] == str(port)


def test_a_service_takes_the_port_its_variable_names_or_fails_naming_the_variable(bare_stack, monkeypatch):
    stack, state = bare_stack
    result = {"started": [], "already_running": []}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("SPARKIFY_SMTP_PORT", str(port))
        with pytest.raises(StackError, match=f"SPARKIFY_SMTP_PORT={port}: port already in use on 127.0.0.1; "
                                             "cannot start the SMTP catcher there"):
            stack._up_smtp(state, result)
    monkeypatch.setenv("SPARKIFY_SMTP_PORT", "0")  # any free port
    stack._up_smtp(state, result)
    assert result["started"] == ["smtp"] and port_in_use(state["ports"]["smtp"])
    monkeypatch.setenv("SPARKIFY_SMTP_PORT", "smtp")
    with pytest.raises(StackError, match="SPARKIFY_SMTP_PORT='smtp': expected a TCP port"):
        stack._candidates(state, "smtp")

"""A wait that runs out says what it waited for and shows the logs of the services involved."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from local_stack import airflow, timeouts
from local_stack.process import LOG_TAIL_LINES, StackTimeout
from tests.conftest import _is_timeout, pytest_runtest_makereport, timeout_report

COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")


@pytest.fixture
def component_logs(tmp_path):
    logs = {name: tmp_path / f"airflow-{name}.log" for name in COMPONENTS}
    for name, path in logs.items():
        path.write_text("".join(f"{name} line {n}\n" for n in range(1, 61)))
    return logs


def test_airflow_not_answering_times_out_with_the_api_servers_log(component_logs, closed_port):
    with pytest.raises(StackTimeout) as caught:
        airflow.wait_healthy(f"http://127.0.0.1:{closed_port}", {}, component_logs, timeout=0.3)
    message = str(caught.value)
    assert message.startswith(f"timed out after 0s waiting for every Airflow component to report healthy at "
                              f"http://127.0.0.1:{closed_port}/api/v2/monitor/health: last report None")
    assert f"--- last {LOG_TAIL_LINES} lines of {component_logs['api-server']} ---" in message
    assert "api-server line 60" in message and "api-server line 20\n" not in message
    assert "scheduler line" not in message


def test_the_components_shown_are_those_the_report_calls_unhealthy():
    report = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "unhealthy"},
              "triggerer": {"status": "healthy"}, "dag_processor": {"status": None}}
    assert airflow.unhealthy_components(report) == ["scheduler", "dag-processor"]
    assert airflow.unhealthy_components(None) == ["api-server"]


def test_a_subprocess_that_timed_out_is_reported_with_its_output_and_the_servers_logs(tmp_path):
    server_log = tmp_path / "postgres.log"
    server_log.write_text("LOG:  database system is ready to accept connections\n")
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        subprocess.run([sys.executable, "-c", "print('task started', flush=True); import time; time.sleep(60)"],
                       capture_output=True, timeout=2)
    report = timeout_report(["warehouse", "postgres_server"], caught.value, {"postgres_server": [server_log]})
    assert "timed out after 2 seconds" in report
    assert "its stdout, last 40 lines ---\ntask started" in report
    assert f"--- postgres_server: last {LOG_TAIL_LINES} lines of {server_log} ---\n" \
           "LOG:  database system is ready to accept connections" in report


def test_a_stack_timeout_report_leaves_out_the_log_its_message_shows(tmp_path, component_logs):
    folder = tmp_path  # a private stack's logs/ folder: every *.log in it
    error = StackTimeout("the api-server", 1, [component_logs["api-server"]])
    report = timeout_report(["private_stack"], error, {"private_stack": [folder]})
    assert str(component_logs["scheduler"]) in report and str(component_logs["api-server"]) not in report


def test_what_counts_as_a_timeout():
    assert _is_timeout(StackTimeout("x", 1))
    assert _is_timeout(subprocess.TimeoutExpired(["airflow"], 5))
    assert _is_timeout(TimeoutError())
    assert _is_timeout(AssertionError("Locator expected to have text 'Success'\nTimeout 300000ms exceeded."))
    try:
        try:
            raise TimeoutError("socket")
        except TimeoutError as error:
            raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        assert _is_timeout(wrapped)
    assert not _is_timeout(AssertionError("assert 1 == 2"))
    assert not _is_timeout(None)


def test_a_failed_test_that_timed_out_gets_a_section_with_the_logs(monkeypatch, tmp_path):
    log = tmp_path / "smtp.log"
    log.write_text("SMTP catcher on 127.0.0.1:2525\n")
    monkeypatch.setitem(pytest_runtest_makereport.__globals__["SERVICE_LOGS"], "smtp_catcher", [log])
    item = SimpleNamespace(fixturenames=["mailbox", "smtp_catcher"])

    def report_of(error):
        report = SimpleNamespace(failed=True, sections=[])
        hook = pytest_runtest_makereport(item, SimpleNamespace(excinfo=SimpleNamespace(value=error)))
        next(hook)
        with pytest.raises(StopIteration) as done:
            hook.send(report)
        return done.value.value

    (section,) = report_of(StackTimeout("a message", 60)).sections
    assert section[0] == "timed out: the logs of the servers it used"
    assert f"smtp_catcher: last {LOG_TAIL_LINES} lines of {log} ---\nSMTP catcher on 127.0.0.1:2525" in section[1]
    assert report_of(AssertionError("assert 1 == 2")).sections == []


def test_the_stacks_airflow_keeps_a_task_queued_on_a_busy_machine(tmp_path):
    # Seen under load: a backfill's task queued for 11 min failed before it started ("Invalid auth token"),
    # its execution-API token having expired after Airflow's default 600 s.
    settings = airflow.AirflowSettings(home=tmp_path, dags_folder=tmp_path, plugins_folder=tmp_path,
                                       metadata_uri="postgresql://x", api_port=8080, passwords_file=tmp_path / "p")
    env = airflow.airflow_env(settings)
    assert int(env["AIRFLOW__EXECUTION_API__JWT_EXPIRATION_TIME"]) == int(timeouts.AIRFLOW_TASK_QUEUED)
    assert float(env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"]) == timeouts.AIRFLOW_TASK_QUEUED

"""Run alerts: the message builder, the quality-gate details, the channels, the callbacks."""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from helpers import alerts
from helpers.alerts import FailedTask, Finding, RunReport
from helpers.audit_area import quarantine_note
from quality_gate.sql_checks import SqlCheck
from local_stack.airflow import alert_env
from local_stack.process import free_port
from operators import data_quality
from operators.data_quality import DataQualityOperator

RUN_ID = "scheduled__2018-11-21T00:00:00+00:00"
RUN_URL = "http://airflow.test/dags/sparkify_etl/runs/scheduled__2018-11-21T00%3A00%3A00%2B00%3A00"
AREA = "audit_20181121_1a2b3c4d"


def log_url(task_id: str) -> str:
    return f"{RUN_URL}/tasks/{task_id}?try_number=1"


@pytest.fixture(scope="module")
def gx_result():
    """describe_dict() of a real GX checkpoint run: method must be GET or PUT (two rows are not), at least 2 rows."""
    import great_expectations as gx
    import pandas as pd

    from quality_gate.gx_context import quiet_gx

    quiet_gx()
    context = gx.get_context(mode="ephemeral")
    batch = context.data_sources.add_pandas("frames").add_dataframe_asset("events").add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite("events", expectations=[
        gx.expectations.ExpectColumnValuesToBeInSet(column="method", value_set=["GET", "PUT"]),
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=2),
        gx.expectations.ExpectTableRowCountToBeBetween(max_value=3),
    ]))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name="events", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="events", validation_definitions=[validation],
                                                       result_format={"result_format": "SUMMARY"}))
    frame = pd.DataFrame({"method": ["GET", "POST", "PUT", "POST"]})
    return json.loads(json.dumps(checkpoint.run(batch_parameters={"dataframe": frame}).describe_dict()))


def quality_failure(fake_warehouse) -> str:
    """The message of a real DataQualityOperator failure: users has no rows, songs has 5 null ids."""
    hook = fake_warehouse(data_quality, conn_type="postgres", host="127.0.0.1")
    hook.conn.fetchone_result = lambda sql: {"SELECT 1": (0,), "SELECT 2": (5,), "SELECT 3": (7,)}[sql]
    checks = [SqlCheck("users", "has rows", "SELECT 1", 0, ">"), SqlCheck("songs", "song_id not null", "SELECT 2", 0),
              SqlCheck("time", "fine", "SELECT 3", 7)]
    with pytest.raises(AirflowFailException) as failure:
        DataQualityOperator(task_id="run_quality_checks", checks=checks).execute(context={})
    return f"AirflowFailException: {failure.value}"


def test_failed_checks_are_read_from_the_data_quality_operator_message(fake_warehouse):
    assert alerts.quality_check_findings(quality_failure(fake_warehouse)) == [
        Finding("users", "has rows", observed="got 0", expected="> 0"),
        Finding("songs", "song_id not null", observed="got 5", expected="== 0"),
    ]
    assert alerts.quality_check_findings("ValueError: - a: b: expected 1, got 2") == []


def test_failed_expectations_are_read_from_the_gx_result(gx_result):
    findings, links = alerts.expectation_findings("staging_events", gx_result)
    assert [str(finding) for finding in findings] == [
        "staging_events: expect_column_values_to_be_in_set (column method): 2 of 4 rows unexpected (e.g. 'POST', 'POST')",
        "staging_events: expect_table_row_count_to_be_between: observed 4",
    ]
    assert links == []


def test_data_docs_links_are_read_from_the_validation_report():
    report = "Table time: suite 'time' failed 1 of 9 expectation(s) on batch x:\n  - [ab] ...\nData Docs: /gx/docs/a b.html\n"
    assert alerts.data_docs_links(report) == ["/gx/docs/a b.html"]


def failed_run(**changes) -> RunReport:
    gate = FailedTask(
        "validate.validate_staging_events", 1, 3, "AirflowFailException: Table staging_events: suite failed\n  - [ab] ...",
        log_url("validate.validate_staging_events"),
        findings=(Finding("staging_events", "expect_column_values_to_be_in_set (column method)", "2 of 4 rows unexpected"),),
        data_docs=("/gx/uncommitted/data_docs/local_site/index.html",),
    )
    staging = FailedTask("stage.stage_songs", 4, 3, "ValueError: bad <b>{{ json }}</b> & more\nsecond line",
                         log_url("stage.stage_songs"))
    report = RunReport("sparkify_etl", RUN_ID, "2018-11-21T00:00:00+00:00", False, RUN_URL, "task_failure",
                       (staging, gate), ("validate.run_quality_checks", "publish"), 20,
                       quarantine_note(AREA, "2018-11-21"))
    return RunReport(**{**report.__dict__, **changes})


def test_the_text_names_the_run_each_failed_task_its_try_error_checks_and_links():
    report = failed_run()
    assert report.subject() == "[sparkify] sparkify_etl FAILED for 2018-11-21: stage.stage_songs, validate.validate_staging_events"
    text = report.text()
    for expected in (
        f"Run:          {RUN_ID}", "Logical date: 2018-11-21T00:00:00+00:00", f"Open the run: {RUN_URL}",
        "Reason:       task_failure", "2 failed task(s):",
        "1. stage.stage_songs (try 4 of 4)\n   Error: ValueError: bad <b>{{ json }}</b> & more\n   second line\n",
        f"   Log: {log_url('stage.stage_songs')}",
        "2. validate.validate_staging_events (try 1 of 4)\n   Error: AirflowFailException: Table staging_events: suite failed\n",
        "     - staging_events: expect_column_values_to_be_in_set (column method): 2 of 4 rows unexpected\n",
        "   Data Docs: /gx/uncommitted/data_docs/local_site/index.html",
        f"Reason:       task_failure\n\nNothing was published: the published tables are as before this run. Its rows "
        f"are kept in audit area {AREA} until the next run of 2018-11-21",
        "Not run because of the failure: validate.run_quality_checks, publish",
    ):
        assert expected in text
    assert "[ab]" not in text  # the findings replace the report's own list


def test_html_escapes_the_text_and_links_urls():
    page = failed_run().html()
    assert "bad &lt;b&gt;{{ json }}&lt;/b&gt; &amp; more" in page
    assert f'<a href="{RUN_URL}">{RUN_URL}</a>' in page


def test_slack_text_escapes_and_links():
    slack = failed_run().slack()
    assert slack.startswith(":red_circle: *sparkify_etl FAILED for 2018-11-21: stage.stage_songs, validate.validate_staging_events*")
    assert f"<{RUN_URL}|{RUN_ID}>" in slack
    assert f"• *stage.stage_songs* (try 4 of 4) <{log_url('stage.stage_songs')}|log>" in slack
    assert "> ValueError: bad &lt;b&gt;{{ json }}&lt;/b&gt; &amp; more" in slack
    assert f"Its rows are kept in audit area {AREA}" in slack


def test_the_json_document_holds_everything():
    document = json.loads(json.dumps(failed_run().document()))
    assert document["event"] == "dag_run_failed" and document["subject"] == failed_run().subject()
    assert [task["task_id"] for task in document["failed"]] == ["stage.stage_songs", "validate.validate_staging_events"]
    assert document["quarantine"] == quarantine_note(AREA, "2018-11-21")
    assert document["failed"][1]["findings"] == [{"table": "staging_events", "check": "expect_column_values_to_be_in_set (column method)",
                                                  "observed": "2 of 4 rows unexpected", "expected": None}]


def test_the_subject_names_three_tasks_then_counts():
    tasks = tuple(FailedTask(f"t{n}", 1, 0, "e", "u") for n in range(5))
    assert failed_run(failed=tasks).subject().endswith(": t0, t1, t2 +2 more")


def test_a_task_without_a_recorded_error_points_at_its_log():
    assert FailedTask("t", None, None, None, "u").summary.startswith("no error recorded")
    assert FailedTask("t", None, None, None, "u").tries == "try ?"


def test_the_success_digest():
    digest = RunReport("sparkify_etl", RUN_ID, "2018-11-21T00:00:00+00:00", True, RUN_URL, task_count=20)
    assert digest.subject() == "[sparkify] sparkify_etl succeeded for 2018-11-21"
    assert "Tasks:        20 finished" in digest.text() and digest.document()["event"] == "dag_run_succeeded"


# --- channels --------------------------------------------------------------------------------------


@pytest.fixture
def channels(monkeypatch, smtp_catcher, mailbox, http_receiver):
    """Email to the SMTP catcher, Slack to http_receiver, the webhook to a closed port."""
    for key, value in alert_env("127.0.0.1", smtp_catcher.port, "a@sparkify.test,b@sparkify.test").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW_CONN_SPARKIFY_ALERTS_SLACK", json.dumps(
        {"conn_type": "slackwebhook", "host": f"{http_receiver.url}/services", "password": "T0/B0/sl4ck-t0ken"}))
    monkeypatch.setenv("AIRFLOW_CONN_SPARKIFY_ALERTS_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": f"http://127.0.0.1:{free_port()}/alerts"}))
    return mailbox, http_receiver


def test_each_configured_channel_sends_and_a_broken_one_is_logged(channels, caplog):
    mailbox, receiver = channels
    with caplog.at_level(logging.INFO, logger="helpers.alerts"):
        outcomes = alerts.send(failed_run(), context={})
    assert outcomes["email"] == outcomes["slack"] == "sent"
    assert outcomes["webhook"].startswith("failed: ConnectionError")
    assert "Alert channel webhook (connection sparkify_alerts_webhook) failed for sparkify_etl" in caplog.text
    (mail,) = mailbox.messages()
    assert mail.message["To"] == "a@sparkify.test, b@sparkify.test" and mail.subject == failed_run().subject()
    assert "1. stage.stage_songs (try 4 of 4)" in mail.text()
    (slack,) = receiver.requests
    assert slack[1] == "/services/T0/B0/sl4ck-t0ken" and json.loads(slack[3])["text"] == failed_run().slack()
    assert "sl4ck-t0ken" not in caplog.text


def test_channels_without_a_connection_are_off_and_email_needs_recipients(channels, monkeypatch, caplog):
    mailbox, receiver = channels
    for name in ("AIRFLOW_CONN_SPARKIFY_ALERTS_SLACK", "AIRFLOW_CONN_SPARKIFY_ALERTS_WEBHOOK", "AIRFLOW_VAR_SPARKIFY_ALERT_EMAILS"):
        monkeypatch.delenv(name)
    assert alerts.send(failed_run(), context={}) == {"email": "skipped", "slack": "off", "webhook": "off"}
    assert "variable sparkify_alert_emails names no recipient" in caplog.text
    assert mailbox.messages() == [] and receiver.requests == []


def test_the_json_webhook_notifier_posts_to_the_connection_url_plus_endpoint(monkeypatch, http_receiver):
    from notifiers import JsonWebhookNotifier

    monkeypatch.setenv("AIRFLOW_CONN_HOOKS", json.dumps({"conn_type": "http", "host": http_receiver.url, "extra": {"X-Token": "t"}}))
    JsonWebhookNotifier(payload={"a": [1, "é"]}, http_conn_id="hooks", endpoint="in/{{ ds }}")({"ds": "2018-11-21"})
    ((method, path, headers, body),) = http_receiver.requests
    assert (method, path, headers["X-Token"], json.loads(body)) == ("POST", "/in/2018-11-21", "t", {"a": [1, "é"]})


# --- the callbacks ---------------------------------------------------------------------------------


def test_a_task_failure_is_recorded_with_its_try_log_url_and_secrets_masked():
    from airflow.sdk.log import mask_secret

    mask_secret("hunter2-password")
    pushed = {}
    ti = SimpleNamespace(task_id="stage.stage_events", try_number=2, max_tries=3, log_url="http://ui/log",
                         xcom_push=lambda key, value: pushed.update({key: value}))
    alerts.record_task_failure({"ti": ti, "exception": RuntimeError("login hunter2-password refused")})
    assert pushed == {"sparkify_failure": {"error": "RuntimeError: login *** refused", "try_number": 2,
                                           "max_tries": 3, "log_url": "http://ui/log"}}


@pytest.fixture
def run_state(monkeypatch, gx_result, fake_warehouse):
    """The Execution API of a failed run: task states and XComs (the GX result, recorded failures)."""
    from airflow.sdk.execution_time import task_runner, xcom

    states = {"open_audit_area": "success", "stage.stage_events": "success",
              "validate.validate_staging_events": "failed", "validate.run_quality_checks": "failed",
              "validate.validate_songplays": "success", "publish": "upstream_failed"}
    xcoms = {
        ("open_audit_area", "return_value"): AREA,
        ("validate.validate_songplays", "sparkify_warnings"): "Table songplays: passed, with 1 warning(s):",
        ("validate.validate_staging_events", "return_value"): gx_result,
        ("validate.validate_staging_events", "sparkify_failure"): {
            "error": "AirflowFailException: Table staging_events: failed\nData Docs: /docs/v.html", "try_number": 1,
            "max_tries": 3, "log_url": "http://ui/v"},
        ("validate.run_quality_checks", "sparkify_failure"): {"error": quality_failure(fake_warehouse), "try_number": 1,
                                                     "max_tries": 3, "log_url": "http://ui/q"},
    }
    monkeypatch.setattr(task_runner.RuntimeTaskInstance, "get_task_states",
                        staticmethod(lambda dag_id, run_ids: {run_ids[0]: states}))
    monkeypatch.setattr(xcom.XCom, "get_one", classmethod(lambda cls, key, task_id, **_: xcoms.get((task_id, key))))
    monkeypatch.setattr(alerts, "_execution_api", lambda context: nullcontext())
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://ui")


def test_the_report_of_a_failed_run_gathers_each_failed_task(run_state):
    from datetime import datetime, timezone

    context = {"dag": SimpleNamespace(dag_id="sparkify_etl"), "run_id": RUN_ID, "reason": "task_failure",
               "logical_date": datetime(2018, 11, 21, tzinfo=timezone.utc)}
    report = alerts.collect(context, succeeded=False)
    assert (report.logical_date, report.reason, report.not_run, report.task_count) == (
        "2018-11-21T00:00:00+00:00", "task_failure", ("publish",), 6)
    assert report.warnings == (("validate.validate_songplays", "Table songplays: passed, with 1 warning(s):"),)
    assert report.quarantine == quarantine_note(AREA, "2018-11-21")
    assert report.run_url == f"http://ui/dags/sparkify_etl/runs/{RUN_ID.replace(':', '%3A').replace('+', '%2B')}"
    checks, gate = report.failed
    assert (checks.task_id, checks.log_url, [f.table for f in checks.findings]) == (
        "validate.run_quality_checks", "http://ui/q", ["users", "songs"])
    assert (gate.task_id, gate.tries, gate.data_docs) == ("validate.validate_staging_events", "try 1 of 4", ("/docs/v.html",))
    assert [f.table for f in gate.findings] == ["staging_events", "staging_events"]


def test_the_callbacks_never_raise(monkeypatch, caplog):
    monkeypatch.setattr(alerts, "_execution_api", lambda context: nullcontext())
    monkeypatch.setattr(alerts, "collect", lambda context, succeeded: 1 / 0)
    alerts.alert_failed_run({"dag": SimpleNamespace(dag_id="sparkify_etl"), "run_id": RUN_ID})
    assert f"Alert for run {RUN_ID} of sparkify_etl not sent" in caplog.text
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_ALERT_ON_SUCCESS", "true")
    alerts.alert_succeeded_run({"dag": SimpleNamespace(dag_id="sparkify_etl"), "run_id": RUN_ID})
    assert caplog.text.count("not sent") == 2


def succeeded_run(**changes) -> RunReport:
    return RunReport("sparkify_etl", RUN_ID, "2018-11-21T00:00:00+00:00", True, RUN_URL, task_count=20, **changes)


def test_the_success_digest_is_off_by_default_but_warnings_are_always_sent(monkeypatch):
    sent = []
    monkeypatch.setattr(alerts, "_execution_api", lambda context: nullcontext())
    monkeypatch.setattr(alerts, "send", lambda report, context: sent.append(report))
    monkeypatch.setattr(alerts, "collect", lambda context, succeeded: succeeded_run())
    alerts.alert_succeeded_run({"dag": SimpleNamespace(dag_id="sparkify_etl"), "run_id": RUN_ID})
    assert sent == []
    warned = succeeded_run(warnings=(("validate.validate_songplays", "Table songplays: ... with 1 warning(s):"),))
    monkeypatch.setattr(alerts, "collect", lambda context, succeeded: warned)
    alerts.alert_succeeded_run({"dag": SimpleNamespace(dag_id="sparkify_etl"), "run_id": RUN_ID})
    assert sent == [warned]


def test_a_warning_is_named_in_the_subject_and_quoted_in_the_text():
    report = succeeded_run(warnings=(("validate.validate_songplays", "Table songplays: passed, with 1 warning(s):\n  - x"),))
    assert report.subject() == "[sparkify] sparkify_etl succeeded with warnings for 2018-11-21: validate.validate_songplays"
    assert "Warning from validate.validate_songplays (the run went on):\n   Table songplays: passed" in report.text()
    assert ":warning: *validate.validate_songplays*" in report.slack()


def test_the_dag_alerts_once_per_run_and_each_task_only_records_its_final_failure():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[3] / "dags")).dags["sparkify_etl"]
    assert dag.on_failure_callback in (alerts.alert_failed_run, [alerts.alert_failed_run])
    assert dag.on_success_callback in (alerts.alert_succeeded_run, [alerts.alert_succeeded_run])
    for task in dag.tasks:
        assert task.on_failure_callback in (alerts.record_task_failure, [alerts.record_task_failure]), task.task_id
        assert not task.on_retry_callback, task.task_id

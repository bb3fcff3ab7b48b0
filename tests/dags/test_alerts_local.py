"""Run alerts end to end: whole DAG runs with ``airflow dags test`` against the real sample, alerts
caught by the SMTP catcher and a local HTTP receiver.

``airflow dags test`` runs the DAG-level callbacks itself: when the run's state is decided,
``DagRun.update_state(execute_callbacks=True)`` calls them in the test's process
(``DagRun.execute_dag_callbacks``), with the context of the last failed task, as the DAG processor
does for the scheduler's runs; alerts.py gives them the Execution API there.

Runs: the quality-gate failure and the plain success run the whole pipeline; the broken day fails at
once; the success digest marks every task successful (``--mark-success-pattern``), as only the
callbacks matter there.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest

from quality_gate import gx_context
from local_stack.airflow import alert_env
from tests.dags.test_sparkify_etl_local import airflow_env, assert_succeeded, run_dag

GATE_DAY = "2018-11-07"  # loaded with every 5th event's method set to 'POST': the events suite allows GET and PUT
GOOD_DAY = "2018-11-08"
BROKEN_DAY = "2018-12-02"  # a day file that is not JSON: staging fails
RECIPIENTS = "oncall@sparkify.test, lead@sparkify.test"


def day_key(day: str) -> str:
    return f"log_data/{day[:4]}/{day[5:7]}/{day}-events.json"


@pytest.fixture(scope="module")
def base_env(module_warehouse, sample_s3, smtp_catcher):
    """Environment of the runs: the sample, a fresh warehouse, email alerts to the SMTP catcher."""
    return {
        **os.environ,
        **airflow_env(module_warehouse, sample_s3.endpoint_url, sample_s3.bucket),
        **alert_env("127.0.0.1", smtp_catcher.port, RECIPIENTS),
        "AIRFLOW__API__BASE_URL": "http://airflow.sparkify.test:8080/",
    }


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("alerts") / "airflow"


def webhook(url: str) -> dict[str, str]:
    return {"AIRFLOW_CONN_SPARKIFY_ALERTS_WEBHOOK": json.dumps({"conn_type": "http", "host": url})}


@pytest.fixture
def gate_day(sample_s3, s3_client_for, shared_sample):
    """GATE_DAY's events in the bucket, every 5th event's method set to 'POST'; the original put back after the test."""
    s3 = s3_client_for(sample_s3.endpoint_url)
    original = (shared_sample / day_key(GATE_DAY)).read_bytes()
    lines = original.decode().split("\n")
    corrupt = [json.dumps({**json.loads(line), "method": "POST"}) if n % 5 == 0 else line for n, line in enumerate(lines)]
    s3.put_object(Bucket=sample_s3.bucket, Key=day_key(GATE_DAY), Body="\n".join(corrupt).encode())
    yield GATE_DAY
    s3.put_object(Bucket=sample_s3.bucket, Key=day_key(GATE_DAY), Body=original)


def test_a_failed_quality_gate_sends_one_email_and_one_webhook_post(base_env, airflow_home, gate_day, mailbox, http_receiver,
                                                                   monkeypatch):
    started = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    result = run_dag(gate_day, {**base_env, **webhook(f"{http_receiver.url}/sparkify/alerts")}, airflow_home)
    assert result.returncode != 0, result.stdout[-3000:]

    (mail,) = mailbox.messages()
    (post,) = http_receiver.requests
    method, path, headers, body = post
    assert (method, path, headers["Content-Type"]) == ("POST", "/sparkify/alerts", "application/json")
    document = json.loads(body)
    assert document["event"] == "dag_run_failed" and document["dag_id"] == "sparkify_etl"
    assert document["logical_date"].startswith(gate_day)
    assert document["run_id"].startswith("manual__") and document["run_url"].startswith("http://airflow.sparkify.test:8080/dags/sparkify_etl/runs/")
    failed = {task["task_id"]: task for task in document["failed"]}
    assert list(failed) == ["validate.validate_staging_events"]
    events = failed["validate.validate_staging_events"]
    assert (events["try_number"], events["max_tries"]) == (1, 3)
    assert events["error"].startswith("AirflowFailException: Table staging_events: suite 'staging_events' failed")
    assert events["log_url"] == (
        f"http://airflow.sparkify.test:8080/dags/sparkify_etl/runs/{document['run_id'].replace(':', '%3A').replace('+', '%2B')}"
        "/tasks/validate.validate_staging_events?try_number=1"
    )
    (finding,) = events["findings"]
    assert (finding["table"], finding["check"]) == ("staging_events", "expect_column_values_to_be_in_set (column method)")
    assert "'POST'" in finding["observed"]
    (page_url,) = events["data_docs"]
    assert page_url.startswith("http://airflow.sparkify.test:8080/data-docs/validations/staging_events/")
    assert document["not_run"] == ["publish"]
    assert document["quarantine"].startswith("Nothing was published: the published tables are as before this run. "
                                             f"Its rows are kept in audit area audit_{gate_day.replace('-', '')}_")

    assert mail.message["To"] == "oncall@sparkify.test, lead@sparkify.test"
    assert mail.message["From"] == "sparkify-alerts@localhost"
    assert mail.subject == document["subject"]
    assert mail.subject == f"[sparkify] sparkify_etl FAILED for {gate_day}: validate.validate_staging_events"
    text = mail.text()
    for expected in (document["run_id"], "validate.validate_staging_events (try 1 of 4)", finding["observed"],
                     events["log_url"], page_url, "Not run because of the failure: publish", document["quarantine"]):
        assert expected in text

    # Data Docs: the linked page shows the failed validation; the index, built when read as the UI builds
    # it, lists it as failed, and each table's validation of this run (other runs may validate at the same
    # time: the site is the session's, in S3).
    for name in (gx_context.STORES_ENV, "AIRFLOW_CONN_AWS_CREDENTIALS"):
        monkeypatch.setenv(name, base_env[name])
    context = gx_context.file_context()
    site = gx_context.docs_site(context)
    assert site.root == f"{base_env[gx_context.STORES_ENV]}/data_docs/"
    relative = unquote(page_url.split("/data-docs/", 1)[1])
    page = site.read(relative).decode()
    assert "Failed" in page and "POST" in page and "method" in page
    gx_context.build_docs_index(context)
    index = site.read("index.html").decode()
    assert f"'_table_row_link_path': '{relative}', '_validation_success_text': 'Failed'" in index
    latest: dict[str, str] = {}
    for table, run_time in re.findall(r"'_table_row_link_path': 'validations/(\w+)/[^/']+/(\d{8}T\d{6})[^']*\.html'", index):
        latest[table] = max(latest.get(table, ""), run_time)
    assert {spec.name for spec in gx_context.validated_tables()} <= {t for t, run_time in latest.items() if run_time >= started}


def test_a_successful_run_sends_nothing(base_env, airflow_home, mailbox, http_receiver):
    assert_succeeded(run_dag(GOOD_DAY, {**base_env, **webhook(http_receiver.url)}, airflow_home), GOOD_DAY)
    assert mailbox.messages() == [] and http_receiver.requests == []


@pytest.fixture
def broken_day(sample_s3, s3_client_for):
    s3 = s3_client_for(sample_s3.endpoint_url)
    s3.put_object(Bucket=sample_s3.bucket, Key=day_key(BROKEN_DAY), Body=b'{"ts": 1543708800000, "page": ')
    yield BROKEN_DAY
    s3.delete_object(Bucket=sample_s3.bucket, Key=day_key(BROKEN_DAY))


def test_an_unreachable_channel_is_logged_and_changes_no_run_result(base_env, airflow_home, broken_day, mailbox,
                                                                     closed_port):
    closed = webhook(f"http://127.0.0.1:{closed_port}/alerts")
    failed = run_dag(broken_day, {**base_env, **closed}, airflow_home)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "Alert channel webhook (connection sparkify_alerts_webhook) failed" in output
    assert f"{day_key(BROKEN_DAY)}, line 1" in output  # the pipeline's own error is still there
    (mail,) = mailbox.messages()
    assert mail.subject == f"[sparkify] sparkify_etl FAILED for {BROKEN_DAY}: stage.stage_events"
    assert (f"Error: AirflowFailException: Too many rejects staging staging_events: s3://sparkify-sample/"
            f"{day_key(BROKEN_DAY)}: 1 record(s) read, 0 staged") in mail.text()
    assert f"s3://sparkify-sample/{day_key(BROKEN_DAY)}, line 1: the JSON document starting here is not complete" \
        in mail.text()

    mailbox.clear()
    digest = {**base_env, **closed, "AIRFLOW_VAR_SPARKIFY_ALERT_ON_SUCCESS": "true"}
    succeeded = run_dag(GOOD_DAY, digest, airflow_home, "--mark-success-pattern", ".*")
    assert_succeeded(succeeded, GOOD_DAY)
    assert "Alert channel webhook (connection sparkify_alerts_webhook) failed" in succeeded.stdout + succeeded.stderr
    (mail,) = mailbox.messages()
    assert mail.subject == f"[sparkify] sparkify_etl succeeded for {GOOD_DAY}"

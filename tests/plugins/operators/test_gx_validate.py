"""GXValidateTableOperator: the run's day as batch, the warehouse from the Airflow connection, and a
failed suite that fails its task at once (no retry), with downstream tasks upstream_failed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from sqlalchemy.engine import make_url

from quality_gate import gx_context
from helpers.audit_area import AUDIT_AREA
from operators.gx_validate import DataDocsLink, GXValidateTableOperator, _warehouse_url

from local_stack import sql_pipeline, timeouts

REPO = Path(__file__).resolve().parents[3]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAY = "2018-11-21"

# One song and one user's day: a NextSong event matching the song, and a Home page view.
STAGING_SQL = """
INSERT INTO staging_songs VALUES ('AR0001', NULL, '', NULL, 'Elena', 269.58322, 1, 'SO0001', 'Setanta matins', 0);
INSERT INTO staging_events VALUES
 ('Elena', 'Logged In', 'Kate', 'F', 0, 'Harrell', 269.58322, 'paid', 'Lansing, MI', 'PUT', 'NextSong',
  1540472624796, 293, 'Setanta matins', 200, '2018-11-21 10:00:00', 'Mozilla/5.0', '97'),
 (NULL, 'Logged In', 'Kate', 'F', 1, 'Harrell', NULL, 'paid', 'Lansing, MI', 'GET', 'Home',
  1540472624796, 293, NULL, 200, '2018-11-21 10:05:00', 'Mozilla/5.0', '97');
"""


@pytest.fixture
def day_loaded(warehouse) -> str:
    """The warehouse with DAY staged, loaded and published by the DAG's SQL."""
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        sql_pipeline.run_day(cursor, DAY, lambda cursor, area: cursor.execute(STAGING_SQL))
    return warehouse


@pytest.fixture
def gx_dir(tmp_path) -> Path:
    target = tmp_path / "gx"
    shutil.copytree(gx_context.GX_DIR, target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


@pytest.fixture
def redshift(day_loaded, monkeypatch) -> str:
    """Airflow connection `redshift` pointing at the loaded warehouse; the URL variable unset."""
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", day_loaded)
    monkeypatch.delenv(gx_context.URL_ENV, raising=False)
    return day_loaded


class FakeTaskInstance:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def validator(table: str, gx_dir: Path, run_day: str | None, audit_area: str | None = None) -> GXValidateTableOperator:
    return GXValidateTableOperator(
        task_id=f"validate_{table}", table=table, run_day=run_day, audit_area=audit_area, context_type="file",
        configure_file_data_context=partial(gx_context.file_context, gx_dir),
        configure_checkpoint=partial(gx_context.table_checkpoint, table),
    )


def validate(table: str, gx_dir: Path, run_day: str | None, audit_area: str | None = None) -> FakeTaskInstance:
    ti = FakeTaskInstance()
    validator(table, gx_dir, run_day, audit_area).execute(context={"ti": ti, "params": {}})
    return ti


def songplays_expectations() -> int:
    return len(json.loads((gx_context.GX_DIR / "expectations/songplays.json").read_text())["expectations"])


def test_every_suite_passes_on_a_loaded_day_with_the_days_batch(redshift, gx_dir):
    for spec in gx_context.validated_tables():
        ti = validate(spec.name, gx_dir, DAY if spec.slice_column else None)
        (result,) = ti.xcom["return_value"]["validation_results"]
        assert result["success"], (spec.name, result)
        batch = {e["kwargs"]["batch_id"] for e in result["expectations"]}
        assert batch == {f"warehouse-{spec.name}" + ("-year_2018-month_11-day_21" if spec.slice_column else "")}
    assert os.environ[gx_context.URL_ENV] == redshift.replace("postgresql://", "postgresql+psycopg://")


def test_a_failed_suite_fails_without_retry_naming_table_expectations_values_and_data_docs(redshift, gx_dir,
                                                                                            monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    with psycopg.connect(redshift) as conn:
        conn.execute("UPDATE songplays SET level = 'gold'")
    operator = validator("songplays", gx_dir, DAY)
    with pytest.raises(AirflowFailException) as failed:
        operator.execute(context={"ti": FakeTaskInstance(), "params": {}})
    message = str(failed.value)
    assert message.startswith(f"Table songplays: suite 'songplays' failed 3 of {songplays_expectations()} expectation(s) "
                              "on batch warehouse-songplays-year_2018-month_11-day_21:\n  - [")  # level, and both reconciliations
    assert "expect_column_values_to_be_in_set (column level): 1 of 1 rows unexpected (e.g. 'gold')" in message
    url = message.splitlines()[-1].removeprefix("Data Docs: ")
    assert url.startswith("https://airflow.example.com/data-docs/validations/songplays/")
    page = gx_dir / "uncommitted/data_docs/local_site" / url.removeprefix("https://airflow.example.com/data-docs/")
    assert page.is_file() and page.name == "warehouse-songplays-year_2018-month_11-day_21.html"
    assert "level" in page.read_text() and "gold" in page.read_text()
    # The task's "Data Docs" button opens the same page.
    assert DataDocsLink().get_link(operator, ti_key=None) == url


@pytest.fixture
def audited_rerun(redshift) -> str:
    """A re-delivery of DAY loaded into its audit area, not published: its events carry level 'gold', an hour later."""
    redelivered = STAGING_SQL.replace("'paid'", "'gold'").replace("'2018-11-21 10:", "'2018-11-21 11:")
    with psycopg.connect(redshift) as conn, conn.cursor() as cursor:
        area = sql_pipeline.open_and_stage(cursor, DAY, lambda cursor, area: cursor.execute(redelivered),
                                           staged=("staging_events",))
        sql_pipeline.load(cursor, area, DAY)
    return area


def test_with_an_audit_area_the_suites_validate_the_runs_rows_not_the_published_ones(redshift, gx_dir, audited_rerun):
    operator = validator("songplays", gx_dir, DAY, audit_area=audited_rerun)
    with pytest.raises(AirflowFailException) as failed:
        operator.execute(context={"ti": FakeTaskInstance(), "params": {}})
    message = str(failed.value)
    assert "expect_column_values_to_be_in_set (column level): 1 of 1 rows unexpected (e.g. 'gold')" in message
    assert message.endswith(gx_context_note(audited_rerun))
    assert f"/validations/songplays/{audited_rerun}/" in DataDocsLink().get_link(operator, ti_key=None)
    # users in the area is the table as it would be after publishing: the published user, now 'gold'.
    with pytest.raises(AirflowFailException, match=r"\(column level\): 1 of 1 rows unexpected \(e.g. 'gold'\)"):
        validate("users", gx_dir, None, audit_area=audited_rerun)
    validate("songplays", gx_dir, DAY)  # the published day is untouched and passes
    with psycopg.connect(redshift) as conn:
        assert conn.execute("SELECT level FROM songplays").fetchall() == [("paid",)]


def gx_context_note(area: str) -> str:
    from helpers.audit_area import quarantine_note

    return quarantine_note(area, DAY)


def test_a_passed_validation_links_its_page_and_nothing_validated_links_nothing(redshift, gx_dir, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:18080/")
    operator = validator("users", gx_dir, None)
    operator.execute(context={"ti": FakeTaskInstance(), "params": {}})
    link = DataDocsLink().get_link(operator, ti_key=None)
    assert link.startswith("http://127.0.0.1:18080/data-docs/validations/users/") and link.endswith("/warehouse-users.html")
    empty_day = validator("time", gx_dir, "2018-11-22")
    with pytest.raises(AirflowFailException):
        empty_day.execute(context={"ti": FakeTaskInstance(), "params": {}})
    assert DataDocsLink().get_link(empty_day, ti_key=None) == ""


def test_an_empty_day_fails_without_retry(redshift, gx_dir):
    with pytest.raises(AirflowFailException, match=r"Table time: no rows on 2018-11-22 \(UTC\) by start_time"):
        validate("time", gx_dir, "2018-11-22")


def test_an_expectation_that_cannot_run_is_retried(redshift, gx_dir):
    with psycopg.connect(redshift) as conn:
        conn.execute("DROP TABLE users")  # songplays' referential check queries it
    with pytest.raises(AirflowException) as raised:
        validate("songplays", gx_dir, DAY)
    assert not isinstance(raised.value, AirflowFailException)
    assert "Every songplay's user is in users.): could not be evaluated:" in str(raised.value)


def test_the_warehouse_url_keeps_an_awkward_password(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WH", "postgresql://sparkify:p%40ss%2Fw%3Ard@db.example.com:5439/dev")
    url = make_url(_warehouse_url("wh"))
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "sparkify", "p@ss/w:rd", "db.example.com", 5439, "dev")


def test_only_day_partitioned_tables_get_the_run_day_and_may_publish_it_empty():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["sparkify_etl"]
    validations = [task for task in dag.task_group.children["validate"].children.values()
                   if isinstance(task, GXValidateTableOperator)]
    run_days = {task.table: task.run_day for task in validations}
    assert run_days == {spec.name: "{{ ds }}" if spec.slice_column else None for spec in gx_context.validated_tables()}
    assert {task.audit_area for task in validations} == {AUDIT_AREA}
    allow_empty = {task.table: task.allow_empty for task in validations}
    assert allow_empty == {spec.name: "{{ params.publish_empty_day }}" if spec.slice_column else False
                           for spec in gx_context.validated_tables()}
    assert GXValidateTableOperator.template_fields == ("run_day", "audit_area", "allow_empty")


GATE_DAG = """
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, chain

from quality_gate.gx_context import file_context, table_checkpoint
from operators.gx_validate import GXValidateTableOperator

with DAG("gx_gate", schedule=None, start_date=datetime(2018, 11, 1),
         default_args={"retries": 3, "retry_delay": timedelta(minutes=5)}):
    chain(
        GXValidateTableOperator(task_id="validate_songplays", table="songplays", run_day="{{ ds }}",
                                context_type="file", configure_file_data_context=partial(file_context, Path(GX_DIR)),
                                configure_checkpoint=partial(table_checkpoint, "songplays")),
        EmptyOperator(task_id="end_execution"),
    )
"""


def test_in_a_dag_run_the_failed_gate_fails_once_and_the_next_task_is_upstream_failed(redshift, gx_dir, tmp_path):
    with psycopg.connect(redshift) as conn:
        conn.execute("DELETE FROM users")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "gx_gate.py").write_text(GATE_DAG.replace("GX_DIR", repr(str(gx_dir))))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, check=True, timeout=timeouts.AIRFLOW_MIGRATE)
    result = subprocess.run([AIRFLOW, "dags", "test", "gx_gate", DAY], env=env, capture_output=True, text=True, timeout=timeouts.DAG_TEST)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"Table songplays: suite 'songplays' failed 1 of {songplays_expectations()} expectation(s)" in output
    assert "(Every songplay's user is in users.): 1 unexpected row(s)" in output
    states = subprocess.run([AIRFLOW, "tasks", "states-for-dag-run", "gx_gate", _run_id(env), "-o", "plain"],
                            env=env, capture_output=True, text=True, check=True).stdout
    assert _state(states, "validate_songplays") == "failed"  # with retries=3, not up_for_retry
    assert _state(states, "end_execution") == "upstream_failed"


def _run_id(env: dict[str, str]) -> str:
    listing = subprocess.run([AIRFLOW, "dags", "list-runs", "gx_gate", "-o", "plain"],
                             env=env, capture_output=True, text=True, check=True).stdout
    return next(line.split()[1] for line in listing.splitlines() if line.startswith("gx_gate"))


def _state(states: str, task_id: str) -> str:
    """State of task_id in `airflow tasks states-for-dag-run -o plain`."""
    header, *rows = [line.split() for line in states.splitlines() if line.strip()]
    return next(dict(zip(header, row))["state"] for row in rows if task_id in row)

"""DAG integrity: imports cleanly, Airflow 3 defaults, task graph, templated day, cheap to parse."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["sparkify_etl"]


def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["sparkify_audit", "sparkify_etl"]


def test_schedule_is_daily_from_the_sample_start_without_catchup(dag):
    assert dag.start_date == datetime(2018, 11, 1, tzinfo=timezone.utc)
    assert dag.catchup is False
    assert dag.timetable.expression == "0 0 * * *" and str(dag.timetable.timezone) == "UTC"
    assert dag.doc_md and "Sparkify ETL" in dag.doc_md


def test_every_task_retries_three_times_every_five_minutes_without_retry_emails(dag):
    for task in dag.tasks:
        assert task.retries == 3, task.task_id
        assert task.retry_delay == timedelta(minutes=5), task.task_id
        assert task.email_on_retry is False, task.task_id
        assert task.depends_on_past is False, task.task_id


def test_task_graph_is_open_stage_load_validate_publish(dag):
    def downstream(task_id):
        return sorted(dag.get_task(task_id).downstream_task_ids)

    assert downstream("open_audit_area") == ["stage.stage_events", "stage.stage_songs"]
    assert downstream("stage.stage_events") == ["load.load_songplays_fact"]
    assert downstream("stage.stage_songs") == ["load.load_songplays_fact"]
    dimensions = [f"load.load_{dimension}_dim" for dimension in ("artists", "songs", "time", "users")]
    assert downstream("load.load_songplays_fact") == dimensions
    gate = sorted([*(f"validate.validate_{table}" for table in (
        "staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time")), "validate.run_quality_checks"])
    for dimension in dimensions:
        assert downstream(dimension) == gate
    for check in gate:
        assert downstream(check) == ["publish"]
    assert downstream("publish") == []
    assert list(dag.task_group.children) == ["open_audit_area", "stage", "load", "validate", "publish"]


def test_every_writer_and_the_gate_work_in_the_runs_audit_area(dag):
    from helpers.audit_area import AUDIT_AREA

    in_area = {task.task_id for task in dag.tasks if getattr(task, "audit_area", None) == AUDIT_AREA}
    assert in_area == {task.task_id for task in dag.tasks}
    assert dag.user_defined_macros["sparkify_audit_area"]("scheduled__2018-11-06T00:00:00+00:00", "2018-11-05") \
        .startswith("audit_20181105_")


def test_dag_has_no_cycles(dag):
    dag.check_cycle()  # raises on a cycle
    assert len(dag.topological_sort()) == len(dag.tasks)


def test_every_table_of_the_spec_has_its_task(dag):
    from helpers.tables import TABLES, Role

    tables = {getattr(task, "table", None) for task in dag.tasks}
    assert {spec.name for spec in TABLES} <= tables
    assert {spec.role for spec in TABLES} == set(Role)


@pytest.mark.parametrize("dag_file", ["sparkify_etl.py", "sparkify_audit.py"])
def test_parsing_a_dag_file_loads_no_great_expectations_pandas_or_database_driver(dag_file):
    probe = (
        f"import sys, runpy; sys.path[:0] = ['plugins', 'dags']; runpy.run_path('dags/{dag_file}');"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'great_expectations', 'pandas', 'psycopg', 'psycopg2', 'redshift_connector', 'boto3', 'sqlalchemy_redshift'});"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1:] in ([], [""])


@pytest.mark.parametrize(("params", "limits"), [({}, ("100", "0.01")), ({"max_rejects": 500, "max_reject_fraction": 0.2},
                                                                        ("500", "0.2"))])
def test_the_reject_limit_is_the_specs_unless_the_run_sets_its_params(dag, params, limits):
    from jinja2 import Environment

    assert dag.params["max_rejects"] is None and dag.params["max_reject_fraction"] is None
    for task_id in ("stage.stage_events", "stage.stage_songs"):
        task = dag.get_task(task_id)
        rendered = tuple(Environment().from_string(template).render(params={**dag.params, **params})
                         for template in (task.max_rejects, task.max_reject_fraction))
        assert rendered == limits


@pytest.mark.parametrize("publish_empty_day", [False, True])
def test_publishing_an_empty_day_is_one_run_param_read_by_the_sliced_stage_and_every_check(dag, publish_empty_day):
    from jinja2 import Environment

    assert dag.params["publish_empty_day"] is False
    tasks = [dag.get_task(task_id) for task_id in ("stage.stage_events", "validate.validate_staging_events",
                                                    "validate.validate_songplays", "validate.validate_time",
                                                    "validate.run_quality_checks")]
    rendered = {Environment().from_string(task.allow_empty).render(params={"publish_empty_day": publish_empty_day})
                for task in tasks}
    assert rendered == {str(publish_empty_day)}
    assert {dag.get_task(task_id).allow_empty for task_id in ("stage.stage_songs", "validate.validate_users")} == {False}


def test_every_task_has_an_execution_timeout(dag):
    from helpers.db import TASK_TIMEOUT

    assert {task.execution_timeout for task in dag.tasks} == {TASK_TIMEOUT}

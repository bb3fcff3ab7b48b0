"""The sparkify_audit DAG: weekly and on demand, one audit task per validated table, the etl DAG's alerts."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags")).dags["sparkify_audit"]


def test_it_runs_weekly_without_catchup_one_run_at_a_time(dag):
    assert dag.timetable.expression == "0 6 * * 1" and str(dag.timetable.timezone) == "UTC"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.doc_md and "Sparkify warehouse audit" in dag.doc_md


def test_every_validated_table_has_its_audit_task_spanned_by_every_partitioned_table(dag):
    from helpers.tables import TABLES
    from quality_gate.gx_context import validated_tables

    tasks = {task.task_id: task for task in dag.tasks}
    assert sorted(tasks) == sorted(f"audit_{spec.name}" for spec in validated_tables())
    partitioned = [spec.name for spec in TABLES if spec.slice_column]
    for task in tasks.values():
        assert [spec.name for spec in task.span_tables] == partitioned
        assert (task.s3_prefix == "log_data/") == bool(task.tables[0].slice_column)


def test_it_alerts_as_the_etl_dag_does(dag):
    from helpers import alerts

    assert dag.on_failure_callback in (alerts.alert_failed_run, [alerts.alert_failed_run])
    assert dag.on_success_callback in (alerts.alert_succeeded_run, [alerts.alert_succeeded_run])
    for task in dag.tasks:
        assert task.on_failure_callback in (alerts.record_task_failure, [alerts.record_task_failure])


def test_every_task_has_an_execution_timeout(dag):
    from helpers.db import TASK_TIMEOUT

    assert {task.execution_timeout for task in dag.tasks} == {TASK_TIMEOUT}

"""
# Sparkify warehouse audit

Weekly (Mondays 06:00 UTC) and on demand (Trigger): the published warehouse audited as
`./sparkify gx validate` does without `--date` (plugins/quality_gate/warehouse_audit.py):

| task | what it checks |
|---|---|
| `audit_<table>` | the table's Great Expectations suite on all of it (a day-partitioned table: all its days at once, then day by day when something fails, naming each day); each day against the days before it (history, warnings); the days between the first and last loaded day, or with an events file in the bucket, that the table has no rows on |

A failed expectation or a missing day fails its task and the run sends the same alert as
`sparkify_etl` (channels: `sparkify_alerts_smtp`, `sparkify_alerts_slack`, `sparkify_alerts_webhook`);
warnings are alerted too, the run succeeding. Reads the published tables only; writes nothing but
Data Docs.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from helpers.alerts import alert_failed_run, alert_succeeded_run, record_task_failure
from helpers.db import TASK_TIMEOUT
from helpers.tables import TABLES
from operators import WarehouseAuditOperator
from quality_gate.gx_context import validated_tables

with DAG(
    dag_id="sparkify_audit",
    description="Audit the published warehouse: every table in full, every day, the missing days.",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 6 * * 1", timezone="UTC"),
    start_date=datetime(2018, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "sparkify",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": TASK_TIMEOUT,  # its queries end with it (helpers.db.query_limits)
        "email_on_retry": False,
        "on_failure_callback": record_task_failure,
    },
    tags=["sparkify", "quality"],
    on_failure_callback=alert_failed_run,
    on_success_callback=alert_succeeded_run,
) as dag:
    partitioned = [spec for spec in TABLES if spec.slice_column]
    for spec in validated_tables():
        WarehouseAuditOperator(
            task_id=f"audit_{spec.name}",
            tables=[spec],
            span_tables=partitioned,
            s3_bucket="{{ var.value.get('sparkify_s3_bucket', 'udacity-dend') }}",
            s3_prefix="log_data/" if spec.slice_column else None,
        )

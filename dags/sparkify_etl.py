"""
# Sparkify ETL

Loads one day of Sparkify listening events, and the song catalog, from S3 into the Redshift star
schema: fact `songplays`, dimensions `users`, `songs`, `artists`, `time`. Write–audit–publish: a run
writes into its own **audit area** (schema `audit_<day>_<run hash>`), the quality gate validates
it there, and only a run that passes publishes, in one transaction.

| step | what it does |
|---|---|
| `open_audit_area` | the run's audit area, made anew (earlier areas of the same day are dropped) |
| `stage` | `staging_events` ← `log_data/YYYY/MM/YYYY-MM-DD-events.json` of the run's day (JSONPaths `log_json_path.json`); `staging_songs` ← every object under `song_data/`, copied only when they changed — into the audit area; records that cannot load go to `staging_rejects` with their object, line and reason |
| `load` | `songplays`: one per NextSong event of the day; `users` (latest level), `songs`, `artists`: the rows to insert or replace; `time`: the day's songplay times — into the audit area |
| `validate` | a Great Expectations suite per table (gx/expectations/) and the SQL checks, on the audit area as the warehouse will be after publishing; a failure fails the run at once, shown in Data Docs |
| `publish` | one transaction: the day's slices replaced, dimension changes merged, the area dropped |

Rejects: a staging table tolerates a few rejected records (at most 100 and 1% of those read; the
run's alert lists them) and fails the run beyond that, naming the first ones. The params
`max_rejects` and `max_reject_fraction` (Trigger → with params) raise the limit for one run.

Empty days: a day whose event file is empty or missing fails at staging and keeps its published
rows. If the day really had no events, run it with the param `publish_empty_day`: it then publishes
the day empty (the checks that need rows are skipped, with a warning), and the warehouse audit
counts it as loaded, not missing.

A failed run publishes nothing: the published tables stay as they were and the run's rows stay in
its audit area until the next run of that day (the failure message and the alert say how to query
them). A run owns the UTC day of its logical date, `[ds, ds + 1 day)`, in every day-partitioned
table, so backfills of different days run in parallel. Trigger a day from the UI with its logical
date, or backfill a range (Trigger → Backfill, or `airflow backfill create`). A run's id says when
the run was made, not the day it loads (a backfill's `backfill__2018-11-07T00:00:00+00:00` loads
2018-11-06): pick runs by their logical date, which is the day loaded. Each run's note says it too
("Loads 2018-11-06 (UTC)"), set by its first task through the REST API as the user of the HTTP
connection `sparkify_airflow_api` (plugins/helpers/run_note.py; without that connection, no note).

Configuration: connections `redshift` (Redshift, or Postgres locally) and `aws_credentials`;
Airflow variables `sparkify_s3_bucket` (default `udacity-dend`), `sparkify_s3_region`
(default `us-west-2`) and `sparkify_redshift_iam_role` (optional; without it the keys of
`aws_credentials` are used).

Alerts: one message per failed run (failed tasks, errors, failed checks, where the rows are kept,
log links) by email, Slack and/or a JSON webhook, each on when its connection exists
(`sparkify_alerts_smtp`, `sparkify_alerts_slack`, `sparkify_alerts_webhook`); see plugins/helpers/alerts.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

from airflow.sdk import DAG, Param, TaskGroup, chain
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from helpers.alerts import alert_failed_run, alert_succeeded_run, record_task_failure
from helpers.audit_area import AUDIT_AREA, MACROS, OPEN_TASK_ID, PUBLISH_TASK_ID
from helpers.db import TASK_TIMEOUT
from helpers.run_note import note_run_day
from quality_gate.gx_context import file_context, table_checkpoint, validated_tables
from quality_gate.sql_checks import SONGPLAYS_RECONCILE, table_checks
from helpers.tables import RUN_DAY_END, RUN_DAY_START, TABLES, Role, run_param, tables
from operators import (
    DataQualityOperator,
    LoadDimensionOperator,
    LoadFactOperator,
    OpenAuditAreaOperator,
    PublishOperator,
    StageToRedshiftOperator,
)
from operators.gx_validate import GXValidateTableOperator

S3_BUCKET = "{{ var.value.get('sparkify_s3_bucket', 'udacity-dend') }}"
S3_REGION = "{{ var.value.get('sparkify_s3_region', 'us-west-2') }}"
IAM_ROLE = "{{ var.value.get('sparkify_redshift_iam_role', '') }}"
EMPTY_DAY = "{{ params.publish_empty_day }}"

default_args = {
    "owner": "sparkify",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "execution_timeout": TASK_TIMEOUT,  # its queries end with it (helpers.db.query_limits)
    "email_on_retry": False,
    # Keeps the error of a task's final try for the run's alert.
    "on_failure_callback": record_task_failure,
}

with DAG(
    dag_id="sparkify_etl",
    description="Stage Sparkify events and songs from S3 and load the star schema in an audit area; check it; publish it.",
    doc_md=__doc__,
    # One run per UTC day, started once the day is over; its logical date is the day it loads.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2018, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=3,
    default_args=default_args,
    user_defined_macros=MACROS,
    tags=["sparkify", "redshift"],
    on_failure_callback=alert_failed_run,
    on_success_callback=alert_succeeded_run,
    params={
        "max_rejects": Param(None, type=["null", "integer"], minimum=0, title="Rejects tolerated (count)",
                             description="For this run: the rejected source records each staging table "
                                         "tolerates, at most. Empty: the table spec's limit (100)."),
        "max_reject_fraction": Param(None, type=["null", "number"], minimum=0, maximum=1,
                                     title="Rejects tolerated (fraction)",
                                     description="For this run: the rejects each staging table tolerates, at "
                                                 "most, as a fraction of the records read. Empty: the spec's (0.01)."),
        "publish_empty_day": Param(False, type="boolean", title="Publish an empty day",
                                   description="For this run: a day whose event file is empty or missing publishes "
                                               "an empty day (its published rows are removed). Off: such a day "
                                               "fails at staging and its published rows stay."),
    },
) as dag:
    # Names the run's day in its note as the run starts, whoever made the run (never fails the task).
    open_audit_area = OpenAuditAreaOperator(task_id=OPEN_TASK_ID, audit_area=AUDIT_AREA,
                                            on_execute_callback=note_run_day)

    with TaskGroup("stage", tooltip="S3 → staging tables, in the audit area") as stage:
        for spec in tables(Role.STAGING):
            StageToRedshiftOperator(
                task_id=f"stage_{spec.name.removeprefix('staging_')}",
                table=spec.name,
                audit_area=AUDIT_AREA,
                s3_bucket=S3_BUCKET,
                s3_key=spec.s3_key,
                json_paths=spec.json_paths,
                timeformat=spec.timeformat,
                copy_options=spec.copy_options,
                column_rules=spec.column_rules,
                record_key=spec.record_key,
                skip_unchanged=spec.skip_unchanged,
                slice_column=spec.slice_column,
                slice_start=RUN_DAY_START if spec.slice_column else None,
                slice_end=RUN_DAY_END if spec.slice_column else None,
                region=S3_REGION,
                iam_role=IAM_ROLE,
                max_rejects=run_param("max_rejects", spec.rejects.max_count),
                max_reject_fraction=run_param("max_reject_fraction", spec.rejects.max_fraction),
                allow_empty=EMPTY_DAY if spec.slice_column else False,
            )

    with TaskGroup("load", tooltip="staging → fact and dimension tables, in the audit area") as load:
        (fact,) = tables(Role.FACT)
        load_fact = LoadFactOperator(
            task_id=f"load_{fact.name}_fact",
            table=fact.name,
            audit_area=AUDIT_AREA,
            load=fact.load,
            slice_column=fact.slice_column,
            slice_start=RUN_DAY_START,
            slice_end=RUN_DAY_END,
        )
        load_dimensions = [
            LoadDimensionOperator(
                task_id=f"load_{spec.name}_dim",
                table=spec.name,
                audit_area=AUDIT_AREA,
                load=spec.load,
                mode=spec.mode,
                keys=spec.keys,
                slice_column=spec.slice_column,
                slice_start=RUN_DAY_START if spec.load.sliced else None,
                slice_end=RUN_DAY_END if spec.load.sliced else None,
            )
            for spec in tables(Role.DIMENSION)
        ]
        chain(load_fact, load_dimensions)

    with TaskGroup("validate", tooltip="the quality gate on the audit area: a GX suite per table, SQL checks") as validate:
        for spec in validated_tables():
            GXValidateTableOperator(
                task_id=f"validate_{spec.name}",
                table=spec.name,
                run_day=RUN_DAY_START if spec.slice_column else None,
                audit_area=AUDIT_AREA,
                allow_empty=EMPTY_DAY if spec.slice_column else False,
                context_type="file",
                configure_file_data_context=file_context,
                configure_checkpoint=partial(table_checkpoint, spec.name),
            )
        DataQualityOperator(
            task_id="run_quality_checks",
            checks=[
                *(check for spec in (fact, *tables(Role.DIMENSION)) for check in table_checks(spec.name, spec.keys)),
                SONGPLAYS_RECONCILE,
            ],
            audit_area=AUDIT_AREA,
            slice_start=RUN_DAY_START,
            slice_end=RUN_DAY_END,
            allow_empty=EMPTY_DAY,
        )

    publish = PublishOperator(
        task_id=PUBLISH_TASK_ID, audit_area=AUDIT_AREA, tables=TABLES, slice_start=RUN_DAY_START, slice_end=RUN_DAY_END
    )

    chain(open_audit_area, stage, load, validate, publish)

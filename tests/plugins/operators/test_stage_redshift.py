"""StageToRedshiftOperator: golden SQL of the Redshift transaction, templating, guards."""

from datetime import datetime

import pytest
from botocore.credentials import ReadOnlyCredentials

from operators import stage_redshift
from operators.stage_redshift import StageToRedshiftOperator

DAY = (datetime(2018, 11, 5), datetime(2018, 11, 6))
AREA = "audit_20181105_1a2b3c4d"


def events_operator(**overrides):
    arguments = dict(
        task_id="stage_events",
        table="staging_events",
        audit_area=AREA,
        s3_bucket="udacity-dend",
        s3_key="log_data/2018/11/2018-11-05-events.json",
        json_paths="log_json_path.json",
        timeformat="epochmillisecs",
        slice_column="ts",
        slice_start="2018-11-05",
        slice_end="2018-11-06",
        region="us-west-2",
    )
    arguments.update(overrides)
    return StageToRedshiftOperator(**arguments)


@pytest.fixture
def aws_keys(monkeypatch):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    credentials = ReadOnlyCredentials("AKIAEXAMPLE", "s3cr3t/key", "sessionTOKEN")
    monkeypatch.setattr(S3Hook, "get_credentials", lambda self, region_name=None: credentials)


def test_redshift_transaction_copies_the_day_into_the_audit_area_only(fake_warehouse, aws_keys):
    hook = fake_warehouse(stage_redshift)
    events_operator().execute(context={})

    assert hook.conn.executed == [
        (f'DROP TABLE IF EXISTS "{AREA}"."staging_events"', ()),
        (f'CREATE TABLE "{AREA}"."staging_events" (LIKE "public"."staging_events")', ()),
        (
            f'COPY "{AREA}"."staging_events"\n'
            "FROM 's3://udacity-dend/log_data/2018/11/2018-11-05-events.json'\n"
            "CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=s3cr3t/key;token=sessionTOKEN'\n"
            "FORMAT AS JSON 's3://udacity-dend/log_json_path.json'\n"
            "TIMEFORMAT 'epochmillisecs'\n"
            "REGION 'us-west-2'",
            (),
        ),
        (
            f'SELECT COUNT(*), MIN("ts"), MAX("ts") FROM "{AREA}"."staging_events" '
            'WHERE "ts" IS NULL OR "ts" < %s OR "ts" >= %s',
            DAY,
        ),
    ]
    assert not any("public" in sql and not sql.startswith("CREATE") for sql, _ in hook.conn.executed)
    assert hook.conn.committed and not hook.conn.autocommit


def test_redshift_copy_with_iam_role_and_auto_and_extra_options(fake_warehouse):
    hook = fake_warehouse(stage_redshift)
    StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        audit_area=AREA,
        s3_bucket="udacity-dend",
        s3_key="song_data/",
        iam_role="arn:aws:iam::123456789012:role/sparkify",
        copy_options=["BLANKSASNULL"],
    ).execute(context={})

    statements = [sql for sql, _ in hook.conn.executed]
    assert statements == [
        f'DROP TABLE IF EXISTS "{AREA}"."staging_songs"',
        f'CREATE TABLE "{AREA}"."staging_songs" (LIKE "public"."staging_songs")',
        f'COPY "{AREA}"."staging_songs"\n'
        "FROM 's3://udacity-dend/song_data/'\n"
        "IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify'\n"
        "FORMAT AS JSON 'auto'\n"
        "TIMEFORMAT 'auto'\n"
        "BLANKSASNULL",
    ]


def test_a_changed_catalog_is_copied_with_its_manifest_into_the_area(fake_warehouse, monkeypatch):
    hook = fake_warehouse(stage_redshift)
    manifest = stage_redshift.Manifest("s3://udacity-dend/song_data/", "f" * 32, 14896)
    monkeypatch.setattr(StageToRedshiftOperator, "_source_manifest", lambda self: manifest)
    StageToRedshiftOperator(
        task_id="stage_songs", table="staging_songs", audit_area=AREA, s3_bucket="udacity-dend", s3_key="song_data/",
        iam_role="arn:aws:iam::1:role/r", skip_unchanged=True,
    ).execute(context={})
    executed = [(sql.split("\n")[0], params) for sql, params in hook.conn.executed]
    assert executed == [
        (f'DROP TABLE IF EXISTS "{AREA}"."staging_songs"', ()),
        ('SELECT source, fingerprint, loaded_at, row_count, (SELECT COUNT(*) FROM "public"."staging_songs") '
         'FROM "public"."staging_manifest" WHERE table_name = %s', ("staging_songs",)),
        (f'CREATE TABLE "{AREA}"."staging_songs" (LIKE "public"."staging_songs")', ()),
        (f'COPY "{AREA}"."staging_songs"', ()),
        (f'CREATE TABLE IF NOT EXISTS "{AREA}"."staging_manifest" (LIKE "public"."staging_manifest")', ()),
        (f'DELETE FROM "{AREA}"."staging_manifest" WHERE table_name = %s', ("staging_songs",)),
        (f'INSERT INTO "{AREA}"."staging_manifest" (table_name, source, fingerprint, objects, row_count, loaded_at) '
         f'SELECT %s, %s, %s, %s, COUNT(*), CURRENT_TIMESTAMP FROM "{AREA}"."staging_songs"',
         ("staging_songs", "s3://udacity-dend/song_data/", "f" * 32, 14896)),
    ]


def test_credentials_never_reach_the_logs(fake_warehouse, aws_keys, capsys):
    fake_warehouse(stage_redshift)
    events_operator().execute(context={})
    logs = capsys.readouterr()
    assert "FORMAT AS JSON" in logs.out and "CREDENTIALS '***'" in logs.out
    assert "s3cr3t" not in logs.out + logs.err and "sessionTOKEN" not in logs.out + logs.err


def test_rows_outside_the_slice_fail_without_retry_and_roll_back(fake_warehouse, aws_keys):
    from airflow.sdk.exceptions import AirflowFailException

    hook = fake_warehouse(stage_redshift)
    hook.conn.fetchone_result = (2, datetime(2018, 11, 6, 0, 0, 1), datetime(2018, 11, 6, 0, 0, 2))
    with pytest.raises(AirflowFailException, match=r"2 row\(s\) have ts outside this run's slice"):
        events_operator().execute(context={})
    assert hook.conn.rolled_back and not hook.conn.committed


def test_failed_statement_rolls_back(fake_warehouse, aws_keys):
    hook = fake_warehouse(stage_redshift)
    hook.conn.fail_on = "COPY"
    with pytest.raises(RuntimeError):
        events_operator().execute(context={})
    assert hook.conn.rolled_back and not hook.conn.committed


def test_quotes_in_keys_are_escaped_in_the_copy_literal(fake_warehouse):
    hook = fake_warehouse(stage_redshift)
    events_operator(s3_key="log_data/o'brien.json", iam_role="arn:aws:iam::1:role/r").execute(context={})
    copy = next(sql for sql, _ in hook.conn.executed if sql.startswith("COPY"))
    assert "FROM 's3://udacity-dend/log_data/o''brien.json'" in copy


def test_postgres_type_connection_to_a_redshift_host_uses_copy(fake_warehouse):
    hook = fake_warehouse(stage_redshift, conn_type="postgres", host="x.abc.eu-west-1.redshift.amazonaws.com")
    events_operator(iam_role="arn:aws:iam::1:role/r").execute(context={})
    assert any(sql.startswith("COPY") for sql, _ in hook.conn.executed)


def test_key_and_slice_are_templated_from_the_logical_date():
    from helpers.tables import RUN_DAY_END, RUN_DAY_START, TABLES

    events = next(spec for spec in TABLES if spec.name == "staging_events")
    operator = events_operator(s3_key=events.s3_key, slice_start=RUN_DAY_START, slice_end=RUN_DAY_END)
    import airflow.sdk.execution_time.macros as macros

    operator.render_template_fields({"ds": "2018-11-30", "macros": macros, "var": None})
    assert operator.s3_key == "log_data/2018/11/2018-11-30-events.json"
    assert operator.time_slice().params == (datetime(2018, 11, 30), datetime(2018, 12, 1))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"table": "staging events"}, "Invalid table name"),
        ({"table": "public.staging_events"}, "Invalid table name"),
        ({"slice_column": "ts; drop"}, "Invalid column name"),
        ({"slice_end": None}, "slice_column needs slice_start and slice_end"),
        ({"skip_unchanged": True}, "skip_unchanged is for whole-table loads"),
    ],
)
def test_invalid_arguments_are_refused_when_the_dag_is_parsed(arguments, message):
    with pytest.raises(ValueError, match=message):
        events_operator(**arguments)


def test_empty_slice_is_refused():
    with pytest.raises(ValueError, match="Empty slice"):
        events_operator(slice_start="2018-11-06", slice_end="2018-11-05").time_slice()


def test_the_area_must_be_an_audit_areas_name(fake_warehouse, aws_keys):
    fake_warehouse(stage_redshift)
    with pytest.raises(ValueError, match="is not an audit area name"):
        events_operator(audit_area="public").execute(context={})


def test_unknown_connection_type_is_refused(fake_warehouse):
    fake_warehouse(stage_redshift, conn_type="mysql", host="db")
    with pytest.raises(ValueError, match="Connection type 'mysql' is not supported"):
        events_operator().execute(context={})

"""StageToRedshiftOperator: golden SQL of the Redshift transaction, templating, guards."""

from datetime import date, datetime

import pytest
from botocore.credentials import ReadOnlyCredentials

from operators import stage_redshift
from operators.stage_redshift import StageToRedshiftOperator

DAY = (datetime(2018, 11, 5), datetime(2018, 11, 6))
AREA = "audit_20181105_1a2b3c4d"
LOAD_METRICS = ("load:read", "load:staged", "load:rejected", "load:duplicates", "load:rejects_allowed")


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


def staging_warehouse(fake_warehouse, **connection):
    """The recording warehouse of the operator, whose load staged 408 records and rejected none."""
    hook = fake_warehouse(stage_redshift, **connection)
    hook.conn.fetchone_result = counted(staged=408, rejected=0)
    return hook


@pytest.fixture
def aws_keys(monkeypatch):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    credentials = ReadOnlyCredentials("AKIAEXAMPLE", "s3cr3t/key", "sessionTOKEN")
    monkeypatch.setattr(S3Hook, "get_credentials", lambda self, region_name=None: credentials)


def test_redshift_transaction_copies_the_day_into_the_audit_area_only(fake_warehouse, aws_keys):
    hook = staging_warehouse(fake_warehouse)
    events_operator().execute(context={})

    assert hook.conn.executed == [
        (f'DROP TABLE IF EXISTS "{AREA}"."staging_events"', ()),
        (f'CREATE TABLE "{AREA}"."staging_events" (LIKE "public"."staging_events")', ()),
        (f'DELETE FROM "{AREA}"."staging_rejects" WHERE table_name = %s', ("staging_events",)),
        (
            f'COPY "{AREA}"."staging_events"\n'
            "FROM 's3://udacity-dend/log_data/2018/11/2018-11-05-events.json'\n"
            "CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=s3cr3t/key;token=sessionTOKEN'\n"
            "FORMAT AS JSON 's3://udacity-dend/log_json_path.json'\n"
            "TIMEFORMAT 'epochmillisecs'\n"
            "REGION 'us-west-2'\n"
            "MAXERROR 100",
            (),
        ),
        (
            f'INSERT INTO "{AREA}"."staging_rejects" (table_name, day, run_id, source, line_number, column_name, '
            "reason, raw_text, rejected_at)\n"
            "SELECT %s, %s, %s, TRIM(e.file_name), e.line_number, NULLIF(TRIM(e.column_name), ''),\n"
            "       LEFT(TRIM(e.error_message), 1024), NULL, e.start_time\n"
            "FROM sys_load_error_detail e\n"
            "WHERE e.table_id = (\n"
            "    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
            "    WHERE n.nspname = %s AND c.relname = %s\n"
            ")",
            ("staging_events", DAY[0].date(), "manual", AREA, "staging_events"),
        ),
        (
            f'SELECT COUNT(*), MIN("ts"), MAX("ts") FROM "{AREA}"."staging_events" '
            'WHERE "ts" IS NULL OR "ts" < %s OR "ts" >= %s',
            DAY,
        ),
        (
            f'SELECT (SELECT COUNT(*) FROM "{AREA}"."staging_events"), '
            f'(SELECT COUNT(*) FROM "{AREA}"."staging_rejects" WHERE table_name = %s)',
            ("staging_events",),
        ),
        (
            f'DELETE FROM "{AREA}"."quality_metrics" WHERE day = %s AND table_name = %s AND metric IN (%s, %s, %s, %s, %s)',
            (DAY[0].date(), "staging_events", *LOAD_METRICS),
        ),
        (
            f'INSERT INTO "{AREA}"."quality_metrics" (day, table_name, metric, value, run_id, recorded_at) VALUES '
            + ", ".join(["(%s, %s, %s, %s, %s, CURRENT_TIMESTAMP)"] * 5),
            tuple(field for metric, value in zip(LOAD_METRICS, (408, 408, 0, 0, 4))
                  for field in (DAY[0].date(), "staging_events", metric, value, "manual")),
        ),
    ]
    assert not any("public" in sql and not sql.startswith("CREATE") for sql, _ in hook.conn.executed)
    assert hook.conn.committed and not hook.conn.autocommit


def test_redshift_copy_with_iam_role_and_auto_and_extra_options(fake_warehouse):
    hook = staging_warehouse(fake_warehouse)
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
        f'DELETE FROM "{AREA}"."staging_rejects" WHERE table_name = %s',
        f'COPY "{AREA}"."staging_songs"\n'
        "FROM 's3://udacity-dend/song_data/'\n"
        "IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify'\n"
        "FORMAT AS JSON 'auto'\n"
        "TIMEFORMAT 'auto'\n"
        "MAXERROR 100\n"
        "BLANKSASNULL",
        *statements[4:8],
    ]
    assert statements[4].startswith(f'INSERT INTO "{AREA}"."staging_rejects"') and "FROM sys_load_error_detail" in statements[4]
    assert hook.conn.executed[4][1] == ("staging_songs", None, "manual", AREA, "staging_songs")  # no day: loaded whole
    assert statements[5].startswith(f'SELECT (SELECT COUNT(*) FROM "{AREA}"."staging_songs")')
    assert statements[6].startswith(f'DELETE FROM "{AREA}"."quality_metrics"')
    assert hook.conn.executed[6][1][:2] == (date.today(), "staging_songs")  # loaded whole: the run's day (here today)
    assert statements[7].startswith(f'INSERT INTO "{AREA}"."quality_metrics"')


def test_a_changed_catalog_is_copied_with_its_manifest_into_the_area(fake_warehouse, monkeypatch):
    hook = staging_warehouse(fake_warehouse)
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
        (f'DELETE FROM "{AREA}"."staging_rejects" WHERE table_name = %s', ("staging_songs",)),
        (f'COPY "{AREA}"."staging_songs"', ()),
        (f'INSERT INTO "{AREA}"."staging_rejects" (table_name, day, run_id, source, line_number, column_name, '
         'reason, raw_text, rejected_at)', ("staging_songs", None, "manual", AREA, "staging_songs")),
        ('SELECT (SELECT COUNT(*) FROM "audit_20181105_1a2b3c4d"."staging_songs"), (SELECT COUNT(*) FROM '
         '"audit_20181105_1a2b3c4d"."staging_rejects" WHERE table_name = %s)', ("staging_songs",)),
        *executed[7:9],  # the load's counts (see the test above)
        (f'CREATE TABLE IF NOT EXISTS "{AREA}"."staging_manifest" (LIKE "public"."staging_manifest")', ()),
        (f'DELETE FROM "{AREA}"."staging_manifest" WHERE table_name = %s', ("staging_songs",)),
        (f'INSERT INTO "{AREA}"."staging_manifest" (table_name, source, fingerprint, objects, row_count, loaded_at) '
         f'SELECT %s, %s, %s, %s, COUNT(*), CURRENT_TIMESTAMP FROM "{AREA}"."staging_songs"',
         ("staging_songs", "s3://udacity-dend/song_data/", "f" * 32, 14896)),
    ]


def test_credentials_never_reach_the_logs(fake_warehouse, aws_keys, capsys):
    staging_warehouse(fake_warehouse)
    events_operator().execute(context={})
    logs = capsys.readouterr()
    assert "FORMAT AS JSON" in logs.out and "CREDENTIALS '***'" in logs.out
    assert "s3cr3t" not in logs.out + logs.err and "sessionTOKEN" not in logs.out + logs.err


def test_rows_outside_the_slice_fail_without_retry_and_roll_back(fake_warehouse, aws_keys):
    from airflow.sdk.exceptions import AirflowFailException

    hook = staging_warehouse(fake_warehouse)
    hook.conn.fetchone_result = (2, datetime(2018, 11, 6, 0, 0, 1), datetime(2018, 11, 6, 0, 0, 2))
    with pytest.raises(AirflowFailException, match=r"2 row\(s\) have ts outside this run's slice"):
        events_operator().execute(context={})
    assert hook.conn.rolled_back and not hook.conn.committed


def test_failed_statement_rolls_back(fake_warehouse, aws_keys):
    hook = staging_warehouse(fake_warehouse)
    hook.conn.fail_on = "COPY"
    with pytest.raises(RuntimeError):
        events_operator().execute(context={})
    assert hook.conn.rolled_back and not hook.conn.committed


def test_a_copy_past_maxerror_fails_without_retry_saying_where_the_errors_are(fake_warehouse, aws_keys):
    from airflow.sdk.exceptions import AirflowFailException

    hook = staging_warehouse(fake_warehouse)
    hook.conn.fail_on = "COPY"
    hook.conn.failure = Exception({"C": "XX000", "M": "Load into table 'staging_events' failed.  Check "
                                                     "'sys_load_error_detail' system table for details."})
    with pytest.raises(AirflowFailException, match=r"Cannot stage s3://udacity-dend/log_data/2018/11/2018-11-05-events"
                                                   r"\.json into staging_events: Load into table .* MAXERROR \(100\)"):
        events_operator().execute(context={})
    assert hook.conn.rolled_back


def test_quotes_in_keys_are_escaped_in_the_copy_literal(fake_warehouse):
    hook = staging_warehouse(fake_warehouse)
    events_operator(s3_key="log_data/o'brien.json", iam_role="arn:aws:iam::1:role/r").execute(context={})
    copy = next(sql for sql, _ in hook.conn.executed if sql.startswith("COPY"))
    assert "FROM 's3://udacity-dend/log_data/o''brien.json'" in copy


def test_postgres_type_connection_to_a_redshift_host_uses_copy(fake_warehouse):
    hook = staging_warehouse(fake_warehouse, conn_type="postgres", host="x.abc.eu-west-1.redshift.amazonaws.com")
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
    staging_warehouse(fake_warehouse)
    with pytest.raises(ValueError, match="is not an audit area name"):
        events_operator(audit_area="public").execute(context={})


def test_unknown_connection_type_is_refused(fake_warehouse):
    fake_warehouse(stage_redshift, conn_type="mysql", host="db")
    with pytest.raises(ValueError, match="Connection type 'mysql' is not supported"):
        events_operator().execute(context={})


class RecordingTaskInstance:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


def counted(staged, rejected):
    """fetchone() of the warehouse: the slice guard finds nothing, the tally counts ``staged`` and ``rejected``."""
    return lambda sql: (staged, rejected) if sql.startswith("SELECT (SELECT COUNT(*)") else (0, None, None)


FIRST_REJECTS = [("s3://udacity-dend/log_data/2018/11/2018-11-05-events.json", 7, "sessionid", "Invalid digit, Value 'x'"),
                 ("s3://udacity-dend/log_data/2018/11/2018-11-05-events.json", 9, None, "Invalid JSONPath format")]


def test_rejects_past_the_fraction_fail_naming_the_first_ones_and_keep_the_area(fake_warehouse, aws_keys):
    from airflow.sdk.exceptions import AirflowFailException

    hook = staging_warehouse(fake_warehouse)
    hook.conn.fetchone_result = counted(staged=95, rejected=5)
    hook.conn.fetchall_result = FIRST_REJECTS
    with pytest.raises(AirflowFailException) as failed:
        events_operator().execute(context={"run_id": "manual__1", "ti": RecordingTaskInstance()})
    message = str(failed.value)
    assert message.startswith("Too many rejects staging staging_events: s3://udacity-dend/log_data/2018/11/"
                              "2018-11-05-events.json: 100 record(s) read, 95 staged")
    assert "the limit is at most 100 and at most 1.00% of the records read (1 here)" in message
    assert "2018-11-05-events.json, line 7: column sessionid: Invalid digit, Value 'x'" in message
    assert "2018-11-05-events.json, line 9: Invalid JSONPath format\n  ... 3 more" in message
    assert f"SELECT * FROM {AREA}.staging_rejects WHERE table_name = 'staging_events'" in message
    assert f"Its rows are kept in audit area {AREA} until the next run of 2018-11-05" in message
    assert hook.conn.committed  # the area keeps the staged rows and the rejects for inspection
    assert hook.conn.executed[4][1][2] == "manual__1"  # the run id of each reject


def test_rejects_within_the_limit_warn_in_the_runs_alert(fake_warehouse, aws_keys):
    hook = staging_warehouse(fake_warehouse)
    hook.conn.fetchone_result = counted(staged=998, rejected=2)
    hook.conn.fetchall_result = FIRST_REJECTS
    ti = RecordingTaskInstance()
    events_operator().execute(context={"ti": ti})
    warning = ti.pushed["sparkify_warnings"]
    assert warning.startswith("s3://udacity-dend/log_data/2018/11/2018-11-05-events.json: 1000 record(s) read, "
                              f'998 staged into "{AREA}"."staging_events", 2 rejected (within the limit')
    assert "line 7: column sessionid" in warning


def test_the_reject_limit_is_set_per_run_and_checked(fake_warehouse, aws_keys):
    hook = staging_warehouse(fake_warehouse)
    hook.conn.fetchone_result = counted(staged=95, rejected=5)
    events_operator(max_rejects="5", max_reject_fraction="0.05").execute(context={"ti": RecordingTaskInstance()})
    assert "MAXERROR 5" in hook.conn.executed[3][0]
    with pytest.raises(ValueError, match="set MAXERROR with max_rejects"):
        events_operator(copy_options=["MAXERROR 10"])
    with pytest.raises(ValueError, match=r"invalid reject limit \(max_rejects=-1"):
        events_operator(max_rejects=-1)
    with pytest.raises(ValueError, match="invalid reject limit"):
        events_operator(max_rejects="{{ params.max_rejects }}").reject_limit()  # rendered to the raw template


def test_redshift_moves_the_rows_a_column_rule_refuses_to_the_rejects_after_the_copy(fake_warehouse, aws_keys):
    from helpers.rejects import ColumnRule

    hook = staging_warehouse(fake_warehouse)
    events_operator(column_rules=[ColumnRule("userid", "[0-9]*", "a whole number")]).execute(context={})
    source = "s3://udacity-dend/log_data/2018/11/2018-11-05-events.json"
    assert hook.conn.executed[5:7] == [
        (f'INSERT INTO "{AREA}"."staging_rejects" (table_name, day, run_id, source, line_number, column_name, reason, '
         'raw_text, rejected_at)\n'
         'SELECT %s, %s, %s, %s, NULL, %s, %s, LEFT("userid", 4096), CURRENT_TIMESTAMP '
         f'FROM "{AREA}"."staging_events" WHERE "userid" !~ %s',
         ("staging_events", DAY[0].date(), "manual", source, "userid", "a whole number (the value must match [0-9]*)",
          "^([0-9]*)$")),
        (f'DELETE FROM "{AREA}"."staging_events" WHERE "userid" !~ %s', ("^([0-9]*)$",)),
    ]
    assert hook.conn.executed[7][0].startswith('SELECT COUNT(*), MIN("ts")')  # then the slice guard and the tally


def test_redshift_stages_exact_duplicates_once_and_rejects_keys_with_other_values(fake_warehouse, aws_keys):
    hook = staging_warehouse(fake_warehouse)

    def fetchone(sql):
        if sql.startswith("SELECT COUNT(*) FROM (SELECT 1"):
            return (1,)  # keys staged more than once
        if sql.endswith('(SELECT COUNT(*) FROM "staging_events__distinct")'):
            return (10, 8)  # staged, distinct
        if sql.startswith("SELECT (SELECT COUNT(*)"):
            return (7, 1)  # the tally: staged, rejected
        return (0, None, None)  # the slice guard

    hook.conn.fetchone_result = fetchone
    ti = RecordingTaskInstance()
    events_operator(record_key=["userid", "ts"], max_reject_fraction=0.5).execute(context={"ti": ti})
    dedup = [sql for sql, _ in hook.conn.executed[5:15]]
    staged, distinct, conflicts = f'"{AREA}"."staging_events"', '"staging_events__distinct"', '"staging_events__conflicts"'
    assert dedup == [
        f'SELECT COUNT(*) FROM (SELECT 1 FROM {staged} WHERE "userid" IS NOT NULL AND "ts" IS NOT NULL '
        'GROUP BY "userid", "ts" HAVING COUNT(*) > 1) k',
        f"CREATE TEMPORARY TABLE {distinct} AS SELECT DISTINCT * FROM {staged}",
        f"SELECT (SELECT COUNT(*) FROM {staged}), (SELECT COUNT(*) FROM {distinct})",
        f'CREATE TEMPORARY TABLE {conflicts} AS SELECT "userid", "ts" FROM {distinct} WHERE "userid" IS NOT NULL AND '
        f'"ts" IS NOT NULL GROUP BY "userid", "ts" HAVING COUNT(*) > 1',
        f'INSERT INTO "{AREA}"."staging_rejects" (table_name, day, run_id, source, line_number, column_name, reason, '
        "raw_text, rejected_at)\n"
        "SELECT %s, %s, %s, %s, NULL, NULL, 'a record with the same key (userid, ts) = (' || "
        "CAST(d.\"userid\" AS VARCHAR) || ', ' || CAST(d.\"ts\" AS VARCHAR) || ') and other values was delivered too', "
        "NULL, CURRENT_TIMESTAMP\n"
        f'FROM {distinct} d JOIN {conflicts} c ON d."userid" = c."userid" AND d."ts" = c."ts"',
        f"DELETE FROM {staged}",
        f'INSERT INTO {staged} SELECT d.* FROM {distinct} d WHERE NOT EXISTS (SELECT 1 FROM {conflicts} c '
        'WHERE d."userid" = c."userid" AND d."ts" = c."ts")',
        f"DROP TABLE {distinct}",
        f"DROP TABLE {conflicts}",
        f'SELECT COUNT(*), MIN("ts"), MAX("ts") FROM {staged} WHERE "ts" IS NULL OR "ts" < %s OR "ts" >= %s',
    ]
    assert "7 staged" in ti.pushed["sparkify_warnings"] and "1 rejected, 2 exact duplicate(s)" in ti.pushed["sparkify_warnings"]


def test_a_load_of_nothing_fails_naming_the_source_and_keeps_the_published_day(fake_warehouse, aws_keys):
    from airflow.sdk.exceptions import AirflowFailException

    hook = staging_warehouse(fake_warehouse)
    hook.conn.fetchone_result = counted(staged=0, rejected=0)
    with pytest.raises(AirflowFailException, match=r"s3://udacity-dend/log_data/2018/11/2018-11-05-events\.json holds no "
                                                   r"record \(an empty file\): a load of nothing is refused"):
        events_operator().execute(context={})


def test_an_explicitly_empty_day_stages_nothing_and_warns(fake_warehouse, aws_keys, monkeypatch):
    hook = staging_warehouse(fake_warehouse)
    hook.conn.fetchone_result = counted(staged=0, rejected=0)
    monkeypatch.setattr(StageToRedshiftOperator, "_source_objects", lambda self: 1)  # an empty file
    ti = RecordingTaskInstance()
    events_operator(allow_empty="True").execute(context={"ti": ti})
    assert ti.pushed["sparkify_warnings"] == (
        "s3://udacity-dend/log_data/2018/11/2018-11-05-events.json holds no record: staged nothing, so the run "
        "publishes staging_events's day 2018-11-05 empty, as this run's allow_empty asked.")
    assert any(sql.startswith("COPY") for sql, _ in hook.conn.executed)  # COPY loads nothing from it

    hook.conn.executed.clear()
    monkeypatch.setattr(StageToRedshiftOperator, "_source_objects", lambda self: 0)  # no file for the day
    events_operator(allow_empty="True").execute(context={"ti": ti})
    assert not any(sql.startswith("COPY") for sql, _ in hook.conn.executed)  # COPY fails on a missing prefix
    assert hook.conn.committed


def test_only_a_sliced_load_may_be_empty():
    with pytest.raises(ValueError, match="allow_empty is for sliced loads"):
        StageToRedshiftOperator(task_id="stage_songs", table="staging_songs", audit_area=AREA, s3_bucket="b",
                                s3_key="song_data/", allow_empty=True)

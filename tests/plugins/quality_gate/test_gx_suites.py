"""The GX suites on the real Sparkify sample: all pass on it, and each family of fault fails the right suite.

Two days of the sample are staged as Redshift's COPY would (helpers.json_copy) and loaded with the
DAG's own load SQL, once, into a template database; each test validates a fresh copy of it with a
copy of gx/ (so the repo's gx/uncommitted stays untouched).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
import yaml

from quality_gate import gx_context
from local_stack import gx_cli
from local_stack import sql_pipeline

DAYS = ("2018-11-20", "2018-11-21")
DAY = date(2018, 11, 21)
ALL_TABLES = [spec.name for spec in gx_context.validated_tables()]


# --- the sample, staged and loaded ---------------------------------------------------------------


def load_sample(uri: str, sample: Path, days: tuple[str, ...]) -> None:
    """Each day as the DAG runs it: staged into its audit area as Redshift's COPY would (the song catalog
    with the first), loaded with the DAG's SQL, recorded, published."""
    with psycopg.connect(uri) as conn:
        sql_pipeline.load_days(conn, sample, days)


def audited_rerun(uri: str, day: str, fault: str) -> str:
    """A re-run of published ``day`` loaded into its audit area (not published), after ``fault`` ran on its staged rows."""
    def stage(cursor: psycopg.Cursor, area: str) -> None:
        cursor.execute(f'INSERT INTO "{area}".staging_events SELECT * FROM public.staging_events '
                       "WHERE ts >= %s AND ts < %s", sql_pipeline.day_slice(day).params)
        cursor.execute(fault)

    with psycopg.connect(uri) as conn, conn.cursor() as cursor:
        area = sql_pipeline.open_and_stage(cursor, day, stage, staged=("staging_events",))
        sql_pipeline.load(cursor, area, day)
    return area


@pytest.fixture(scope="module")
def sample_template(module_warehouse, shared_sample) -> str:
    """Name of a database holding DAYS of the sample, loaded; used only as a template."""
    load_sample(module_warehouse, shared_sample, DAYS)
    return module_warehouse.rsplit("/", 1)[1]


@pytest.fixture
def loaded_warehouse(postgres_server, sample_template) -> Iterator[str]:
    """URI of a fresh copy of the loaded sample."""
    name = f"gx_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server.uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{sample_template}"')
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def gx_dir(tmp_path_factory) -> Path:
    """A copy of the repo's committed gx/ (validations and Data Docs go to its uncommitted/)."""
    target = tmp_path_factory.mktemp("gx") / "gx"
    shutil.copytree(gx_context.GX_DIR, target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


@pytest.fixture
def validate(loaded_warehouse, gx_dir, monkeypatch):
    """validate(tables=all, day=DAY) -> {table: failed expectations, or the EmptyDay message}."""
    monkeypatch.setenv(gx_context.URL_ENV, loaded_warehouse)
    monkeypatch.setenv(gx_cli.WAREHOUSE_ENV, loaded_warehouse)
    context = gx_context.file_context(gx_dir)

    def run(tables=ALL_TABLES, day=DAY):
        outcome = {}
        for table in tables:
            try:
                outcome[table] = gx_context.failed_expectations(gx_context.run_checkpoint(context, table, day))
            except gx_context.EmptyDay as empty:
                outcome[table] = str(empty)
        return outcome

    return run


def execute(uri: str, sql: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(sql)


# --- the real data passes --------------------------------------------------------------------------


def test_every_suite_passes_on_the_real_sample_for_each_day(validate):
    for day in DAYS:
        assert validate(day=date.fromisoformat(day)) == {table: [] for table in ALL_TABLES}, day


def test_cli_validate_passes_on_the_real_sample_and_points_at_data_docs(validate, gx_dir, capsys):
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "--date", "2018-11-21"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS ") == len(ALL_TABLES)
    assert "warehouse-songplays-year_2018-month_11-day_21" in out
    assert f"Data Docs: {gx_dir}/uncommitted/data_docs/local_site/index.html" in out


def test_the_audit_covers_every_table_in_full_and_every_day(validate, gx_dir, capsys):
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate"]) == 0
    out, err = capsys.readouterr()
    assert out.count("PASS ") == len(ALL_TABLES)
    assert "PASS  songplays (all 2 days): " in out and "PASS  users (whole table): " in out
    progress = [line for line in err.splitlines() if line.startswith("... ")]  # on stderr, before each validation
    assert "... Validating songplays: its 2 day(s) at once" in progress and "... Validating users (whole table)" in progress
    assert len([line for line in progress if line.startswith("... Validating ")]) == len(ALL_TABLES)
    assert ("Covered: staging_events 2 day(s) 2018-11-20..2018-11-21; staging_songs (whole table); songplays 2 day(s) "
            "2018-11-20..2018-11-21; users (whole table)") in out
    assert "Every table passed the audit." in out


def test_the_audit_names_each_failing_day_outside_the_latest_too(loaded_warehouse, gx_dir, validate, capsys):
    execute(loaded_warehouse, "UPDATE songplays SET session_id = session_id + 1 WHERE start_time < '2018-11-21' "
            "AND songplay_id = (SELECT MIN(songplay_id) FROM songplays WHERE start_time < '2018-11-21')")
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "songplays"]) == 1
    out, err = capsys.readouterr()
    assert "... songplays failed: validating its 2 day(s) one by one to name each failing day" in err
    assert "... Validating songplays 2018-11-21 (2 of 2)" in err
    assert "FAIL  songplays 2018-11-20: [" in out and "is what its load computes" in out
    assert "PASS  songplays 2018-11-21: " in out
    assert "1 table(s) failed the audit: songplays" in out


def test_the_audit_finds_the_days_a_table_lacks(loaded_warehouse, gx_dir, validate, capsys, shared_sample):
    execute(loaded_warehouse, "DELETE FROM songplays WHERE start_time < '2018-11-21'")
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "songplays", "staging_events"]) == 1
    out = capsys.readouterr().out
    assert "MISSING  songplays: no rows on 2018-11-20" in out and "MISSING  staging_events" not in out
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "staging_events", "--source", str(shared_sample)]) == 1
    out = capsys.readouterr().out
    assert "and the days with a file in" in out
    missing = re.search(r"MISSING  staging_events: no rows on (.*)", out)[1].split(", ")
    assert len(missing) == 28 and "2018-11-01" in missing and "2018-11-20" not in missing


def test_a_day_published_empty_on_purpose_is_reported_not_missing(loaded_warehouse, gx_dir, validate, capsys):
    def stage_nothing(cursor, area):  # a run with publish_empty_day whose file held no record
        sql_pipeline.stage_files(cursor, area, "staging_events", [], None, "epochmillisecs")

    with psycopg.connect(loaded_warehouse) as conn, conn.cursor() as cursor:
        sql_pipeline.run_day(cursor, "2018-11-19", stage_nothing, staged=("staging_events",))
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate"]) == 0
    out = capsys.readouterr().out
    assert "EMPTY  2018-11-19: published empty on purpose (publish_empty_day)" in out
    assert "MISSING" not in out and "Every table passed the audit" in out


# --- one fault per family ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    family: str
    sql: str
    fails: str
    """The table whose suite must fail with ``expectation``."""
    expectation: str
    about: str
    """The failed expectation's column, or words of its description."""
    also: tuple[str, ...] = ()
    """Other tables whose suites catch it too (their reconciliation with the staged rows); no other may fail."""
    in_audit_batch: bool = True
    """Also made in a run's audit area (False: it needs the counts a staging task records there)."""


ONE_EVENT_OF_THE_DAY = "SELECT MIN(ts) FROM staging_events WHERE ts >= '2018-11-21'"
ONE_PLAY_OF_THE_DAY = "SELECT MIN(songplay_id) FROM songplays WHERE start_time >= '2018-11-21'"
ONE_MATCHED_PLAY = "SELECT MIN(songplay_id) FROM songplays WHERE start_time >= '2018-11-21' AND song_id IS NOT NULL"
COMPUTED = "its load computes"
FAULTS = [
    Fault("not null", "UPDATE users SET level = NULL WHERE user_id = (SELECT MIN(user_id) FROM users)",
          "users", "expect_column_values_to_not_be_null", "level"),
    Fault("unique", "INSERT INTO staging_songs SELECT * FROM staging_songs WHERE song_id = (SELECT MIN(song_id) FROM staging_songs)",
          "staging_songs", "expect_column_values_to_be_unique", "song_id"),
    Fault("value set", f"UPDATE staging_events SET method = 'POST' WHERE ts = ({ONE_EVENT_OF_THE_DAY})",
          "staging_events", "expect_column_values_to_be_in_set", "method"),
    Fault("range", "UPDATE artists SET latitude = 91 WHERE artist_id = (SELECT MIN(artist_id) FROM artists WHERE latitude IS NOT NULL)",
          "artists", "expect_column_values_to_be_between", "latitude"),
    Fault("range", "UPDATE songs SET duration = 0 WHERE song_id = (SELECT MIN(song_id) FROM songs)",
          "songs", "expect_column_values_to_be_between", "duration"),
    Fault("referential integrity",
          "DELETE FROM users WHERE user_id = (SELECT MIN(user_id) FROM songplays WHERE start_time >= '2018-11-21')",
          "songplays", "expect_query_to_return_no_rows", "user is in users", also=("users",)),
    Fault("referential integrity", f"UPDATE songplays SET song_id = 'SONOTINTHECATALOG' WHERE songplay_id = ({ONE_MATCHED_PLAY})",
          "songplays", "expect_query_to_return_no_rows", "song_id, when set, is in songs"),
    Fault("day volume",  # one more NextSong event staged for the day than songplays loaded
          "INSERT INTO staging_events SELECT artist, auth, firstname, gender, iteminsession + 1000, lastname, length, "
          "level, location, method, page, registration, sessionid, song, status, ts, useragent, userid "
          "FROM staging_events WHERE page = 'NextSong' AND ts = (SELECT MIN(ts) FROM staging_events "
          "WHERE page = 'NextSong' AND ts >= '2018-11-21')",
          "songplays", "expect_query_to_return_no_rows", "NextSong events",
          also=("staging_events",)),  # which no longer holds what its load staged
    Fault("column set", "ALTER TABLE artists ADD COLUMN genre VARCHAR(64)",
          "artists", "expect_table_columns_to_match_set", "genre"),
    Fault("time parts", "UPDATE \"time\" SET weekday = (weekday + 1) % 7 WHERE start_time = "
          "(SELECT MIN(start_time) FROM \"time\" WHERE start_time >= '2018-11-21')",
          "time", "expect_query_to_return_no_rows", "are those of start_time"),
    # Staging against the counts its load recorded (helpers.rejects.LOAD_METRICS).
    Fault("staged rows lost", "DELETE FROM staging_events WHERE ts = (SELECT MIN(ts) FROM staging_events "
          "WHERE ts >= '2018-11-21' AND page = 'Home')",
          "staging_events", "expect_query_to_return_no_rows", "holds the records it staged", in_audit_batch=False),
    Fault("rejects past the limit", "UPDATE quality_metrics SET value = value + 50 WHERE table_name = 'staging_events' "
          "AND day = '2018-11-21' AND metric IN ('load:read', 'load:rejected')",
          "staging_events", "expect_query_to_return_no_rows", "within the limit it ran with", in_audit_batch=False),
    # Discrepancies between layers: every value stays plausible, but no longer follows from the staged rows.
    Fault("fact vs its event", f"UPDATE songplays SET session_id = session_id + 1 WHERE songplay_id = ({ONE_PLAY_OF_THE_DAY})",
          "songplays", "expect_query_to_return_no_rows", COMPUTED),
    Fault("fact vs its event", "UPDATE songplays SET level = CASE level WHEN 'free' THEN 'paid' ELSE 'free' END "
          f"WHERE songplay_id = ({ONE_PLAY_OF_THE_DAY})", "songplays", "expect_query_to_return_no_rows", COMPUTED),
    Fault("fact vs its event", "UPDATE songplays SET user_id = (SELECT MAX(user_id) FROM users) "
          f"WHERE songplay_id = ({ONE_PLAY_OF_THE_DAY})", "songplays", "expect_query_to_return_no_rows", COMPUTED),
    Fault("fact vs its event", "UPDATE songplays SET start_time = start_time + INTERVAL '1 second' "
          f"WHERE songplay_id = ({ONE_PLAY_OF_THE_DAY})", "songplays", "expect_query_to_return_no_rows", COMPUTED,
          also=("time",)),
    Fault("required text", f"UPDATE songplays SET location = '' WHERE songplay_id = ({ONE_PLAY_OF_THE_DAY})",
          "songplays", "expect_column_values_to_not_match_regex", "location"),
    Fault("required text", f"UPDATE staging_events SET firstname = ' ' WHERE ts = ({ONE_EVENT_OF_THE_DAY})",
          "staging_events", "expect_column_values_to_not_match_regex", "firstname"),
    Fault("lost match", f"UPDATE songplays SET song_id = NULL, artist_id = NULL WHERE songplay_id = ({ONE_MATCHED_PLAY})",
          "songplays", "expect_query_to_return_no_rows", COMPUTED),
    Fault("wrong artist", "UPDATE songplays SET artist_id = (SELECT MIN(artist_id) FROM artists) "
          f"WHERE songplay_id = ({ONE_MATCHED_PLAY})", "songplays", "expect_query_to_return_no_rows", "its song's artist"),
    Fault("dimension missing a staged key",
          "DELETE FROM artists WHERE artist_id = (SELECT MIN(artist_id) FROM artists WHERE artist_id NOT IN "
          "(SELECT artist_id FROM songplays WHERE artist_id IS NOT NULL))",
          "artists", "expect_query_to_return_no_rows", "the staged rows give", also=("songs",)),
    Fault("dimension stale against the latest event",
          "UPDATE users SET level = CASE level WHEN 'free' THEN 'paid' ELSE 'free' END "
          "WHERE user_id = (SELECT MIN(user_id) FROM users)", "users", "expect_query_to_return_no_rows", "the staged rows give"),
    Fault("dimension stale against the latest event",
          "UPDATE users SET last_seen_at = last_seen_at - INTERVAL '1 hour' WHERE user_id = (SELECT MIN(user_id) FROM users)",
          "users", "expect_query_to_return_no_rows", "the staged rows give"),
]


def _matches(failure: gx_context.FailedExpectation, fault: Fault) -> bool:
    return failure.type == fault.expectation and (
        failure.column == fault.about or fault.about in (failure.description or "") or fault.about in failure.observed
    )


@pytest.mark.parametrize("fault", FAULTS, ids=[f"{f.family}-{f.fails}" for f in FAULTS])
def test_a_fault_fails_its_tables_suite_and_those_reconciled_with_it_and_the_cli_names_it(fault, validate, loaded_warehouse, gx_dir, capsys):
    execute(loaded_warehouse, fault.sql)
    outcome = validate()
    assert {table for table, failures in outcome.items() if failures} == {fault.fails, *fault.also}
    assert any(_matches(failure, fault) for failure in outcome[fault.fails]), outcome[fault.fails]
    assert not any(failure.error for failure in outcome[fault.fails])

    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", fault.fails]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {fault.fails}" in out and fault.expectation in out and "Data Docs: " in out
    assert f"1 table(s) failed the audit: {fault.fails}" in out


IN_THE_AUDIT_BATCH = [fault for fault in FAULTS if fault.in_audit_batch and fault.fails in ("songplays", "time", "staging_events")
                      and "users" not in fault.sql and not fault.sql.startswith(("INSERT", "ALTER"))]


@pytest.mark.parametrize("fault", IN_THE_AUDIT_BATCH, ids=[f"{f.family}-{f.fails}" for f in IN_THE_AUDIT_BATCH])
def test_a_fault_in_a_runs_audit_batch_fails_its_gate_and_the_published_day_still_passes(
    fault, loaded_warehouse, gx_dir, monkeypatch, capsys
):
    """The same faults, made in a run's audit area after its loads: the gate reads the area first."""
    area = audited_rerun(loaded_warehouse, DAYS[1], "SELECT 1")
    with psycopg.connect(loaded_warehouse) as conn:
        conn.execute(f'SET search_path TO "{area}", public')
        conn.execute(fault.sql)
    monkeypatch.setenv(gx_cli.WAREHOUSE_ENV, loaded_warehouse)
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "--audit-area", area, fault.fails]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  Table {fault.fails}: suite {fault.fails!r} failed" in out and fault.expectation in out
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "--date", DAYS[1], fault.fails]) == 0


def test_an_empty_table_fails_its_row_count(validate, loaded_warehouse):
    execute(loaded_warehouse, "DELETE FROM staging_songs")
    failures = validate(["staging_songs"])["staging_songs"]
    assert [f.type for f in failures] == ["expect_table_row_count_to_be_between", "expect_query_to_return_no_rows"]
    assert failures[0].observed == "observed 0, expected 1 to any"
    assert "holds the records it staged" in failures[1].description  # its last load staged them


def test_day_partitioned_suites_see_only_the_days_rows(validate, loaded_warehouse, gx_dir, capsys):
    execute(loaded_warehouse, "UPDATE songplays SET level = 'gold' WHERE start_time >= '2018-11-21'")
    assert validate(["songplays"], date(2018, 11, 20)) == {"songplays": []}
    failures = validate(["songplays"], DAY)["songplays"]
    assert [f.column for f in failures if f.column] == ["level"]
    assert [COMPUTED in f.description for f in failures if not f.column] == [True, True]  # both ways
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "songplays", "--date", "2018-11-20"]) == 0
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "songplays", "--date", "2018-11-21"]) == 1
    assert "warehouse-songplays-year_2018-month_11-day_21" in capsys.readouterr().out


def test_a_day_without_rows_fails_as_empty(validate, gx_dir, capsys):
    outcome = validate(["staging_events", "songplays", "time"], date(2018, 11, 22))
    assert outcome == {table: gx_context.empty_day_message(table, date(2018, 11, 22)) for table in outcome}
    assert "Table songplays: no rows on 2018-11-22 (UTC) by start_time" in outcome["songplays"]
    assert gx_cli.main(["--gx-dir", str(gx_dir), "validate", "time", "--date", "2018-11-22"]) == 1
    assert "FAIL  Table time: no rows on 2018-11-22" in capsys.readouterr().out


def test_failure_report_names_table_expectations_observed_values_and_data_docs_page(loaded_warehouse, gx_dir, monkeypatch):
    execute(loaded_warehouse, "UPDATE users SET gender = 'X' WHERE user_id IN (SELECT user_id FROM users ORDER BY user_id LIMIT 2)")
    monkeypatch.setenv(gx_context.URL_ENV, loaded_warehouse)
    context = gx_context.file_context(gx_dir)
    result = gx_context.run_checkpoint(context, "users")
    report = gx_context.failure_report("users", context, result)
    lines = report.splitlines()
    assert lines[0].startswith("Table users: suite 'users' failed 2 of ") and lines[0].endswith("on batch warehouse-users:")
    in_set, reconciled = sorted(lines[1:3], key=lambda line: "expect_query_to_return_no_rows" in line)
    assert in_set.startswith("  - [") and "expect_column_values_to_be_in_set (column gender): 2 of " in in_set
    assert in_set.endswith("rows unexpected (e.g. 'X', 'X')")
    assert "expect_query_to_return_no_rows (Every users key the staged rows give" in reconciled  # with the staged rows
    assert re.search(r": 2 unexpected row\(s\) \(e\.g\. user_id=\d+, .*gender='[MF]'.*; user_id=\d+, ", reconciled), reconciled
    page = Path(lines[3].removeprefix("Data Docs: "))
    assert page.is_file() and page.is_relative_to(gx_dir / "uncommitted/data_docs/local_site/validations/users")


def test_an_unexpected_rows_check_runs_its_query_once_and_data_docs_show_its_first_rows(loaded_warehouse, gx_dir, monkeypatch):
    import sqlalchemy

    from quality_gate.expectations import SAMPLE_ROWS

    changed = SAMPLE_ROWS + 5
    execute(loaded_warehouse, "UPDATE users SET first_name = first_name || 'x' "
            f"WHERE user_id IN (SELECT user_id FROM users ORDER BY user_id LIMIT {changed})")
    monkeypatch.setenv(gx_context.URL_ENV, loaded_warehouse)
    context = gx_context.file_context(gx_dir)
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", listener)
    try:
        result = gx_context.run_checkpoint(context, "users")
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", listener)

    (failed,) = [item for suite in result.run_results.values() for item in suite.results if not item.success]
    assert failed.expectation_config.type == "expect_query_to_return_no_rows"
    assert failed.result["observed_value"] == changed
    rows = failed.result["details"]["sample_rows"]
    assert len(rows) == SAMPLE_ROWS and all(row["first_name"] and not row["first_name"].endswith("x") for row in rows)
    checks = [item for suite in result.run_results.values() for item in suite.results
              if item.expectation_config.type == "expect_query_to_return_no_rows"]
    assert sum("COUNT(*) OVER ()" in statement for statement in statements) == len(checks) > 1  # one query each
    assert not any("unexpected_row_count" in statement for statement in statements)  # not GX's second, COUNT query

    (page,) = gx_context.docs_pages(context, result)
    html = gx_context.docs_site(context).read(page).decode()
    assert f"Unexpected rows (the first {SAMPLE_ROWS} of {changed})" in html
    assert all(f">{row['first_name']}<" in html for row in rows)


# --- the context itself ------------------------------------------------------------------------------


def test_building_the_committed_context_again_changes_nothing(loaded_warehouse, tmp_path, monkeypatch):
    copy = tmp_path / "gx"
    shutil.copytree(gx_context.GX_DIR, copy, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setenv(gx_context.URL_ENV, loaded_warehouse)
    gx_context.build(copy)

    def committed(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and "uncommitted" not in p.relative_to(root).parts}

    assert committed(copy) == committed(gx_context.GX_DIR)


def test_the_redshift_datasource_runs_every_suite_through_sqlalchemy_redshift(loaded_warehouse, tmp_path, monkeypatch,
                                                                             capsys):
    """Production's datasource: GX's Redshift one. No Redshift here, so the sample in PostgreSQL is read
    through the Redshift dialect (sqlalchemy-redshift over psycopg2): the SQL GX would send to Redshift."""
    copy = tmp_path / "gx"
    shutil.copytree(gx_context.GX_DIR, copy, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setenv(gx_cli.WAREHOUSE_ENV, f"{loaded_warehouse}?sslmode=disable")  # Redshift's default: verify-full
    monkeypatch.delenv(gx_context.URL_ENV, raising=False)
    assert gx_cli.main(["--gx-dir", str(copy), "build", "--warehouse", "redshift"]) == 0
    assert "(redshift datasource)" in capsys.readouterr().out
    (datasource,) = yaml.safe_load((copy / "great_expectations.yml").read_text())["fluent_datasources"].values()
    assert (datasource["type"], datasource["connection_string"]) == ("redshift", "${SPARKIFY_WAREHOUSE_URL}")
    assert set(datasource["assets"]) == set(ALL_TABLES)

    assert gx_cli.main(["--gx-dir", str(copy), "validate", "--date", DAYS[0]]) == 0
    assert capsys.readouterr().out.count("PASS ") == len(ALL_TABLES)
    assert os.environ[gx_context.URL_ENV].startswith("redshift+psycopg2://")
    area = audited_rerun(loaded_warehouse, DAYS[1], "UPDATE staging_events SET method = 'POST' WHERE page = 'Home'")
    assert gx_cli.main(["--gx-dir", str(copy), "validate", "--audit-area", area]) == 1  # what the DAG's gate sees
    out = capsys.readouterr().out
    assert f"Validating audit area {area} (then the published tables), day {DAYS[1]}" in out
    assert "1 of 7 suite(s) failed: staging_events" in out and "(column method)" in out
    execute(loaded_warehouse, "UPDATE songs SET duration = -1 WHERE song_id = (SELECT MIN(song_id) FROM songs)")
    assert gx_cli.main(["--gx-dir", str(copy), "validate", "songs"]) == 1
    assert "expect_column_values_to_be_between (column duration): 1 of " in capsys.readouterr().out

    assert gx_cli.main(["--gx-dir", str(copy), "build"]) == 0  # keeps the kind it has
    assert "(redshift datasource)" in capsys.readouterr().out
    assert gx_cli.main(["--gx-dir", str(copy), "build", "--warehouse", "postgres"]) == 0
    assert gx_context.warehouse_kind(gx_context.file_context(copy)) == "postgres"


def test_context_config_keeps_the_connection_string_out_and_progress_bars_off():
    config = yaml.safe_load((gx_context.GX_DIR / "great_expectations.yml").read_text())
    (datasource,) = config["fluent_datasources"].values()
    assert datasource["connection_string"] == "${SPARKIFY_WAREHOUSE_URL}"
    assert config["progress_bars"] == {"globally": False, "metric_calculations": False}
    assert config["analytics_enabled"] is False
    assert set(datasource["assets"]) == set(ALL_TABLES)
    assert (gx_context.GX_DIR / ".gitignore").read_text().split() == ["uncommitted/"]


def test_every_table_of_the_spec_with_a_suite_has_its_suite_file_and_day_batches_where_sliced():
    config = yaml.safe_load((gx_context.GX_DIR / "great_expectations.yml").read_text())
    (datasource,) = config["fluent_datasources"].values()
    for spec, path in gx_context.iter_suite_files():
        assert path.is_file(), path
        batch_definitions = datasource["assets"][spec.name]["batch_definitions"]
        if spec.slice_column:
            assert batch_definitions[gx_context.DAILY]["partitioner"]["column_name"] == spec.slice_column
        else:
            assert list(batch_definitions) == [gx_context.WHOLE_TABLE]


def test_data_docs_views_share_their_compiled_templates(gx_dir):
    from great_expectations.render.view.view import DefaultJinjaPageView

    gx_context.file_context(gx_dir)
    first, second = DefaultJinjaPageView(), DefaultJinjaPageView()
    assert first.env.bytecode_cache is not None and first.env.bytecode_cache is second.env.bytecode_cache
    first.env.get_template("page.j2")
    assert first.env.bytecode_cache.code  # compiled once, for every view after it


def test_with_shared_stores_set_results_and_data_docs_go_to_s3_and_the_committed_config_stays(
        loaded_warehouse, tmp_path, monkeypatch, airflow_connections_for, s3_server, s3_bucket, s3_client):
    gx_dir = tmp_path / "gx"
    shutil.copytree(gx_context.GX_DIR, gx_dir, ignore=shutil.ignore_patterns("uncommitted"))
    airflow_connections_for(loaded_warehouse, s3_server, s3_bucket)
    monkeypatch.setenv(gx_context.URL_ENV, loaded_warehouse)
    monkeypatch.setenv(gx_context.STORES_ENV, f"s3://{s3_bucket}/sparkify/gx/")
    committed = (gx_dir / "great_expectations.yml").read_bytes()

    context = gx_context.file_context(gx_dir)
    result = gx_context.run_checkpoint(context, "users")

    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(key.startswith("sparkify/gx/validations/users/") for key in keys)
    assert any(key.startswith("sparkify/gx/data_docs/validations/users/") and key.endswith(".html") for key in keys)
    assert "sparkify/gx/data_docs/index.html" not in keys  # built when read (quality_gate.docs_builder)
    assert gx_context.build_docs_index(context) == f"s3://{s3_bucket}/sparkify/gx/data_docs/index.html"
    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert "sparkify/gx/data_docs/index.html" in keys and any(key.startswith("sparkify/gx/data_docs/static/") for key in keys)
    assert not list(gx_dir.glob("uncommitted/**/*.json"))  # no result on this disk
    assert (gx_dir / "great_expectations.yml").read_bytes() == committed
    (users,) = [row for row in gx_context.latest_validations(gx_context.file_context(gx_dir)) if row.table == "users"]
    assert users.success is result.success is True and users.batch == "warehouse-users"


@pytest.mark.parametrize("url", ["gx/results", "s3:///prefix", "https://bucket/prefix", "s3://bucket/p?x=1"])
def test_the_stores_setting_is_named_when_its_url_is_not_s3(url):
    with pytest.raises(ValueError, match=f"{gx_context.STORES_ENV}=.*expected s3://<bucket>/<prefix>"):
        gx_context.stores_location(url)
    assert gx_context.stores_location("s3://bucket/a/b/") == ("bucket", "a/b")

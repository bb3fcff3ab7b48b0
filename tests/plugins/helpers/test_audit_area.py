"""The audit area: its name, opening it, and the golden SQL of publishing it on Redshift."""

from datetime import datetime

import pytest

from helpers import audit_area
from helpers.audit_area import MissingInAuditArea, area_name, checked_area, open_steps, publish_steps
from helpers.db import Dialect, TimeSlice, analyze_when_changed
from helpers.tables import TABLES

AREA = "audit_20181105_1a2b3c4d"
DAY = TimeSlice.parse("2018-11-05", "2018-11-06")
DAY_PARAMS = (datetime(2018, 11, 5), datetime(2018, 11, 6))
LOADED = {"staging_events", "songplays", "time", "users", "users__changes", "songs", "songs__changes", "artists",
          "artists__changes", "quality_metrics", "staging_rejects"}


def test_the_area_is_named_after_the_day_and_the_run():
    first = area_name("backfill__2018-11-06T00:00:00+00:00", "2018-11-05")
    assert first.startswith("audit_20181105_") and checked_area(first) == first
    assert area_name("backfill__2018-11-06T00:00:00+00:00", "2018-11-05") == first
    assert area_name("manual__2018-11-06T00:00:00+00:00", "2018-11-05") != first


@pytest.mark.parametrize("name", ["public", "audit_2018110_1a2b3c4d", 'audit_20181105_1a2b3c4d"; DROP', "", None])
def test_anything_but_an_area_name_is_refused(name):
    with pytest.raises(ValueError, match="is not an audit area name"):
        checked_area(name)


def test_the_macro_renders_the_areas_name():
    from jinja2 import Template

    rendered = Template(audit_area.AUDIT_AREA).render(run_id="scheduled__x", ds="2018-11-05", **audit_area.MACROS)
    assert rendered == area_name("scheduled__x", "2018-11-05")


class ListingCursor:
    def __init__(self, schemas):
        self.schemas, self.executed = schemas, []

    def execute(self, sql, params=None):
        self.executed.append(sql)

    def fetchall(self):
        return [(name,) for name in self.schemas]


def test_opening_drops_the_areas_of_the_same_day_only_then_creates_its_own():
    drop, create, metrics, rejects = open_steps(AREA)
    cursor = ListingCursor(["public", "audit_20181105_ffffffff", "audit_20181106_ffffffff", AREA, "audit_notes"])
    drop(cursor)
    assert cursor.executed == [
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'audit%'",
        'DROP SCHEMA "audit_20181105_ffffffff" CASCADE',
        f'DROP SCHEMA "{AREA}" CASCADE',
    ]
    assert drop.dropped == ["audit_20181105_ffffffff", AREA]
    assert create.sql == f'CREATE SCHEMA "{AREA}"'
    assert metrics.sql == f'CREATE TABLE "{AREA}"."quality_metrics" (LIKE "public"."quality_metrics")'
    assert rejects.sql == f'CREATE TABLE "{AREA}"."staging_rejects" (LIKE "public"."staging_rejects")'


def columns(table):
    (spec,) = [spec for spec in TABLES if spec.name == table]
    return ", ".join(f'"{column}"' for column in spec.load.columns)


def test_publishing_is_one_transaction_that_locks_in_spec_order_swaps_every_table_and_drops_the_area():
    steps = publish_steps(dialect=Dialect.REDSHIFT, area=AREA, specs=TABLES, time_slice=DAY, in_area_now=LOADED)
    sql = [step.sql.split("\n")[0] for step in steps]
    assert sql == [
        'LOCK "public"."staging_events"',
        'LOCK "public"."staging_songs"',
        'LOCK "public"."songplays"',
        'LOCK "public"."users"',
        'LOCK "public"."songs"',
        'LOCK "public"."artists"',
        'LOCK "public"."time"',
        'LOCK "public"."staging_manifest"',
        'LOCK "public"."quality_metrics"',
        'LOCK "public"."staging_rejects"',
        'DELETE FROM "public"."staging_events" WHERE "ts" >= %s AND "ts" < %s',
        f'INSERT INTO "public"."staging_events" SELECT * FROM "{AREA}"."staging_events"',
        'DELETE FROM "public"."songplays" WHERE "start_time" >= %s AND "start_time" < %s',
        f'INSERT INTO "public"."songplays" SELECT * FROM "{AREA}"."songplays"',
        *(line for table, key in (("users", "user_id"), ("songs", "song_id"), ("artists", "artist_id")) for line in (
            f'CREATE TEMPORARY TABLE "{table}__publish" (LIKE "public"."{table}")',
            f'INSERT INTO "{table}__publish" ({columns(table)})',
            f'DELETE FROM "public"."{table}" USING "{table}__publish" WHERE "public"."{table}"."{key}" = "{table}__publish"."{key}"',
            f'INSERT INTO "public"."{table}" SELECT * FROM "{table}__publish"',
            f'DROP TABLE "{table}__publish"',
        )),
        'DELETE FROM "public"."time" WHERE "start_time" >= %s AND "start_time" < %s',
        f'INSERT INTO "public"."time" SELECT * FROM "{AREA}"."time"',
        'DELETE FROM "public"."staging_rejects" WHERE table_name = %s AND day = %s',
        f'INSERT INTO "public"."staging_rejects" SELECT * FROM "{AREA}"."staging_rejects" WHERE table_name IN (%s)',
        f'DELETE FROM "public"."quality_metrics" USING "{AREA}"."quality_metrics" AS recorded '
        'WHERE "public"."quality_metrics".day = recorded.day AND "public"."quality_metrics".table_name = recorded.table_name',
        f'INSERT INTO "public"."quality_metrics" SELECT * FROM "{AREA}"."quality_metrics"',
        f'DROP SCHEMA "{AREA}" CASCADE',
    ]
    assert {step.params for step in steps if step.params} == {DAY_PARAMS, ("staging_events", DAY.start.date()),
                                                               ("staging_events",)}


def test_a_changed_catalog_is_published_whole_with_its_manifest():
    steps = publish_steps(dialect=Dialect.REDSHIFT, area=AREA, specs=TABLES, time_slice=DAY,
                          in_area_now=LOADED | {"staging_songs", "staging_manifest"})
    sql = [step.sql for step in steps]
    assert sql[12:14] == ['DELETE FROM "public"."staging_songs"',
                          f'INSERT INTO "public"."staging_songs" SELECT * FROM "{AREA}"."staging_songs"']
    rejects = [(step.sql, step.params) for step in steps if "staging_rejects" in step.sql and "LOCK" not in step.sql]
    assert rejects == [  # the catalog's rejects are all replaced, the events' of the day only
        ('DELETE FROM "public"."staging_rejects" WHERE table_name = %s AND day = %s', ("staging_events", DAY.start.date())),
        ('DELETE FROM "public"."staging_rejects" WHERE table_name = %s', ("staging_songs",)),
        (f'INSERT INTO "public"."staging_rejects" SELECT * FROM "{AREA}"."staging_rejects" WHERE table_name IN (%s, %s)',
         ("staging_events", "staging_songs")),
    ]
    assert sql[-9:-7] == [
        f'DELETE FROM "public"."staging_manifest" WHERE table_name IN (SELECT table_name FROM "{AREA}"."staging_manifest")',
        f'INSERT INTO "public"."staging_manifest" SELECT * FROM "{AREA}"."staging_manifest"',
    ]
    metrics = [(step.sql, step.params) for step in steps if step.sql.startswith('DELETE FROM "public"."quality_metrics"')]
    assert metrics[0] == (  # the catalog's earlier loads' counts go, whichever day's run recorded them
        'DELETE FROM "public"."quality_metrics" WHERE table_name = %s AND metric IN (%s, %s, %s, %s, %s)',
        ("staging_songs", "load:read", "load:staged", "load:rejected", "load:duplicates", "load:rejects_allowed"))
    assert len(metrics) == 2  # then the day's metrics of every table the area recorded


def test_postgres_analyzes_the_published_tables_that_changed_enough_after_the_swap_with_statistics_on_their_days():
    steps = publish_steps(dialect=Dialect.POSTGRES, area=AREA, specs=TABLES, time_slice=DAY, in_area_now=LOADED)
    assert [step.sql for step in steps if step.sql.startswith("DO $analyze$")] == [
        analyze_when_changed(f"public.{table}") for table in ("staging_events", "songplays", "users", "songs", "artists", "time")]
    assert [step.sql.split(" ON ")[0] for step in steps if step.sql.startswith("CREATE STATISTICS")] == [
        f'CREATE STATISTICS IF NOT EXISTS "public"."{table}__day_parts"' for table in ("staging_events", "songplays", "time")]


def test_a_missing_load_is_refused_before_anything_runs():
    with pytest.raises(MissingInAuditArea, match=f"Audit area {AREA} has no users__changes: the load of users did not run"):
        publish_steps(dialect=Dialect.REDSHIFT, area=AREA, specs=TABLES, time_slice=DAY,
                      in_area_now=LOADED - {"users__changes"})


def test_the_quarantine_note_says_where_the_rows_are_and_how_to_read_them():
    note = audit_area.quarantine_note(AREA, "2018-11-05T00:00:00+00:00")
    assert note.startswith("Nothing was published: the published tables are as before this run.")
    assert f"kept in audit area {AREA} until the next run of 2018-11-05" in note
    assert f"table_schema = '{AREA}'" in note and f"SELECT * FROM {AREA}.songplays" in note

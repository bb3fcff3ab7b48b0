"""Load modes: what each writes into the audit area, and how publish moves it on (golden SQL)."""

from datetime import datetime

import pytest

from helpers.db import Dialect, TimeSlice
from helpers.loads import LoadMode, build_load_steps, publish_table_steps
from helpers.sql_queries import TableLoad

AREA = "audit_20181105_1a2b3c4d"
DAY = TimeSlice.parse("2018-11-05", "2018-11-06")
DAY_PARAMS = (datetime(2018, 11, 5), datetime(2018, 11, 6))
CATALOG = TableLoad(columns=("song_id", "title"), select="SELECT song_id, title FROM staging_songs")
DAILY = TableLoad(columns=("start_time",), select="SELECT ts FROM staging_events WHERE {in_slice}", slice_on="ts")
LATEST = TableLoad(columns=("user_id", "level", "seen"), select="SELECT uid, level, ts FROM staging_events",
                   recency="seen", merge_order="level DESC")


def render(steps):
    return [(step.sql, step.params) for step in steps]


def load(mode, table, query, **arguments):
    return build_load_steps(dialect=Dialect.REDSHIFT, area=AREA, published_table=f'"public"."{table}"', table=table,
                            load=query, mode=mode, **arguments)


def test_sliced_append_writes_the_days_rows_into_a_fresh_area_table():
    assert render(load(LoadMode.APPEND, "time", DAILY, slice_column="start_time", time_slice=DAY)) == [
        (f'DROP TABLE IF EXISTS "{AREA}"."time"', ()),
        (f'CREATE TABLE "{AREA}"."time" (LIKE "public"."time")', ()),
        (f'INSERT INTO "{AREA}"."time" ("start_time")\nSELECT ts FROM staging_events WHERE ts >= %s AND ts < %s',
         DAY_PARAMS),
    ]


def test_truncate_insert_writes_the_whole_new_table_and_never_truncates():
    steps = render(load(LoadMode.TRUNCATE_INSERT, "songs", CATALOG))
    assert [sql for sql, _ in steps] == [
        f'DROP TABLE IF EXISTS "{AREA}"."songs"',
        f'CREATE TABLE "{AREA}"."songs" (LIKE "public"."songs")',
        f'INSERT INTO "{AREA}"."songs" ("song_id", "title")\nSELECT song_id, title FROM staging_songs',
    ]


def test_upsert_keeps_the_rows_that_win_the_merge_and_change_something_and_a_view_after_publish():
    steps = render(load(LoadMode.UPSERT, "users", LATEST, keys=("user_id",)))
    columns = '"user_id", "level", "seen"'
    assert [sql for sql, _ in steps] == [
        f'DROP VIEW IF EXISTS "{AREA}"."users"',
        f'DROP TABLE IF EXISTS "{AREA}"."users__changes"',
        'CREATE TEMPORARY TABLE "users__incoming" (LIKE "public"."users")',
        f'INSERT INTO "users__incoming" ({columns})\nSELECT uid, level, ts FROM staging_events',
        f'CREATE TABLE "{AREA}"."users__changes" (LIKE "public"."users")',
        f'INSERT INTO "{AREA}"."users__changes" ({columns})\n'
        f"SELECT {columns}\n"
        "FROM (\n"
        '    SELECT candidate.*, ROW_NUMBER() OVER (PARTITION BY "user_id" ORDER BY seen DESC, merge_source, level DESC) AS merge_rank\n'
        "    FROM (\n"
        f'        SELECT {columns}, 0 AS merge_source FROM "users__incoming"\n'
        "        UNION ALL\n"
        f'        SELECT {columns}, 1 AS merge_source FROM "public"."users" p\n'
        '        WHERE EXISTS (SELECT 1 FROM "users__incoming" c WHERE p."user_id" = c."user_id")\n'
        "    ) candidate\n"
        ") ranked\n"
        "WHERE merge_rank = 1 AND merge_source = 0\n"
        "EXCEPT\n"
        f'SELECT {columns} FROM "public"."users"',
        f'CREATE VIEW "{AREA}"."users" AS\n'
        f'SELECT {columns} FROM "public"."users" p\n'
        f'WHERE NOT EXISTS (SELECT 1 FROM "{AREA}"."users__changes" c WHERE p."user_id" = c."user_id")\n'
        "UNION ALL\n"
        f'SELECT {columns} FROM "{AREA}"."users__changes"',
        'DROP TABLE "users__incoming"',
    ]


def test_postgres_analyzes_what_it_wrote():
    steps = build_load_steps(dialect=Dialect.POSTGRES, area=AREA, published_table='"public"."users"', table="users",
                             load=LATEST, mode=LoadMode.UPSERT, keys=("user_id",))
    assert steps[-1].sql == f'ANALYZE "{AREA}"."users__changes"'


def test_publishing_a_slice_replaces_it():
    steps = publish_table_steps(area=AREA, table="songplays", published_table='"public"."songplays"',
                                mode=LoadMode.APPEND, slice_column="start_time", time_slice=DAY)
    assert render(steps) == [
        ('DELETE FROM "public"."songplays" WHERE "start_time" >= %s AND "start_time" < %s', DAY_PARAMS),
        (f'INSERT INTO "public"."songplays" SELECT * FROM "{AREA}"."songplays"', ()),
    ]


def test_publishing_an_upsert_merges_its_changes_again_with_the_table_as_it_is_now():
    steps = publish_table_steps(area=AREA, table="users", published_table='"public"."users"', mode=LoadMode.UPSERT,
                                keys=("user_id",), load=LATEST)
    sql = [statement for statement, _ in render(steps)]
    assert sql[0] == 'CREATE TEMPORARY TABLE "users__publish" (LIKE "public"."users")'
    assert sql[1].startswith('INSERT INTO "users__publish" ("user_id", "level", "seen")\nSELECT "user_id", "level", "seen"\n')
    assert f'0 AS merge_source FROM "{AREA}"."users__changes"' in sql[1] and "ORDER BY seen DESC, merge_source, level DESC" in sql[1]
    assert sql[2:] == [
        'DELETE FROM "public"."users" USING "users__publish" WHERE "public"."users"."user_id" = "users__publish"."user_id"',
        'INSERT INTO "public"."users" SELECT * FROM "users__publish"',
        'DROP TABLE "users__publish"',
    ]


def test_the_ranking_puts_the_newest_first_then_the_loads_row_then_the_merge_order():
    assert LATEST.ranking() == "seen DESC, level DESC"
    assert LATEST.ranking(source="src") == "seen DESC, src, level DESC"
    by_order = TableLoad(columns=("k",), select="SELECT k FROM t", merge_order="k DESC")
    assert by_order.ranking(source="src") == "k DESC, src"
    assert CATALOG.ranking(source="src") == "src" and CATALOG.ranking() == ""


def test_without_a_merge_order_the_newest_load_wins():
    steps = publish_table_steps(area=AREA, table="songs", published_table='"public"."songs"', mode=LoadMode.UPSERT,
                                keys=("song_id",), load=CATALOG)
    assert 'ORDER BY merge_source) AS merge_rank' in steps[1].sql


def test_a_sliced_select_names_its_slice_and_can_run_over_any_range():
    assert DAILY.sql() == "SELECT ts FROM staging_events WHERE ts >= %s AND ts < %s"
    assert DAILY.between("'2018-11-01'", "'2018-12-01'") == (
        "SELECT ts FROM staging_events WHERE ts >= '2018-11-01' AND ts < '2018-12-01'")
    assert DAILY.everything() == "SELECT ts FROM staging_events WHERE 1 = 1"
    assert CATALOG.between("a", "b") == CATALOG.everything() == CATALOG.select
    with pytest.raises(ValueError, match="A sliced load's SELECT says {in_slice} and names slice_on"):
        TableLoad(columns=("ts",), select="SELECT ts FROM staging_events", slice_on="ts")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"load": DAILY, "mode": LoadMode.APPEND, "slice_column": "ts"}, "needs the run's slice"),
        ({"load": CATALOG, "mode": LoadMode.UPSERT}, "needs the natural key"),
        ({"load": CATALOG, "mode": LoadMode.APPEND}, "needs a slice column; a re-run would append the rows again"),
        ({"load": CATALOG, "mode": LoadMode.APPEND, "slice_column": "ts"}, "needs the run's slice"),
    ],
)
def test_missing_slice_or_keys_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_load_steps(dialect=Dialect.POSTGRES, area=AREA, published_table='"public"."t"', table="t", **arguments)

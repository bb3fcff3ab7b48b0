"""Load modes: the statements each mode runs, in one transaction, on both dialects."""

from datetime import datetime

import pytest

from helpers.db import Dialect, TimeSlice
from helpers.loads import LoadMode, build_load_steps
from helpers.sql_queries import TableLoad

DAY = TimeSlice.parse("2018-11-05", "2018-11-06")
CATALOG = TableLoad(columns=("song_id", "title"), select="SELECT song_id, title FROM staging_songs")
DAILY = TableLoad(columns=("start_time",), select="SELECT ts FROM staging_events WHERE ts >= %s AND ts < %s", sliced=True)


def render(steps):
    return [(step.sql, step.params) for step in steps]


def test_append_without_slice_is_a_plain_insert():
    steps = build_load_steps(dialect=Dialect.POSTGRES, table="songs", load=CATALOG, mode=LoadMode.APPEND)
    assert render(steps) == [('INSERT INTO "songs" ("song_id", "title")\nSELECT song_id, title FROM staging_songs', ())]


def test_append_with_slice_replaces_the_slice_first():
    steps = build_load_steps(
        dialect=Dialect.REDSHIFT, table="songplays", load=DAILY, mode=LoadMode.APPEND,
        slice_column="start_time", time_slice=DAY,
    )
    day = (datetime(2018, 11, 5), datetime(2018, 11, 6))
    assert render(steps) == [
        ('LOCK "songplays"', ()),
        ('DELETE FROM "songplays" WHERE "start_time" >= %s AND "start_time" < %s', day),
        ('INSERT INTO "songplays" ("start_time")\nSELECT ts FROM staging_events WHERE ts >= %s AND ts < %s', day),
    ]


def test_truncate_insert_deletes_instead_of_truncate():
    steps = build_load_steps(dialect=Dialect.REDSHIFT, table="songs", load=CATALOG, mode=LoadMode.TRUNCATE_INSERT)
    assert [sql for sql, _ in render(steps)] == [
        'LOCK "songs"',
        'DELETE FROM "songs"',
        'INSERT INTO "songs" ("song_id", "title")\nSELECT song_id, title FROM staging_songs',
    ]
    assert not any("TRUNCATE" in sql for sql, _ in render(steps))


def test_upsert_replaces_matching_keys_through_a_temporary_table():
    steps = build_load_steps(
        dialect=Dialect.POSTGRES, table="public.songs", load=CATALOG, mode=LoadMode.UPSERT, keys=("song_id",)
    )
    assert [sql for sql, _ in render(steps)] == [
        'LOCK TABLE "public"."songs" IN SHARE ROW EXCLUSIVE MODE',
        'CREATE TEMPORARY TABLE "songs__incoming" (LIKE "public"."songs")',
        'INSERT INTO "songs__incoming" ("song_id", "title")\nSELECT song_id, title FROM staging_songs',
        'DELETE FROM "public"."songs" USING "songs__incoming" WHERE "public"."songs"."song_id" = "songs__incoming"."song_id"',
        'INSERT INTO "public"."songs" ("song_id", "title") SELECT "song_id", "title" FROM "songs__incoming"',
        'DROP TABLE "songs__incoming"',
    ]


def test_sliced_select_gets_the_slice_as_parameters():
    steps = build_load_steps(dialect=Dialect.POSTGRES, table="time", load=DAILY, mode=LoadMode.UPSERT, keys=("start_time",), time_slice=DAY)
    assert render(steps)[2][1] == DAY.params


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"load": DAILY, "mode": LoadMode.APPEND}, "needs the run's slice"),
        ({"load": CATALOG, "mode": LoadMode.UPSERT}, "needs the natural key"),
        ({"load": CATALOG, "mode": LoadMode.APPEND, "slice_column": "ts"}, "needs the run's slice"),
    ],
)
def test_missing_slice_or_keys_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_load_steps(dialect=Dialect.POSTGRES, table="t", **arguments)

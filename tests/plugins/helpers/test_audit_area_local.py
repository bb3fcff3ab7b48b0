"""Audit areas on real PostgreSQL: the DAG's SQL for whole days, audited and published in every order.

Each day stages one event per user (user, level, time); the users dimension must end up with each
user's latest event whatever order days are audited and published in, and a day loaded again
replaces what its earlier load wrote.
"""

from __future__ import annotations

import psycopg
import pytest

from local_stack import sql_pipeline

EVENT = """INSERT INTO staging_events (auth, firstname, gender, iteminsession, lastname, level, method, page,
    sessionid, status, ts, userid, artist, song, length, location, useragent)
VALUES ('Logged In', 'Ann', 'F', %s, 'Lee', %s, 'PUT', 'NextSong', 1, 200, %s, %s, 'A', 'S', 1.0, 'L', 'U')"""


def staging(*events):
    """stage(cursor, area) for sql_pipeline: one event per (user_id, level, ts)."""
    def stage(cursor, area):
        for item, (user, level, ts) in enumerate(events):
            cursor.execute(EVENT, (item, level, ts, str(user)))
    return stage


DAY_1 = ("2018-11-01", staging((1, "free", "2018-11-01 10:00"), (2, "free", "2018-11-01 11:00")))
DAY_2 = ("2018-11-02", staging((1, "paid", "2018-11-02 10:00")))
LATEST = [(1, "paid"), (2, "free")]


def users(uri):
    with psycopg.connect(uri) as conn:
        return conn.execute("SELECT user_id, level FROM users ORDER BY user_id").fetchall()


def run_days(uri, *days):
    with psycopg.connect(uri) as conn, conn.cursor() as cursor:
        for day, stage in days:
            sql_pipeline.run_day(cursor, day, stage, staged=("staging_events",))


@pytest.mark.parametrize("order", [(DAY_1, DAY_2), (DAY_2, DAY_1)], ids=["in order", "out of order"])
def test_each_user_keeps_the_latest_event_whatever_order_days_run_in(warehouse, order):
    run_days(warehouse, *order)
    assert users(warehouse) == LATEST


def test_days_audited_together_and_published_in_either_order_give_the_same_users(warehouse):
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        areas = [(day, sql_pipeline.open_and_stage(cursor, day, stage, ("staging_events",))) for day, stage in (DAY_2, DAY_1)]
        for day, area in areas:  # both audited against the same published users: none yet
            sql_pipeline.load(cursor, area, day)
        for day, area in areas:  # the later day first; the earlier one must not win at publish
            sql_pipeline.publish(cursor, area, day)
    assert users(warehouse) == LATEST


def test_a_day_loaded_again_replaces_its_rows_even_at_the_same_time(warehouse):
    run_days(warehouse, DAY_1, DAY_2)
    redelivered = ("2018-11-02", staging((1, "free", "2018-11-02 10:00")))  # same event, level corrected
    run_days(warehouse, redelivered)
    assert users(warehouse) == [(1, "free"), (2, "free")]


GX_DAY_FILTER = ("EXPLAIN (FORMAT JSON) SELECT * FROM staging_events "
                 "WHERE EXTRACT(year FROM ts) = 2018 AND EXTRACT(month FROM ts) = 11 AND EXTRACT(day FROM ts) = 1")


def test_a_published_day_is_estimated_by_its_rows_in_gx_day_batches(warehouse):
    """GX's daily batch filter: with the day statistics publish keeps, PostgreSQL estimates the day's rows
    (so the suites' joins are hashed, not nested loops); without them it guesses 1 row."""
    events = [(user, "free", f"2018-11-01 {user % 24:02d}:{user % 60:02d}:{user % 59:02d}") for user in range(2000)]
    run_days(warehouse, ("2018-11-01", staging(*events)))
    with psycopg.connect(warehouse, autocommit=True) as conn:
        estimate = conn.execute(GX_DAY_FILTER).fetchone()[0][0]["Plan"]["Plan Rows"]
        conn.execute('DROP STATISTICS "staging_events__day_parts"')
        conn.execute("ANALYZE staging_events")
        guessed = conn.execute(GX_DAY_FILTER).fetchone()[0][0]["Plan"]["Plan Rows"]
    assert estimate > 1000 and guessed < 10

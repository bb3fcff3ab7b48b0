"""LoadFactOperator and LoadDimensionOperator: modes, slices and one transaction per load."""

import pytest

from helpers import sql_queries
from operators import _table_load
from operators.load_dimension import LoadDimensionOperator
from operators.load_fact import LoadFactOperator


def test_fact_load_replaces_the_days_songplays_in_one_transaction(fake_warehouse):
    hook = fake_warehouse(_table_load, conn_type="postgres", host="127.0.0.1")
    LoadFactOperator(
        task_id="load_songplays", table="songplays", load=sql_queries.SONGPLAYS, slice_column="start_time",
        slice_start="2018-11-05", slice_end="2018-11-06",
    ).execute(context={})
    statements = [sql.split("\n")[0] for sql, _ in hook.conn.executed]
    assert statements == [
        'LOCK TABLE "songplays" IN SHARE ROW EXCLUSIVE MODE',
        'DELETE FROM "songplays" WHERE "start_time" >= %s AND "start_time" < %s',
        'INSERT INTO "songplays" ("songplay_id", "start_time", "user_id", "level", "song_id", "artist_id", '
        '"session_id", "location", "user_agent")',
    ]
    assert hook.conn.committed


@pytest.mark.parametrize("mode", ["truncate-insert", "append", "upsert"])
def test_dimension_modes_all_commit_once(fake_warehouse, mode):
    hook = fake_warehouse(_table_load)
    LoadDimensionOperator(task_id="load_songs", table="songs", load=sql_queries.SONGS, mode=mode, keys=("song_id",)).execute(context={})
    assert hook.conn.committed and not hook.conn.rolled_back


def test_unknown_mode_is_refused_at_parse_time():
    with pytest.raises(ValueError, match="'merge' is not a valid LoadMode"):
        LoadDimensionOperator(task_id="x", table="songs", load=sql_queries.SONGS, mode="merge")


def test_users_dimension_needs_the_slice(fake_warehouse):
    fake_warehouse(_table_load)
    operator = LoadDimensionOperator(task_id="x", table="users", load=sql_queries.USERS, mode="upsert", keys=("user_id",))
    with pytest.raises(ValueError, match="needs the run's slice"):
        operator.execute(context={})

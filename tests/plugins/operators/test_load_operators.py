"""LoadFactOperator and LoadDimensionOperator: into the audit area, in one transaction; data errors fail at once."""

import pytest
from airflow.sdk.exceptions import AirflowFailException

from helpers import sql_queries
from operators import _table_load
from operators.load_dimension import LoadDimensionOperator
from operators.load_fact import LoadFactOperator

AREA = "audit_20181105_1a2b3c4d"


def fact_operator():
    return LoadFactOperator(
        task_id="load_songplays", table="songplays", audit_area=AREA, load=sql_queries.SONGPLAYS,
        slice_column="start_time", slice_start="2018-11-05", slice_end="2018-11-06",
    )


def test_fact_load_writes_the_days_songplays_into_the_audit_area_in_one_transaction(fake_warehouse):
    hook = fake_warehouse(_table_load, conn_type="postgres", host="127.0.0.1")
    fact_operator().execute(context={})
    statements = [sql.split("\n")[0] for sql, _ in hook.conn.executed]
    assert statements == [
        f'SET search_path TO "{AREA}", "public"',
        f'DROP TABLE IF EXISTS "{AREA}"."songplays"',
        f'CREATE TABLE "{AREA}"."songplays" (LIKE "public"."songplays")',
        f'INSERT INTO "{AREA}"."songplays" ("songplay_id", "start_time", "user_id", "level", "song_id", "artist_id", '
        '"session_id", "location", "user_agent")',
        f'CREATE STATISTICS IF NOT EXISTS "{AREA}"."songplays__day_parts" ON (EXTRACT(year FROM "start_time")), '
        f'(EXTRACT(month FROM "start_time")), (EXTRACT(day FROM "start_time")) FROM "{AREA}"."songplays"',
        f'ANALYZE "{AREA}"."songplays"',
    ]
    assert hook.conn.committed


@pytest.mark.parametrize("mode", ["truncate-insert", "upsert"])
def test_dimension_modes_all_commit_once(fake_warehouse, mode):
    hook = fake_warehouse(_table_load)
    LoadDimensionOperator(task_id="load_songs", table="songs", audit_area=AREA, load=sql_queries.SONGS, mode=mode,
                          keys=("song_id",)).execute(context={})
    assert hook.conn.committed and not hook.conn.rolled_back


class DataError(Exception):
    sqlstate = "22P02"


class LostConnection(Exception):
    sqlstate = "08006"


def test_a_value_the_load_cannot_cast_fails_at_once_naming_the_audit_area(fake_warehouse, monkeypatch):
    fake_warehouse(_table_load)

    def fail(*args, **kwargs):
        raise DataError('invalid input syntax for type integer: "abc"\nCONTEXT: ...')

    monkeypatch.setattr(_table_load, "run_in_transaction", fail)
    with pytest.raises(AirflowFailException) as failure:
        fact_operator().execute(context={})
    message = str(failure.value)
    assert message.startswith('Cannot load songplays from the run\'s staged rows: invalid input syntax for type integer: "abc"\n')
    assert f"kept in audit area {AREA} until the next run of 2018-11-05" in message


def test_an_infrastructure_error_is_raised_as_is_for_a_retry(fake_warehouse, monkeypatch):
    fake_warehouse(_table_load)

    def fail(*args, **kwargs):
        raise LostConnection("server closed the connection unexpectedly")

    monkeypatch.setattr(_table_load, "run_in_transaction", fail)
    with pytest.raises(LostConnection):
        fact_operator().execute(context={})


def test_unknown_mode_is_refused_at_parse_time():
    with pytest.raises(ValueError, match="'merge' is not a valid LoadMode"):
        LoadDimensionOperator(task_id="x", table="songs", audit_area=AREA, load=sql_queries.SONGS, mode="merge")


def test_users_dimension_needs_the_slice(fake_warehouse):
    fake_warehouse(_table_load)
    operator = LoadDimensionOperator(task_id="x", table="users", audit_area=AREA, load=sql_queries.USERS, mode="upsert",
                                     keys=("user_id",))
    with pytest.raises(ValueError, match="needs the run's slice"):
        operator.execute(context={})

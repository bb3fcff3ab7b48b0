"""helpers.db: which database errors are the data's fault, on each driver."""

import pytest

from helpers.db import data_error


class Psycopg(Exception):
    def __init__(self, message, sqlstate):
        super().__init__(message)
        self.sqlstate = sqlstate


class Psycopg2(Exception):
    def __init__(self, message, pgcode):
        super().__init__(message)
        self.pgcode = pgcode


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (Psycopg('invalid input syntax for type integer: "x"\nLINE 1: ...', "22P02"), 'invalid input syntax for type integer: "x"'),
        (Psycopg2("duplicate key value violates unique constraint", "23505"), "duplicate key value violates unique constraint"),
        (Exception({"S": "ERROR", "C": "22023", "M": "Invalid digit, Value 'x', Pos 0"}), "Invalid digit, Value 'x', Pos 0"),
        (Exception({"S": "ERROR", "C": "XX000", "M": "Load into table 'staging_events' failed.  Check "
                                                    "'sys_load_error_detail' system table for details."}),
         "Load into table 'staging_events' failed.  Check 'sys_load_error_detail' system table for details."),
        (Psycopg("server closed the connection unexpectedly", "08006"), None),
        (Psycopg2("relation does not exist", "42P01"), None),
        (RuntimeError("boom"), None),
    ],
)
def test_only_data_exceptions_integrity_violations_and_failed_copies_are_data_errors(error, reason):
    assert data_error(error) == reason


def test_a_tasks_queries_are_bounded_by_its_timeout_and_on_postgres_end_with_its_connection():
    from datetime import timedelta

    from helpers.db import Dialect, Statement, query_limits, run_in_transaction

    assert query_limits(Dialect.REDSHIFT, timedelta(hours=2)) == ["SET statement_timeout TO 7200000"]
    assert query_limits(Dialect.POSTGRES, timedelta(seconds=1)) == [
        "SET statement_timeout TO 1000", "SET client_connection_check_interval TO 10000"]
    assert query_limits(Dialect.POSTGRES, None) == []  # no execution_timeout: no limit
    connection = _Recording()
    run_in_transaction(connection, [Statement("SELECT 1")], _Log(), timeout=timedelta(minutes=1), dialect=Dialect.REDSHIFT)
    assert connection.executed == ["SET statement_timeout TO 60000", "SELECT 1"]


class _Recording:
    """A hook, its connection and its cursor at once, recording the SQL run."""

    rowcount = -1

    def __init__(self):
        self.executed = []

    def get_conn(self):
        return self

    def cursor(self):
        return self

    def execute(self, sql, params=None):
        self.executed.append(sql)

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        pass


class _Log:
    def info(self, *args):
        pass

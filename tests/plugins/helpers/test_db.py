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

"""ExpectQueryToReturnNoRows on a small SQL table (SQLite): one query, its count, its first rows, and how reports quote them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from helpers import alerts
from quality_gate import gx_context

ROWS = 23
"""Rows of the table the query finds unexpected: more than the rows the result keeps."""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """run(result_format) -> (the checkpoint's result, the SQL statements it ran), on a table of ROWS bad plays."""
    import great_expectations as gx
    import sqlalchemy

    from quality_gate.expectations import ExpectQueryToReturnNoRows

    gx_context.quiet_gx()
    database = tmp_path_factory.mktemp("sqlite") / "plays.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE plays (play_id INTEGER, level TEXT, played_at TEXT)")
        conn.executemany("INSERT INTO plays VALUES (?, ?, ?)",
                         [(n, "gold" if n % 2 else "silver", f"2018-11-21 10:{n:02d}:00") for n in range(ROWS)] +
                         [(100, "free", "2018-11-21 11:00:00")])
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_sqlite("db", connection_string=f"sqlite:///{database}")
             .add_table_asset("plays", table_name="plays").add_batch_definition_whole_table("all"))
    suite = context.suites.add(gx.ExpectationSuite("plays", expectations=[ExpectQueryToReturnNoRows(
        unexpected_rows_query="SELECT play_id, level, played_at FROM {batch} WHERE level NOT IN ('free', 'paid') ORDER BY play_id",
        description="Every play's level is free or paid.",
    )]))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name="plays", data=batch, suite=suite))

    def run(result_format: str = "SUMMARY"):
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name="plays", validation_definitions=[validation], result_format={"result_format": result_format}))
        statements = []
        listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", listener)
        try:
            return checkpoint.run(), statements
        finally:
            sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", listener)

    return run


def test_the_query_runs_once_and_the_result_keeps_its_count_and_first_rows(checkpoint):
    from quality_gate.expectations import SAMPLE_ROWS

    result, statements = checkpoint()
    (item,) = next(iter(result.run_results.values())).results
    assert not item.success and item.result["observed_value"] == ROWS
    assert item.result["details"]["sample_rows"] == [
        {"play_id": n, "level": "gold" if n % 2 else "silver", "played_at": f"2018-11-21 10:{n:02d}:00"}
        for n in range(SAMPLE_ROWS)]
    assert sum("WHERE level NOT IN" in statement for statement in statements) == 1


def test_boolean_only_keeps_no_rows(checkpoint):
    result, _ = checkpoint("BOOLEAN_ONLY")
    (item,) = next(iter(result.run_results.values())).results
    assert item.success is False and not item.result


def test_reports_and_alerts_quote_the_count_and_the_first_two_rows(checkpoint):
    result, _ = checkpoint()
    expected = ("23 unexpected row(s) (e.g. play_id=0, level='silver', played_at='2018-11-21 10:00:00'; "
                "play_id=1, level='gold', played_at='2018-11-21 10:01:00')")
    (failure,) = gx_context.failed_expectations(result)
    assert failure.type == "expect_query_to_return_no_rows" and failure.observed == expected
    findings, _ = alerts.expectation_findings("plays", json.loads(json.dumps(result.describe_dict())))
    assert [finding.observed for finding in findings] == [expected]


def test_long_values_are_cut_in_reports():
    observed = gx_context.unexpected_rows_observed(
        {"observed_value": 1, "details": {"sample_rows": [{"user_agent": "Mozilla/5.0 " * 10}]}})
    assert observed == f"1 unexpected row(s) (e.g. user_agent={repr('Mozilla/5.0 ' * 10)[:gx_context.QUOTED_VALUE_WIDTH - 1]}…)"

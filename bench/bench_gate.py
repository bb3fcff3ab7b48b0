"""Benchmark the quality gate against the same checks written as plain SQL, side by side in one run.

    .venv/bin/python bench/bench_gate.py                    # the real sample (../shared/data/sparkify), 30 days
    .venv/bin/python bench/bench_gate.py --data DIR --days 7  # any bucket-shaped folder (./sparkify generate)

Every day is loaded and published with the DAG's SQL (local_stack.sql_pipeline) into a scratch
PostgreSQL; then, each measured three times (the best kept):

- audit: `./sparkify gx validate` as users run it (the warehouse audit, in process, Data Docs
  updated) against every expectation of every suite run as one plain SQL query on the same batches
  (a day-partitioned table's days at once), plus the audit's own day and history queries;
- gate: one day's suites, as a run's gate validates them, against the same expectations as plain
  SQL on that day.

The plain SQL is what a user would write instead: COUNT queries for the row expectations, the
suites' own queries for the unexpected-rows ones, one aggregate per metric.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "bench")]

from day_run import gx_context_for  # noqa: E402
from measures import Measure  # noqa: E402
from quality_gate.gx_context import UNEXPECTED_ROWS_TYPES  # noqa: E402

TARGET = 2.0

SAMPLE = REPO.parent / "shared" / "data" / "sparkify"
_JOIN = re.compile(r"\bJOIN\b", re.IGNORECASE)


def plain_sql(expectation: dict, batch: str) -> str:
    """The expectation as one plain SQL query on ``batch`` (a table name or a parenthesised SELECT)."""
    kind, kwargs = expectation["type"], expectation["kwargs"]
    column = f'"{kwargs["column"]}"' if "column" in kwargs else None
    rows = f"FROM {batch} AS b"
    if kind in ("expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"):
        return f"SELECT * {rows} LIMIT 0"
    if kind == "expect_table_row_count_to_be_between":
        return f"SELECT COUNT(*) {rows}"
    if kind == "expect_column_values_to_not_be_null":
        return f"SELECT COUNT(*) {rows} WHERE {column} IS NULL"
    if kind == "expect_column_values_to_be_unique":
        return f"SELECT COUNT({column}) - COUNT(DISTINCT {column}) {rows}"
    if kind == "expect_compound_columns_to_be_unique":
        columns = ", ".join(f'"{name}"' for name in kwargs["column_list"])
        return f"SELECT COUNT(*) FROM (SELECT {columns} {rows} GROUP BY {columns} HAVING COUNT(*) > 1) AS duplicate"
    if kind == "expect_column_values_to_be_in_set":
        values = ", ".join(repr(value) if not isinstance(value, str) else "'" + value.replace("'", "''") + "'"
                           for value in kwargs["value_set"])
        return f"SELECT COUNT(*) {rows} WHERE {column} NOT IN ({values})"
    if kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        operator = "!~" if kind == "expect_column_values_to_match_regex" else "~"
        return f"SELECT COUNT(*) {rows} WHERE {column} {operator} '{kwargs['regex']}'"
    if kind == "expect_column_values_to_be_between":
        bounds = [f"{column} < {kwargs['min_value']}" if kwargs.get("min_value") is not None else None,
                  f"{column} > {kwargs['max_value']}" if kwargs.get("max_value") is not None else None]
        return f"SELECT COUNT(*) {rows} WHERE {' OR '.join(bound for bound in bounds if bound)}"
    if kind == "expect_column_proportion_of_non_null_values_to_be_between":
        return f"SELECT CAST(COUNT({column}) AS DOUBLE PRECISION) / COUNT(*) {rows}"
    if kind == "expect_column_unique_value_count_to_be_between":
        return f"SELECT COUNT(DISTINCT {column}) {rows}"
    if kind == "expect_column_mean_to_be_between":
        return f"SELECT AVG({column}) {rows}"
    if kind in UNEXPECTED_ROWS_TYPES:
        query = kwargs["unexpected_rows_query"]
        substituted = query.format(batch=batch if _JOIN.search(query) or not batch.startswith("(") else f"{batch} AS subselect")
        return f"SELECT COUNT(*) FROM ({substituted}) AS unexpected"
    raise ValueError(f"No plain SQL for {kind}: add it to bench/bench_gate.py")


def suite_expectations(context, specs) -> dict[str, list[dict]]:
    """Each table's expectations, as their suite's JSON has them."""
    return {spec.name: [e.configuration.to_json_dict() for e in context.suites.get(spec.suite).expectations]
            for spec in specs}


def run_plain(cursor, suites: dict[str, list[dict]], batches: dict[str, str]) -> None:
    """Every expectation of ``suites`` as its plain SQL query on its table's batch of ``batches``."""
    for table, expectations in suites.items():
        for expectation in expectations:
            cursor.execute(plain_sql(expectation, batches[table]))
            cursor.fetchall()


def best_of(runs: int, measure: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        measure()
        timings.append(time.perf_counter() - started)
    return min(timings)


def measure(data: Path, days: int | None = None, runs: int = 3, report=print) -> dict[str, float]:
    """The audit's and the gate's seconds, with GX and as plain SQL, best of ``runs``; the gate's day's rows."""
    import psycopg

    from helpers.tables import TABLES
    from local_stack import sql_pipeline
    from local_stack.postgres import scratch_warehouse, warehouse_schema
    from quality_gate import gx_context, warehouse_audit

    loaded = sorted(p.name[:10] for p in (data / "log_data").rglob("*-events.json"))[:days]
    specs = gx_context.validated_tables()
    with scratch_warehouse("bench-gate-", *warehouse_schema()) as (uri, scratch_dir):
        started = time.perf_counter()
        with psycopg.connect(uri) as conn:
            sql_pipeline.load_days(conn, data, loaded)
        report(f"Loaded {len(loaded)} day(s) of {data} in {time.perf_counter() - started:.1f}s")

        context = gx_context_for(uri, scratch_dir)
        suites = suite_expectations(context, specs)

        def plain(batches: dict[str, str]) -> None:
            with psycopg.connect(uri) as conn, conn.cursor() as cursor:
                run_plain(cursor, suites, batches)

        def plain_audit() -> None:
            plain({spec.name: spec.name for spec in specs})
            with psycopg.connect(uri) as conn, conn.cursor() as cursor:
                for spec in TABLES:
                    if spec.slice_column:
                        warehouse_audit.days_present(cursor, spec)
                    if spec.history:
                        warehouse_audit.history_warnings(cursor, spec)

        day = date.fromisoformat(loaded[-1])

        def day_batch(spec) -> str:
            if not spec.slice_column:
                return spec.name
            return (f'(SELECT * FROM "{spec.name}" WHERE "{spec.slice_column}" >= \'{day}\' '
                    f"AND \"{spec.slice_column}\" < '{day + timedelta(days=1)}')")

        audit_gx = best_of(runs, lambda: warehouse_audit.run(context, specs))
        audit_sql = best_of(runs, plain_audit)
        gate_gx = best_of(runs, lambda: [gx_context.run_checkpoint(context, spec.name, day) for spec in specs])
        gate_sql = best_of(runs, lambda: plain({spec.name: day_batch(spec) for spec in specs}))

        with psycopg.connect(uri) as conn:
            day_rows = conn.execute("SELECT COUNT(*) FROM staging_events WHERE ts >= %s AND ts < %s",
                                    (day, day + timedelta(days=1))).fetchone()[0]

    expectations = sum(len(items) for items in suites.values())
    report(f"{expectations} expectations in {len(specs)} suites; best of {runs} runs each")
    report(f"{'measure':<44} {'GX s':>8} {'plain SQL s':>12} {'ratio':>7}")
    report(f"{'audit: gx validate, whole warehouse':<44} {audit_gx:>8.2f} {audit_sql:>12.2f} {audit_gx / audit_sql:>7.2f}")
    report(f"{f'gate: every suite on {day} ({day_rows:,} events)':<44} {gate_gx:>8.2f} {gate_sql:>12.2f} {gate_gx / gate_sql:>7.2f}")
    return {"audit_gx": audit_gx, "audit_sql": audit_sql, "gate_gx": gate_gx, "gate_sql": gate_sql, "day_rows": day_rows}


def measures(quick: bool, report=print) -> list[Measure]:
    """P4 on the real sample: the audit of every day, and one day as ``gx validate --date`` checks it
    (the run's own gate, in its audit area, at growing sizes: bench_scaling)."""
    sample = measure(SAMPLE, report=report)
    return [Measure("P4", "audit (gx validate, whole real sample) vs plain SQL, time",
                    sample["audit_gx"] / sample["audit_sql"], TARGET, at_least=False),
            Measure("P4", f"gx validate --date (every suite, a real day of {sample['day_rows']:,} events) vs plain SQL",
                    sample["gate_gx"] / sample["gate_sql"], TARGET, at_least=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SAMPLE, help="a bucket-shaped folder (default: the real sample)")
    parser.add_argument("--days", type=int, help="load only the first N days")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds = measure(args.data, args.days, args.runs)
    print(Measure("P4", "gate (every suite on the last day) vs plain SQL, time", seconds["gate_gx"] / seconds["gate_sql"],
                  TARGET, at_least=False).line())


if __name__ == "__main__":
    main()

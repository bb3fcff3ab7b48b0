"""Benchmark what a year of history costs one day's run (P3): the same day run with 1 and with 365 days in the warehouse.

    .venv/bin/python bench/bench_history.py                  # 10,000 events a day
    .venv/bin/python bench/bench_history.py --events 100000

Eight days are generated (datagen). Into a scratch PostgreSQL, made by the local stack's schema
files, the 7th day is loaded and published with the DAG's SQL (local_stack.sql_pipeline); the 8th
day is then run as a run of the DAG runs it (bench/day_run.py: stage into its audit area, load,
record its metrics, validate every suite, publish) twice, the faster kept. Then the
year is filled in: days 1 to 6 loaded the same way, and the seven days copied 51 times, each copy
7 days further back (SQL, generate_series), into every day-partitioned table and the gate's
history (quality_metrics), so 364 days precede the 8th with a week's natural variation; and GX's
validation results store gets a year of results too (each suite's latest result copied back over
the 364 days before it), as a year of daily runs leaves it. The 8th day is run twice again.
Printed: each phase's time in both cases and the ratio of the runs (target <= 1.2: history must
not slow a day down).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "bench")]

from day_run import PHASES, fastest_run, gx_context_for  # noqa: E402
from measures import Measure  # noqa: E402

START = date(2018, 11, 1)
WEEK = 7
COPIES = 51  # 7 days x (1 + 51) = 364 days before the measured one
TARGET = 1.2


def _copy_back_sql(cursor, table: str, day_column: str, key_columns: tuple[str, ...]) -> str:
    """INSERT copies of the first week of ``table``, each ``7 * k`` days earlier (k = 1..COPIES);
    text keys made unique per copy."""
    from helpers.audit_area import PUBLISHED_SCHEMA
    from helpers.json_copy import table_columns

    values = []
    for column in table_columns(cursor, PUBLISHED_SCHEMA, table):
        name = f'"{column.name}"'
        if column.name == day_column:
            values.append(f"{name} - {WEEK} * k" + ("" if column.data_type == "date" else " * INTERVAL '1 day'"))
        elif column.name in key_columns and column.data_type.startswith("character"):
            values.append(f"MD5({name} || '|' || k)")
        else:
            values.append(name)
    end = START + timedelta(days=WEEK)
    return (f'INSERT INTO "{table}" SELECT {", ".join(values)} FROM "{table}" CROSS JOIN generate_series(1, {COPIES}) AS k '
            f"WHERE \"{day_column}\" >= '{START}' AND \"{day_column}\" < '{end}'")


def fill_year(connection) -> None:
    """Copy the loaded first week back over the year before it (every day-partitioned table, the history)."""
    from helpers.audit_area import METRICS_TABLE
    from helpers.tables import TABLES

    with connection.cursor() as cursor:
        targets = [(spec.name, spec.slice_column, spec.keys) for spec in TABLES if spec.slice_column]
        for table, column, keys in [*targets, (METRICS_TABLE, "day", ())]:
            cursor.execute(_copy_back_sql(cursor, table, column, keys))
    connection.commit()


def fill_results_year(context) -> int:
    """Copy each suite's latest stored validation result back over the 364 days before it; the copies made."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

    from quality_gate.gx_context import latest_result_keys

    store = context.validation_results_store
    copies = 0
    for key in latest_result_keys(context).values():
        stored = store.store_backend.get(store.key_to_tuple(key))  # as serialized: no GX round trip per copy
        for days_back in range(1, WEEK * (COPIES + 1)):
            run_id = RunIdentifier(run_name=key.run_id.run_name, run_time=key.run_id.run_time - timedelta(days=days_back))
            copy = ValidationResultIdentifier(key.expectation_suite_identifier, run_id, key.batch_identifier)
            store.store_backend.set(store.key_to_tuple(copy), stored)
            copies += 1
    return copies


def measure(events: int, runs: int = 2, report=print) -> Measure:
    import psycopg

    from datagen import generate
    from helpers.audit_area import area_name
    from local_stack import sql_pipeline
    from local_stack.postgres import scratch_warehouse, warehouse_schema

    days = [str(START + timedelta(days=offset)) for offset in range(WEEK + 1)]
    measured = days[-1]
    with scratch_warehouse("bench-history-", *warehouse_schema()) as (uri, scratch_dir):
        data = scratch_dir / "data"
        generate(data, events=events * len(days), songs=2_000, start=START, days=len(days), progress=False)
        context = gx_context_for(uri, scratch_dir, audit_area=area_name("test", measured))
        with psycopg.connect(uri) as connection:
            cases = {}
            for case, loaded in (("1 day", days[WEEK - 1:WEEK]), ("365 days", days[:WEEK - 1])):
                started = time.perf_counter()
                sql_pipeline.load_days(connection, data, loaded)
                if case == "365 days":
                    fill_year(connection)
                    report(f"{fill_results_year(context):,} validation results copied into GX's store")
                connection.autocommit = True
                connection.execute("VACUUM ANALYZE")
                connection.autocommit = False
                with connection.cursor() as cursor:
                    cursor.execute("SELECT COUNT(DISTINCT CAST(ts AS DATE)), COUNT(*) FROM staging_events")
                    history_days, history_rows = cursor.fetchone()
                report(f"{case}: {history_days} day(s), {history_rows:,} events in the warehouse "
                       f"({time.perf_counter() - started:.1f} s to build)")
                cases[case] = fastest_run(runs, connection, context, data, measured)
    report(f"{'history':>10} " + " ".join(f"{phase:>8}" for phase in PHASES) + f" {'run s':>8}")
    for case, phases in cases.items():
        report(f"{case:>10} " + " ".join(f"{phases[phase]:>8.2f}" for phase in PHASES) + f" {sum(phases.values()):>8.2f}")
    ratio = sum(cases["365 days"].values()) / sum(cases["1 day"].values())
    return Measure("P3", f"a day's run with 365 vs 1 day of history ({events:,} events a day)", ratio, TARGET, at_least=False)


def measures(quick: bool, report=print) -> list[Measure]:
    return [measure(10_000 if quick else 100_000, report=report)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events a day (default 10,000)")
    parser.add_argument("--runs", type=int, default=2, help="runs of the measured day per case, the fastest kept")
    args = parser.parse_args()
    print(measure(args.events, args.runs).line())


if __name__ == "__main__":
    main()

"""Benchmark the local staging path against plain CSV COPY, for two sizes side by side.

    .venv/bin/python bench/bench_stage_local.py                  # 100k and 1M events in one day file
    .venv/bin/python bench/bench_stage_local.py --sizes 20000 200000

For each size, one day of events is generated (datagen), served by a moto S3 server seeded at start,
and staged into PostgreSQL by StageToRedshiftOperator (S3 read, JSONPaths, COPY FROM STDIN into the
run's audit area, slice guard; one transaction). The baseline loads the very same rows as a local CSV file with
``COPY ... FROM STDIN (FORMAT csv)`` - the fastest way into PostgreSQL (see shared/notes/load-paths.md).
Each measurement runs in a fresh process, so its peak RSS (ru_maxrss) is its own.
Printed: rows/s, time relative to CSV COPY, and the large/small peak-RSS ratio (near 1.0 while the
row ratio is 10x means memory does not grow with input size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

DAY = "2018-11-01"
BUCKET = "bench"
AREA = "audit_20181101_00000000"
TABLE = f'"{AREA}".staging_events'


def _child(mode: str, warehouse: str, endpoint: str, csv_path: str) -> None:
    """Runs in a fresh process: one load, prints seconds, rows and peak RSS as JSON."""
    import psycopg

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (LIKE public.staging_events)")
    if mode == "operator":  # imports and connection set-up are not part of the measured load
        from local_stack.airflow import connection_env
        from local_stack.s3 import REGION

        os.environ.update(connection_env(warehouse, endpoint, BUCKET, REGION))
        from helpers.tables import TABLES
        from operators.stage_redshift import StageToRedshiftOperator

        (events,) = [spec for spec in TABLES if spec.name == "staging_events"]
    started = time.perf_counter()
    if mode == "operator":  # as the DAG stages it: the spec's record key (duplicates) and column rules
        StageToRedshiftOperator(
            task_id="bench", table="staging_events", audit_area=AREA, s3_bucket=BUCKET,
            s3_key=f"log_data/2018/11/{DAY}-events.json", json_paths="log_json_path.json",
            timeformat="epochmillisecs", slice_column="ts", slice_start=DAY, slice_end="2018-11-02",
            record_key=events.record_key, column_rules=events.column_rules,
        ).execute(context={})
    else:
        with psycopg.connect(warehouse) as conn, conn.cursor() as cursor, open(csv_path, "rb") as source:
            with cursor.copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
    seconds = time.perf_counter() - started
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def _measure(mode: str, warehouse: str, endpoint: str, csv_path: str) -> dict:
    command = [sys.executable, __file__, "--child", mode, warehouse, endpoint, csv_path]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
    if result.returncode:
        raise SystemExit(f"{mode} load failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[100_000, 1_000_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    import psycopg

    from datagen import generate
    from helpers.audit_area import open_steps
    from local_stack.postgres import scratch_warehouse
    from local_stack.s3 import S3Server, Seed
    from local_stack.sql_pipeline import run_steps

    results = []
    with scratch_warehouse("bench-stage-", REPO / "create_tables.sql") as (warehouse, scratch_dir):
        with psycopg.connect(warehouse, autocommit=True) as conn, conn.cursor() as cursor:
            run_steps(cursor, open_steps(AREA))  # the run's audit area, as open_audit_area makes it
        for size in args.sizes:
            data = scratch_dir / f"data-{size}"
            generate(data, events=size, songs=2_000, start=DAY, days=1, progress=False)
            s3 = S3Server(0, scratch_dir / f"s3-{size}.log", seed=Seed(BUCKET, data))  # port 0: any free one
            s3.start()
            try:
                operator = _measure("operator", warehouse, s3.endpoint_url, "")
                csv_path = scratch_dir / f"rows-{size}.csv"
                with psycopg.connect(warehouse) as conn, conn.cursor() as cursor, open(csv_path, "wb") as sink:
                    with cursor.copy(f"COPY {TABLE} TO STDOUT (FORMAT csv)") as copy:
                        for chunk in copy:
                            sink.write(chunk)
                baseline = _measure("csv", warehouse, s3.endpoint_url, str(csv_path))
            finally:
                s3.stop()
            assert operator["rows"] == baseline["rows"], (operator, baseline)
            results.append((size, operator, baseline))

    print(f"{'events':>10} {'operator rows/s':>16} {'CSV COPY rows/s':>16} {'time x CSV':>11} {'operator peak MiB':>18}")
    for size, operator, baseline in results:
        print(
            f"{size:>10,} {operator['rows'] / operator['seconds']:>16,.0f} {baseline['rows'] / baseline['seconds']:>16,.0f}"
            f" {operator['seconds'] / baseline['seconds']:>11.2f} {operator['peak_kib'] / 1024:>18.1f}"
        )
    (small, small_op, _), (large, large_op, _) = results
    print(f"peak RSS ratio {large:,} / {small:,} events: {large_op['peak_kib'] / small_op['peak_kib']:.2f} (rows x{large / small:.0f})")


if __name__ == "__main__":
    main()

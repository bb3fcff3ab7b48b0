"""Benchmark the local staging path against plain CSV COPY and a plain GET, at several sizes side by side (P1, P1b, P1c, P2).

    .venv/bin/python bench/bench_stage_local.py                       # 100k and 1M events in one day file
    .venv/bin/python bench/bench_stage_local.py --sizes 100000 1000000 10000000

For each size, one day of events is generated (datagen) and loaded these ways, each in a fresh
process, its memory read from /proc/self/status (VmHWM, the peak, and VmRSS after its imports; not
ru_maxrss, which Linux carries over from the parent across exec):
- core: the staging core alone - the day file's lines read from local disk, rows built with the
  table spec's JSONPaths, TIMEFORMAT and column rules (``json_copy.iter_rows``) and written with
  ``json_copy.copy_into``;
- operator: StageToRedshiftOperator as the DAG runs it - S3 read from a moto server, the core, then
  its transaction's checks (duplicates, slice guard, counts, statistics);
- get: a plain GET of the same S3 object through S3Hook, read to its end (what fetching alone costs);
- csv: the very same rows as a local CSV file with ``COPY ... FROM STDIN (FORMAT csv)``, the fastest
  way into PostgreSQL (see shared/notes/load-paths.md): the limit the others are compared with;
- insert_rows and pandas (the smallest size only): what a user would write instead, from the same
  day file: ``json.loads`` per line into ``PostgresHook.insert_rows``, and
  ``pandas.read_json(lines=True)`` + ``to_sql``.
Printed: rows/s, speed relative to CSV COPY (1.00 = as fast), peak RSS and what the load added to
the process's RSS after its imports, then the P rows of `./sparkify bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "bench")]

from measures import Measure  # noqa: E402

DAY = "2018-11-01"
BUCKET = "bench"
AREA = "audit_20181101_00000000"
TABLE = f'"{AREA}".staging_events'


def _memory_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))


def _child(mode: str, warehouse: str, endpoint: str, path: str) -> None:
    """Runs in a fresh process: one load, prints seconds, rows and peak RSS as JSON."""
    import psycopg

    if mode != "get":
        with psycopg.connect(warehouse, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            conn.execute(f"CREATE TABLE {TABLE} (LIKE public.staging_events)")
    if mode in ("core", "insert_rows", "pandas"):
        from helpers import json_copy
        from helpers.tables import TABLES

        (events,) = [spec for spec in TABLES if spec.name == "staging_events"]
        day_file = Path(path)
        jsonpaths = json_copy.parse_jsonpaths_file((day_file.parents[3] / "log_json_path.json").read_text(), "jsonpaths")
        with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
            columns = json_copy.table_columns(cursor, "public", "staging_events")
        names, keys = [column.name for column in columns], [path[0] for path in jsonpaths]
    if mode == "insert_rows":
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        os.environ["AIRFLOW_CONN_REDSHIFT"] = warehouse
        hook = PostgresHook(postgres_conn_id="redshift")
    if mode == "pandas":
        import pandas
        from sqlalchemy import create_engine

        engine = create_engine(warehouse.replace("postgresql://", "postgresql+psycopg://", 1))
    if mode in ("operator", "get"):  # imports and connection set-up are not part of the measured load
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from local_stack.airflow import connection_env
        from local_stack.s3 import REGION

        os.environ.update(connection_env(warehouse, endpoint, BUCKET, REGION))
        from helpers.tables import TABLES
        from operators.stage_redshift import StageToRedshiftOperator

        (events,) = [spec for spec in TABLES if spec.name == "staging_events"]
    baseline_kib = _memory_kib("VmRSS")
    started = time.perf_counter()
    if mode == "get":  # a plain GET of the object the operator stages, read to its end
        body = S3Hook(aws_conn_id="aws_credentials").get_key(f"log_data/2018/11/{DAY}-events.json", BUCKET).get()["Body"]
        rows, last = 0, b"\n"
        for chunk in iter(lambda: body.read(1 << 20), b""):
            rows, last = rows + chunk.count(b"\n"), chunk[-1:]
        rows += last != b"\n"  # a last line without its newline
    elif mode == "operator":  # as the DAG stages it: the spec's record key (duplicates) and column rules
        StageToRedshiftOperator(
            task_id="bench", table="staging_events", audit_area=AREA, s3_bucket=BUCKET,
            s3_key=f"log_data/2018/11/{DAY}-events.json", json_paths="log_json_path.json",
            timeformat="epochmillisecs", slice_column="ts", slice_start=DAY, slice_end="2018-11-02",
            record_key=events.record_key, column_rules=events.column_rules,
        ).execute(context={})
    elif mode == "insert_rows":
        def user_rows():
            with open(day_file, "rb") as lines:
                for line in lines:
                    event = json.loads(line)
                    row = [event.get(key) for key in keys]
                    row[names.index("ts")] = datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"])
                    yield row

        hook.insert_rows(TABLE, user_rows(), target_fields=names, commit_every=10_000)
    elif mode == "pandas":
        frame = pandas.read_json(day_file, lines=True, precise_float=True)[keys].set_axis(names, axis=1)
        frame["ts"] = pandas.to_datetime(frame["ts"], unit="ms")
        frame.to_sql("staging_events", engine, schema=AREA, if_exists="append", index=False, chunksize=10_000)
    elif mode == "core":
        with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
            builder = json_copy.RowBuilder(
                json_copy.table_columns(cursor, "public", "staging_events"), jsonpaths,
                json_copy.CopyOptions.from_redshift(events.timeformat, events.copy_options),
                patterns={rule.column: (rule.pattern, rule.reason) for rule in events.column_rules})
            with json_copy.copy_into(cursor, TABLE, builder) as copy, open(day_file, "rb") as lines:
                write_row = copy.write_row
                for _, row in json_copy.iter_rows(lines, str(day_file), builder):
                    write_row(row)
    else:
        with psycopg.connect(warehouse) as conn, conn.cursor() as cursor, open(path, "rb") as source:
            with cursor.copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
    seconds = time.perf_counter() - started
    if mode != "get":
        with psycopg.connect(warehouse) as conn:
            rows = conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
    print(json.dumps({"seconds": seconds, "rows": rows, "baseline_kib": baseline_kib,
                      "peak_kib": _memory_kib("VmHWM")}))


def _measure(mode: str, warehouse: str, endpoint: str, path: str) -> dict:
    command = [sys.executable, __file__, "--child", mode, warehouse, endpoint, path]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
    if result.returncode:
        raise SystemExit(f"{mode} load failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(sizes: list[int], report=print) -> dict[int, dict[str, dict]]:
    """Each size's loads by mode; what a user would write instead only at the smallest size."""
    import psycopg

    from datagen import generate
    from helpers.audit_area import open_steps
    from local_stack.postgres import scratch_warehouse, warehouse_schema
    from local_stack.s3 import S3Server, Seed
    from local_stack.sql_pipeline import run_steps

    results = {}
    with scratch_warehouse("bench-stage-", *warehouse_schema()) as (warehouse, scratch_dir):
        with psycopg.connect(warehouse, autocommit=True) as conn, conn.cursor() as cursor:
            run_steps(cursor, open_steps(AREA))  # the run's audit area, as open_audit_area makes it
        for size in sorted(sizes):
            data = scratch_dir / f"data-{size}"
            generate(data, events=size, songs=2_000, start=DAY, days=1, progress=False)
            s3 = S3Server(0, scratch_dir / f"s3-{size}.log", seed=Seed(BUCKET, data))  # port 0: any free one
            s3.start()
            day_file = next(data.rglob(f"{DAY}-events.json"))
            modes = ("core", "insert_rows", "pandas", "operator", "get") if size == min(sizes) else ("core", "operator", "get")
            try:
                loads = {mode: _measure(mode, warehouse, s3.endpoint_url, str(day_file)) for mode in modes}
                csv_path = scratch_dir / f"rows-{size}.csv"
                with psycopg.connect(warehouse) as conn, conn.cursor() as cursor, open(csv_path, "wb") as sink:
                    with cursor.copy(f"COPY {TABLE} TO STDOUT (FORMAT csv)") as copy:
                        for chunk in copy:
                            sink.write(chunk)
                loads["csv"] = _measure("csv", warehouse, s3.endpoint_url, str(csv_path))
                csv_path.unlink()
            finally:
                s3.stop()
            shutil.rmtree(data)
            assert len({load["rows"] for load in loads.values()}) == 1, loads
            report(f"{size:,} events staged: " + ", ".join(f"{mode} {load['seconds']:.1f} s" for mode, load in loads.items()))
            results[size] = loads
    report(f"{'events':>10} {'load':>11} {'rows/s':>10} {'speed x CSV':>12} {'peak MiB':>9} {'added MiB':>10}")
    for size, loads in results.items():
        for mode, load in loads.items():
            report(f"{size:>10,} {mode:>11} {load['rows'] / load['seconds']:>10,.0f}"
                   f" {loads['csv']['seconds'] / load['seconds']:>12.2f} {load['peak_kib'] / 1024:>9.1f}"
                   f" {(load['peak_kib'] - load['baseline_kib']) / 1024:>10.1f}")
    return results


def measures_of(results: dict[int, dict[str, dict]]) -> list[Measure]:
    """The P rows: P1 and P1b at the size nearest 1M events, P1c at the smallest, P2 at each size from 1M (or the largest)."""
    at = min(results, key=lambda size: abs(size - 1_000_000))
    loads, smallest = results[at], results[min(results)]
    found = [
        Measure("P1", f"staging core vs CSV COPY of the same rows, speed ({at:,} events)",
                loads["csv"]["seconds"] / loads["core"]["seconds"], 1.0, at_least=True),
        Measure("P1b", f"staging from S3 vs max(plain GET, staging core), time ({at:,} events)",
                loads["operator"]["seconds"] / max(loads["get"]["seconds"], loads["core"]["seconds"]), 1.2, at_least=False),
        Measure("P1c", f"staging core vs PostgresHook.insert_rows, speed ({min(results):,} events)",
                smallest["insert_rows"]["seconds"] / smallest["core"]["seconds"], 9, at_least=True),
        Measure("P1c", f"staging core vs pandas read_json + to_sql, speed ({min(results):,} events)",
                smallest["pandas"]["seconds"] / smallest["core"]["seconds"], 17, at_least=True),
    ]
    for size in [size for size in results if size >= 1_000_000] or [max(results)]:
        operator = results[size]["operator"]
        added = operator["peak_kib"] - operator["baseline_kib"]
        found.append(Measure("P2", f"memory the staging task adds to its RSS after imports ({size:,} events)",
                             added * 1024 / 1e6, 64, at_least=False, unit=" MB"))
    return found


def measures(quick: bool, report=print) -> list[Measure]:
    return measures_of(run([100_000, 1_000_000] if quick else [100_000, 1_000_000, 10_000_000], report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], metavar="EVENTS",
                        help="events in the day file, one run per size (default 100000 1000000)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    for measure in measures_of(run(args.sizes)):
        print(measure.line())


if __name__ == "__main__":
    main()

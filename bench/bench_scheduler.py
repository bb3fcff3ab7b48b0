"""Benchmark what Airflow adds to a day's run (P6): the day through the scheduler vs the same work in process.

    .venv/bin/python bench/bench_scheduler.py                 # a day of 10,000 events
    .venv/bin/python bench/bench_scheduler.py --events 100000

A day is generated (datagen) and served by a local stack of its own (local_stack.Stack: PostgreSQL,
moto S3, the SMTP catcher and Airflow with the repo's dags/ and plugins/, on free ports, its state
in a temporary folder). The day is backfilled through the scheduler once (its catalog staged
with it), then again: that second run's wall time, start to end as the Airflow API reports it, is
measured. The same day is then run in process on the same warehouse (bench/day_run.py: the tasks'
SQL, COPY and GX checkpoints, with no scheduling, task processes or API calls around them).
P6 is the scheduled run's time over the in-process one (target <= 2). Like every local stack, its
Airflow writes its validation results and Data Docs to its moto S3 (SPARKIFY_GX_STORES); the
in-process run writes them to its temporary gx/.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "bench")]

from day_run import PHASES, gx_context_for, run_day  # noqa: E402
from measures import Measure  # noqa: E402

DAY = date(2018, 11, 1)
TARGET = 2.0


def measure(events: int, report=print) -> Measure:
    import psycopg

    from datagen import generate
    from helpers.audit_area import area_name
    from local_stack.cli import DAG_ID, AirflowApi
    from local_stack.stack import PORTS, Stack

    day = str(DAY)
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as scratch, \
            mock.patch.dict(os.environ, {variable: "0" for _, variable in PORTS.values()}):  # "0": any free port
        folder = Path(scratch)
        folder.chmod(0o711)  # PostgreSQL runs as the `postgres` user when we are root
        data = folder / "data"
        generate(data, events=events, songs=2_000, start=DAY, days=1, progress=False)
        stack = Stack(repo=REPO, state_dir=folder / "state")
        try:
            status = stack.up(seed_dir=data, reseed=True)["status"]
            api = AirflowApi(status["airflow"]["url"], status["airflow"]["user"], status["airflow"]["password"])
            api.wait_for_dag(DAG_ID)
            for attempt in ("first (the catalog staged too)", "again (measured)"):
                report(f"{day} through the scheduler, {attempt}:")
                run = api.backfill(DAG_ID, day, day, max_active_runs=1)[day]
                if run["state"] != "success":
                    raise SystemExit(f"The run of {day} ended {run['state']}: see {stack.logs}")
            scheduled = (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])).total_seconds()
            uri = stack.environment()["WAREHOUSE_URI"]
            context = gx_context_for(uri, folder, audit_area=area_name("test", day))
            with psycopg.connect(uri) as connection:
                in_process = run_day(connection, context, data, day)
        finally:
            stack.down()
    work = sum(in_process.values())
    report(f"through the scheduler {scheduled:.1f} s; in process {work:.1f} s ("
           + ", ".join(f"{phase} {in_process[phase]:.2f}" for phase in PHASES) + ")")
    return Measure("P6", f"a day through the scheduler vs its work in process, time ({events:,} events)",
                   scheduled / work, TARGET, at_least=False)


def measures(quick: bool, report=print) -> list[Measure]:
    return [measure(10_000 if quick else 100_000, report=report)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in the day (default 10,000)")
    args = parser.parse_args()
    print(measure(args.events).line())


if __name__ == "__main__":
    main()

"""`./sparkify`: run the Sparkify pipeline on the embedded local stack.

    ./sparkify demo                      # generate data, start everything, backfill every day, show counts
    ./sparkify demo --data ../shared/data/sparkify --start 2018-11-01 --end 2018-11-07
    ./sparkify demo --corrupt-day 2018-11-03   # that day fails the quality gate, publishes nothing; its alert arrives
    ./sparkify rerun 2018-11-03 2018-11-05     # run those days again (after re-delivering their files)
    ./sparkify up | down | status | env  # the stack: PostgreSQL, moto S3, SMTP catcher, Airflow
    ./sparkify up --executor celery --workers 2   # Airflow on Celery: Redis and two workers (README: Scaling out)
    ./sparkify alerts [--show N | --clear]   # the alert emails the stack received, newest first
    ./sparkify generate --out DIR        # Sparkify-shaped data (python -m datagen --help)
    ./sparkify test                      # the whole test suite
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.audit_area import area_name
from helpers.run_note import RUN_NOTE, run_note
from local_stack import timeouts
from local_stack.celery import EXECUTORS
from local_stack.mail import Mailbox
from local_stack.process import StackError
from quality_gate.gx_context import STORES_ENV

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "sparkify_etl"
VALIDATE_GROUP = "validate"  # the DAG's TaskGroup of GX validations
STAR_SCHEMA = ("staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time")
TERMINAL = {"success", "failed"}

log = logging.getLogger("sparkify")


# --- commands ------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    result = Stack().up(seed_dir=_sample_dir(args.data) if args.data else None, executor=args.executor,
                        workers=args.workers)
    _print_status(result["status"])
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    stopped = Stack().down()["stopped"]
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    status = Stack().status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        _print_status(status)
    return 0 if _all_running(status) else 3


def cmd_env(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    sys.stdout.write(Stack().env())
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    mailbox = Mailbox(Stack().mail_dir)
    if args.clear:
        print(f"deleted {mailbox.clear()} alert(s) from {mailbox.folder}")
        return 0
    mails = mailbox.messages()
    if args.show is not None:
        if not 1 <= args.show <= len(mails):
            raise StackError(f"No alert number {args.show}: {len(mails)} received (1 = the newest).")
        print(mails[args.show - 1].show(), end="")
        return 0
    if not mails:
        print(f"No alerts received (the stack's SMTP catcher saves them in {mailbox.folder}).")
        return 0
    for number, mail in enumerate(mails, 1):
        print(f"{number:>3}  {mail.received.astimezone():%Y-%m-%d %H:%M:%S}  {mail.subject}")
    print("\n./sparkify alerts --show N prints one (1 = the newest); --clear deletes them all.")
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    from helpers import data_docs_assets

    written = data_docs_assets.fetch()
    print(f"Data Docs scripts and styles in {data_docs_assets.VENDOR_DIR}: "
          + (f"fetched {', '.join(written)}" if written else "all there"))
    return 0


def cmd_generate(arguments: list[str]) -> int:
    from datagen.__main__ import main as datagen_main

    return datagen_main(arguments)


def cmd_test(arguments: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *arguments], cwd=REPO)


def cmd_bench(arguments: list[str]) -> int:
    return subprocess.call([sys.executable, str(REPO / "bench" / "run.py"), *arguments], cwd=REPO)


def cmd_gx(arguments: list[str]) -> int:
    from local_stack.gx_cli import main as gx_main

    return gx_main(arguments)


# Commands whose arguments belong to another tool, passed through untouched (--help included).
PASS_THROUGH = {"generate": cmd_generate, "test": cmd_test, "gx": cmd_gx, "bench": cmd_bench}


def cmd_demo(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    stack = Stack()
    if args.data:
        data = _sample_dir(args.data)
    else:
        data = stack.state_dir / "demo-data"
        if not (data / ".datagen.json").exists():
            from datagen import generate

            print(f"Generating demo data into {data} ({args.days} days from {args.first_day}) ...")
            generate(data, events=args.events, songs=args.songs, start=args.first_day, days=args.days, seed=args.seed)
    days = _days_in(data)
    start = args.start or (days[0] if days else None)
    end = args.end or (days[-1] if days else None)
    if start is None or end is None:
        raise StackError(f"No log_data/YYYY/MM/YYYY-MM-DD-events.json under {data}: nothing to run.")
    if start > end:
        raise StackError(f"--start {start} is after --end {end}.")
    if args.corrupt_day and not start <= args.corrupt_day <= end:
        raise StackError(f"--corrupt-day {args.corrupt_day} is not among the days run ({start} to {end}).")

    print(f"Starting the local stack with s3://sparkify-local loaded from {data} ...")
    status = stack.up(seed_dir=data, reseed=True, executor=args.executor, workers=args.workers)["status"]
    if args.corrupt_day:
        key = load_corrupt_day(data, args.corrupt_day, stack.state_dir / "corrupt-data", status["s3"])
        print(f"Loaded a corrupted copy of {key}: every 5th event's method is 'POST' (its suite allows GET and PUT).")
    warehouse = stack.environment()["WAREHOUSE_URI"]
    corrupt_before = published_day(warehouse, args.corrupt_day) if args.corrupt_day else None
    mailbox = Mailbox(stack.mail_dir)
    alerts_before = len(mailbox.messages())
    airflow_url = status["airflow"]["url"]
    api = AirflowApi(airflow_url, status["airflow"]["user"], status["airflow"]["password"])
    api.wait_for_dag(DAG_ID)

    print(f"Backfilling {DAG_ID} from {start} to {end} through the scheduler ...")
    runs = api.backfill(DAG_ID, start, end, max_active_runs=args.max_active_runs)

    counts = _table_counts(warehouse)
    print("\nRows per table:")
    for table, count in counts.items():
        print(f"  {table:<15} {count:>10,}")
    days_run = _day_range(start, end)
    failed = [day for day in days_run if runs.get(day, {}).get("state") != "success"]
    print(f"\n{len(days_run) - len(failed)} of {len(days_run)} day(s) succeeded" + (f"; not succeeded: {', '.join(failed)}" if failed else "."))
    gate = {day: api.task_states(DAG_ID, run["dag_run_id"], group=VALIDATE_GROUP) for day, run in runs.items()}
    if states := [state for day_states in gate.values() for state in day_states.values()]:
        if all(state == "success" for state in states):
            print(f"Quality gate: every suite passed on {len(gate)} day(s) ({len(states)} validations).")
        for day, day_states in gate.items():
            failed_checks = sorted(task for task, state in day_states.items() if state == "failed")
            not_run = sorted(task for task, state in day_states.items() if state not in ("success", "failed"))
            if failed_checks or not_run:
                print(f"Quality gate on {day}: " + "; ".join(
                    part for part in (f"failed: {', '.join(failed_checks)}" if failed_checks else "",
                                      f"did not run: {', '.join(not_run)}" if not_run else "") if part))
    corrupt_unchanged = True
    if args.corrupt_day and args.corrupt_day in runs:
        corrupt_unchanged = published_day(warehouse, args.corrupt_day) == corrupt_before
        area = area_name(runs[args.corrupt_day]["dag_run_id"], args.corrupt_day)
        rows = ", ".join(f"{table} {count}" for table, (count, _) in corrupt_before.items())
        print(f"Published rows of {args.corrupt_day}: " + (f"unchanged ({rows})" if corrupt_unchanged else "CHANGED"))
        if runs[args.corrupt_day].get("state") == "failed":
            print(f"Its rows are kept in audit area {area}: "
                  f"psql {warehouse!r} -c 'SELECT COUNT(*) FROM {area}.staging_events'")
    if failed:
        # The DAG processor sends a run's alert shortly after the run fails.
        alerts = _wait_for_alerts(mailbox, alerts_before + len(failed), timeout=timeouts.ALERTS_SENT) - alerts_before
        print(f"Alerts:     {alerts} received for the failed day(s): ./sparkify alerts, ./sparkify alerts --show 1")
    print(f"Airflow UI: {airflow_url}/dags/{DAG_ID}  (login {status['airflow']['user']} / {status['airflow']['password']})")
    print(f"            each run's note names the day it loads (\"{RUN_NOTE.format(day=start)}\"); "
          "its id is named after the day's end")
    for day in failed:
        if day in runs:
            print(f"            {day} ({runs[day]['state']}): {run_url(airflow_url, runs[day]['dag_run_id'])}")
    print(f"Data Docs:  {airflow_url}/data-docs/  (in the UI: Browse → Data Docs; stored in "
          f"{stack.environment()[STORES_ENV]}/data_docs/)")
    print(f"Warehouse:  psql {warehouse!r}    Stop everything: ./sparkify down")
    return 0 if failed == ([args.corrupt_day] if args.corrupt_day else []) and corrupt_unchanged else 1


def cmd_rerun(args: argparse.Namespace) -> int:
    from local_stack.stack import Stack

    status = Stack().status()
    if not _all_running(status):
        raise StackError("The local stack is not running: start it with ./sparkify up.")
    end = args.end or args.start
    if args.start > end:
        raise StackError(f"{args.start} is after {end}.")
    conf = {key: value for key, value in (("max_rejects", args.max_rejects),
                                          ("max_reject_fraction", args.max_reject_fraction)) if value is not None}
    api = AirflowApi(status["airflow"]["url"], status["airflow"]["user"], status["airflow"]["password"])
    api.wait_for_dag(DAG_ID)
    print(f"Running {DAG_ID} again for {args.start} to {end} through the scheduler"
          + (f" with {json.dumps(conf)}" if conf else "") + " ...")
    runs = api.backfill(DAG_ID, args.start, end, max_active_runs=args.max_active_runs, conf=conf)
    days = _day_range(args.start, end)
    failed = [day for day in days if runs.get(day, {}).get("state") != "success"]
    for day in failed:
        run = runs.get(day)
        print(f"{day}: {run['state'] if run else 'no run'}" + (
            f"; its rows are kept in audit area {area_name(run['dag_run_id'], day)} (./sparkify alerts --show 1 "
            f"says why); the run: {run_url(status['airflow']['url'], run['dag_run_id'])}" if run else ""))
    print(f"{len(days) - len(failed)} of {len(days)} day(s) succeeded.")
    return 1 if failed else 0


# --- Airflow's REST API ----------------------------------------------------------------------------


class AirflowApi:
    """The few calls of Airflow 3's REST API (v2) the demo needs, authenticated as the stack's admin."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url
        self.token = self._request("POST", "/auth/token", {"username": user, "password": password}, auth=False)[
            "access_token"
        ]

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeouts.AIRFLOW_REQUEST) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise StackError(f"Airflow API {method} {path}: HTTP {error.code}: {error.read().decode(errors='replace')[:500]}") from None

    def wait_for_dag(self, dag_id: str, timeout: float = timeouts.AIRFLOW_DAG_PARSED) -> None:
        """Until the dag-processor has parsed the DAG; then make sure it is not paused."""
        began = time.monotonic()
        while True:
            try:
                dag = self._request("GET", f"/api/v2/dags/{dag_id}")
                break
            except StackError:
                errors = self._request("GET", "/api/v2/importErrors").get("import_errors", [])
                if errors:
                    raise StackError("The DAG folder has import errors:\n" + "\n".join(e["stack_trace"] for e in errors)) from None
                if time.monotonic() - began > timeout:
                    raise StackError(f"DAG {dag_id} did not appear in Airflow within {timeout:.0f}s.") from None
                time.sleep(2)
        if dag.get("is_paused"):
            self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def backfill(self, dag_id: str, start: str, end: str, *, max_active_runs: int,
                 conf: dict[str, Any] | None = None) -> dict[str, dict]:
        """Backfill [start, end] (days, inclusive), re-running days that already ran (``conf``: the runs'
        params); wait until it completes."""
        expected = _day_range(start, end)
        backfill = self._request(
            "POST",
            "/api/v2/backfills",
            {
                "dag_id": dag_id,
                "from_date": f"{start}T00:00:00Z",
                "to_date": f"{end}T00:00:00Z",
                "max_active_runs": max_active_runs,
                "reprocess_behavior": "completed",
                "dag_run_conf": conf or {},
            },
        )
        seen: dict[str, str] = {}
        noted: set[str] = set()
        began = next_report = time.monotonic()
        while True:
            finished = self._request("GET", f"/api/v2/backfills/{backfill['id']}")["completed_at"]
            runs = self._runs(dag_id, expected)
            self.note_days(dag_id, {day: run for day, run in runs.items() if run["dag_run_id"] not in noted})
            noted.update(run["dag_run_id"] for run in runs.values())
            for day, run in runs.items():
                if seen.get(day) != run["state"] and run["state"] in TERMINAL:
                    print(f"  {day}  {run['state']:<8} ({_run_seconds(run)})", flush=True)
                seen[day] = run["state"]
            if finished:
                return runs
            if time.monotonic() >= next_report:
                done = sum(1 for run in runs.values() if run["state"] in TERMINAL)
                print(f"  ... {done}/{len(expected)} run(s) finished after {time.monotonic() - began:.0f}s", flush=True)
                next_report += 30
            time.sleep(3)

    def note_days(self, dag_id: str, runs: dict[str, dict]) -> None:
        """Give each run of ``runs`` (by the day it loads) the note naming that day, ahead of any note it has (a
        user's stays); updates the runs in place. A note the API refuses is logged, never fatal: it only labels."""
        for day, run in runs.items():
            note = run_note(day, run.get("note"))
            if note is None:
                continue
            path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}?update_mask=note"
            try:
                run.update(self._request("PATCH", path, {"note": note}))
            except StackError as error:
                log.warning("The note of run %s (%s) was not set: %s", run["dag_run_id"], day, error)

    def task_states(self, dag_id: str, run_id: str, *, group: str) -> dict[str, str | None]:
        """State of each task of TaskGroup ``group`` in the run, by task id without the group's prefix."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=1000"
        return {
            task["task_id"].removeprefix(f"{group}."): task["state"]
            for task in self._request("GET", path)["task_instances"]
            if task["task_id"].startswith(f"{group}.")
        }

    def _runs(self, dag_id: str, days: list[str]) -> dict[str, dict]:
        """The backfill runs of ``days`` (logical dates), by day."""
        query = f"logical_date_gte={days[0]}T00:00:00Z&logical_date_lte={days[-1]}T00:00:00Z&run_type=backfill&limit=1000"
        runs = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]
        return {run["logical_date"][:10]: run for run in sorted(runs, key=lambda run: run["logical_date"])}


# --- helpers -------------------------------------------------------------------------------------


def run_url(airflow_url: str, run_id: str) -> str:
    """The run's page in the Airflow UI."""
    return f"{airflow_url}/dags/{DAG_ID}/runs/{urllib.parse.quote(run_id, safe='')}"


def _sample_dir(path: str) -> Path:
    data = Path(path).expanduser().resolve()
    if not (data / "log_data").is_dir() or not (data / "song_data").is_dir():
        raise StackError(f"{data} is not laid out like the Sparkify bucket (log_data/, song_data/, log_json_path.json).")
    if not (data / "log_json_path.json").is_file():
        raise StackError(f"{data}/log_json_path.json is missing: the events' JSONPaths file.")
    return data


def load_corrupt_day(data: Path, day: str, out_dir: Path, s3: dict) -> str:
    """Put a copy of day's events with every 5th event's method set to 'POST' (made in out_dir) over its object in S3."""
    from local_stack.s3 import client

    key = f"log_data/{day[:4]}/{day[5:7]}/{day}-events.json"
    if not (data / key).is_file():
        raise StackError(f"--corrupt-day {day}: {data / key} does not exist.")
    lines = (data / key).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if number % 5 == 0 and line.strip():
            lines[number] = json.dumps({**json.loads(line), "method": "POST"})
    corrupt = out_dir / key
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    corrupt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    client(s3["endpoint_url"]).put_object(Bucket=s3["bucket"], Key=key, Body=corrupt.read_bytes())
    return key


def _wait_for_alerts(mailbox: Mailbox, count: int, timeout: float) -> int:
    """Until mailbox holds count messages or timeout seconds passed; returns how many it holds."""
    deadline = time.monotonic() + timeout
    while len(mailbox.messages()) < count and time.monotonic() < deadline:
        time.sleep(2)
    return len(mailbox.messages())


def _days_in(data: Path) -> list[str]:
    return sorted(p.name.removesuffix("-events.json") for p in (data / "log_data").glob("*/*/*-events.json"))


def _day_range(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _run_seconds(run: dict) -> str:
    if not (run.get("start_date") and run.get("end_date")):
        return "-"
    seconds = (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])).total_seconds()
    return f"{seconds:.0f}s"


def published_day(warehouse_uri: str, day: str) -> dict[str, tuple[int, str]]:
    """Row count and checksum of ``day``'s published rows in each day-partitioned table."""
    import psycopg

    from helpers.audit_area import published
    from helpers.tables import TABLES

    start = date.fromisoformat(day)
    rows = {}
    with psycopg.connect(warehouse_uri) as conn:
        for spec in (spec for spec in TABLES if spec.slice_column):
            column = spec.slice_column
            rows[spec.name] = tuple(conn.execute(
                f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(MD5(CAST(t.* AS TEXT)), '' ORDER BY MD5(CAST(t.* AS TEXT))), '')) "
                f'FROM {published(spec.name)} t WHERE "{column}" >= %s AND "{column}" < %s',
                (start, start + timedelta(days=1)),
            ).fetchone())
    return rows


def _table_counts(warehouse_uri: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(warehouse_uri) as conn:
        return {table: conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in STAR_SCHEMA}


def _all_running(status: dict) -> bool:
    return status["postgres"]["running"] and status["s3"]["running"] and status["smtp"]["running"] and all(
        c["running"] for c in status["airflow"]["components"].values()
    ) and status.get("redis", {}).get("running", True) and all(w["running"] for w in status.get("workers", {}).values())


def _print_status(status: dict) -> None:
    def state(running: bool) -> str:
        return "running" if running else "stopped"

    pg, s3, smtp, af = status["postgres"], status["s3"], status["smtp"], status["airflow"]
    print(f"PostgreSQL  {state(pg['running']):<8} {pg['uri']}   (log {pg['log']})")
    print(f"S3 (moto)   {state(s3['running']):<8} {s3['endpoint_url']}  bucket {s3['bucket']}   (log {s3['log']})")
    print(f"SMTP        {state(smtp['running']):<8} 127.0.0.1:{smtp['port']}  alerts to {smtp['recipients']} saved in "
          f"{smtp['mail_dir']}: ./sparkify alerts   (log {smtp['log']})")
    if redis := status.get("redis"):
        print(f"Redis       {state(redis['running']):<8} redis://127.0.0.1:{redis['port']}/0  pid {redis['pid']}   "
              f"(log {redis['log']})")
    for name, component in af["components"].items():
        print(f"Airflow {name:<13} {state(component['running']):<8} (log {component['log']})")
    for name, worker in status.get("workers", {}).items():
        print(f"Celery {name:<14} {state(worker['running']):<8} pid {worker['pid']}  {worker['dir']}   "
              f"(log {worker['log']})")
    if any(c["running"] for c in af["components"].values()):
        print(f"Airflow UI  {af['url']}   login: {af['user']} / {af['password']}")
    print(f"State:      {status['state_dir']}")


# --- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparkify", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every command takes --help. State lives in .sparkify/ (git-ignored); ports: SPARKIFY_PG_PORT, "
        "SPARKIFY_S3_PORT, SPARKIFY_SMTP_PORT, SPARKIFY_AIRFLOW_PORT, SPARKIFY_REDIS_PORT (defaults 55432, 15000, "
        "1025, 18080, 16379).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="start the stack, load data, backfill every day, print row counts",
                               description="Start the stack, put the data in its S3 bucket, run the DAG for every day in "
                               "the range through the scheduler as a backfill, print per-table row counts and how to open "
                               "the UI. Exit 0 only if every run succeeded (with --corrupt-day: every other run, that day "
                               "failing with its published rows unchanged). Running it again re-runs the days: no count "
                               "changes.")
    demo.add_argument("--data", metavar="DIR", help="a folder laid out like the Sparkify bucket (default: generated data)")
    demo.add_argument("--start", type=_iso_day, help="first day to run (default: the first day in the data)")
    demo.add_argument("--end", type=_iso_day, help="last day to run, inclusive (default: the last day in the data)")
    demo.add_argument("--max-active-runs", type=int, default=2, help="days run at once (default: %(default)s)")
    demo.add_argument("--corrupt-day", type=_iso_day, metavar="DAY",
                      help="load a corrupted copy of DAY's events (made in .sparkify/; the data folder is untouched): "
                      "that day fails the quality gate, none of its published rows changes, its rows are kept in "
                      "its audit area, and its alert arrives (./sparkify alerts)")
    generated = demo.add_argument_group("generated data (without --data; made once into .sparkify/demo-data)")
    generated.add_argument("--days", type=int, default=7, help="days of events (default: %(default)s)")
    generated.add_argument("--first-day", type=_iso_day, default="2018-11-01", help="(default: %(default)s)")
    generated.add_argument("--events", type=int, default=5_000, help="events in all (default: %(default)s)")
    generated.add_argument("--songs", type=int, default=1_000, help="catalog songs (default: %(default)s)")
    generated.add_argument("--seed", type=int, default=42, help="(default: %(default)s)")
    _add_executor_options(demo)
    demo.set_defaults(handler=cmd_demo)

    rerun = commands.add_parser(
        "rerun", help="run the DAG again for a day or a range of days, whether they ran before or not",
        description="Backfill sparkify_etl over START..END (inclusive) through the scheduler, running again the days "
        "that already ran (Airflow's backfill skips them unless told: --reprocess-behavior completed), and wait. "
        "Use it after re-delivering a day's file. Exit 0 only if every day succeeded; a failed day names its audit "
        "area (its rows, kept for inspection).")
    rerun.add_argument("start", type=_iso_day, metavar="START", help="the first day (its logical date)")
    rerun.add_argument("end", type=_iso_day, metavar="END", nargs="?", help="the last day, inclusive (default: START)")
    rerun.add_argument("--max-active-runs", type=int, default=2, help="days run at once (default: %(default)s)")
    rerun.add_argument("--max-rejects", type=int, metavar="N",
                       help="for these runs: the rejected records each staging table tolerates (default: its spec's)")
    rerun.add_argument("--max-reject-fraction", type=float, metavar="F",
                       help="for these runs: the rejects tolerated as a fraction of the records read")
    rerun.set_defaults(handler=cmd_rerun)

    up = commands.add_parser("up", help="start PostgreSQL, S3, the SMTP catcher and Airflow (idempotent)",
                             description="Start whatever part of the local stack is not running, create the "
                             "databases and tables, and print each service's address and the UI login.")
    up.add_argument("--data", metavar="DIR", help="load this bucket-shaped folder into S3 when S3 starts")
    _add_executor_options(up)
    up.set_defaults(handler=cmd_up)
    commands.add_parser("down", help="stop exactly what up started").set_defaults(handler=cmd_down)
    status = commands.add_parser("status", help="each service's state and address; the UI login (exit 3 if not all up)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)
    commands.add_parser("env", help="shell exports for the running stack: eval \"$(./sparkify env)\"").set_defaults(handler=cmd_env)
    alerts = commands.add_parser("alerts", help="the alert emails the stack's SMTP catcher received, newest first",
                                 description="List the alert emails the local stack's SMTP catcher received "
                                 "(.sparkify/mail/, one .eml each), newest first, with their time and subject.")
    show_or_clear = alerts.add_mutually_exclusive_group()
    show_or_clear.add_argument("--show", type=int, metavar="N", help="print alert N of the list (1 = the newest)")
    show_or_clear.add_argument("--clear", action="store_true", help="delete every received alert")
    alerts.set_defaults(handler=cmd_alerts)

    commands.add_parser("assets", help="fetch the scripts and styles Data Docs pages load (npm registry) for offline use",
                        description="Download jQuery, Bootstrap, bootstrap-table, Font Awesome and Vega, the versions "
                        "GX's Data Docs load from CDNs, from the npm registry (checked against pinned sha512 sums) "
                        "into gx/uncommitted/data_docs_vendor/, which the Airflow UI's Data Docs serve. `up` does it "
                        "when they are missing.").set_defaults(handler=cmd_assets)
    commands.add_parser("generate", help="generate Sparkify-shaped data (./sparkify generate --help)")
    commands.add_parser("test", help="run the whole test suite (arguments go to pytest)")
    commands.add_parser("bench", help="run the benchmarks, one table of ratios against targets (./sparkify bench --help)")
    commands.add_parser("gx", help="list, show, edit and validate the Great Expectations suites (./sparkify gx --help)")
    return parser


def _add_executor_options(command: argparse.ArgumentParser) -> None:
    topology = command.add_argument_group(
        "executor (kept until ./sparkify down; README: Scaling out)")
    topology.add_argument("--executor", choices=EXECUTORS,
                          help="local: LocalExecutor (the default); celery: CeleryExecutor with Redis as the broker "
                          "and Celery workers, each from its own copy of dags/, plugins/ and gx/ in .sparkify/workers/")
    topology.add_argument("--workers", type=int, metavar="N", help="Celery workers, with --executor celery (default 2)")


def _iso_day(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2018-11-01") from None


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("local_stack").setLevel(logging.INFO)  # the stack's progress, not its libraries' chatter
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in PASS_THROUGH:
            return PASS_THROUGH[argv[0]](argv[1:])
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except StackError as error:
        print(f"sparkify: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

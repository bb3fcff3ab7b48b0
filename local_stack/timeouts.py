"""Every wait of the local stack and of its tests, in seconds, named after what it waits for.

These are upper bounds, never delays: each wait polls for what it needs and returns as soon as it is
there, so an idle machine never comes near them. They are generous because a busy machine (a load
of 5 to 12 on 2 cores, other stacks running beside this one) is many times slower than an idle one.
A wait that runs out raises ``process.StackTimeout``: it names what it waited for and shows the
tail of the log of the service it waited on.

``SPARKIFY_TIMEOUT_SCALE`` (default 1) multiplies every one of them, for a machine slower still.
"""

from __future__ import annotations

import os


def _scale() -> float:
    value = os.environ.get("SPARKIFY_TIMEOUT_SCALE", "").strip() or "1"
    try:
        scale = float(value)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise ValueError(f"SPARKIFY_TIMEOUT_SCALE={value!r}: expected a positive number (1 = the defaults)")
    return scale


SCALE = _scale()


def _seconds(base: float) -> float:
    return base * SCALE


# --- the stack's servers: until they answer -------------------------------------------------------
POSTGRES_INITDB = _seconds(300)
"""initdb of a new cluster (it runs a bootstrap server and syncs every file)."""
POSTGRES_START = _seconds(300)
"""`pg_ctl start -w`: until PostgreSQL accepts connections (it may first replay its WAL)."""
POSTGRES_STOP = _seconds(300)
"""`pg_ctl stop -m fast -w`: until PostgreSQL has ended its sessions and written its checkpoint."""
SERVER_START = _seconds(180)
"""A child server (the SMTP catcher, an empty moto S3): from spawning it until it answers a request."""
S3_SEEDED_START = _seconds(600)
"""moto S3 seeded at start: importing moto and loading a whole tree (15k files for the real sample)."""
PROBE = _seconds(10)
"""One request of a readiness or port probe (an HTTP GET, an SMTP NOOP, a TCP connect)."""
AIRFLOW_MIGRATE = _seconds(900)
"""`airflow db migrate` of the metadata database."""
AIRFLOW_API_START = _seconds(300)
"""From spawning the Airflow api-server until it answers its health endpoint."""
AIRFLOW_HEALTHY = _seconds(600)
"""Until every Airflow component reports healthy (heartbeats in the metadata database)."""
AIRFLOW_REQUEST = _seconds(60)
"""One request to the Airflow api-server (the health endpoint, the REST API)."""
AIRFLOW_DAG_PARSED = _seconds(600)
"""A fresh stack, until the dag-processor has parsed a DAG and the REST API lists it."""
ALERTS_SENT = _seconds(300)
"""A failed run's alert mails, until the SMTP catcher holds them (the dag-processor sends them after the run)."""
AIRFLOW_TASK_QUEUED = _seconds(3600)
"""A task queued for the LocalExecutor, until a worker slot starts it: Airflow's task_queued_timeout and the
lifetime of the execution-API token the task is queued with (Airflow's defaults, 600 s each, are exceeded by
a backfill's queued tasks on a busy machine: they then fail with "Invalid auth token" before they start)."""

# --- stopping processes ---------------------------------------------------------------------------
STOP_GRACE = _seconds(20)
"""After SIGTERM, before SIGKILL. Not a failure when it runs out: what is left is killed."""
AIRFLOW_STOP_GRACE = _seconds(15)
"""STOP_GRACE for Airflow's components (each may wait for running tasks; they are killed after it)."""
KILLED_EXIT = _seconds(60)
"""After SIGKILL, until the kernel has ended every process of the session."""

# --- the tests ------------------------------------------------------------------------------------
CHILD_START = _seconds(60)
"""A test's helper process, until it has started what it starts."""
SMTP_SEND = _seconds(60)
"""Sending one message to the SMTP catcher (a test's client, the DAG's alert connection)."""
STACK_UP = _seconds(1800)
"""`sparkify up` of a fresh stack: initdb, S3 seeded with generated data, migrate, four Airflow components."""
STACK_STATUS = _seconds(120)
"""`sparkify status`: reads the state and asks the api-server for its health."""
STACK_DOWN = _seconds(600)
"""`sparkify down`: every component's grace, then PostgreSQL's shutdown."""
DAG_TEST = _seconds(1800)
"""One `airflow dags test` of the whole DAG on the real sample (a fresh AIRFLOW_HOME migrates first)."""

# --- the browser tests (Playwright takes milliseconds: int(seconds * 1000)) ---------------------------
UI_STEP = _seconds(60)
"""One page load, click or assertion in the Airflow UI."""
UI_DAG_RUN = _seconds(1200)
"""One DAG run through the scheduler on generated data, until the UI shows it finished (~40 s idle on 2 cores)."""
UI_BACKFILL = _seconds(1800)
"""A three-day backfill through the scheduler, until the UI shows every run finished."""
UI_BACKFILL_LISTED = _seconds(300)
"""A backfill just created, until the UI lists its runs."""
UI_BACKFILL_DONE = _seconds(300)
"""A backfill whose runs finished, until the UI no longer says it is in progress."""

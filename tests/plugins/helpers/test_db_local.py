"""helpers.db on real PostgreSQL: a task's queries do not outlive it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest

from helpers.db import CONNECTION_CHECK_MS, Dialect, Statement, query_limits, run_in_transaction


class _Hook:
    def __init__(self, uri):
        self.uri = uri

    def get_conn(self):
        return psycopg.connect(self.uri)


class _Log:
    def info(self, *args):
        pass


def test_a_query_longer_than_its_tasks_timeout_is_cancelled(warehouse):
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
        run_in_transaction(_Hook(warehouse), [Statement("SELECT pg_sleep(30)")], _Log(),
                           timeout=timedelta(milliseconds=300), dialect=Dialect.POSTGRES)


def test_the_query_of_a_killed_task_is_cancelled_with_its_connection(warehouse):
    settings = "; ".join(query_limits(Dialect.POSTGRES, timedelta(hours=1)))
    task = subprocess.Popen([sys.executable, "-c", f"import psycopg; psycopg.connect({warehouse!r}, autocommit=True)"
                             f".execute({settings + '; SELECT pg_sleep(600)'!r})"])
    running = "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()"
    with psycopg.connect(warehouse, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while conn.execute(running).fetchone()[0] == 0:
            assert time.monotonic() < deadline and task.poll() is None, "the task's query never started"
            time.sleep(0.1)
        task.kill()  # as the supervisor kills a task past its execution_timeout
        task.wait()
        deadline = time.monotonic() + 6 * CONNECTION_CHECK_MS / 1000
        while conn.execute(running).fetchone()[0]:
            assert time.monotonic() < deadline, "the killed task's query is still running"
            time.sleep(0.2)

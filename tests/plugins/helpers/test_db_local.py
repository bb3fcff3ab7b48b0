"""helpers.db on real PostgreSQL: a task's queries do not outlive it; publish analyzes a table when it changed enough."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest

from helpers.db import CONNECTION_CHECK_MS, Dialect, Statement, analyze_when_changed, query_limits, run_in_transaction


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


def _rows_at_last_analyze(conn) -> float:
    return conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'public.plays'::regclass").fetchone()[0]


@pytest.mark.parametrize(("deleted", "analyzed"), [(10, False), (2_000, True)],
                         ids=["a change under autovacuum's threshold waits", "a change over it is analyzed at once"])
def test_a_table_is_analyzed_in_the_transaction_only_once_its_changes_pass_autovacuums_threshold(
        warehouse, deleted, analyzed):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("CREATE TABLE plays (n INTEGER)")
        with conn.transaction():
            conn.execute("INSERT INTO plays SELECT generate_series(1, 10000)")
            conn.execute(analyze_when_changed("public.plays"))  # never analyzed: it is
            assert _rows_at_last_analyze(conn) == 10_000
            conn.execute("SELECT pg_stat_force_next_flush()")  # this transaction's counts reach the stats at commit
        conn.execute("ANALYZE plays")  # so they are those of the last ANALYZE, and nothing changed since
        assert conn.execute("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'plays'").fetchone() == (0,)
        with conn.transaction():  # 10,000 rows: autovacuum's default threshold is 50 + 10% of them
            conn.execute("DELETE FROM plays WHERE n <= %s", (deleted,))
            conn.execute(analyze_when_changed("public.plays"))
            assert _rows_at_last_analyze(conn) == (10_000 - deleted if analyzed else 10_000)


def test_analyze_when_changed_takes_only_a_plain_table_name():
    with pytest.raises(ValueError, match="Invalid table name"):
        analyze_when_changed("public.plays'; DROP TABLE users; --")

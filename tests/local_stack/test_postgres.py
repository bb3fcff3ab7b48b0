"""PostgresServer: initdb on first start, restart keeps data, idempotent databases, clear errors."""

from pathlib import Path

import psycopg2
import pytest

from local_stack import postgres
from local_stack.postgres import PostgresServer, run_sql_file
from local_stack.process import StackError, free_port, pid_alive

CREATE_TABLES = Path(__file__).resolve().parents[2] / "create_tables.sql"


def count_rows(uri, table):
    with psycopg2.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return cur.fetchone()[0]


def test_start_stop_restart_keeps_data(server_tmp_factory, tmp_path):
    base = server_tmp_factory("pg-unit")
    server = PostgresServer(base / "pgdata", free_port(), base / "pg.log")
    assert not server.is_running()
    server.start()
    try:
        pid = server.pid
        assert server.is_running() and pid_alive(pid)
        assert server.uri("db1") == f"postgresql://postgres@127.0.0.1:{server.port}/db1"
        assert server.create_database("db1") is True
        assert server.create_database("db1") is False
        script = tmp_path / "schema.sql"
        script.write_text("CREATE TABLE IF NOT EXISTS t (x int); INSERT INTO t VALUES (1), (2);")
        run_sql_file(server.uri("db1"), script)
        with pytest.raises(StackError, match="already running"):
            server.start()
        assert server.stop() is True
        assert not server.is_running() and not pid_alive(pid)
        assert server.stop() is False

        server.start()
        assert count_rows(server.uri("db1"), "t") == 2
        server.drop_database("db1")
        assert server.create_database("db1") is True
    finally:
        server.stop()


def test_listens_on_loopback_only(postgres_server):
    with psycopg2.connect(postgres_server.uri()) as conn, conn.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"


def test_a_taken_port_fails_naming_it(server_tmp_factory, postgres_server):
    base = server_tmp_factory("pg-taken")
    with pytest.raises(StackError, match=f"port {postgres_server.port} on 127.0.0.1 is already in use"):
        PostgresServer(base / "pgdata", postgres_server.port).start()


def test_missing_server_binaries_say_how_to_install(monkeypatch):
    monkeypatch.delenv("PG_BINDIR", raising=False)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    with pytest.raises(StackError, match="apt-get install postgresql"):
        postgres.find_bindir()


def test_warehouse_fixture_has_the_schema_and_is_fresh(warehouse, postgres_server):
    assert warehouse.startswith(f"postgresql://postgres@127.0.0.1:{postgres_server.port}/test_")
    if CREATE_TABLES.exists():
        assert count_rows(warehouse, "staging_events") == 0

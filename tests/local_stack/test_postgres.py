"""PostgresServer: initdb on first start, restart keeps data, idempotent databases, clear errors."""

import itertools
import socket
from pathlib import Path

import psycopg2
import pytest

from local_stack import postgres
from local_stack.postgres import PostgresServer, run_sql_file
from local_stack.process import ANY_PORT, StackError, any_free_ports, pid_alive

def count_rows(uri, table):
    with psycopg2.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return cur.fetchone()[0]


def test_start_stop_restart_keeps_data(server_tmp_factory, tmp_path):
    base = server_tmp_factory("pg-unit")
    server = PostgresServer(base / "pgdata", ANY_PORT, base / "pg.log")
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


def test_runs_with_the_stand_ins_settings(postgres_server):
    with psycopg2.connect(postgres_server.uri()) as conn, conn.cursor() as cur:
        for name, value in postgres.SETTINGS.items():
            cur.execute(f"SHOW {name}")
            assert cur.fetchone()[0] == value, name


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
    assert count_rows(warehouse, "staging_events") == 0


def test_every_table_a_run_replaces_by_day_has_an_index_led_by_the_columns_it_filters_on(warehouse):
    """A run deletes and reads one day (>= start AND < end): without such an index each run scans all history."""
    from helpers.audit_area import METRICS_TABLE
    from helpers.rejects import REJECTS_TABLE
    from helpers.tables import TABLES

    filtered = {spec.name: (spec.slice_column,) for spec in TABLES if spec.slice_column}
    filtered |= {METRICS_TABLE: ("day",), REJECTS_TABLE: ("table_name", "day")}
    with psycopg2.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""
            SELECT t.relname, ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace
            WHERE s.nspname = 'public'""")
        indexes = cur.fetchall()
    unindexed = {table: columns for table, columns in filtered.items()
                 if not any(name == table and tuple(keys[:len(columns)]) == columns for name, keys in indexes)}
    assert not unindexed, f"no index led by these columns (create_tables_postgres.sql): {unindexed}"


def test_a_port_taken_between_the_choice_and_the_bind_is_skipped(server_tmp_factory):
    base = server_tmp_factory("pg-race")
    with socket.socket() as squatter:  # bound, not listening: free to a probe, taken to PostgreSQL's bind
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        server = PostgresServer(base / "pgdata", ANY_PORT, base / "pg.log")
        server.start(ports=itertools.chain([taken], any_free_ports()))
        try:
            assert server.port != taken
            assert psycopg2.connect(server.uri()).close() is None
            assert "Address already in use" in (base / "pg.log").read_text()
        finally:
            server.stop()


def test_a_named_port_taken_at_the_bind_fails_with_the_server_log(server_tmp_factory):
    base = server_tmp_factory("pg-named")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        server = PostgresServer(base / "pgdata", squatter.getsockname()[1], base / "pg.log")
        with pytest.raises(StackError, match="(?s)pg_ctl failed.*Address already in use"):
            server.start()
    assert not server.is_running()

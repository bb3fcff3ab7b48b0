"""Fixtures for operator tests: a warehouse connection that records what an operator runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.rowcount = -1

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.executed.append((sql, tuple(params) if params else ()))
        if self.conn.fail_on and self.conn.fail_on in sql:
            raise self.conn.failure or RuntimeError(f"boom on {self.conn.fail_on}")

    def fetchone(self) -> tuple:
        result = self.conn.fetchone_result
        return result(self.conn.executed[-1][0]) if callable(result) else result

    def fetchall(self) -> list[tuple]:
        return list(self.conn.fetchall_result)

    def close(self) -> None:
        pass


@dataclass
class FakeConnection:
    executed: list[tuple[str, tuple]] = field(default_factory=list)
    fetchone_result: Any = (0, 0, None)
    """What fetchone() returns, or a callable of the last SQL run returning it."""
    fetchall_result: list[tuple] = field(default_factory=list)
    fail_on: str | None = None
    failure: Exception | None = None
    """What a statement containing ``fail_on`` raises (default: a RuntimeError)."""
    committed: bool = False
    rolled_back: bool = False
    autocommit: bool = True

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.committed = True

    def rollback(self) -> None:
        self.rolled_back = True

    def close(self) -> None:
        pass


@dataclass
class FakeHook:
    conn: FakeConnection = field(default_factory=FakeConnection)

    def get_conn(self) -> FakeConnection:
        return self.conn

    records: list[tuple] = field(default_factory=list)

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple]:
        self.conn.executed.append((sql, tuple(parameters) if parameters else ()))
        return list(self.records)


@dataclass
class FakeAirflowConnection:
    conn_type: str
    host: str
    hook: FakeHook

    def get_hook(self) -> FakeHook:
        return self.hook


@pytest.fixture
def fake_warehouse(monkeypatch):
    """``fake_warehouse(module, conn_type, host)``: ``module``'s connections become a recording warehouse."""

    def install(module, conn_type: str = "redshift", host: str = "cluster.abc.us-west-2.redshift.amazonaws.com") -> FakeHook:
        hook = FakeHook()
        monkeypatch.setattr(
            module.BaseHook, "get_connection", lambda conn_id: FakeAirflowConnection(conn_type, host, hook)
        )
        return hook

    return install

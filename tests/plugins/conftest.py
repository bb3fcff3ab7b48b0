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
            raise RuntimeError(f"boom on {self.conn.fail_on}")

    def fetchone(self) -> tuple:
        return self.conn.fetchone_result

    def close(self) -> None:
        pass


@dataclass
class FakeConnection:
    executed: list[tuple[str, tuple]] = field(default_factory=list)
    fetchone_result: tuple = (0, None, None)
    fail_on: str | None = None
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
    first: Any = None

    def get_conn(self) -> FakeConnection:
        return self.conn

    def get_first(self, sql: str, parameters: Any = None) -> Any:
        self.conn.executed.append((sql, tuple(parameters) if parameters else ()))
        return self.first(sql) if callable(self.first) else self.first


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

"""Database plumbing shared by the operators: identifiers, the target's dialect, transactions.

Every load runs as a list of steps in ONE transaction on one connection, so a failed step leaves
the warehouse as it was. Steps are SQL statements with positional ``%s`` parameters (the paramstyle
psycopg and redshift_connector share) or callables that get the open cursor (used to stream
``COPY ... FROM STDIN`` on PostgreSQL, and for checks); a callable returning ``END_TRANSACTION``
commits what ran so far and skips the remaining steps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_REDSHIFT_HOST = re.compile(r"\.redshift(-serverless)?\.amazonaws\.com$")
_REDSHIFT_LOAD_ERROR = re.compile(r"Load into table '[^']*' failed")


def quote_table(name: str) -> str:
    """Return ``name`` ("table" or "schema.table") quoted, after checking it is a plain identifier."""
    parts = name.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        raise ValueError(
            f"Invalid table name {name!r}: expected 'table' or 'schema.table' in lower case "
            "letters, digits and underscores."
        )
    return ".".join(f'"{part}"' for part in parts)


def quote_column(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"Invalid column name {name!r}: expected lower case letters, digits and underscores.")
    return f'"{name}"'


def unquoted(table: str) -> str:
    """The last part of a table name, for names of temporary tables and log lines."""
    return table.rsplit(".", 1)[-1]


class Dialect(str, Enum):
    REDSHIFT = "redshift"
    POSTGRES = "postgres"

    def lock(self, table: str) -> str:
        """Serialise writers of ``table`` for the rest of the transaction.

        Redshift's LOCK has no modes: it is ACCESS EXCLUSIVE, so readers wait for the transaction
        too (taking it avoids serializable-isolation aborts, as AWS advises); on PostgreSQL SHARE
        ROW EXCLUSIVE conflicts with itself but not with SELECTs, so readers go on.
        """
        if self is Dialect.REDSHIFT:
            return f"LOCK {quote_table(table)}"
        return f"LOCK TABLE {quote_table(table)} IN SHARE ROW EXCLUSIVE MODE"


def dialect_of(conn_type: str | None, host: str | None) -> Dialect:
    """Redshift for ``redshift`` connections and for postgres-type ones pointing at a Redshift host."""
    if conn_type == "redshift" or (host and _REDSHIFT_HOST.search(host.strip().lower())):
        return Dialect.REDSHIFT
    if conn_type in ("postgres", "postgresql"):
        return Dialect.POSTGRES
    raise ValueError(
        f"Connection type {conn_type!r} is not supported: use a 'redshift' connection for Amazon "
        "Redshift or a 'postgres' one for PostgreSQL (the local stack)."
    )


def day_statistics(table: str, slice_column: str) -> str:
    """PostgreSQL: extended statistics on the day of ``slice_column`` in ``table`` ("schema.table"),
    gathered by the next ANALYZE.

    GX's daily batches filter on ``EXTRACT(year) = .. AND EXTRACT(month) = .. AND EXTRACT(day) = ..``.
    Without statistics on those expressions PostgreSQL estimates the filter at 1 row whatever the day
    holds, so it plans nested loops for the suites' joins and self-joins, and a day's validation grows
    with the square of its rows (a generated day of 150,000 events: validate staging_events passed
    300 s; with these statistics 13 s). Dropped with the table.
    """
    column = quote_column(slice_column)
    parts = ", ".join(f"(EXTRACT({part} FROM {column}))" for part in ("year", "month", "day"))
    return (f"CREATE STATISTICS IF NOT EXISTS {quote_table(f'{table}__day_parts')} ON {parts} "
            f"FROM {quote_table(table)}")


def analyze_when_changed(table: str) -> str:
    """PostgreSQL: ``ANALYZE table`` ("schema.table") if its changes have passed the threshold at which
    autovacuum would analyze it, else nothing (autovacuum counts them and analyzes it later).

    The threshold is the server's own (``autovacuum_analyze_threshold`` + ``autovacuum_analyze_scale_factor``
    × the rows at the last ANALYZE); the changes are this transaction's and those since the last ANALYZE.
    So a day that is a large share of its table (the first days) is analyzed at once for the next
    run's plans, and a day of a long history does not pay a full ANALYZE of the table each time (with a
    year of 10k-event days each took about 0.3 s; for a new day past the statistics' last value the
    planner reads the column's actual end from the slice column's index). A table never analyzed is
    analyzed.
    """
    quoted = quote_table(table)
    return (
        "DO $analyze$ BEGIN\n"
        "IF (SELECT c.reltuples < 0 OR COALESCE(x.n_tup_ins + x.n_tup_upd + x.n_tup_del, 0) + "
        "COALESCE(s.n_mod_since_analyze, 0) >= current_setting('autovacuum_analyze_threshold')::float8 + "
        "current_setting('autovacuum_analyze_scale_factor')::float8 * c.reltuples\n"
        "FROM pg_class c LEFT JOIN pg_stat_xact_user_tables x ON x.relid = c.oid "
        "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid\n"
        f"WHERE c.oid = '{quoted}'::regclass) THEN ANALYZE {quoted}; END IF;\n"
        "END $analyze$"
    )


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...] = ()
    redacted: str | None = None
    """What the logs show instead of ``sql`` when it carries credentials."""

    def __str__(self) -> str:
        return self.redacted or self.sql


END_TRANSACTION = object()
Step = Statement | Callable[[Any], object | None]


TASK_TIMEOUT = timedelta(hours=2)
"""Every task's ``execution_timeout`` (the DAGs' default_args): a day of 10M events stages in minutes."""
CONNECTION_CHECK_MS = 10_000
"""PostgreSQL: how often a running query checks that its client is still there (a killed task's
queries end within this)."""


def query_limits(dialect: Dialect | None, timeout: timedelta | None) -> list[str]:
    """The session settings that keep a task's queries from outliving it: none run longer than the task's
    ``timeout`` (its ``execution_timeout``; Redshift and PostgreSQL), and on PostgreSQL a query whose
    task died (its connection gone) is cancelled within ``CONNECTION_CHECK_MS``."""
    if timeout is None:
        return []
    settings = [f"SET statement_timeout TO {max(1, int(timeout.total_seconds() * 1000))}"]
    if dialect is Dialect.POSTGRES:
        settings.append(f"SET client_connection_check_interval TO {CONNECTION_CHECK_MS}")
    return settings


def run_in_transaction(hook: Any, steps: Sequence[Step], log: Any, *, timeout: timedelta | None = None,
                       dialect: Dialect | None = None) -> bool:
    """Run ``steps`` in one transaction on a new connection from ``hook``; roll back on any error.

    With ``timeout`` (the task's ``execution_timeout``) the connection gets ``query_limits`` first.
    Returns False when a step ended the transaction early with ``END_TRANSACTION``.
    """
    completed = True
    with closing(hook.get_conn()) as conn:
        conn.autocommit = False
        try:
            with closing(conn.cursor()) as cursor:
                for setting in query_limits(dialect, timeout):
                    cursor.execute(setting)
                for step in steps:
                    if isinstance(step, Statement):
                        log.info("Running: %s%s", step, f" with {step.params}" if step.params else "")
                        cursor.execute(step.sql, step.params or None)
                        if cursor.rowcount is not None and cursor.rowcount >= 0:
                            log.info("%s row(s) affected", cursor.rowcount)
                    elif step(cursor) is END_TRANSACTION:
                        completed = False
                        break
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return completed


def data_error(error: BaseException) -> str | None:
    """The message of a database error the data caused, else None.

    Data errors are SQLSTATE classes 22 (data exception: a value that cannot be cast) and 23
    (integrity constraint violation), and Redshift's COPY failing on its data ("Load into table 'x'
    failed", an internal-error SQLSTATE: more load errors than MAXERROR). psycopg has ``sqlstate``, psycopg2 ``pgcode``, and
    redshift_connector the server's fields as a dict in ``args[0]`` (``C``: code, ``M``: message).
    """
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    message = str(error)
    if state is None and error.args and isinstance(error.args[0], dict):
        state, message = error.args[0].get("C"), str(error.args[0].get("M", message))
    if (state and str(state)[:2] in ("22", "23")) or _REDSHIFT_LOAD_ERROR.search(message):
        lines = message.strip().splitlines()
        return lines[0] if lines else str(state)
    return None


@dataclass(frozen=True)
class TimeSlice:
    """A half-open range [start, end) of naive UTC timestamps: the part of a table one run owns."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str | date | datetime, end: str | date | datetime) -> TimeSlice:
        lower, upper = _as_utc(start, "slice_start"), _as_utc(end, "slice_end")
        if lower >= upper:
            raise ValueError(f"Empty slice: slice_start {lower} is not before slice_end {upper}.")
        return cls(lower, upper)

    @property
    def params(self) -> tuple[datetime, datetime]:
        return (self.start, self.end)

    def __str__(self) -> str:
        return f"[{self.start.isoformat(sep=' ')}, {self.end.isoformat(sep=' ')})"


def _as_utc(value: str | date | datetime, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{name}={value!r} is not an ISO date or timestamp.") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


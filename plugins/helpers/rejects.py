"""Rejects: the source records a staging load set aside, with where they are and why.

A staging load reads every record of its objects; each is either staged or rejected (invalid JSON or
UTF-8, not an object, larger than COPY loads, a value its column cannot take, no value for a NOT
NULL column, a value its table spec's ``ColumnRule`` refuses: one the star schema's loads cannot take,
a key another record with other values has). An exact duplicate of a record is staged once and
counted as a duplicate (sources deliver at least once). Rejects go to ``<area>.staging_rejects``
(the run's audit area) and are published with the run, replacing the rejects of the same table and
day, so a re-run of a day replaces its rejects too. The run fails when a table's rejects pass its
``RejectLimit``. A load's counts (``LOAD_METRICS``: read, staged, rejected, duplicates and the rejects
its limit allowed) are recorded as the day's metrics of its table, published with the run, so the gate
checks them against the limit and the staged rows (quality_gate.reconciliation), in a run and in
``./sparkify gx validate``.

On Redshift, COPY's ``MAXERROR`` does the same: the rejects are copied from
``SYS_LOAD_ERROR_DETAIL`` (which Serverless has, unlike ``STL_LOAD_ERRORS``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from helpers.db import quote_column, quote_table

REJECTS_TABLE = "staging_rejects"
COLUMNS = ("table_name", "day", "run_id", "source", "line_number", "column_name", "reason", "raw_text", "rejected_at")
REASON_LIMIT = 1024
"""Characters of a reason kept (the column's width)."""
SHOWN = 5
"""Rejects a failure message names; the query it gives shows them all."""
LOAD_METRICS = ("read", "staged", "rejected", "duplicates", "rejects_allowed")
"""A staging load's counts, recorded in ``quality_metrics`` as ``load:<name>``."""


@dataclass(frozen=True)
class RejectLimit:
    """How many rejects a staging load tolerates: at most ``max_count`` and at most ``max_fraction`` of
    the records read (both must hold). Like Redshift's ``MAXERROR``, the load stops once rejects pass
    ``max_count``.

    The default (100 and 1%) lets a day with a few broken lines among its thousands load its good rows
    and fails a day that is mostly bad; ``max_count`` stays far below COPY's own maximum (100,000).
    """

    max_count: int = 100
    max_fraction: float = 0.01

    def __post_init__(self) -> None:
        if self.max_count < 0 or not 0 <= self.max_fraction <= 1:
            raise ValueError(f"A reject limit needs max_count >= 0 and 0 <= max_fraction <= 1, not {self}.")

    def allowed(self, read: int) -> int:
        """The rejects tolerated among ``read`` records."""
        return min(self.max_count, math.floor(self.max_fraction * read + 1e-9))

    def __str__(self) -> str:
        return f"at most {self.max_count} and at most {self.max_fraction:.2%} of the records read"


@dataclass(frozen=True)
class ColumnRule:
    """A staged column's value (as text) must match ``pattern`` whole, or its record is rejected with
    ``reason``: for values a load of the star schema casts, so staging never holds a row the star
    cannot take. NULL passes. ``pattern`` must mean the same in Python's ``re`` and POSIX (Redshift's
    ``~``): keep to classes, groups, ``?``, ``*``, ``+`` and ``{m,n}``."""

    column: str
    pattern: str
    reason: str

    def refuses(self) -> str:
        """SQL true for a value the rule refuses (one parameter: ``anchored``)."""
        return f"{quote_column(self.column)} !~ %s"

    @property
    def anchored(self) -> str:
        return f"^({self.pattern})$"


def load_metric(name: str) -> str:
    """The ``quality_metrics`` name of a load's count (one of ``LOAD_METRICS``)."""
    if name not in LOAD_METRICS:
        raise ValueError(f"{name!r} is not one of the load metrics {LOAD_METRICS}.")
    return f"load:{name}"


def load_metrics(*, read: int, staged: int, rejected: int, duplicates: int, limit: RejectLimit) -> dict[str, int]:
    """A load's counts by their ``quality_metrics`` name."""
    counts = dict(read=read, staged=staged, rejected=rejected, duplicates=duplicates,
                  rejects_allowed=limit.allowed(read))
    return {load_metric(name): counts[name] for name in LOAD_METRICS}


def record_load_sql(metrics_table: str, day, table: str, run_id: str, counts: dict[str, int]) -> list[tuple[str, tuple]]:
    """The statements recording a load's ``counts`` (``load_metrics``) as ``table``'s metrics of ``day`` in
    ``metrics_table`` (quoted), replacing those recorded before."""
    names = list(counts)
    return [
        (f"DELETE FROM {metrics_table} WHERE day = %s AND table_name = %s "
         f"AND metric IN ({', '.join(['%s'] * len(names))})", (day, table, *names)),
        (f"INSERT INTO {metrics_table} (day, table_name, metric, value, run_id, recorded_at) VALUES "
         + ", ".join(["(%s, %s, %s, %s, %s, CURRENT_TIMESTAMP)"] * len(names)),
         tuple(field for name in names for field in (day, table, name, counts[name], run_id))),
    ]


def area_rejects(area: str) -> str:
    """The area's rejects table, quoted."""
    return quote_table(f"{area}.{REJECTS_TABLE}")


def insert_sql(area: str) -> str:
    """One reject into the area (parameters in ``COLUMNS`` order, ``rejected_at`` is now)."""
    return (f"INSERT INTO {area_rejects(area)} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * (len(COLUMNS) - 1))}, CURRENT_TIMESTAMP)")


def redshift_copy_rejects_sql(area: str) -> str:
    """Redshift: the rejects of the COPY into ``<area>.<table>`` from ``SYS_LOAD_ERROR_DETAIL``.

    Parameters: table, day, run id, the area, the table. The COPY's rows are those of the area's
    table, created anew in the same transaction, so its table id names this COPY alone
    (``PG_LAST_COPY_ID()`` is the STL query id, which the SYS views do not use). The view keeps no
    raw line.
    """
    return f"""INSERT INTO {area_rejects(area)} ({', '.join(COLUMNS)})
SELECT %s, %s, %s, TRIM(e.file_name), e.line_number, NULLIF(TRIM(e.column_name), ''),
       LEFT(TRIM(e.error_message), {REASON_LIMIT}), NULL, e.start_time
FROM sys_load_error_detail e
WHERE e.table_id = (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relname = %s
)"""


def rule_steps(area: str, table: str, rule: ColumnRule, fields: tuple, source: str) -> list[tuple[str, tuple]]:
    """Redshift: the staged rows ``rule`` refuses moved to the rejects (COPY has no per-column pattern).
    ``fields``: table, day, run id. The row's line is unknown there; its value is kept as its text."""
    staged = quote_table(f"{area}.{table}")
    return [
        (f"INSERT INTO {area_rejects(area)} ({', '.join(COLUMNS)})\n"
         f"SELECT %s, %s, %s, %s, NULL, %s, %s, LEFT({quote_column(rule.column)}, 4096), CURRENT_TIMESTAMP "
         f"FROM {staged} WHERE {rule.refuses()}",
         (*fields, source, rule.column, f"{rule.reason} (the value must match {rule.pattern})", rule.anchored)),
        (f"DELETE FROM {staged} WHERE {rule.refuses()}", (rule.anchored,)),
    ]


@dataclass(frozen=True)
class Deduplication:
    """The SQL that stages an exact duplicate of a record once (counted) and rejects every record whose
    key another record with other values shares (which is right cannot be told). Records with a NULL
    key column are left as they are. Plain SQL, the same on Redshift and PostgreSQL."""

    probe: str
    """How many keys more than one staged record has: 0 ends it there."""
    distinct: str
    """The distinct records into a temporary table."""
    counts: str
    """The staged records and the distinct ones: the difference is the exact duplicates."""
    steps: tuple[tuple[str, tuple], ...]
    """The rejects of the keys with other values; the staged table replaced by the distinct records left."""


def deduplication(area: str, table: str, key: Sequence[str], fields: tuple, source: str) -> Deduplication:
    staged = quote_table(f"{area}.{table}")
    distinct, conflicts = quote_table(f"{table}__distinct"), quote_table(f"{table}__conflicts")
    columns = ", ".join(quote_column(column) for column in key)
    present = " AND ".join(f"{quote_column(column)} IS NOT NULL" for column in key)
    match = " AND ".join(f"d.{quote_column(column)} = c.{quote_column(column)}" for column in key)
    values = " || ', ' || ".join(f"CAST(d.{quote_column(column)} AS VARCHAR)" for column in key)
    reason = f"'a record with the same key ({', '.join(key)}) = (' || {values} || ') and other values was delivered too'"
    return Deduplication(
        probe=f"SELECT COUNT(*) FROM (SELECT 1 FROM {staged} WHERE {present} GROUP BY {columns} HAVING COUNT(*) > 1) k",
        distinct=f"CREATE TEMPORARY TABLE {distinct} AS SELECT DISTINCT * FROM {staged}",
        counts=f"SELECT (SELECT COUNT(*) FROM {staged}), (SELECT COUNT(*) FROM {distinct})",
        steps=(
            (f"CREATE TEMPORARY TABLE {conflicts} AS SELECT {columns} FROM {distinct} WHERE {present} "
             f"GROUP BY {columns} HAVING COUNT(*) > 1", ()),
            (f"INSERT INTO {area_rejects(area)} ({', '.join(COLUMNS)})\n"
             f"SELECT %s, %s, %s, %s, NULL, NULL, {reason}, NULL, CURRENT_TIMESTAMP\n"
             f"FROM {distinct} d JOIN {conflicts} c ON {match}", (*fields, source)),
            (f"DELETE FROM {staged}", ()),
            (f"INSERT INTO {staged} SELECT d.* FROM {distinct} d WHERE NOT EXISTS (SELECT 1 FROM {conflicts} c WHERE {match})", ()),
            (f"DROP TABLE {distinct}", ()),
            (f"DROP TABLE {conflicts}", ()),
        ),
    )


def first_rejects_sql(area: str) -> str:
    """The table's first rejects (one parameter: the table), in the order of the source."""
    return (f"SELECT source, line_number, column_name, reason FROM {area_rejects(area)} WHERE table_name = %s "
            f"ORDER BY source, line_number LIMIT {SHOWN}")


def query_hint(area: str, table: str) -> str:
    return f"SELECT * FROM {area}.{REJECTS_TABLE} WHERE table_name = '{table}' ORDER BY source, line_number"


def describe(source: str, line: int | None, column: str | None, reason: str) -> str:
    where = f"{source}, line {line}" if line is not None else source
    return f"{where}: {f'column {column}: ' if column else ''}{reason}"

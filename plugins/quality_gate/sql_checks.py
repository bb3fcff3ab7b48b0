"""SQL data quality checks: what DataQualityOperator runs, and the checks every table gets."""

from __future__ import annotations

import operator as op
from dataclasses import dataclass, field
from typing import Any

from helpers.db import quote_column, quote_table

COMPARATORS = {"==": op.eq, "!=": op.ne, ">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le}


@dataclass(frozen=True)
class SqlCheck:
    """``sql`` returns one value; the check passes when ``value <comparator> expected``.

    ``sliced`` checks take the run's slice (start, end) as their two ``%s`` parameters. A check with
    ``needs_rows`` is not run for a run that publishes an explicitly empty day.
    """

    table: str
    name: str
    sql: str
    expected: Any
    comparator: str = "=="
    sliced: bool = False
    needs_rows: bool = False
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.comparator not in COMPARATORS:
            raise ValueError(
                f"Check {self.table}.{self.name}: comparator {self.comparator!r} is not one of {sorted(COMPARATORS)}."
            )


def table_checks(table: str, keys: tuple[str, ...]) -> list[SqlCheck]:
    """Not empty; each key column never NULL; the key unique."""
    target = quote_table(table)
    checks = [SqlCheck(table, "has rows", f"SELECT COUNT(*) FROM {target}", 0, ">", needs_rows=True)]
    for key in keys:
        checks.append(
            SqlCheck(table, f"{key} not null", f"SELECT COUNT(*) FROM {target} WHERE {quote_column(key)} IS NULL", 0)
        )
    if keys:
        key_list = ", ".join(quote_column(key) for key in keys)
        checks.append(
            SqlCheck(
                table,
                f"({', '.join(keys)}) unique",
                f"SELECT COUNT(*) FROM (SELECT {key_list} FROM {target} GROUP BY {key_list} HAVING COUNT(*) > 1) duplicate",
                0,
            )
        )
    return checks


# The fact table holds exactly one row per NextSong event staged for the run's slice.
SONGPLAYS_RECONCILE = SqlCheck(
    "songplays",
    "one songplay per NextSong event of the day",
    """
WITH run_slice AS (SELECT CAST(%s AS TIMESTAMP) AS slice_start, CAST(%s AS TIMESTAMP) AS slice_end)
SELECT (SELECT COUNT(*) FROM "staging_events", run_slice
        WHERE page = 'NextSong' AND userid <> '' AND ts >= slice_start AND ts < slice_end)
     - (SELECT COUNT(*) FROM "songplays", run_slice
        WHERE start_time >= slice_start AND start_time < slice_end)
""".strip(),
    0,
    sliced=True,
)

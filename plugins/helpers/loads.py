"""Statements that load a ``TableLoad`` into its table under a load mode, as one transaction."""

from __future__ import annotations

from enum import Enum

from helpers.db import Dialect, Statement, TimeSlice, quote_column, quote_table, unquoted
from helpers.sql_queries import TableLoad


class LoadMode(str, Enum):
    APPEND = "append"
    """Insert the SELECT's rows. With a slice column, the slice is deleted first (safe to re-run)."""
    TRUNCATE_INSERT = "truncate-insert"
    """Replace the whole table. DELETE, not TRUNCATE: TRUNCATE commits at once on Redshift."""
    UPSERT = "upsert"
    """Replace the rows whose key is in the SELECT's result, insert the new keys."""


def build_load_steps(
    *,
    dialect: Dialect,
    table: str,
    load: TableLoad,
    mode: LoadMode,
    keys: tuple[str, ...] = (),
    slice_column: str | None = None,
    time_slice: TimeSlice | None = None,
) -> list[Statement]:
    target = quote_table(table)
    columns = ", ".join(quote_column(column) for column in load.columns)
    if load.sliced and time_slice is None:
        raise ValueError(f"Loading {table} needs the run's slice: its SELECT is restricted to one.")
    params = time_slice.params if load.sliced else ()
    insert = Statement(f"INSERT INTO {target} ({columns})\n{load.select}", params)

    if mode is LoadMode.APPEND:
        if slice_column is None:
            return [insert]
        if time_slice is None:
            raise ValueError(f"{table}: slice_column {slice_column!r} needs the run's slice.")
        column = quote_column(slice_column)
        return [
            Statement(dialect.lock(table)),
            Statement(f"DELETE FROM {target} WHERE {column} >= %s AND {column} < %s", time_slice.params),
            insert,
        ]
    if mode is LoadMode.TRUNCATE_INSERT:
        return [Statement(dialect.lock(table)), Statement(f"DELETE FROM {target}"), insert]
    if mode is LoadMode.UPSERT:
        if not keys:
            raise ValueError(f"{table}: mode 'upsert' needs the natural key columns (keys=...).")
        incoming = quote_table(f"{unquoted(table)}__incoming")
        match = " AND ".join(f"{target}.{quote_column(k)} = {incoming}.{quote_column(k)}" for k in keys)
        return [
            Statement(dialect.lock(table)),
            Statement(f"CREATE TEMPORARY TABLE {incoming} (LIKE {target})"),
            Statement(f"INSERT INTO {incoming} ({columns})\n{load.select}", params),
            Statement(f"DELETE FROM {target} USING {incoming} WHERE {match}"),
            Statement(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {incoming}"),
            Statement(f"DROP TABLE {incoming}"),
        ]
    raise ValueError(f"Unknown load mode {mode!r}.")

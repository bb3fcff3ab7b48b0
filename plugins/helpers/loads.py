"""Load modes: how a ``TableLoad`` is written into the run's audit area, and how publish moves it on.

Both halves of each mode are here (``helpers.audit_area`` explains the audit area):

| mode | ``build_load_steps``: the audit area holds | ``publish_table_steps``: publish |
|---|---|---|
| append (with a slice column) | ``<area>.<table>``: the SELECT's rows, the run's slice | deletes the slice from the table, inserts the area's rows |
| truncate-insert | ``<area>.<table>``: the whole new table | deletes every row, inserts the area's rows |
| upsert | ``<area>.<table>__changes``: the rows that win against the published ones and differ from them; the view ``<area>.<table>``: the table after publish | merges the changes again with the table as it is then, replaces or inserts the winners |

Merging: the SELECT's rows and the published row of the same key compete; the first by
``TableLoad.ranking`` wins: the newest by its recency column, the SELECT's row on a tie (a day
loaded again replaces what its earlier load wrote), then its merge order (without either, the
newest load always wins). Publish merges again because a parallel run of another day may have
published since the audit: whatever order days are published in, the winner is the same.
"""

from __future__ import annotations

from enum import Enum

from helpers.db import Dialect, Statement, TimeSlice, day_statistics, quote_column, quote_table
from helpers.sql_queries import TableLoad


class LoadMode(str, Enum):
    APPEND = "append"
    """Add the SELECT's rows; with a slice column, publish replaces the run's slice (safe to re-run)."""
    TRUNCATE_INSERT = "truncate-insert"
    """Replace the whole table. DELETE, not TRUNCATE: TRUNCATE commits at once on Redshift."""
    UPSERT = "upsert"
    """Replace the rows whose key the SELECT returns (when they win the merge), insert the new keys."""


def changes_table(table: str) -> str:
    """The name of the area's table of rows an upsert publishes."""
    return f"{table}__changes"


def build_load_steps(
    *,
    dialect: Dialect,
    area: str,
    published_table: str,
    table: str,
    load: TableLoad,
    mode: LoadMode,
    keys: tuple[str, ...] = (),
    slice_column: str | None = None,
    time_slice: TimeSlice | None = None,
) -> list[Statement]:
    """Write ``load`` into ``area`` (an audit area's schema) for ``table``, shaped like ``published_table``.

    The steps run with the area first on the search path (the caller's first statement), so the
    SELECT reads the run's staged rows; each step can run again (a cleared task rebuilds its part).
    """
    if load.sliced and time_slice is None:
        raise ValueError(f"Loading {table} needs the run's slice: its SELECT is restricted to one.")
    if mode is LoadMode.APPEND and slice_column is None:
        raise ValueError(f"{table}: mode 'append' needs a slice column; a re-run would append the rows again.")
    if mode is LoadMode.UPSERT and not keys:
        raise ValueError(f"{table}: mode 'upsert' needs the natural key columns (keys=...).")
    if mode is LoadMode.APPEND and time_slice is None:
        raise ValueError(f"{table}: slice_column {slice_column!r} needs the run's slice.")
    target = quote_table(f"{area}.{table}")
    columns = _column_list(load.columns)
    params = time_slice.params if load.sliced else ()

    if mode is not LoadMode.UPSERT:
        steps = [
            Statement(f"DROP TABLE IF EXISTS {target}"),
            Statement(f"CREATE TABLE {target} (LIKE {published_table})"),
            Statement(f"INSERT INTO {target} ({columns})\n{load.sql()}", params),
        ]
        written = target
    else:
        changes = quote_table(f"{area}.{changes_table(table)}")
        incoming = quote_table(f"{table}__incoming")
        winners = _merge_winners(incoming, published_table, load, keys)
        steps = [
            Statement(f"DROP VIEW IF EXISTS {target}"),
            Statement(f"DROP TABLE IF EXISTS {changes}"),
            Statement(f"CREATE TEMPORARY TABLE {incoming} (LIKE {published_table})"),
            Statement(f"INSERT INTO {incoming} ({columns})\n{load.sql()}", params),
            Statement(f"CREATE TABLE {changes} (LIKE {published_table})"),
            Statement(f"INSERT INTO {changes} ({columns})\n{winners}\nEXCEPT\nSELECT {columns} FROM {published_table}"),
            Statement(f"CREATE VIEW {target} AS\n{_after_publish(changes, published_table, load.columns, keys)}"),
            Statement(f"DROP TABLE {incoming}"),
        ]
        written = changes
    if dialect is Dialect.POSTGRES:  # statistics for the joins that read it next (Redshift's own are kept)
        if slice_column and mode is not LoadMode.UPSERT:
            steps.append(Statement(day_statistics(f"{area}.{table}", slice_column)))
        steps.append(Statement(f"ANALYZE {written}"))
    return steps


def publish_table_steps(
    *,
    area: str,
    table: str,
    published_table: str,
    mode: LoadMode,
    keys: tuple[str, ...] = (),
    slice_column: str | None = None,
    time_slice: TimeSlice | None = None,
    load: TableLoad | None = None,
) -> list[Statement]:
    """Move what ``area`` holds for ``table`` into ``published_table``: part of publish's one transaction.

    DELETE + INSERT on both targets. Redshift's ALTER TABLE APPEND would move blocks instead of
    copying them, but it commits by itself and cannot run in a transaction block, so publishing
    several tables with it could leave readers a mix of old and new days. MERGE would do the same
    work as DELETE + INSERT here (Redshift runs an update as a delete and an insert).
    """
    staged = quote_table(f"{area}.{table}")
    if mode is LoadMode.APPEND:
        if slice_column is None or time_slice is None:
            raise ValueError(f"Publishing {table}: mode 'append' needs its slice column and the run's slice.")
        column = quote_column(slice_column)
        return [
            Statement(f"DELETE FROM {published_table} WHERE {column} >= %s AND {column} < %s", time_slice.params),
            Statement(f"INSERT INTO {published_table} SELECT * FROM {staged}"),
        ]
    if mode is LoadMode.TRUNCATE_INSERT:
        return [Statement(f"DELETE FROM {published_table}"), Statement(f"INSERT INTO {published_table} SELECT * FROM {staged}")]
    if mode is LoadMode.UPSERT:
        changes = quote_table(f"{area}.{changes_table(table)}")
        if not keys or load is None:
            raise ValueError(f"Publishing {table}: mode 'upsert' needs its key and its load.")
        winners = quote_table(f"{table}__publish")
        merged = _merge_winners(changes, published_table, load, keys)
        return [
            Statement(f"CREATE TEMPORARY TABLE {winners} (LIKE {published_table})"),
            Statement(f"INSERT INTO {winners} ({_column_list(load.columns)})\n{merged}"),
            Statement(f"DELETE FROM {published_table} USING {winners} WHERE {_key_match(published_table, winners, keys)}"),
            Statement(f"INSERT INTO {published_table} SELECT * FROM {winners}"),
            Statement(f"DROP TABLE {winners}"),
        ]
    raise ValueError(f"Unknown load mode {mode!r}.")


def _merge_winners(candidates: str, published_table: str, load: TableLoad, keys: tuple[str, ...]) -> str:
    """The rows of ``candidates`` that win the merge with the published rows of their keys."""
    column_list = _column_list(load.columns)
    partition = ", ".join(quote_column(key) for key in keys)
    order = load.ranking(source="merge_source")
    return f"""SELECT {column_list}
FROM (
    SELECT candidate.*, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order}) AS merge_rank
    FROM (
        SELECT {column_list}, 0 AS merge_source FROM {candidates}
        UNION ALL
        SELECT {column_list}, 1 AS merge_source FROM {published_table} p
        WHERE EXISTS (SELECT 1 FROM {candidates} c WHERE {_key_match("p", "c", keys)})
    ) candidate
) ranked
WHERE merge_rank = 1 AND merge_source = 0"""


def _after_publish(changes: str, published_table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    column_list = _column_list(columns)
    return (
        f"SELECT {column_list} FROM {published_table} p\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {changes} c WHERE {_key_match('p', 'c', keys)})\n"
        f"UNION ALL\nSELECT {column_list} FROM {changes}"
    )


def _key_match(left: str, right: str, keys: tuple[str, ...]) -> str:
    return " AND ".join(f"{left}.{quote_column(key)} = {right}.{quote_column(key)}" for key in keys)


def _column_list(columns: tuple[str, ...]) -> str:
    return ", ".join(quote_column(column) for column in columns)

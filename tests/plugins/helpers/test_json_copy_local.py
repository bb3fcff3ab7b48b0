"""helpers.json_copy on real PostgreSQL and the real sample: the typed path and binary COPY stage the
very rows the general path and text COPY stage."""

from __future__ import annotations

import psycopg
import pytest
from test_json_copy import QUIRK_COLUMNS, QUIRK_PATTERNS, loaded, outcome, quirky_lines

from helpers.json_copy import (
    Column,
    CopyOptions,
    RowBuilder,
    copy_into,
    iter_rows,
    parse_jsonpaths_file,
    table_columns,
)
from helpers.tables import TABLES


def staging_builder(cursor, table: str, shared_sample) -> RowBuilder:
    """The builder the staging task makes for ``table``, from the table spec."""
    (spec,) = [spec for spec in TABLES if spec.name == table]
    jsonpaths = None if spec.json_paths == "auto" else parse_jsonpaths_file(
        (shared_sample / spec.json_paths).read_text(), spec.json_paths)
    return RowBuilder(table_columns(cursor, "public", table), jsonpaths,
                      CopyOptions.from_redshift(spec.timeformat, spec.copy_options),
                      patterns={rule.column: (rule.pattern, rule.reason) for rule in spec.column_rules})


def sample_lines(shared_sample, table: str) -> list[bytes]:
    folder = "log_data" if table == "staging_events" else "song_data"
    return [line for path in sorted((shared_sample / folder).rglob("*.json")) for line in path.read_bytes().splitlines()]


def table_digest(cursor, table: str) -> tuple[int, str]:
    cursor.execute(f"SELECT COUNT(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {table} t")
    return cursor.fetchone()


def stage_both_ways(cursor, table: str, builder: RowBuilder, lines: list[bytes]) -> tuple[tuple, tuple]:
    """``lines`` staged by the typed path through ``copy_into`` and by the general path as text COPY."""
    columns = ", ".join(f'"{column.name}"' for column in builder.columns)
    for name in ("typed_copy", "text_copy"):
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMPORARY TABLE {name} (LIKE {table})")
    with copy_into(cursor, "typed_copy", builder) as copy:
        for _, row in iter_rows(lines, "sample", builder, lambda reject: None):
            copy.write_row(row)
    with cursor.copy(f"COPY text_copy ({columns}) FROM STDIN") as copy:
        for line, row in outcome(lines, builder, typed=False):
            if line != "reject":
                copy.write_row(row)
    return table_digest(cursor, "typed_copy"), table_digest(cursor, "text_copy")


@pytest.mark.parametrize("table", ["staging_events", "staging_songs"])
def test_the_real_sample_takes_the_typed_path_and_binary_copy_stages_what_text_copy_stages(
        module_warehouse, shared_sample, table):
    with psycopg.connect(module_warehouse) as conn, conn.cursor() as cursor:
        builder = staging_builder(cursor, table, shared_sample)
        lines = sample_lines(shared_sample, table)
        assert builder.copy_types is not None
        records = [line.strip() for line in lines if line.strip()]
        general = [line for line in records if builder.decode_line(line) is None]
        assert len(general) < 0.01 * len(records), general[:3]  # the catalog's numbers as text go the general way
        assert loaded(lines, builder, typed=True) == loaded(lines, builder, typed=False)
        typed, text = stage_both_ways(cursor, table, builder, lines)
        assert typed == text
        assert typed[0] == {"staging_events": 8056, "staging_songs": 14896}[table]  # SOURCES.md's counts


def test_quirky_rows_staged_by_binary_copy_equal_their_text_copy(module_warehouse):
    with psycopg.connect(module_warehouse) as conn, conn.cursor() as cursor:
        definition = ", ".join(f'"{column.name}" {_binary_sql_type(column)}' for column in QUIRK_COLUMNS)
        cursor.execute(f"CREATE TABLE quirks ({definition})")
        builder = RowBuilder(table_columns(cursor, "public", "quirks"), None,
                             CopyOptions(timeformat="epochmillisecs"), patterns=QUIRK_PATTERNS)
        assert builder.copy_types is not None
        lines = quirky_lines([column.name for column in QUIRK_COLUMNS], "epochmillisecs")
        typed, text = stage_both_ways(cursor, "quirks", builder, lines)
        assert typed == text and typed[0] > 1000


def _binary_sql_type(column: Column) -> str:
    """The column's type, where binary COPY takes it (``real`` goes as text: double precision here)."""
    data_type = "double precision" if column.data_type == "real" else column.data_type
    length = f"({column.max_length})" if column.max_length else ""
    return f"{data_type}{length}{'' if column.nullable else ' NOT NULL'}"

"""Days through the DAG's own SQL without Airflow: open the audit area, stage, load, record, publish.

For tests and benchmarks that need a loaded warehouse fast (the GX suites, the validation operator,
the gate's benchmark): they stage rows into the area's staging tables (``stage_files`` applies
Redshift's COPY rules to local files, as the staging task does to S3 objects), then run exactly the
statements the DAG's tasks run. ``load_days`` does all of it for days of a bucket-shaped folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from helpers import json_copy, rejects
from helpers.audit_area import (
    METRICS_TABLE,
    PUBLISHED_SCHEMA,
    area_day,
    area_name,
    in_area,
    in_audit_area,
    open_steps,
    publish_steps,
    published,
    relations_sql,
)
from helpers.db import Dialect, Statement, Step, TimeSlice, day_statistics, quote_table
from helpers.loads import build_load_steps
from helpers.tables import TABLES
from quality_gate import history
from quality_gate.gx_context import table_spec


def run_steps(cursor: Any, steps: Iterable[Step]) -> None:
    for step in steps:
        if isinstance(step, Statement):
            cursor.execute(step.sql, step.params or None)
        else:
            step(cursor)


def day_slice(day: str) -> TimeSlice:
    start = date.fromisoformat(day)
    return TimeSlice.parse(start, start + timedelta(days=1))


def open_and_stage(cursor: Any, day: str, stage: Callable[[Any, str], None], staged: Iterable[str]) -> str:
    """Open ``day``'s audit area, create the ``staged`` staging tables in it and let ``stage(cursor, area)``
    fill them (with the area first on the search path); returns the area. A staging table left out
    reads the published one, as after an unchanged catalog."""
    area = area_name("test", day)
    run_steps(cursor, open_steps(area))
    for table in staged:
        cursor.execute(f'CREATE TABLE "{area}"."{table}" (LIKE {published(table)})')
    run_steps(cursor, [in_audit_area(area)])
    stage(cursor, area)
    return area


def load(cursor: Any, area: str, day: str) -> None:
    """Every load task of the DAG, in order, into ``area``."""
    for spec in TABLES:
        if spec.load is not None:
            run_steps(cursor, [in_audit_area(area), *build_load_steps(
                dialect=Dialect.POSTGRES, area=area, published_table=published(spec.name), table=spec.name,
                load=spec.load, mode=spec.mode, keys=spec.keys, slice_column=spec.slice_column, time_slice=day_slice(day),
            )])


def record_history(cursor: Any, area: str, day: str) -> None:
    """What the validation tasks record of the day (quality_gate.history), published with it."""
    run_steps(cursor, [in_audit_area(area)])
    for spec in TABLES:
        if spec.history:
            history.judge_day(cursor, spec, date.fromisoformat(day), record_in=area, run_id="test")


def publish(cursor: Any, area: str, day: str) -> None:
    """The DAG's publish task for ``area``."""
    cursor.execute(relations_sql(), (area,))
    relations = {name for name, _ in cursor.fetchall()}
    run_steps(cursor, publish_steps(dialect=Dialect.POSTGRES, area=area, specs=TABLES, time_slice=day_slice(day),
                                    in_area_now=relations))
    cursor.execute("SET search_path TO DEFAULT")


def run_day(cursor: Any, day: str, stage: Callable[[Any, str], None],
            staged: Iterable[str] = ("staging_events", "staging_songs")) -> None:
    """``day`` staged by ``stage``, loaded and published, as a run of the DAG would."""
    area = open_and_stage(cursor, day, stage, staged)
    load(cursor, area, day)
    record_history(cursor, area, day)
    publish(cursor, area, day)


def stage_files(cursor: Any, area: str, table: str, paths: Iterable[Path], jsonpaths: Any, timeformat: str) -> None:
    """Copy the JSON files ``paths`` into ``area``'s ``table`` with Redshift's COPY rules (helpers.json_copy)."""
    columns = json_copy.table_columns(cursor, PUBLISHED_SCHEMA, table)
    builder = json_copy.RowBuilder(columns, jsonpaths, json_copy.CopyOptions(timeformat=timeformat))
    staged = 0
    with json_copy.copy_into(cursor, quote_table(f"{area}.{table}"), builder) as copy:
        for path in paths:
            for _, row in json_copy.iter_rows(path.read_bytes().splitlines(), str(path), builder):
                copy.write_row(row)
                staged += 1
    spec = table_spec(table)
    counts = rejects.load_metrics(read=staged, staged=staged, rejected=0, duplicates=0, limit=spec.rejects)
    for sql, params in rejects.record_load_sql(in_area(area, METRICS_TABLE), area_day(area), table, "test", counts):
        cursor.execute(sql, params)  # as the staging task records its counts


def stage_day(data: Path, day: str, catalog: bool, then: str | None = None) -> Callable[[Any, str], None]:
    """A ``stage`` for ``run_day``: ``day``'s events of the bucket-shaped folder ``data`` (and, with
    ``catalog``, the whole song catalog), then the SQL ``then`` on the staged rows."""
    jsonpaths = json_copy.parse_jsonpaths_file((data / "log_json_path.json").read_text(), "log_json_path.json")

    def stage(cursor: Any, area: str) -> None:
        events = data / "log_data" / day[:4] / day[5:7] / f"{day}-events.json"
        stage_files(cursor, area, "staging_events", [events], jsonpaths, "epochmillisecs")
        if catalog:
            stage_files(cursor, area, "staging_songs", sorted((data / "song_data").rglob("*.json")), None, "auto")
            cursor.execute(f'ANALYZE "{area}".staging_songs')
        if then:
            cursor.execute(then)
        cursor.execute(day_statistics(f"{area}.staging_events", "ts"))  # as the staging task does
        cursor.execute(f'ANALYZE "{area}".staging_events')

    return stage


def load_days(connection: Any, data: Path, days: Iterable[str]) -> None:
    """Run and publish ``days`` of the bucket-shaped folder ``data`` in order, the catalog with the first."""
    with connection.cursor() as cursor:
        for number, day in enumerate(days):
            staged = ("staging_events", "staging_songs") if number == 0 else ("staging_events",)
            run_day(cursor, day, stage_day(data, day, catalog=number == 0), staged)
            connection.commit()

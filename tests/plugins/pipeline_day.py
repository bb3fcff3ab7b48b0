"""A day through the DAG's own SQL without Airflow: open its audit area, stage, load, publish.

For tests that need a loaded warehouse (the GX suites, the validation operator): they stage rows
their own way into the area's staging tables, then run exactly the statements the DAG's tasks run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from helpers.audit_area import area_name, in_audit_area, open_steps, publish_steps, published, relations_sql
from helpers.db import Dialect, Statement, Step, TimeSlice
from helpers.loads import build_load_steps
from helpers.tables import TABLES
from quality_gate import history


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

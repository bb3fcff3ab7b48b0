"""One day's run as the DAG runs it, in process and timed by phase, for the benchmarks (bench_history, bench_scaling).

stage the day's events into its audit area, load every table there, record the day's metrics,
validate every suite there (the run's gate), publish: the statements of the DAG's tasks
(local_stack.sql_pipeline) and its GX checkpoints, without Airflow's scheduling around them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

PHASES = ("stage", "load", "record", "gate", "publish")


def run_day(connection: Any, context: Any, data: Path, day: str,
            in_area: Callable[[Any], float] | None = None) -> dict[str, float]:
    """``day`` of the bucket-shaped folder ``data`` (its catalog already published), as a run; the
    seconds of each phase. ``in_area(cursor)``, called after the gate with the audit area first on
    the search path, returns the seconds of its own work there (``"in_area"``)."""
    from local_stack import sql_pipeline
    from quality_gate import gx_context

    seconds: dict[str, float] = {}
    with connection.cursor() as cursor:
        started = time.perf_counter()

        def phase(name: str) -> None:
            nonlocal started
            connection.commit()
            seconds[name], started = time.perf_counter() - started, time.perf_counter()

        area = sql_pipeline.open_and_stage(cursor, day, sql_pipeline.stage_day(data, day, catalog=False), ("staging_events",))
        phase("stage")
        sql_pipeline.load(cursor, area, day)
        phase("load")
        sql_pipeline.record_history(cursor, area, day)
        phase("record")
        for spec in gx_context.validated_tables():
            gx_context.run_checkpoint(context, spec.name, date.fromisoformat(day))
        phase("gate")
        if in_area is not None:
            seconds["in_area"] = in_area(cursor)
            started = time.perf_counter()
        sql_pipeline.publish(cursor, area, day)
        phase("publish")
    return seconds


def fastest_run(runs: int, connection: Any, context: Any, data: Path, day: str,
                in_area: Callable[[Any], float] | None = None) -> dict[str, float]:
    """``run_day`` ``runs`` times; the phases of the fastest run."""
    return min((run_day(connection, context, data, day, in_area) for _ in range(runs)),
               key=lambda phases: sum(phases.values()))


def gx_context_for(uri: str, scratch_dir: Path, audit_area: str | None = None) -> Any:
    """A File Data Context on a copy of the repo's gx/ (its Data Docs in ``scratch_dir``), validating ``uri``
    (with ``audit_area``: its relations first, as a run's gate reads them)."""
    import shutil

    from quality_gate import gx_context

    gx_context.quiet_gx()
    gx_dir = scratch_dir / "gx"
    shutil.copytree(gx_context.GX_DIR, gx_dir, ignore=shutil.ignore_patterns("uncommitted"))
    gx_context.set_warehouse_url(uri.replace("postgresql://", "postgresql+psycopg://"))
    context = gx_context.file_context(gx_dir)
    if audit_area is not None:
        gx_context.read_audit_area_first(context, audit_area)
    return context

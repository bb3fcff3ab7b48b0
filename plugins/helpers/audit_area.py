"""Write–audit–publish: the run's audit area, where everything a run changes waits for the quality gate.

A run never writes the published star schema while it loads. It writes into its **audit area**, a
schema of its own named after the run (``audit_<day>_<hash of the run id>``, so runs of different
days never collide) that readers of the star schema never query:

| what the run changes | in the audit area | publish |
|---|---|---|
| a day-partitioned table (``staging_events``, ``songplays``, ``time``) | ``<area>.<table>``: the run's day | replaces that day |
| a table loaded whole (the song catalog, when it changed; truncate-insert loads) | ``<area>.<table>``: the new table | replaces the table |
| a merged table (upsert loads: ``users``, ``songs``, ``artists``) | ``<area>.<table>__changes``: the rows to insert or replace; the view ``<area>.<table>``: the table as it will read after publish | merges the changes in |

The area's ``staging_rejects`` holds the source records the run's staging set aside
(helpers.rejects); publish replaces the rejects of each table it staged (of the day, or all of them
for a table loaded whole). A table the run leaves as it is (an unchanged catalog) has no relation in the area.

Loads and the quality gate run with ``search_path`` set to the area, then the published schema
(``in_audit_area``). So the load SELECTs of ``helpers.sql_queries`` and the GX suites, unchanged,
read the run's rows where the run has any and the published rows everywhere else: the gate
validates the warehouse as it will be after publishing, restricted to the run's day where tables are
day-partitioned.

``publish_steps`` swaps it all into the published schema in ONE transaction and drops the area, so
readers see the old day or the new one, never a mix and never nothing. A run that fails before
publishing leaves the published tables untouched and its area as it was, for inspection
(``quarantine_note`` says where); the next run of that day drops it when it opens its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from helpers.db import Dialect, Statement, Step, TimeSlice, analyze_when_changed, day_statistics, quote_table
from helpers.loads import LoadMode, publish_table_steps
from helpers.rejects import LOAD_METRICS, REJECTS_TABLE, load_metric
from helpers.tables import Role, TableSpec

PUBLISHED_SCHEMA = "public"
"""The schema readers query: the star schema, the staging tables and ``staging_manifest``."""
MANIFEST_TABLE = "staging_manifest"
"""What whole-table staging loads copied (operators.stage_redshift.Manifest); published with them."""
METRICS_TABLE = "quality_metrics"
"""The day's metrics the gate records (quality_gate.history); published with the run."""
OPEN_TASK_ID = "open_audit_area"
PUBLISH_TASK_ID = "publish"
AUDIT_AREA = "{{ sparkify_audit_area(run_id, ds) }}"
"""The run's audit area, as an Airflow template (the DAG's user_defined_macros are ``MACROS``)."""

_AREA = re.compile(r"audit_(?P<day>\d{8})_[0-9a-f]{8}")


def area_name(run_id: str, day: str) -> str:
    """The audit area of run ``run_id`` loading ``day`` (ISO date): ``audit_20181105_1a2b3c4d``."""
    digest = hashlib.md5(run_id.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"audit_{day.replace('-', '')}_{digest}"


MACROS = {"sparkify_audit_area": area_name}


def area_day(area: str) -> date:
    """The day an audit area's run loads."""
    return datetime.strptime(_AREA.fullmatch(checked_area(area))["day"], "%Y%m%d").date()


def is_area(name: str) -> bool:
    return bool(_AREA.fullmatch(name or ""))


def checked_area(area: str) -> str:
    """``area`` if it is an audit area's name, else ValueError (it is dropped with CASCADE)."""
    if not is_area(area):
        raise ValueError(f"{area!r} is not an audit area name (audit_<yyyymmdd>_<8 hex digits>).")
    return area


def published(table: str) -> str:
    """``table`` of the published schema, quoted."""
    return quote_table(f"{PUBLISHED_SCHEMA}.{table}")


def in_area(area: str, table: str) -> str:
    """``table`` of the audit area, quoted."""
    return quote_table(f"{checked_area(area)}.{table}")


def in_audit_area(area: str) -> Statement:
    """Unqualified names resolve in the area first, then in the published schema (for this session)."""
    return Statement(f"SET search_path TO {quote_table(checked_area(area))}, {quote_table(PUBLISHED_SCHEMA)}")


# --- opening the area --------------------------------------------------------------------------


def open_steps(area: str) -> list[Step]:
    """Drop every audit area of the area's day (earlier runs' quarantine, this run's earlier try), create it
    with its tables of the day's metrics and of the rejects (written by parallel tasks, so made once here)."""
    return [
        _DropAreasOfDay(checked_area(area)),
        Statement(f"CREATE SCHEMA {quote_table(area)}"),
        *(Statement(f"CREATE TABLE {in_area(area, table)} (LIKE {published(table)})")
          for table in (METRICS_TABLE, REJECTS_TABLE)),
    ]


class _DropAreasOfDay:
    """Drops the schemas named like an audit area of the same day (the name is matched in Python:
    LIKE's escape rules differ between Redshift and PostgreSQL)."""

    sql = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'audit%'"

    def __init__(self, area: str) -> None:
        self.day = _AREA.fullmatch(area)["day"]
        self.dropped: list[str] = []

    def __call__(self, cursor: Any) -> None:
        cursor.execute(self.sql)
        for (name,) in cursor.fetchall():
            match = _AREA.fullmatch(name)
            if match and match["day"] == self.day:
                cursor.execute(f"DROP SCHEMA {quote_table(name)} CASCADE")
                self.dropped.append(name)


def relations_sql() -> str:
    """The area's relations (one parameter: its name), as (name, 'BASE TABLE' | 'VIEW')."""
    return "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s"


# --- publishing --------------------------------------------------------------------------------


class MissingInAuditArea(Exception):
    """A relation publish needs is not in the area: its load did not run in this area."""


def publish_steps(
    *, dialect: Dialect, area: str, specs: Sequence[TableSpec], time_slice: TimeSlice, in_area_now: Collection[str]
) -> list[Statement]:
    """The one transaction that publishes ``area`` (holding the relations ``in_area_now``) and drops it.

    Published tables are locked in spec order first, so parallel publishes of different days queue
    up instead of deadlocking (on Redshift readers wait for the transaction too: ``Dialect.lock``).
    """
    steps = [Statement(dialect.lock(f"{PUBLISHED_SCHEMA}.{table}"))
             for table in (*(spec.name for spec in specs), MANIFEST_TABLE, METRICS_TABLE, REJECTS_TABLE)]
    changed = []
    for spec in specs:
        mode = _publish_mode(spec)
        needed = f"{spec.name}__changes" if mode is LoadMode.UPSERT else spec.name
        if needed not in in_area_now:
            if spec.skip_unchanged:
                continue  # its source was unchanged: the area reads the published table
            raise MissingInAuditArea(
                f"Audit area {area} has no {needed}: the load of {spec.name} did not run in it. Clear the run "
                f"from its first task ({OPEN_TASK_ID}) to load it again."
            )
        steps += publish_table_steps(
            area=area, table=spec.name, published_table=published(spec.name), mode=mode, keys=spec.keys,
            slice_column=spec.slice_column, time_slice=time_slice,
            load=spec.load,
        )
        changed.append(spec.name)
    if MANIFEST_TABLE in in_area_now:
        manifest, staged = published(MANIFEST_TABLE), in_area(area, MANIFEST_TABLE)
        steps += [
            Statement(f"DELETE FROM {manifest} WHERE table_name IN (SELECT table_name FROM {staged})"),
            Statement(f"INSERT INTO {manifest} SELECT * FROM {staged}"),
        ]
    staged = [spec for spec in specs if spec.role is Role.STAGING and spec.name in changed]
    if REJECTS_TABLE in in_area_now and staged:
        steps += _publish_rejects(area, staged, time_slice)
    if METRICS_TABLE in in_area_now:
        metrics, recorded = published(METRICS_TABLE), in_area(area, METRICS_TABLE)
        loads = tuple(load_metric(name) for name in LOAD_METRICS)
        # A table loaded whole keeps its last load's counts only, whichever day's run made it.
        steps += [Statement(f"DELETE FROM {metrics} WHERE table_name = %s AND metric IN "
                            f"({', '.join(['%s'] * len(loads))})", (spec.name, *loads))
                  for spec in staged if not spec.slice_column]
        steps += [
            Statement(f"DELETE FROM {metrics} USING {recorded} AS recorded WHERE {metrics}.day = recorded.day "
                      f"AND {metrics}.table_name = recorded.table_name"),
            Statement(f"INSERT INTO {metrics} SELECT * FROM {recorded}"),
        ]
    steps.append(Statement(f"DROP SCHEMA {quote_table(area)} CASCADE"))
    if dialect is Dialect.POSTGRES:  # statistics for the next runs' joins (Redshift analyzes by itself)
        sliced = {spec.name: spec.slice_column for spec in specs if spec.slice_column}
        steps += [Statement(day_statistics(f"{PUBLISHED_SCHEMA}.{table}", sliced[table]))
                  for table in changed if table in sliced]
        steps += [Statement(analyze_when_changed(f"{PUBLISHED_SCHEMA}.{table}")) for table in changed]
    return steps


def _publish_rejects(area: str, staged: Sequence[TableSpec], time_slice: TimeSlice) -> list[Statement]:
    """The rejects of each table the run staged replace those of its day (all of them: a table loaded whole)."""
    table = published(REJECTS_TABLE)
    steps = [
        Statement(f"DELETE FROM {table} WHERE table_name = %s AND day = %s", (spec.name, time_slice.start.date()))
        if spec.slice_column else Statement(f"DELETE FROM {table} WHERE table_name = %s", (spec.name,))
        for spec in staged
    ]
    names = tuple(spec.name for spec in staged)
    steps.append(Statement(f"INSERT INTO {table} SELECT * FROM {in_area(area, REJECTS_TABLE)} "
                           f"WHERE table_name IN ({', '.join(['%s'] * len(names))})", names))
    return steps


def _publish_mode(spec: TableSpec) -> LoadMode:
    if spec.role is Role.STAGING:
        return LoadMode.APPEND if spec.slice_column else LoadMode.TRUNCATE_INSERT
    return spec.mode


# --- telling people where the rows are ---------------------------------------------------------


def quarantine_note(area: str, day: str | None = None) -> str:
    """Where a run that did not publish left its rows, and how to query them (``day``: ISO date or timestamp)."""
    until = f"the next run of {day[:10]}" if day else "the next run of its day"
    return (
        f"Nothing was published: the published tables are as before this run. Its rows are kept in audit area "
        f"{area} until {until}: list them with SELECT table_name FROM information_schema.tables WHERE "
        f"table_schema = '{area}'; read them with e.g. SELECT * FROM {area}.songplays."
    )


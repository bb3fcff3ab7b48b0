"""The warehouse audit: every table validated in full, every day judged against its history, and the
days missing from the day-partitioned tables.

What ``./sparkify gx validate`` runs without ``--date`` and the ``sparkify_audit`` DAG runs weekly:

- a whole table (users, songs, ...): its checkpoint, as in a run;
- a day-partitioned table: its ``__all_days`` checkpoint, every day in one batch (each expectation is
  one query over the table, not one per day; the reconciliations compute the batch's days at once).
  When it fails, its days are validated one by one, so each failing day is named;
- history: each day's metrics, measured in one grouped query on the table as it is now, judged
  against the days before it as the gate judges a run (warnings);
- missing days: between the first and the last day any day-partitioned table holds (and every day
  a source file exists for), each day a table has no row on; a day a run published empty on purpose
  (``publish_empty_day``: its staging load recorded no record read) is reported, not missing.

With ``start``/``end`` only those days are validated, one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from helpers.audit_area import METRICS_TABLE, PUBLISHED_SCHEMA, published
from helpers.db import quote_column, quote_table
from helpers.rejects import load_metric
from helpers.tables import TABLES, Role, TableSpec
from quality_gate import gx_context, history

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext


@dataclass(frozen=True)
class Finding:
    table: str
    day: date | None
    """None: the whole table."""
    text: str
    critical: bool = True

    def __str__(self) -> str:
        where = f"{self.table} {self.day.isoformat()}" if self.day else self.table
        return f"{'FAIL' if self.critical else 'WARN'}  {where}: {self.text}"


@dataclass
class Audit:
    covered: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    missing: dict[str, list[date]] = field(default_factory=dict)
    empty: list[date] = field(default_factory=list)
    """Days published empty on purpose."""
    data_docs: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(finding.critical for finding in self.findings) or any(self.missing.values())

    def lines(self) -> list[str]:
        """The report: what passed, each finding (table, day, expectation), the missing days, what was covered."""
        lines = [*(f"PASS  {text}" for text in self.passed), *map(str, self.findings)]
        for table, days in self.missing.items():
            if days:
                lines.append(f"MISSING  {table}: no rows on {_days(days)}")
        if self.empty:
            lines.append(f"EMPTY  {_days(self.empty)}: published empty on purpose (publish_empty_day)")
        lines.append("Covered: " + "; ".join(self.covered))
        failing = sorted({finding.table for finding in self.findings if finding.critical} |
                         {table for table, days in self.missing.items() if days})
        warned = sum(1 for finding in self.findings if not finding.critical)
        lines.append(f"{len(failing)} table(s) failed the audit: {', '.join(failing)}" if failing else
                     "Every table passed the audit" + (f", with {warned} warning(s)." if warned else "."))
        return lines


def run(context: FileDataContext, specs: Sequence[TableSpec], *, start: date | None = None, end: date | None = None,
        source_days: Iterable[date] = (), span_specs: Sequence[TableSpec] = (),
        progress: Callable[[str], None] = lambda line: None) -> Audit:
    """Audit ``specs`` through ``context`` (its warehouse set), over [start, end] when given (days, inclusive).

    The days of ``span_specs`` (default: ``specs``) and ``source_days`` span the days a day-partitioned
    table must have. ``progress`` is told each validation before it starts (a table, its days, a day).
    """
    audit = Audit()
    connection = gx_context.warehouse_connection(context)
    try:
        cursor = connection.cursor()
        present = {spec.name: days_present(cursor, spec, start, end)
                   for spec in {spec.name: spec for spec in (*specs, *span_specs)}.values() if spec.slice_column}
        audit.empty = days_published_empty(cursor, start, end)
        for spec in specs:
            if spec.slice_column:
                _audit_days(context, cursor, spec, present[spec.name], audit, whole=start is None and end is None,
                            progress=progress)
            else:
                progress(f"Validating {spec.name} (whole table)")
                _record(audit, spec, None, gx_context.run_checkpoint(context, spec.name), context)
                audit.covered.append(f"{spec.name} (whole table)")
    finally:
        connection.close()
    expected = {day for day in source_days if (start is None or day >= start) and (end is None or day <= end)}
    missing = missing_days({table: set(days) | set(audit.empty) for table, days in present.items()}, expected)
    audit.missing = {spec.name: missing[spec.name] for spec in specs if spec.name in missing}
    return audit


def _audit_days(context: FileDataContext, cursor: Any, spec: TableSpec, days: list[date], audit: Audit,
                whole: bool, progress: Callable[[str], None]) -> None:
    audit.covered.append(f"{spec.name} {len(days)} day(s)" + (f" {_days([days[0], days[-1]], span=True)}" if days else ""))
    if not days:
        return
    if whole:
        progress(f"Validating {spec.name}: its {len(days)} day(s) at once")
        result = gx_context.table_checkpoint(gx_context.all_days(spec.name), context).run(
            expectation_parameters=_open_bounds(cursor, spec))
        if not gx_context.has_critical_failure(result):
            _record(audit, spec, None, result, context, label=f"all {len(days)} days")
            days = []  # nothing to name day by day
        else:
            progress(f"{spec.name} failed: validating its {len(days)} day(s) one by one to name each failing day")
    for number, day in enumerate(days, 1):
        progress(f"Validating {spec.name} {day.isoformat()} ({number} of {len(days)})")
        try:
            _record(audit, spec, day, gx_context.run_checkpoint(context, spec.name, day), context)
        except gx_context.EmptyDay as empty:
            audit.findings.append(Finding(spec.name, day, str(empty)))
    if spec.history and whole:
        progress(f"Judging {spec.name}'s days against their history")
        audit.findings += history_warnings(cursor, spec)


def _record(audit: Audit, spec: TableSpec, day: date | None, result: Any, context: FileDataContext,
            label: str | None = None) -> None:
    failures = gx_context.failed_expectations(result)
    site = gx_context.docs_site(context)
    audit.data_docs += [site.location(page) for page in gx_context.docs_pages(context, result)]
    for failure in failures:
        if failure.critical or day is not None:  # whole-table warnings come from history_warnings
            audit.findings.append(Finding(spec.name, day, str(failure), failure.critical))
    if not any(failure.critical for failure in failures):
        evaluated = sum(len(suite_result.results) for suite_result in result.run_results.values())
        where = f"{spec.name} {day.isoformat()}" if day else f"{spec.name} ({label or 'whole table'})"
        audit.passed.append(f"{where}: {evaluated} expectation(s)")


def _open_bounds(cursor: Any, spec: TableSpec) -> dict[str, None]:
    """Every history bound of the table, open: a batch of all days has no single day to judge."""
    if spec.history is None:
        return {}
    cursor.execute(history.COLUMNS_SQL, (PUBLISHED_SCHEMA, spec.name))
    found = history.metrics(spec, [name for (name,) in cursor.fetchall()])
    return {name: None for metric in found if metric.judged for name in metric.parameters}


def _range(start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """[start, end] as [low, high) timestamps; open ends when not given."""
    low = datetime.combine(start or date.min, datetime.min.time())
    high = datetime.combine((end or date.max - timedelta(days=1)) + timedelta(days=1), datetime.min.time())
    return low, high


def days_published_empty(cursor: Any, start: date | None = None, end: date | None = None) -> list[date]:
    """The days a run published empty on purpose: a day-partitioned staging load recorded no record read."""
    staging = [spec.name for spec in TABLES if spec.role is Role.STAGING and spec.slice_column]
    cursor.execute(f"SELECT DISTINCT day FROM {published(METRICS_TABLE)} WHERE metric = %s AND value = 0 "
                   f"AND table_name IN ({', '.join(['%s'] * len(staging))}) AND day >= %s AND day < %s ORDER BY 1",
                   (load_metric("read"), *staging, *_range(start, end)))
    return [row[0] for row in cursor.fetchall()]


def days_present(cursor: Any, spec: TableSpec, start: date | None = None, end: date | None = None) -> list[date]:
    """The days a day-partitioned table has rows on, within [start, end] when given."""
    column = quote_column(spec.slice_column)
    low, high = _range(start, end)
    cursor.execute(f"SELECT DISTINCT CAST({column} AS DATE) FROM {quote_table(spec.name)} "
                   f"WHERE {column} >= %s AND {column} < %s ORDER BY 1", (low, high))
    return [row[0] for row in cursor.fetchall()]


def missing_days(present: Mapping[str, set[date]], expected: Iterable[date] = ()) -> dict[str, list[date]]:
    """Per table, the days between the first and the last day of any table (or in ``expected``) it lacks."""
    every = set(expected).union(*present.values())
    if not every:
        return {table: [] for table in present}
    first, last = min(every), max(every)
    span = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    return {table: sorted(span - days) for table, days in present.items()}


def history_warnings(cursor: Any, spec: TableSpec) -> list[Finding]:
    """Each day of ``spec``'s table against the days before it, measured as the table is now."""
    cursor.execute(history.COLUMNS_SQL, (PUBLISHED_SCHEMA, spec.name))
    found = history.metrics(spec, [name for (name,) in cursor.fetchall()])
    cursor.execute(history.profile_by_day_sql(quote_table(spec.name), spec.slice_column, found))
    measured = {row[0]: history.measured(row[1:], found) for row in cursor.fetchall()}
    findings = []
    for day, today in sorted(measured.items()):
        low, high = history.window(spec, day)
        rows = [(past, item.metric.name, item.value) for past, items in measured.items() if low <= past < high
                for item in items]
        ranges = history.bounds(spec, today, rows)
        for item in today:
            bounds = ranges[item.metric.name]
            if item.metric.judged and bounds.low is not None and item.value is not None and not (
                bounds.low <= item.value <= bounds.high
            ):
                findings.append(Finding(spec.name, day, f"{item.metric.name} is {item.value:.6g}, outside "
                                        f"{bounds.low:.6g} to {bounds.high:.6g} set by {bounds.days} day(s) before "
                                        "(history)", critical=False))
    return findings


def _days(days: Sequence[date], span: bool = False) -> str:
    if span:
        return f"{days[0].isoformat()}..{days[-1].isoformat()}"
    return ", ".join(day.isoformat() for day in days)

"""History: each run's metrics of its day, and the bounds the gate judges the next days by.

For a day-partitioned table with ``history`` in the table spec (helpers.tables.History):

- ``profile_sql`` measures a day: its rows (``row_count``), the share of set values of every column
  (``non_null:<column>``: for songplays.song_id that is the day's match rate), distinct values of
  the columns named ``distinct`` (``distinct:<column>``: distinct users), mean and standard
  deviation of the columns named ``shape`` (``mean:<column>``, ``stddev:<column>``; the standard
  deviation is recorded, not judged: it sizes the mean's bounds, and of a single value there is none);
- a run records its day's metrics in its audit area's ``quality_metrics``; publish moves them to the
  published ``quality_metrics``, so history holds published days only (a failed day never sets the
  norm);
- ``bounds`` turns the trailing window (``window_days`` before the day) of published metrics into a
  range per metric: median ± k × spread, where the spread combines the history's own (1.4826 × the
  median absolute deviation, a robust standard deviation) with the sampling noise of the day's own
  size (a share or a mean over a few hundred rows moves more than over a million). Counts are
  multiplicative: judged on a log scale, where their range is at least a factor of ten either way.
  With fewer than ``min_days`` days of history there is no judgement: both bounds are None (any
  value passes) and the report says so;
- ``expectations`` are the suite entries that judge the others (GX ``..._to_be_between`` expectations,
  severity warning, ``meta.sparkify = "history"``), their bounds given as suite parameters
  (``{"$PARAMETER": "row_count_min"}``), so Data Docs show the bounds that were used. ``./sparkify gx
  build`` writes them into the suites.

Defaults (``History``: 14 days, 7 at least, k = 5; counts a factor of ten) were chosen so that the
real sample's 30 days (15 to 533 events a day) in any load order and generated data never alarm,
while a day of tens of thousands of events that lost most of its matches does.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from helpers.audit_area import METRICS_TABLE, PUBLISHED_SCHEMA, in_area, published
from helpers.db import quote_column, quote_table
from helpers.tables import TableSpec

MARK = {"sparkify": "history"}
COUNT_FACTOR = 10.0
"""Counts are judged on a log scale, and may always move by this factor from their median: days of
real traffic vary by an order of magnitude (the real sample: 15 to 533 events a day)."""
COUNTS = ("row_count", "distinct")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    """row_count, non_null, distinct, mean or stddev."""
    column: str | None = None

    @property
    def judged(self) -> bool:
        """Standard deviations are recorded (they size a mean's bounds), not judged: of one value there is none."""
        return self.kind != "stddev"

    @property
    def parameters(self) -> tuple[str, str]:
        """The names of its bounds' suite parameters (GX reads them as expressions: no spaces or colons)."""
        name = self.name.replace(":", "_")
        return f"{name}_min", f"{name}_max"


def metrics(spec: TableSpec, columns: Sequence[str]) -> list[Metric]:
    """The metrics of ``spec``'s table (its ``columns``, in table order) that history records and judges."""
    history = spec.history
    found = [Metric("row_count", "row_count")]
    found += [Metric(f"non_null:{column}", "non_null", column) for column in columns]
    found += [Metric(f"distinct:{column}", "distinct", column) for column in history.distinct]
    for column in history.shape:
        found += [Metric(f"mean:{column}", "mean", column), Metric(f"stddev:{column}", "stddev", column)]
    return found


def profile_sql(table: str, slice_column: str, measured: Sequence[Metric]) -> str:
    """One SELECT measuring ``measured`` on the day [%s, %s) of ``table``, and the set values per metric's column."""
    slice_ = quote_column(slice_column)
    return f"SELECT {_profile_terms(measured)} FROM {table} WHERE {slice_} >= %s AND {slice_} < %s"


def profile_by_day_sql(table: str, slice_column: str, measured: Sequence[Metric]) -> str:
    """``profile_sql`` for every day of ``table`` at once: one row per day, the day first."""
    day = f"CAST({quote_column(slice_column)} AS DATE)"
    return f"SELECT {day}, {_profile_terms(measured)} FROM {table} GROUP BY {day} ORDER BY 1"


def _profile_terms(measured: Sequence[Metric]) -> str:
    terms = []
    for metric in measured:
        column = quote_column(metric.column) if metric.column else None
        terms += {
            "row_count": ["COUNT(*)", "COUNT(*)"],
            "non_null": [f"CAST(COUNT({column}) AS DOUBLE PRECISION) / NULLIF(COUNT(*), 0)", "COUNT(*)"],
            "distinct": [f"COUNT(DISTINCT {column})", "COUNT(*)"],
            "mean": [f"AVG(CAST({column} AS DOUBLE PRECISION))", f"COUNT({column})"],
            "stddev": [f"STDDEV_SAMP(CAST({column} AS DOUBLE PRECISION))", f"COUNT({column})"],
        }[metric.kind]
    return ", ".join(terms)


@dataclass(frozen=True)
class Measured:
    metric: Metric
    value: float | None
    size: int
    """The rows the value is measured over."""


def measured(row: Sequence, measured_metrics: Sequence[Metric]) -> list[Measured]:
    """The profile's row as one Measured per metric."""
    return [
        Measured(metric, None if row[2 * i] is None else float(row[2 * i]), int(row[2 * i + 1] or 0))
        for i, metric in enumerate(measured_metrics)
    ]


def record_sql(area_table: str) -> str:
    """INSERT of one metric (day, table, metric, value, run_id) into ``area_table``, recorded now."""
    return (f"INSERT INTO {area_table} (day, table_name, metric, value, run_id, recorded_at) "
            "VALUES (%s, %s, %s, %s, %s, CURRENT_TIMESTAMP)")


def history_sql(published_table: str) -> str:
    """The published metrics of one table (parameter 1) over [day 2, day 3), oldest first."""
    return (f"SELECT day, metric, value FROM {published_table} WHERE table_name = %s AND day >= %s AND day < %s "
            "ORDER BY day")


def window(spec: TableSpec, day: date) -> tuple[date, date]:
    return day - timedelta(days=spec.history.window_days), day


@dataclass(frozen=True)
class Bounds:
    low: float | None
    high: float | None
    """None and None: too little history to judge, any value passes."""
    days: int
    """Days of history they come from."""


def bounds(spec: TableSpec, today: Iterable[Measured], history: Iterable[tuple[date, str, float | None]]) -> dict[str, Bounds]:
    """Each metric's range for the day measured as ``today``, from the rows of ``history_sql``."""
    by_metric: dict[str, dict[date, float]] = {}
    for day, name, value in history:
        if value is not None:
            by_metric.setdefault(name, {})[day] = float(value)
    values = {name: list(days.values()) for name, days in by_metric.items()}
    k = spec.history.k
    result = {}
    for item in today:
        past = values.get(item.metric.name, [])
        if len(past) < spec.history.min_days:
            result[item.metric.name] = Bounds(None, None, len(past))
            continue
        if item.metric.kind in COUNTS:  # multiplicative: judged on a log scale, with Poisson noise
            center, spread = _center_and_spread([math.log1p(value) for value in past])
            width = max(k * math.sqrt(spread**2 + 1 / max(math.expm1(center), 1)), math.log(COUNT_FACTOR))
            result[item.metric.name] = Bounds(math.expm1(center - width), math.expm1(center + width), len(past))
            continue
        center, spread = _center_and_spread(past)
        noise = _sampling_noise(item, center, values.get(f"stddev:{item.metric.column}", []))
        width = k * math.sqrt(spread**2 + noise**2)
        low, high = center - width, center + width
        if item.metric.kind == "non_null":
            low, high = max(low, 0.0), min(high, 1.0)
        result[item.metric.name] = Bounds(low, high, len(past))
    return result


def _center_and_spread(values: list[float]) -> tuple[float, float]:
    """The median and 1.4826 × the median absolute deviation: a standard deviation that outliers do not move."""
    center = statistics.median(values)
    return center, 1.4826 * statistics.median(abs(value - center) for value in values)


def _sampling_noise(item: Measured, center: float, stddevs: list[float]) -> float:
    """How much the metric moves by chance alone over the day's ``size`` rows."""
    size = max(item.size, 1)
    if item.metric.kind == "non_null":
        share = min(max(center, 1 / (size + 1)), 1 - 1 / (size + 1))
        return math.sqrt(share * (1 - share) / size)
    if item.metric.kind == "mean" and stddevs:
        return statistics.median(stddevs) / math.sqrt(size)
    return 0.0


def parameters(found: Mapping[str, Bounds], measured_metrics: Iterable[Metric]) -> dict[str, float | None]:
    """The suite parameters of the judged bounds: ``{"row_count_min": low, "row_count_max": high, ...}``."""
    result = {}
    for metric in (metric for metric in measured_metrics if metric.judged):
        low_name, high_name = metric.parameters
        result[low_name], result[high_name] = found[metric.name].low, found[metric.name].high
    return result


def describe(found: Mapping[str, Bounds], spec: TableSpec) -> str:
    """One line for the log and the failure report: how much history judged the day."""
    days = max((bounds.days for bounds in found.values()), default=0)
    if days < spec.history.min_days:
        return (f"History of {spec.name}: {days} day(s) in the {spec.history.window_days} days before, fewer than "
                f"{spec.history.min_days}: no judgement yet (its checks pass with open bounds).")
    return (f"History of {spec.name}: judged against {days} day(s) of the {spec.history.window_days} before "
            f"(median ± {spec.history.k:g} × spread).")


def expectations(spec: TableSpec, columns: Sequence[str]) -> list[dict]:
    """The suite entries judging ``spec``'s metrics by their bounds (severity warning)."""
    entries = []
    for metric in (metric for metric in metrics(spec, columns) if metric.judged):
        low, high = ({"$PARAMETER": name} for name in metric.parameters)
        kind, kwargs, what = {
            "row_count": ("expect_table_row_count_to_be_between", {}, "The day's row count"),
            "non_null": ("expect_column_proportion_of_non_null_values_to_be_between", {"column": metric.column},
                         f"The day's share of set {metric.column} values"),
            "distinct": ("expect_column_unique_value_count_to_be_between", {"column": metric.column},
                         f"The day's count of distinct {metric.column} values"),
            "mean": ("expect_column_mean_to_be_between", {"column": metric.column}, f"The day's mean {metric.column}"),
        }[metric.kind]
        entries.append({
            "type": kind,
            "kwargs": {**kwargs, "min_value": low, "max_value": high},
            "description": f"{what} is within the bounds set by the {spec.history.window_days} days before (history).",
            "meta": dict(MARK),
            "severity": "warning",
        })
    return entries


@dataclass(frozen=True)
class Judgement:
    """A day's metrics, their bounds, and the suite parameters that carry the bounds to GX."""

    parameters: dict[str, float | None]
    summary: str
    today: list[Measured]
    bounds: dict[str, Bounds]


COLUMNS_SQL = ("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
               "ORDER BY ordinal_position")


def judge_day(cursor: Any, spec: TableSpec, day: date, *, record_in: str | None = None, run_id: str = "") -> Judgement:
    """Measure ``day`` of ``spec``'s table as the cursor's search path shows it (in a run: its audit area),
    bound it by the published history before it, and with ``record_in`` (the run's audit area) record
    the day's metrics there for publish."""
    cursor.execute(COLUMNS_SQL, (PUBLISHED_SCHEMA, spec.name))
    found = metrics(spec, [name for (name,) in cursor.fetchall()])
    start = datetime(day.year, day.month, day.day)
    cursor.execute(profile_sql(quote_table(spec.name), spec.slice_column, found), (start, start + timedelta(days=1)))
    today = measured(cursor.fetchone(), found)
    cursor.execute(history_sql(published(METRICS_TABLE)), (spec.name, *window(spec, day)))
    ranges = bounds(spec, today, cursor.fetchall())
    if record_in:
        recorded = in_area(record_in, METRICS_TABLE)
        names = [item.metric.name for item in today]  # the staging load's own metrics stay (helpers.rejects)
        cursor.execute(f"DELETE FROM {recorded} WHERE day = %s AND table_name = %s "
                       f"AND metric IN ({', '.join(['%s'] * len(names))})", (day, spec.name, *names))
        cursor.executemany(record_sql(recorded), [(day, spec.name, item.metric.name, item.value, run_id) for item in today])
    return Judgement(parameters(ranges, found), describe(ranges, spec), today, ranges)

"""History: the metrics a day is measured by, the bounds its history sets, the suite entries judging them."""

from datetime import date, timedelta

import pytest

from helpers.tables import TABLES, History, Role, TableSpec
from quality_gate import history
from quality_gate.history import Measured, Metric

SPEC = TableSpec("plays", Role.FACT, slice_column="start_time",
                 history=History(window_days=14, min_days=7, k=4.0, distinct=("user_id",), shape=("length",)))
DAY = date(2018, 11, 21)
ROWS = Metric("row_count", "row_count")
MATCHED = Metric("non_null:song_id", "non_null", "song_id")
LENGTH = Metric("mean:length", "mean", "length")


def past(metric, values, stddev=None):
    """History rows of ``metric``: one value per day before DAY, the newest last."""
    rows = [(DAY - timedelta(days=len(values) - i), metric, value) for i, value in enumerate(values)]
    if stddev is not None:
        rows += [(day, "stddev:length", stddev) for day, _, _ in rows]
    return rows


def test_a_table_is_measured_by_its_rows_every_columns_share_of_values_its_distinct_and_shape_columns():
    names = [metric.name for metric in history.metrics(SPEC, ["start_time", "user_id", "song_id", "length"])]
    assert names == ["row_count", "non_null:start_time", "non_null:user_id", "non_null:song_id",
                     "non_null:length", "distinct:user_id", "mean:length", "stddev:length"]


def test_one_query_measures_the_day():
    sql = history.profile_sql('"plays"', "start_time", [ROWS, MATCHED, LENGTH])
    assert sql == (
        'SELECT COUNT(*), COUNT(*), CAST(COUNT("song_id") AS DOUBLE PRECISION) / NULLIF(COUNT(*), 0), COUNT(*), '
        'AVG(CAST("length" AS DOUBLE PRECISION)), COUNT("length") FROM "plays" '
        'WHERE "start_time" >= %s AND "start_time" < %s'
    )
    assert history.measured((300, 300, 0.05, 300, 240.5, 290), [ROWS, MATCHED, LENGTH]) == [
        Measured(ROWS, 300.0, 300), Measured(MATCHED, 0.05, 300), Measured(LENGTH, 240.5, 290)]


def test_without_enough_history_nothing_is_judged_and_the_summary_says_so():
    found = history.bounds(SPEC, [Measured(ROWS, 10, 10)], past("row_count", [300] * 6))
    assert found["row_count"] == history.Bounds(None, None, 6)
    assert history.parameters(found, [ROWS]) == {"row_count_min": None, "row_count_max": None}
    assert "6 day(s) in the 14 days before, fewer than 7: no judgement yet" in history.describe(found, SPEC)


def test_bounds_are_the_median_plus_or_minus_k_robust_spreads():
    days = [0.20, 0.30, 0.40, 0.25, 0.35, 0.30, 0.28, 0.32, 0.99]  # one wild day hardly moves a median and its MAD
    found = history.bounds(SPEC, [Measured(MATCHED, 0.3, 10**9)], past("non_null:song_id", days))["non_null:song_id"]
    spread = 1.4826 * 0.05  # the median absolute deviation of the days around their median 0.30
    assert (found.low, found.high, found.days) == pytest.approx((0.30 - 4 * spread, 0.30 + 4 * spread, 9), rel=1e-4)
    assert "judged against 9 day(s) of the 14 before" in history.describe({"non_null:song_id": found}, SPEC)


def test_counts_are_judged_on_a_log_scale_and_may_always_move_tenfold():
    (steady,) = history.bounds(SPEC, [Measured(ROWS, 30_000, 30_000)], past("row_count", [30_000] * 8)).values()
    assert (steady.low, steady.high) == pytest.approx((30_001 / 10 - 1, 30_001 * 10 - 1))
    swinging = past("row_count", [15, 533, 100, 400, 60, 300, 200, 450])  # days of the real sample
    (wide,) = history.bounds(SPEC, [Measured(ROWS, 59, 59)], swinging).values()
    assert wide.low < 15 and wide.high > 5000


def test_a_share_over_few_rows_gets_wider_bounds_than_over_many():
    days = past("non_null:song_id", [0.30] * 8)
    small = history.bounds(SPEC, [Measured(MATCHED, 0.1, 50)], days)["non_null:song_id"]
    large = history.bounds(SPEC, [Measured(MATCHED, 0.1, 500_000)], days)["non_null:song_id"]
    assert small.low < 0.12 < large.low  # a day of a million rows that lost two thirds of its matches alarms
    assert large.low == pytest.approx(0.30 - 4 * (0.3 * 0.7 / 500_000) ** 0.5)
    assert 0 <= small.low and small.high <= 1


def test_a_mean_is_bounded_by_the_spread_of_its_values_over_the_days_size():
    days = past("mean:length", [240.0] * 8, stddev=90.0)
    found = history.bounds(SPEC, [Measured(LENGTH, 250, 900)], days)["mean:length"]
    assert (found.low, found.high) == pytest.approx((240 - 4 * 3, 240 + 4 * 3))  # 90 / sqrt(900) = 3


def test_the_suite_entries_judge_every_metric_but_spreads_as_warnings_with_parameter_bounds():
    entries = history.expectations(SPEC, ["start_time", "song_id", "length"])
    assert [entry["type"] for entry in entries] == [
        "expect_table_row_count_to_be_between",
        *["expect_column_proportion_of_non_null_values_to_be_between"] * 3,
        "expect_column_unique_value_count_to_be_between",
        "expect_column_mean_to_be_between",
    ]
    matched = entries[2]
    assert matched["kwargs"] == {"column": "song_id", "min_value": {"$PARAMETER": "non_null_song_id_min"},
                                 "max_value": {"$PARAMETER": "non_null_song_id_max"}}
    assert {entry["severity"] for entry in entries} == {"warning"}
    assert {entry["meta"]["sparkify"] for entry in entries} == {"history"}


def test_only_day_partitioned_tables_keep_history():
    assert {spec.name for spec in TABLES if spec.history} == {"staging_events", "songplays"}
    assert all(spec.slice_column for spec in TABLES if spec.history)

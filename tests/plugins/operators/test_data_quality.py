"""DataQualityOperator: every failing check reported at once; data failures do not retry; the audit area first."""

import pytest
from airflow.sdk.exceptions import AirflowFailException

from quality_gate.sql_checks import SqlCheck, table_checks
from operators import data_quality
from operators.data_quality import DataQualityOperator

AREA = "audit_20181105_1a2b3c4d"


def test_all_failures_are_reported_together_with_table_check_expected_and_got(fake_warehouse):
    hook = fake_warehouse(data_quality, conn_type="postgres", host="127.0.0.1")
    answers = {"SELECT 1": (0,), "SELECT 2": (5,), "SELECT 3": (7,)}
    hook.conn.fetchone_result = lambda sql: answers[sql]
    checks = [
        SqlCheck("users", "has rows", "SELECT 1", 0, ">"),
        SqlCheck("songs", "no null ids", "SELECT 2", 0),
        SqlCheck("time", "fine", "SELECT 3", 7),
    ]
    with pytest.raises(AirflowFailException) as failure:
        DataQualityOperator(task_id="checks", checks=checks).execute(context={})
    message = str(failure.value)
    assert "2 of 3 data quality check(s) failed" in message
    assert "users: has rows: expected > 0, got 0" in message
    assert "songs: no null ids: expected == 0, got 5" in message
    assert "time" not in message


def test_passing_checks_return_their_results(fake_warehouse):
    hook = fake_warehouse(data_quality)
    hook.conn.fetchone_result = (3,)
    results = DataQualityOperator(task_id="c", checks=[SqlCheck("t", "n", "SELECT 3", 3)]).execute(context={})
    assert results == [{"table": "t", "check": "n", "expected": "== 3", "got": 3, "passed": True}]


def test_in_the_audit_area_the_checks_read_it_first_and_a_failure_says_where_the_rows_are(fake_warehouse):
    hook = fake_warehouse(data_quality)
    hook.conn.fetchone_result = (1,)
    operator = DataQualityOperator(task_id="c", checks=[SqlCheck("t", "n", "SELECT 1", 0)], audit_area=AREA,
                                   slice_start="2018-11-05", slice_end="2018-11-06")
    with pytest.raises(AirflowFailException) as failure:
        operator.execute(context={})
    assert hook.conn.executed[0] == (f'SET search_path TO "{AREA}", "public"', ())
    assert f"Its rows are kept in audit area {AREA} until the next run of 2018-11-05" in str(failure.value)


def test_sliced_checks_get_the_run_slice(fake_warehouse):
    hook = fake_warehouse(data_quality)
    hook.conn.fetchone_result = (0,)
    DataQualityOperator(
        task_id="c", checks=[SqlCheck("t", "n", "SELECT %s, %s", 0, sliced=True)], slice_start="2018-11-05", slice_end="2018-11-06"
    ).execute(context={})
    assert [str(p.date()) for p in hook.conn.executed[0][1]] == ["2018-11-05", "2018-11-06"]


def test_null_result_fails_the_check(fake_warehouse):
    hook = fake_warehouse(data_quality)
    hook.conn.fetchone_result = None
    with pytest.raises(AirflowFailException, match="got None"):
        DataQualityOperator(task_id="c", checks=[SqlCheck("t", "n", "SELECT 1", 0)]).execute(context={})


def test_bad_comparator_and_empty_list_are_refused():
    with pytest.raises(ValueError, match="comparator '~'"):
        SqlCheck("t", "n", "SELECT 1", 0, "~")
    with pytest.raises(ValueError, match="at least one check"):
        DataQualityOperator(task_id="c", checks=[])


def test_table_checks_cover_rows_nulls_and_uniqueness_of_the_key():
    names = [check.name for check in table_checks("users", ("user_id",))]
    assert names == ["has rows", "user_id not null", "(user_id) unique"]


def test_a_run_publishing_an_empty_day_skips_only_the_checks_that_need_rows(fake_warehouse):
    hook = fake_warehouse(data_quality)
    hook.conn.fetchone_result = (0,)
    checks = table_checks("songplays", ("songplay_id",))
    results = DataQualityOperator(task_id="c", checks=checks, allow_empty="True").execute(context={})
    assert [result["check"] for result in results] == ["songplay_id not null", "(songplay_id) unique"]
    with pytest.raises(AirflowFailException, match="songplays: has rows: expected > 0, got 0"):
        DataQualityOperator(task_id="c", checks=checks, allow_empty="False").execute(context={})
    with pytest.raises(ValueError, match="allow_empty must be True or False"):
        DataQualityOperator(task_id="c", checks=checks, allow_empty="{{ params.publish_empty_day }}").execute(context={})

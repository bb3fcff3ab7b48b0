"""History on real PostgreSQL, through the validation operator: generated days published with their
metrics, then a day that lost most of its song matches is reported as a warning, its run going on.

The matches are lost at the source (the day's staged song titles changed), so every layer still
reconciles: only the day's numbers against its history can tell.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import psycopg
import pytest

from helpers.audit_area import area_name
from operators.gx_validate import WARNINGS_XCOM, GXValidateTableOperator
from quality_gate import gx_context
from local_stack import sql_pipeline

FIRST_DAY = date(2018, 11, 1)
HISTORY_DAYS = 8
JUDGED = FIRST_DAY + timedelta(days=HISTORY_DAYS)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Nine days of about 6,000 events each, 20 % of the plays matching the catalog."""
    from datagen import generate

    out = tmp_path_factory.mktemp("generated") / "data"
    generate(out, events=54_000, songs=800, start=FIRST_DAY.isoformat(), days=HISTORY_DAYS + 1, seed=11,
             match_ratio=0.2, progress=False)
    return out


@pytest.fixture
def history_published(warehouse, generated) -> str:
    """HISTORY_DAYS generated days published with their metrics, and the judged day loaded into its area,
    where four of five plays no longer match the catalog."""
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        sql_pipeline.load_days(conn, generated, [(FIRST_DAY + timedelta(days=n)).isoformat() for n in range(HISTORY_DAYS)])
        area = sql_pipeline.open_and_stage(cursor, JUDGED.isoformat(), sql_pipeline.stage_day(
            generated, JUDGED.isoformat(), catalog=False,
            then="UPDATE staging_events SET song = song || ' (live)' WHERE MOD(sessionid, 5) <> 0"), ("staging_events",))
        sql_pipeline.load(cursor, area, JUDGED.isoformat())
    return area


class FakeTaskInstance:
    def __init__(self) -> None:
        self.xcom: dict = {}

    def xcom_push(self, key, value) -> None:
        self.xcom[key] = value


def validate(table: str, area: str, gx_dir: Path) -> FakeTaskInstance:
    ti = FakeTaskInstance()
    GXValidateTableOperator(
        task_id=f"validate_{table}", table=table, run_day=JUDGED.isoformat(), audit_area=area, context_type="file",
        configure_file_data_context=partial(gx_context.file_context, gx_dir),
        configure_checkpoint=partial(gx_context.table_checkpoint, table),
    ).execute(context={"ti": ti, "params": {}, "run_id": "scheduled__test"})
    return ti


@pytest.fixture
def gx_dir(tmp_path) -> Path:
    target = tmp_path / "gx"
    shutil.copytree(gx_context.GX_DIR, target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


def test_a_day_that_lost_most_of_its_matches_is_a_warning_against_its_history(
    warehouse, history_published, gx_dir, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", warehouse)
    area = history_published
    ti = validate("songplays", area, gx_dir)  # passes: warnings do not fail the run
    report = ti.xcom[WARNINGS_XCOM]
    assert report.startswith("Table songplays: suite 'songplays' passed its ")
    assert ", with 2 warning(s):\nWarnings (reported; they do not fail the run):" in report
    for column in ("song_id", "artist_id"):  # a fifth of the usual share, against bounds near it
        assert re.search(rf"expect_column_proportion_of_non_null_values_to_be_between \(column {column}\): "
                         r"observed 0\.0\d+, expected 0\.1\d+ to 0\.2\d+", report), report
    assert f"History of songplays: judged against {HISTORY_DAYS} day(s) of the 14 before" in report
    assert "expect_table_row_count_to_be_between" not in report  # the day's volume is as usual

    with psycopg.connect(warehouse) as conn:
        recorded = dict(conn.execute(f"SELECT metric, value FROM {area}.quality_metrics WHERE table_name = 'songplays'"))
        published_days = conn.execute("SELECT COUNT(DISTINCT day) FROM quality_metrics WHERE table_name = 'songplays'")
        assert published_days.fetchone() == (HISTORY_DAYS,)
    assert recorded["non_null:song_id"] < 0.1 and recorded["row_count"] > 1000
    # Data Docs' home: the day passed, with warnings.
    context = gx_context.file_context(gx_dir)
    (songplays,) = [row for row in gx_context.latest_validations(context) if row.table == "songplays"]
    assert (songplays.success, songplays.warnings, songplays.run_name) == (True, True, area)
    (day,) = gx_context.daily_statuses(context)["songplays"]
    assert (day.day, day.success, day.warnings) == (JUDGED, True, True)
    assert gx_context.docs_site(context).read(day.page)


def test_the_staged_events_the_matches_came_from_pass(warehouse, history_published, gx_dir, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", warehouse)
    assert WARNINGS_XCOM not in validate("staging_events", history_published, gx_dir).xcom


def test_without_history_the_first_day_passes_and_says_so(warehouse, generated, gx_dir, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", warehouse)
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        area = sql_pipeline.open_and_stage(cursor, JUDGED.isoformat(),
                                           sql_pipeline.stage_day(generated, JUDGED.isoformat(), catalog=True),
                                           ("staging_events", "staging_songs"))
        sql_pipeline.load(cursor, area, JUDGED.isoformat())
    assert area == area_name("test", JUDGED.isoformat())
    ti = validate("songplays", area, gx_dir)
    assert WARNINGS_XCOM not in ti.xcom
    assert "History of songplays: 0 day(s) in the 14 days before, fewer than 7: no judgement yet" in capsys.readouterr().out

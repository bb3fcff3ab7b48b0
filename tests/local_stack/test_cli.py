"""./sparkify: argument handling, and `demo` through the real scheduler on a private stack."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack import cli, timeouts

REPO = Path(__file__).resolve().parents[2]


def test_every_command_has_help(capsys):
    for command in ("demo", "rerun", "up", "down", "status", "env"):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0
        assert "usage: sparkify " + command in capsys.readouterr().out


def test_pass_through_commands_hand_over_their_arguments(monkeypatch):
    seen = {}
    monkeypatch.setitem(cli.PASS_THROUGH, "generate", lambda arguments: seen.setdefault("args", arguments) and 0)
    assert cli.main(["generate", "--help", "--out", "x"]) == 0
    assert seen["args"] == ["--help", "--out", "x"]


def test_bad_dates_and_bad_data_folders_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--start", "2018-13-01"])
    assert "'2018-13-01' is not a date like 2018-11-01" in capsys.readouterr().err
    assert cli.main(["demo", "--data", str(tmp_path)]) == 2
    assert "is not laid out like the Sparkify bucket" in capsys.readouterr().err


def test_day_range_is_inclusive():
    assert cli._day_range("2018-11-30", "2018-12-02") == ["2018-11-30", "2018-12-01", "2018-12-02"]


def test_a_note_the_api_refuses_is_logged_and_the_backfill_goes_on(monkeypatch, caplog):
    api = object.__new__(cli.AirflowApi)
    sent = []

    def request(method, path, body=None):
        sent.append((method, path, body))
        if "refused" in path:
            raise cli.StackError("Airflow API PATCH ...: HTTP 403: Forbidden")
        return {**body, "dag_run_id": "patched"}

    monkeypatch.setattr(api, "_request", request)
    runs = {"2018-11-05": {"dag_run_id": "refused__2018-11-06", "note": None},
            "2018-11-06": {"dag_run_id": "backfill__2018-11-07T00:00:00+00:00", "note": "checked"},
            "2018-11-07": {"dag_run_id": "noted", "note": "Loads 2018-11-07 (UTC)"}}
    with caplog.at_level(logging.WARNING, logger="sparkify"):
        api.note_days("sparkify_etl", runs)
    assert sent == [
        ("PATCH", "/api/v2/dags/sparkify_etl/dagRuns/refused__2018-11-06?update_mask=note",
         {"note": "Loads 2018-11-05 (UTC)"}),
        ("PATCH", "/api/v2/dags/sparkify_etl/dagRuns/backfill__2018-11-07T00%3A00%3A00%2B00%3A00?update_mask=note",
         {"note": "Loads 2018-11-06 (UTC)\n\nchecked"}),
    ]
    assert runs["2018-11-06"]["note"] == "Loads 2018-11-06 (UTC)\n\nchecked" and runs["2018-11-05"]["note"] is None
    assert "The note of run refused__2018-11-06 (2018-11-05) was not set: Airflow API PATCH ...: HTTP 403" in caplog.text


@pytest.fixture(scope="module")
def demo_env(private_stack):
    """A private stack for the demo runs of this module; stopped at the end."""
    with private_stack("demo") as env:
        yield env


def demo(env, *arguments):
    return subprocess.run(
        [sys.executable, "-m", "local_stack.cli", "demo", *arguments], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=timeouts.STACK_UP,
    )


def stack_api(env) -> cli.AirflowApi:
    """A REST client for the stack env runs, as its admin."""
    status = json.loads(subprocess.run([sys.executable, "-m", "local_stack.cli", "status", "--json"], cwd=REPO, env=env,
                                       capture_output=True, text=True, timeout=timeouts.STACK_STATUS).stdout)["airflow"]
    return cli.AirflowApi(status["url"], status["user"], status["password"])


def runs_by_day(env) -> dict[str, dict]:
    """Every sparkify_etl run of the stack, by the day it loads (its logical date)."""
    runs = stack_api(env)._request("GET", "/api/v2/dags/sparkify_etl/dagRuns?limit=1000")["dag_runs"]
    return {run["logical_date"][:10]: run for run in runs}


def counts(output: str) -> dict[str, int]:
    return {table: int(n.replace(",", "")) for table, n in re.findall(r"^  (\w+)\s+([\d,]+)$", output, re.MULTILINE)}


def test_demo_backfills_generated_days_and_a_second_demo_changes_no_count(demo_env):
    first = demo(demo_env, "--days", "2", "--events", "600", "--songs", "150")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 of 2 day(s) succeeded." in first.stdout
    assert re.search(r"Airflow UI: http://127\.0\.0\.1:\d+/dags/sparkify_etl  \(login admin / \S+\)", first.stdout)
    assert "Quality gate: every suite passed on 2 day(s) (16 validations)." in first.stdout
    assert re.search(r"Data Docs:  http://127\.0\.0\.1:\d+/data-docs/  \(in the UI: Browse → Data Docs", first.stdout)
    rows = counts(first.stdout)
    assert rows["staging_events"] == 600 and rows["staging_songs"] == 150 and rows["songplays"] > 0
    # Each run's note names the day it loads; its id is named after the day's end.
    assert 'each run\'s note names the day it loads ("Loads 2018-11-01 (UTC)"); its id is named after the day\'s end' \
        in first.stdout
    runs = runs_by_day(demo_env)
    assert {day: run["note"] for day, run in runs.items()} == {
        "2018-11-01": "Loads 2018-11-01 (UTC)", "2018-11-02": "Loads 2018-11-02 (UTC)"}
    assert runs["2018-11-01"]["dag_run_id"].startswith("backfill__2018-11-02T00:00:00")
    again = demo(demo_env, "--days", "2", "--events", "600", "--songs", "150")
    assert again.returncode == 0, again.stdout + again.stderr
    assert counts(again.stdout) == rows
    # The same runs ran again: their notes are as they were, the day named once.
    assert {day: (run["dag_run_id"], run["note"]) for day, run in runs_by_day(demo_env).items()} == {
        day: (run["dag_run_id"], run["note"]) for day, run in runs.items()}


def test_demo_exits_1_and_names_the_day_that_failed(demo_env, tmp_path):
    from datagen import generate

    data = tmp_path / "data"
    generate(data, events=300, songs=100, start="2018-11-20", days=2, progress=False)
    bad_day = data / "log_data/2018/11/2018-11-21-events.json"
    bad_day.write_bytes(b"\n".join(line[:20] for line in bad_day.read_bytes().split(b"\n")))  # every line cut off
    result = demo(demo_env, "--data", str(data))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 of 2 day(s) succeeded; not succeeded: 2018-11-21" in result.stdout
    # The failed day's run, by the day it loads: its page in the UI, its note.
    assert re.search(r"^            2018-11-21 \(failed\): http://127\.0\.0\.1:\d+/dags/sparkify_etl/runs/"
                     r"backfill__2018-11-22T00%3A00%3A00%2B00%3A00$", result.stdout, re.MULTILINE), result.stdout
    assert runs_by_day(demo_env)["2018-11-21"]["note"] == "Loads 2018-11-21 (UTC)"


def test_demo_corrupt_day_fails_the_gate_and_its_alert_arrives_through_the_dag_processor(demo_env):
    result = demo(demo_env, "--days", "2", "--events", "600", "--songs", "150", "--corrupt-day", "2018-11-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 2 day(s) succeeded; not succeeded: 2018-11-02" in result.stdout
    assert "Alerts:     1 received" in result.stdout
    assert "Quality gate on 2018-11-02: failed: validate_staging_events" in result.stdout
    # The day was published by the demo before: a corrupt re-delivery publishes nothing and changes none of its rows.
    assert re.search(r"Published rows of 2018-11-02: unchanged \(staging_events [1-9]\d*, songplays [1-9]\d*, "
                     r"time [1-9]\d*\)", result.stdout), result.stdout
    assert re.search(r"Its rows are kept in audit area audit_20181102_[0-9a-f]{8}: psql ", result.stdout)
    shown = subprocess.run([sys.executable, "-m", "local_stack.cli", "alerts", "--show", "1"], cwd=REPO, env=demo_env,
                           capture_output=True, text=True, timeout=timeouts.STACK_STATUS)
    assert "Subject: [sparkify] sparkify_etl FAILED for 2018-11-02: validate.validate_staging_events" in shown.stdout
    assert "staging_events: expect_column_values_to_be_in_set (column method):" in shown.stdout and "'POST'" in shown.stdout


def test_rerun_runs_again_a_day_that_already_ran_with_the_runs_params(demo_env):
    # A user's note on the run: the rerun names the day ahead of it and keeps it.
    run_id = runs_by_day(demo_env)["2018-11-01"]["dag_run_id"]
    stack_api(demo_env)._request("PATCH", f"/api/v2/dags/sparkify_etl/dagRuns/{cli.urllib.parse.quote(run_id, safe='')}",
                                 {"note": "checked by ops"})
    result = subprocess.run([sys.executable, "-m", "local_stack.cli", "rerun", "2018-11-01", "--max-rejects", "5"],
                            cwd=REPO, env=demo_env, capture_output=True, text=True, timeout=timeouts.STACK_UP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Running sparkify_etl again for 2018-11-01 to 2018-11-01 through the scheduler with {"max_rejects": 5}' \
        in result.stdout
    assert re.search(r"^  2018-11-01  success ", result.stdout, re.MULTILINE) and "1 of 1 day(s) succeeded." in result.stdout
    run = runs_by_day(demo_env)["2018-11-01"]
    assert (run["dag_run_id"], run["note"]) == (run_id, "Loads 2018-11-01 (UTC)\n\nchecked by ops")

"""The Airflow 3.3 UI of the local stack, driven end to end in headless Chromium (Playwright, sync API).

User journeys, in this order on one private stack (the last test looks at the runs the two before it
started):

1. sign in as admin, find `sparkify_etl`, see its task groups in the Graph view;
2. Trigger → Single Run for logical date 2018-11-03, and watch the run reach Success;
3. Trigger → Backfill over 2018-11-04..2018-11-06, and watch its three runs reach Success;
4. the DAG's overview and Runs tab show those last runs, all successful.

Each step leaves a screenshot in the artifacts folder (see conftest.py). Outcomes are read from the
UI, then cross-checked through the REST API and in the warehouse.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from local_stack import timeouts
from tests.ui.ui_helpers import DAG_ID, badge_text, logical_day_in_header, open_trigger_dialog, set_datetime

TRIGGERED_DAY = "2018-11-03"
BACKFILL_DAYS = ["2018-11-04", "2018-11-05", "2018-11-06"]
TASK_GROUPS = {
    "stage": ["stage_events", "stage_songs"],
    "load": ["load_songplays_fact", "load_users_dim", "load_songs_dim", "load_artists_dim", "load_time_dim"],
    "validate": ["validate_staging_events", "validate_staging_songs", "validate_songplays", "validate_users",
                 "validate_songs", "validate_artists", "validate_time", "run_quality_checks"],
}
TOP_LEVEL_TASKS = ("open_audit_area", "publish")
# A run takes ~40 s on 2 cores (the seven GX validations dominate); leave room for a busy machine.
RUN_TIMEOUT_MS = int(timeouts.UI_DAG_RUN * 1000)
BACKFILL_TIMEOUT_MS = int(timeouts.UI_BACKFILL * 1000)
FINISHED = re.compile(r"^(Success|Failed)$")


# --- 1. sign in, the DAG, its task groups --------------------------------------------------------


def test_admin_signs_in_and_the_dags_list_shows_sparkify_etl(anonymous_page, ui_stack, shot):
    page = anonymous_page
    page.goto(ui_stack.url)
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.get_by_text("Sign into Airflow")).to_be_visible()
    page.get_by_label("Username").fill(ui_stack.user)
    page.get_by_label("Password").fill(ui_stack.password)
    shot(page, "01-login")

    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/auth/login"))
    page.get_by_test_id("nav-dags-link").click()
    expect(page).to_have_url(re.compile(r"/dags$"))
    card = page.get_by_test_id("dag-card").filter(has=page.get_by_role("link", name=DAG_ID, exact=True))
    expect(card).to_be_visible()
    expect(card.get_by_test_id("schedule")).to_contain_text("0 0 * * *")
    expect(card.get_by_role("checkbox")).to_be_checked()  # the pause toggle: active
    shot(page, "02-dags-list")


def test_graph_view_shows_the_stage_load_and_validate_task_groups_between_open_and_publish(page, ui_stack, shot):
    page.get_by_test_id("nav-dags-link").click()
    page.get_by_role("link", name=DAG_ID, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG_ID}$"))
    page.get_by_role("button", name="Show Graph (Press g)").click()

    for group, tasks in TASK_GROUPS.items():
        node = page.get_by_test_id(f"rf__node-{group}")
        expect(node).to_be_visible()
        expect(node).to_contain_text("Task Group")
        expect(node).to_contain_text(f"+ {len(tasks)} Tasks")
    for task in TOP_LEVEL_TASKS:
        expect(page.get_by_test_id(f"rf__node-{task}")).to_be_visible()

    # Room for the graph and every group open: each group shows its tasks.
    page.get_by_role("button", name="Collapse Details Panel").click()
    page.get_by_role("button", name="Expand all task groups").click()
    for group, tasks in TASK_GROUPS.items():
        expect(page.get_by_test_id(f"rf__node-{group}")).to_contain_text(f"- {len(tasks)} Tasks")
        for task in tasks:
            expect(page.get_by_test_id(f"rf__node-{group}.{task}")).to_be_visible()
    page.wait_for_timeout(1_000)  # the graph's fit-view animation after the layout change
    shot(page, "03-dag-graph")


# --- 2. one run for a chosen logical date ----------------------------------------------------------


def test_trigger_dialog_runs_logical_date_2018_11_03_to_success(page, ui_stack, shot):
    dialog = open_trigger_dialog(page, ui_stack)
    expect(dialog.get_by_role("heading", name=re.compile(rf"Trigger Dag\s*-\s*{DAG_ID}"))).to_be_visible()
    expect(dialog.get_by_role("radio", name=re.compile(r"^Single Run"))).to_be_checked()
    set_datetime(page, dialog, "Logical Date", f"{TRIGGERED_DAY}T00:00")
    expect(dialog.get_by_role("radio", name="Inferred from Logical Date and Timetable")).to_be_checked()
    shot(page, "04-trigger-dialog")

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(f"/api/v2/dags/{DAG_ID}/dagRuns")) as sent:
        dialog.get_by_role("button", name="Trigger", exact=True).click()
    assert json.loads(sent.value.post_data)["logical_date"].startswith(f"{TRIGGERED_DAY}T00:00:00")
    expect(page.get_by_text("Dag Run Triggered").first).to_be_visible()  # the toast (rendered in two regions)

    # The UI opens the new run's page, which refreshes itself until the run finishes.
    expect(page).to_have_url(re.compile(rf"/dags/{DAG_ID}/runs/manual__"))
    run_id = page.url.rsplit("/runs/", 1)[1]
    assert logical_day_in_header(page) == TRIGGERED_DAY
    state = page.get_by_test_id("header-card").get_by_test_id("state-badge")
    expect(state).to_have_text(FINISHED, timeout=RUN_TIMEOUT_MS)
    if badge_text(state) != "Success":
        pytest.fail(f"the triggered run shows {badge_text(state)!r} in the UI:\n{ui_stack.describe_run(run_id)}")
    task_states = page.get_by_role("table").get_by_test_id("state-badge")
    task_count = len(TOP_LEVEL_TASKS) + sum(len(tasks) for tasks in TASK_GROUPS.values())
    expect(task_states).to_have_count(task_count)  # every task of the DAG, listed
    expect(task_states).to_have_text(["Success"] * task_count)
    shot(page, "05-triggered-run-success")

    run = ui_stack.dag_run(run_id)
    assert (run["state"], run["run_type"], run["logical_date"][:10]) == ("success", "manual", TRIGGERED_DAY)
    assert ui_stack.staged_events(TRIGGERED_DAY) == ui_stack.events_in_file(TRIGGERED_DAY)


# --- 3. a backfill over three days -------------------------------------------------------------------


def test_backfill_dialog_runs_three_days_and_all_three_runs_succeed(page, ui_stack, shot):
    first, last = BACKFILL_DAYS[0], BACKFILL_DAYS[-1]
    dialog = open_trigger_dialog(page, ui_stack)
    dialog.get_by_text("Run this Dag for a range of dates").click()
    expect(dialog.get_by_role("radio", name=re.compile(r"^Backfill"))).to_be_checked()
    expect(dialog.get_by_role("heading", name=re.compile(rf"Run Backfill\s*-\s*{DAG_ID}"))).to_be_visible()
    set_datetime(page, dialog, "From", f"{first}T00:00")
    set_datetime(page, dialog, "To", f"{last}T00:00")
    expect(dialog.get_by_role("radio", name="Missing Runs")).to_be_checked()
    dialog.locator('input[name="max_active_runs"]').fill("3")  # the three days at once (the run params are spinbuttons too)
    expect(dialog.get_by_role("spinbutton", name="Rejects tolerated (count)")).to_be_visible()  # the DAG's params, per run
    # The dialog's dry run counts the runs of the range: From and To are logical dates, both included.
    expect(dialog.get_by_text("3 runs will be triggered.")).to_be_visible()
    shot(page, "06-backfill-dialog")

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/v2/backfills")) as sent:
        dialog.get_by_role("button", name="Run Backfill").click()
    body = json.loads(sent.value.post_data)
    assert (body["from_date"][:10], body["to_date"][:10], int(body["max_active_runs"])) == (first, last, 3)
    expect(page.get_by_text("Backfill in progress")).to_be_visible()

    # The Runs tab lists the backfill's runs and refreshes itself while they run.
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/dags/{DAG_ID}/runs$"))
    backfill_rows = page.get_by_role("row").filter(has=page.get_by_role("cell", name="Backfill", exact=True))
    expect(backfill_rows).to_have_count(3, timeout=int(timeouts.UI_BACKFILL_LISTED * 1000))
    run_ids = [row.get_by_role("link").first.inner_text().strip() for row in backfill_rows.all()]
    states = backfill_rows.get_by_test_id("state-badge")
    expect(states).to_have_text([FINISHED] * 3, timeout=BACKFILL_TIMEOUT_MS)
    if [badge_text(badge) for badge in states.all()] != ["Success"] * 3:
        pytest.fail("not every backfill run shows Success in the UI:\n" + "\n".join(map(ui_stack.describe_run, run_ids)))
    shot(page, "07-backfill-runs-success")

    # Each run's own page: one run per day of the range, each a success.
    days = []
    for run_id in run_ids:
        page.get_by_role("link", name=run_id, exact=True).click()
        header = page.get_by_test_id("header-card").filter(has_text=run_id)
        expect(header.get_by_test_id("state-badge")).to_have_text("Success")
        days.append(logical_day_in_header(page))
        page.go_back()
        expect(backfill_rows).to_have_count(3)
    assert sorted(days) == BACKFILL_DAYS

    # The backfill itself completes: its banner goes, the Backfills tab shows it finished.
    expect(page.get_by_text("Backfill in progress")).to_be_hidden(timeout=int(timeouts.UI_BACKFILL_DONE * 1000))
    page.get_by_role("link", name="Backfills", exact=True).click()
    row = page.get_by_role("row").filter(has_text=f"{first} 00:00:00").filter(has_text=f"{last} 00:00:00")
    expect(row).to_have_count(1)
    cells = row.get_by_role("cell")
    expect(cells.nth(2)).to_have_text("Missing Runs")
    expect(cells.nth(4)).to_have_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"))  # Completed at
    shot(page, "08-backfill-completed")

    runs = ui_stack.dag_runs(run_type="backfill", logical_date_gte=f"{first}T00:00:00Z",
                             logical_date_lte=f"{last}T00:00:00Z")
    assert sorted((r["logical_date"][:10], r["state"]) for r in runs) == [(d, "success") for d in BACKFILL_DAYS]
    for day in BACKFILL_DAYS:
        assert ui_stack.staged_events(day) == ui_stack.events_in_file(day), day


# --- 4. the last runs ------------------------------------------------------------------------------


def test_dag_overview_and_runs_tab_show_the_last_runs_all_successful(page, ui_stack, shot):
    runs = ui_stack.dag_runs()
    assert runs, "no runs yet: this test shows the runs the trigger and backfill tests above started; run the module"
    page.goto(f"{ui_stack.url}/dags/{DAG_ID}")
    expect(page.get_by_role("heading", name=f"Last {len(runs)} Dag Runs")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^0 Failed Runs"))).to_be_visible()
    # The grid beside the overview has one column, a link, per run.
    for run in runs:
        expect(page.locator(f'a[href$="/runs/{run["dag_run_id"]}/"]')).to_have_count(1)
    shot(page, "09-dag-overview-last-runs")

    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("table").get_by_test_id("state-badge")).to_have_count(len(runs))
    for run in runs:
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=run["dag_run_id"], exact=True))
        expect(row.get_by_test_id("state-badge")).to_have_text("Success")
    shot(page, "10-runs-tab")
    assert sorted(r["run_type"] for r in runs) == ["backfill"] * 3 + ["manual"]

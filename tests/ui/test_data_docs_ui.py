"""Data Docs from the Airflow UI: Browse → Data Docs shows each table's latest validation, and a day
with corrupted events fails at the gate, whose failed task links to its failed validation's page.

The corrupted day is backfilled through the REST API (triggering from the UI is proven in
test_airflow_ui.py); everything looked at is looked at in the browser.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from playwright.sync_api import Page, expect

from quality_gate import gx_context
from local_stack import cli, timeouts
from local_stack.airflow import gx_stores
from local_stack.s3 import client
from tests.ui.ui_helpers import DAG_ID, UiStack

CORRUPT_DAY = "2018-11-02"
GOOD_DAY = "2018-11-01"
FAILED_TASK = "validate.validate_staging_events"
RUN_TIMEOUT_MS = int(timeouts.UI_DAG_RUN * 1000)


@pytest.fixture(scope="module")
def published_day(ui_stack: UiStack) -> str:
    """A good day run and published, so history has a day to chart."""
    run = ui_stack.api().backfill(DAG_ID, GOOD_DAY, GOOD_DAY, max_active_runs=1)[GOOD_DAY]
    assert run["state"] == "success", ui_stack.describe_run(run["dag_run_id"])
    return run["dag_run_id"]


@pytest.fixture(scope="module")
def corrupted_run(ui_stack: UiStack, server_tmp_factory, published_day) -> str:
    """The run of CORRUPT_DAY with every 5th event's method 'POST' (the events suite allows GET and PUT)."""
    cli.load_corrupt_day(ui_stack.data, CORRUPT_DAY, server_tmp_factory("corrupt"), ui_stack.s3)
    runs = ui_stack.api().backfill(DAG_ID, CORRUPT_DAY, CORRUPT_DAY, max_active_runs=1)
    run = runs[CORRUPT_DAY]
    assert run["state"] == "failed", ui_stack.describe_run(run["dag_run_id"])
    return run["dag_run_id"]


def test_a_failed_validation_task_links_to_its_failed_validation_in_data_docs(
    page: Page, ui_stack: UiStack, corrupted_run: str, shot: Callable[[Page, str], Path]
):
    page.goto(f"{ui_stack.url}/dags/{DAG_ID}/runs/{quote(corrupted_run, safe='')}/tasks/{FAILED_TASK}")
    expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
    # The gate's message names the table, the expectation and the observed values, and where the rows are kept.
    expect(page.get_by_text(re.compile(r"expect_column_values_to_be_in_set \(column method\)")).first).to_be_visible()
    area = f"audit_{CORRUPT_DAY.replace('-', '')}_"
    expect(page.get_by_text(re.compile(rf"Its rows are kept in audit area {area}[0-9a-f]{{8}}")).first).to_be_visible()
    page.get_by_role("link", name="Details", exact=True).click()
    link = page.get_by_role("link", name="Data Docs", exact=True)
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    day = CORRUPT_DAY.split("-")
    assert href.startswith(f"{ui_stack.url}/data-docs/validations/staging_events/{area}")  # run name: the audit area
    assert href.endswith(f"/warehouse-staging_events-year_{day[0]}-month_{int(day[1])}-day_{int(day[2])}.html")
    shot(page, "11-failed-task-data-docs-link")

    link.click()
    expect(page).to_have_url(href)
    expect(page.get_by_text(re.compile(r"Status:\s*Failed")).first).to_be_visible()
    expect(page.get_by_text("Sampled Unexpected Values").first).to_be_visible()
    expect(page.get_by_text("POST", exact=True).first).to_be_visible()
    shot(page, "12-failed-validation-page")


def test_browse_data_docs_shows_each_tables_latest_validation(
    page: Page, ui_stack: UiStack, corrupted_run: str, shot: Callable[[Page, str], Path]
):
    page.goto(ui_stack.url)
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Data Docs").click()
    expect(page).to_have_url(f"{ui_stack.url}/plugin/data-docs")
    docs = page.frame_locator("iframe")
    expect(docs.get_by_role("heading", name="Data Docs: each table's latest validation")).to_be_visible()
    for spec in gx_context.validated_tables():
        row = docs.get_by_role("row").filter(has=docs.get_by_role("cell", name=spec.name, exact=True).first)
        expect(row.first).to_contain_text("Failed" if spec.name == "staging_events" else "Passed")

    # The last 30 days: a square per validated day, and the history's volume and match rate, drawn offline.
    expect(docs.get_by_role("heading", name="The last 30 days")).to_be_visible()
    songplays_days = docs.get_by_role("row").filter(has=docs.get_by_role("cell", name="songplays", exact=True)).last
    expect(songplays_days.locator("svg.strip rect")).not_to_have_count(0)
    expect(songplays_days.locator("svg.spark")).to_have_count(2)  # rows and match rate
    shot(page, "13-data-docs-latest-validations")

    failed = docs.get_by_role("row").filter(has_text="Failed").get_by_role("link").first
    failed.click()
    expect(docs.get_by_text(re.compile(r"Status:\s*Failed")).first).to_be_visible()
    expect(docs.get_by_text("POST", exact=True).first).to_be_visible()

    # The site shown is the one in the stack's S3, where the workers wrote it (SPARKIFY_GX_STORES).
    bucket, prefix = gx_context.stores_location(gx_stores(ui_stack.s3["bucket"]))
    s3 = client(ui_stack.s3["endpoint_url"])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/data_docs/validations/staging_events/")
    assert any(item["Key"].endswith(".html") for item in listed.get("Contents", []))


def test_gx_own_index_draws_its_table_without_internet_access(page: Page, ui_stack: UiStack, corrupted_run: str,
                                                              shot: Callable[[Page, str], Path]):
    """Chromium runs without network access beyond the stack: GX's scripts come from the vendored copies."""
    page.goto(f"{ui_stack.url}/data-docs/index.html")
    expect(page.locator(".pagination-info").first).to_contain_text(re.compile(r"Showing 1 to \d+ of \d+ rows"))  # bootstrap-table
    expect(page.get_by_role("cell", name=re.compile(r"^warehouse-staging_events-year_2018")).first).to_be_visible()
    shot(page, "14-gx-index-offline")


def _data_docs_status(ui_stack: UiStack, *, bearer: str | None = None, cookie: str | None = None) -> int:
    """The HTTP status of the Data Docs home for a script (no HTML accept header: no login redirect)."""
    request = urllib.request.Request(f"{ui_stack.url}/data-docs/")
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    if cookie is not None:
        request.add_header("Cookie", f"{COOKIE_NAME_JWT_TOKEN}={cookie}")
    try:
        with urllib.request.urlopen(request, timeout=timeouts.AIRFLOW_REQUEST) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_data_docs_take_a_bearer_token_or_the_session_cookie_and_an_explicit_token_wins(ui_stack: UiStack):
    """As Airflow's own API reads a user (3.3.2): the Authorization header, when there is one, decides."""
    token = ui_stack.api().token
    assert _data_docs_status(ui_stack) == 401
    assert _data_docs_status(ui_stack, bearer=token) == 200
    assert _data_docs_status(ui_stack, cookie=token) == 200
    assert _data_docs_status(ui_stack, bearer="not-a-token", cookie=token) != 200
    assert _data_docs_status(ui_stack, bearer=token, cookie="not-a-token") == 200


def test_data_docs_ask_for_a_login_and_return_after_it(anonymous_page: Page, ui_stack: UiStack):
    anonymous_page.goto(f"{ui_stack.url}/data-docs/")
    expect(anonymous_page).to_have_url(re.compile(r"/auth/login\?next="))
    anonymous_page.get_by_label("Username").fill(ui_stack.user)
    anonymous_page.get_by_label("Password").fill(ui_stack.password)
    anonymous_page.get_by_role("button", name="Sign in").click()
    expect(anonymous_page).to_have_url(f"{ui_stack.url}/data-docs/")
    expect(anonymous_page.get_by_role("heading", name="Data Docs: each table's latest validation")).to_be_visible()

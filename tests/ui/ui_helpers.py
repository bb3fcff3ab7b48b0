"""What the UI tests and their fixtures share: the stack handle, signing in, the UI's input quirks, checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from playwright.sync_api import Locator, Page, expect

from local_stack.cli import AirflowApi

DAG_ID = "sparkify_etl"


@dataclass
class UiStack:
    """The running private stack: Airflow UI address and login, warehouse URI, S3, the data loaded into S3."""

    url: str
    user: str
    password: str
    warehouse_uri: str
    s3: dict[str, str]
    """The stack's S3: endpoint_url and bucket."""
    data: Path
    env: dict[str, str] = field(repr=False)

    def api(self) -> AirflowApi:
        """A fresh REST client (a new token each time, so none expires mid-test)."""
        return AirflowApi(self.url, self.user, self.password)

    def api_get(self, path: str) -> dict:
        """GET an /api/v2 path (already quoted) as the admin."""
        return self.api()._request("GET", path)

    def dag_run(self, run_id: str) -> dict:
        return self.api_get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}")

    def dag_runs(self, **filters: str) -> list[dict]:
        query = "&".join(f"{key}={quote(value, safe='')}" for key, value in {"limit": "100", **filters}.items())
        return self.api_get(f"/api/v2/dags/{DAG_ID}/dagRuns?{query}")["dag_runs"]

    def describe_run(self, run_id: str) -> str:
        """The run's state and each task's state and try, for failure messages."""
        try:
            run = self.dag_run(run_id)
            tasks = self.api_get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        except Exception as error:  # only a diagnostic: never the failure itself
            return f"(could not read run {run_id} from the API: {error})"
        lines = [f"run {run_id}: {run['state']} (logical date {run['logical_date']})"]
        lines += [f"  {t['task_id']}: {t['state']} (try {t['try_number']})" for t in tasks["task_instances"]]
        return "\n".join(lines)

    def staged_events(self, day: str) -> int:
        """Rows of staging_events in the warehouse whose ts falls on day."""
        with psycopg.connect(self.warehouse_uri) as conn:
            return conn.execute(
                "SELECT COUNT(*) FROM staging_events WHERE ts >= %s::date AND ts < %s::date + 1", (day, day)
            ).fetchone()[0]

    def events_in_file(self, day: str) -> int:
        """Events (non-blank lines) in day's log_data file of the data loaded into S3."""
        path = self.data / f"log_data/{day[:4]}/{day[5:7]}/{day}-events.json"
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def sign_in(page: Page, stack: UiStack) -> None:
    """Log in through SimpleAuthManager's sign-in form and wait for the Airflow UI's navigation."""
    page.goto(stack.url)
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.get_by_label("Username").fill(stack.user)
    page.get_by_label("Password").fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/auth/login"))
    expect(page.get_by_test_id("nav-dags-link")).to_be_visible()


def set_datetime(page: Page, dialog: Locator, label: str, value: str) -> None:
    """Set the dialog's date-time field ``label`` to ``value`` (YYYY-MM-DDTHH:MM, UTC).

    The field (data-testid="datetime-input") is a button showing its value; it opens a picker, a
    dialog of its own, with a Date (YYYY/MM/DD) and a Time (HH:mm) input that apply as typed. Escape
    closes the picker only.
    """
    box = dialog.get_by_text(label, exact=True).locator(
        "xpath=ancestor::*[.//*[@data-testid='datetime-input']][1]").get_by_test_id("datetime-input")
    day, time = value.split("T")
    box.click()
    date_input = page.get_by_placeholder("YYYY/MM/DD").filter(visible=True)
    date_input.fill(day.replace("-", "/"))
    time_input = page.get_by_placeholder("HH:mm").filter(visible=True)
    time_input.fill(time)
    time_input.press("Escape")
    expect(date_input).to_have_count(0)
    expect(box).to_have_text(datetime.strptime(value, "%Y-%m-%dT%H:%M").strftime("%b %d, %Y %H:%M"))


def open_trigger_dialog(page: Page, stack: UiStack) -> Locator:
    """The DAG page's Trigger dialog, open."""
    page.goto(f"{stack.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def logical_day_in_header(page: Page) -> str:
    """The YYYY-MM-DD of the Logical Date in a run page's header."""
    header = page.get_by_test_id("header-card")
    pattern = re.compile(r"Logical Date\s*(\d{4}-\d{2}-\d{2})")
    expect(header).to_contain_text(pattern)
    return pattern.search(header.inner_text()).group(1)


def badge_text(badge: Locator) -> str:
    return badge.inner_text().strip()

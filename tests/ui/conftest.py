"""Fixtures for the end-to-end browser tests of the Airflow UI (Playwright for Python, sync API).

One private local stack for the session (its own state dir and free ports, generated data, stopped
with `down` at the end), one headless Chromium (Debian's /usr/bin/chromium, or $SPARKIFY_CHROMIUM),
a fresh browser context per test, and `shot(page, name)` saving full-page screenshots into
$SPARKIFY_UI_ARTIFACTS (default <repo>/.artifacts/ui/). A failing test also leaves
FAILED-<test>.png there. Nothing here skips: a missing browser or a stack that cannot start fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local_stack import timeouts
from tests.ui.ui_helpers import DAG_ID, UiStack, sign_in

REPO = Path(__file__).resolve().parents[2]
# Generated data: six days of events; the tests trigger 2018-11-03 and backfill 2018-11-04..06.
DATA_START = "2018-11-01"
DATA_DAYS = 6
VIEWPORT = {"width": 1600, "height": 1000}
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Page loads and assertions wait up to timeouts.UI_STEP (Playwright's default for expect is 5 s): the
# machine is busy while runs execute. Waits for runs to finish set their own, longer timeouts.
UI_TIMEOUT_MS = int(timeouts.UI_STEP * 1000)
expect.set_options(timeout=UI_TIMEOUT_MS)


def _cli(env: dict[str, str], *arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local_stack.cli", *arguments], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def ui_stack(private_stack, server_tmp_factory) -> Iterator[UiStack]:
    """A private local stack (own state dir, free ports) with generated data in its bucket; `down` at the end."""
    from datagen import generate

    data = server_tmp_factory("ui") / "data"
    generate(data, events=600, songs=150, start=DATA_START, days=DATA_DAYS, progress=False)
    with private_stack("ui") as env:
        up = _cli(env, "up", "--data", str(data), timeout=timeouts.STACK_UP)
        if up.returncode != 0:
            pytest.fail(f"`sparkify up` failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}")
        status = json.loads(_cli(env, "status", "--json", timeout=timeouts.STACK_STATUS).stdout)
        airflow = status["airflow"]
        stack = UiStack(url=airflow["url"], user=airflow["user"], password=airflow["password"],
                        warehouse_uri=status["postgres"]["uri"], s3=status["s3"], data=data, env=env)
        # Until the dag-processor has parsed the DAG (and it is unpaused), the UI has nothing to show.
        stack.api().wait_for_dag(DAG_ID, timeout=timeouts.AIRFLOW_DAG_PARSED)
        yield stack


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("SPARKIFY_CHROMIUM", DEFAULT_CHROMIUM)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {path}: the UI tests drive Debian's Chromium (Playwright's own browser "
            "downloads are not used). Install it with `apt-get install chromium chromium-driver`, or point "
            "SPARKIFY_CHROMIUM at a Chromium binary."
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path) -> Iterator[Browser]:
    """Headless Chromium for the session."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go: $SPARKIFY_UI_ARTIFACTS, else <repo>/.artifacts/ui/ (git-ignored)."""
    folder = Path(os.environ.get("SPARKIFY_UI_ARTIFACTS") or REPO / ".artifacts" / "ui")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("FAILED-*.png"):  # a previous session's failure screenshots
        stale.unlink()
    return folder


@pytest.fixture
def shot(artifacts_dir) -> Callable[[Page, str], Path]:
    """shot(page, "01-login") saves a full-page PNG named 01-login.png into artifacts_dir; returns its path."""

    def save(page: Page, name: str) -> Path:
        path = artifacts_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return save


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so page fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def anonymous_page(request, browser, artifacts_dir) -> Iterator[Page]:
    """A page in a fresh browser context (UTC, en-US, 1600x1000), not logged in."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        safe_name = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=str(artifacts_dir / f"FAILED-{safe_name}.png"), full_page=True)
    context.close()


@pytest.fixture
def page(anonymous_page, ui_stack) -> Page:
    """anonymous_page, logged in to ui_stack's Airflow UI as admin."""
    sign_in(anonymous_page, ui_stack)
    return anonymous_page

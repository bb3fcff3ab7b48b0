"""`./sparkify demo --executor celery --workers 2` on a private stack: Redis, two Celery workers each
running from its own copy of the tree, task logs and Data Docs through S3, and a gate failure's alert."""

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from local_stack import cli, timeouts
from local_stack.mail import Mailbox
from local_stack.process import StackError
from local_stack.stack import Stack

REPO = Path(__file__).resolve().parents[2]
CORRUPT_DAY = "2018-11-02"


def sparkify(env, *arguments, timeout=timeouts.STACK_UP):
    return subprocess.run([sys.executable, "-m", "local_stack.cli", *arguments], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def celery_demo(private_stack):
    """(env, demo result, status) of a three-day demo on two Celery workers, its middle day corrupt."""
    with private_stack("celery") as env:
        result = sparkify(env, "demo", "--executor", "celery", "--workers", "2", "--days", "3", "--events", "900",
                          "--songs", "150", "--corrupt-day", CORRUPT_DAY)
        status = json.loads(sparkify(env, "status", "--json", timeout=timeouts.STACK_STATUS).stdout)
        yield env, result, status


def api_for(status) -> cli.AirflowApi:
    airflow = status["airflow"]
    return cli.AirflowApi(airflow["url"], airflow["user"], airflow["password"])


def task_instances(api) -> list[dict]:
    runs = api._request("GET", "/api/v2/dags/sparkify_etl/dagRuns?limit=100")["dag_runs"]
    return [task for run in runs for task in api._request(
        "GET", f"/api/v2/dags/sparkify_etl/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
        "/taskInstances?limit=1000")["task_instances"]]


def test_the_demo_runs_on_celery_and_its_corrupt_day_alone_fails(celery_demo):
    _, result, status = celery_demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"2 of 3 day(s) succeeded; not succeeded: {CORRUPT_DAY}" in result.stdout
    assert "Alerts:     1 received" in result.stdout
    assert status["executor"] == "celery" and status["redis"]["running"]
    assert set(status["workers"]) == {"worker-1", "worker-2"} and all(w["running"] for w in status["workers"].values())


def test_status_lists_redis_and_each_worker_with_its_own_folder_and_pid(celery_demo):
    env, _, status = celery_demo
    shown = sparkify(env, "status", timeout=timeouts.STACK_STATUS)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert re.search(rf"^Redis\s+running\s+redis://127\.0\.0\.1:{status['redis']['port']}/0  pid {status['redis']['pid']}",
                     shown.stdout, re.MULTILINE), shown.stdout
    for name, worker in status["workers"].items():
        assert f"Celery {name}" in shown.stdout and f"pid {worker['pid']}  {worker['dir']}" in shown.stdout
        folder = Path(worker["dir"])
        assert (folder / "dags" / "sparkify_etl.py").is_file() and (folder / "gx" / "expectations").is_dir()
        assert (folder / "plugins" / "operators").is_dir() and not (folder / "gx" / "uncommitted").exists()
        assert not str(folder).startswith(str(REPO))


def test_the_backfill_ran_tasks_on_both_workers_and_every_task_on_a_worker(celery_demo):
    _, _, status = celery_demo
    ran = {task["id"] for task in task_instances(api_for(status)) if task["state"] in ("success", "failed")}
    by_worker = {name: set(re.findall(r"Workload finished .*workload_id=(\S+)", Path(worker["log"]).read_text()))
                 for name, worker in status["workers"].items()}
    assert all(by_worker[name] & ran for name in by_worker), {name: len(ids & ran) for name, ids in by_worker.items()}
    assert ran <= by_worker["worker-1"] | by_worker["worker-2"]


def test_a_task_log_written_on_a_worker_is_read_by_the_ui_from_s3(celery_demo):
    _, _, status = celery_demo
    api = api_for(status)
    failed = [task for task in task_instances(api) if task["state"] == "failed"]
    assert [task["task_id"] for task in failed] == ["validate.validate_staging_events"]
    (task,) = failed
    log = api._request("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{urllib.parse.quote(task['dag_run_id'], safe='')}"
                       f"/taskInstances/{task['task_id']}/logs/{task['try_number']}?full_content=true")
    text = json.dumps(log)
    assert "s3://sparkify-local/airflow-logs/" in text and "expect_column_values_to_be_in_set" in text


def test_the_alerts_data_docs_page_is_served_by_the_ui_from_s3(celery_demo):
    _, _, status = celery_demo
    (mail,) = Mailbox(Path(status["smtp"]["mail_dir"])).messages()
    assert mail.subject == f"[sparkify] sparkify_etl FAILED for {CORRUPT_DAY}: validate.validate_staging_events"
    (link,) = re.findall(r"Data Docs: (\S+)", mail.text())
    assert link.startswith(f"{status['airflow']['url']}/data-docs/validations/staging_events/")
    request = urllib.request.Request(link, headers={"Authorization": f"Bearer {api_for(status).token}"})
    with urllib.request.urlopen(request, timeout=timeouts.AIRFLOW_REQUEST) as response:
        page = response.read().decode()
    assert "Failed" in page and "POST" in page


def test_the_executor_is_kept_while_the_stack_runs_and_bad_options_are_refused(tmp_path, monkeypatch):
    stack = Stack(state_dir=tmp_path)
    state = {"ports": {}, "processes": {}}
    stack._set_executor(state, "celery", None)
    assert state["executor"] == {"name": "celery", "workers": 2}
    for executor, workers, message in ((None, 0, "--workers 0: the Celery topology needs at least one worker"),
                                       ("local", 2, "--workers needs --executor celery"),
                                       ("kubernetes", None, "executor 'kubernetes': expected one of local, celery")):
        with pytest.raises(StackError, match=re.escape(message)):
            stack._set_executor(dict(state), executor, workers)
    monkeypatch.setattr("local_stack.stack.is_alive", lambda record: True)
    state["processes"]["worker-1"] = {"pid": 1, "started": None}
    stack._set_executor(state, None, None)  # what runs, by default
    with pytest.raises(StackError, match=re.escape("the stack runs with the celery executor and 2 worker(s): stop it "
                                                   "first (./sparkify down)")):
        stack._set_executor(state, "local", None)

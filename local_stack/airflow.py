"""Airflow for the local stack: environment, metadata-DB migration, component processes, health.

Each component (`airflow scheduler`, `dag-processor`, `triggerer`, `api-server`) runs as its own
detached process session with LocalExecutor. Login is SimpleAuthManager's user `admin`, whose
password is generated once into a passwords file that Airflow reads.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack import timeouts
from local_stack.process import ProcessRecord, StackError, StackTimeout, is_alive, log_tail, spawn
from local_stack.s3 import ACCESS_KEY, SECRET_KEY
from quality_gate.gx_context import STORES_ENV

COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
# Whose log says why a health key is not healthy: the api-server answers for the metadata database.
HEALTH_COMPONENT = {"metadatabase": "api-server", "scheduler": "scheduler", "triggerer": "triggerer",
                    "dag_processor": "dag-processor"}
USER = "admin"
BIN = Path(sys.executable).parent  # the venv's bin: `airflow` and the interpreter live here


@dataclass(frozen=True)
class AirflowSettings:
    """What the Airflow environment of the local stack is built from."""

    home: Path
    dags_folder: Path
    plugins_folder: Path
    metadata_uri: str
    api_port: int
    passwords_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def airflow_env(settings: AirflowSettings) -> dict[str, str]:
    """AIRFLOW_HOME and AIRFLOW__* settings for every Airflow process of the stack."""
    return {
        "AIRFLOW_HOME": str(settings.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # The sample data is from 2018: the scheduler makes no runs of its own (it would try
        # yesterday, which has no data); backfills and triggered runs still run.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.metadata_uri,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.api_port),
        "AIRFLOW__API__BASE_URL": f"{settings.url}/",  # links in alerts point at this UI
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.passwords_file),
        # A queued task may wait long for one of the four slots on a busy machine: neither its token nor
        # the scheduler may give up on it first (Airflow's defaults: 600 s each).
        "AIRFLOW__EXECUTION_API__JWT_EXPIRATION_TIME": str(int(timeouts.AIRFLOW_TASK_QUEUED)),
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(float(timeouts.AIRFLOW_TASK_QUEUED)),
    }


def connection_env(warehouse_uri: str, s3_endpoint: str, bucket: str, region: str) -> dict[str, str]:
    """Airflow connections `redshift` and `aws_credentials`, variable `sparkify_s3_bucket`, and the GX
    validation results and Data Docs in that bucket under gx/ (quality_gate.gx_context.STORES_ENV), as env vars."""
    aws = {
        "conn_type": "aws",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": {"endpoint_url": s3_endpoint, "region_name": region},
    }
    return {
        "AIRFLOW_CONN_REDSHIFT": warehouse_uri,
        "AIRFLOW_CONN_AWS_CREDENTIALS": json.dumps(aws),
        "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": bucket,
        STORES_ENV: gx_stores(bucket),
    }


def gx_stores(bucket: str) -> str:
    """Where a local stack keeps GX's validation results and Data Docs: gx/ in its bucket."""
    return f"s3://{bucket}/gx"


def api_env(passwords_file: Path) -> dict[str, str]:
    """The connection the DAG's first task names its run's day with (helpers.run_note): the admin user,
    on the API server's ``[api] base_url``; none before the password exists."""
    from helpers.run_note import API_CONN_ID

    password = read_password(passwords_file)
    if password is None:
        return {}
    connection = {"conn_type": "http", "login": USER, "password": password}
    return {f"AIRFLOW_CONN_{API_CONN_ID.upper()}": json.dumps(connection)}


def alert_env(smtp_host: str, smtp_port: int, recipients: str) -> dict[str, str]:
    """Alert connection `sparkify_alerts_smtp` (plain SMTP, no login) and variable `sparkify_alert_emails`, as env vars."""
    smtp = {
        "conn_type": "smtp",
        "host": smtp_host,
        "port": smtp_port,
        "extra": {"from_email": "sparkify-alerts@localhost", "disable_ssl": True, "disable_tls": True,
                  "timeout": int(timeouts.SMTP_SEND), "retry_limit": 1},
    }
    return {"AIRFLOW_CONN_SPARKIFY_ALERTS_SMTP": json.dumps(smtp), "AIRFLOW_VAR_SPARKIFY_ALERT_EMAILS": recipients}


def read_password(passwords_file: Path) -> str | None:
    """The admin password from passwords_file, or None if it was not generated yet."""
    if not passwords_file.exists():
        return None
    return json.loads(passwords_file.read_text())[USER]


def ensure_password(passwords_file: Path) -> str:
    """The admin password, generated once into passwords_file ({"admin": "..."}, mode 0600)."""
    if existing := read_password(passwords_file):
        return existing
    password = secrets.token_urlsafe(12)
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(passwords_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({USER: password}, handle)
    return password


def airflow_exe() -> str:
    exe = BIN / "airflow"
    if not exe.exists():
        raise StackError(f"{exe} not found; install requirements-dev.txt into this venv")
    return str(exe)


def migrate(env: Mapping[str, str], log_file: Path, timeout: float | None = None) -> float:
    """`airflow db migrate` (idempotent); returns seconds taken."""
    timeout = timeouts.AIRFLOW_MIGRATE if timeout is None else timeout
    began = time.monotonic()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        try:
            result = subprocess.run([airflow_exe(), "db", "migrate"], env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackTimeout("`airflow db migrate` to finish", timeout, [log_file]) from None
    if result.returncode != 0:
        raise StackError(f"airflow db migrate failed (exit {result.returncode}); log {log_file}:\n{log_tail(log_file)}")
    return time.monotonic() - began


def start_component(name: str, env: Mapping[str, str], log_file: Path) -> ProcessRecord:
    """Start `airflow <name>` detached; returns its process record."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown Airflow component {name!r}; expected one of {COMPONENTS}")
    return spawn([airflow_exe(), name], log_file, env=env)


def health(url: str, timeout: float | None = None) -> dict[str, Any] | None:
    """/api/v2/monitor/health as a dict, or None if the api-server does not answer (within timeout)."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health",
                                    timeout=timeouts.AIRFLOW_REQUEST if timeout is None else timeout) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def is_healthy(report: dict[str, Any] | None) -> bool:
    return bool(report) and all((report.get(key) or {}).get("status") == "healthy" for key in HEALTH_KEYS)


def unhealthy_components(report: dict[str, Any] | None) -> list[str]:
    """The components whose logs say why report is not healthy: the api-server when there is no report."""
    if not report:
        return ["api-server"]
    return [HEALTH_COMPONENT[key] for key in HEALTH_KEYS if (report.get(key) or {}).get("status") != "healthy"]


def wait_healthy(url: str, processes: Mapping[str, ProcessRecord], logs: Mapping[str, Path],
                 timeout: float | None = None) -> float:
    """Wait until every component reports healthy; fail early if one exits. Returns seconds waited.

    Running out of time raises StackTimeout with the last health report and the tail of the log of
    each component that was not healthy in it.
    """
    timeout = timeouts.AIRFLOW_HEALTHY if timeout is None else timeout
    began = time.monotonic()
    while True:
        for name, record in processes.items():
            if not is_alive(record):
                raise StackError(f"airflow {name} exited; log {logs[name]}:\n{log_tail(logs[name])}")
        report = health(url)
        if is_healthy(report):
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise StackTimeout(f"every Airflow component to report healthy at {url}/api/v2/monitor/health", timeout,
                               [logs[name] for name in unhealthy_components(report) if name in logs],
                               detail=f"last report {report}")
        time.sleep(1)


def wait_answering(url: str, record: ProcessRecord, log_file: Path, timeout: float | None = None) -> bool:
    """Wait until the api-server answers its health endpoint (healthy or not): True; False if it exited first."""
    timeout = timeouts.AIRFLOW_API_START if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while is_alive(record):
        if health(url) is not None:
            return True
        if time.monotonic() > deadline:
            raise StackTimeout(f"the Airflow api-server to answer at {url}/api/v2/monitor/health", timeout, [log_file])
        time.sleep(1)
    return False

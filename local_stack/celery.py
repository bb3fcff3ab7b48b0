"""The distributed topology of the local stack: CeleryExecutor, Redis as its broker, N Celery workers.

    ./sparkify up --executor celery --workers 2

Redis (Debian's ``redis-server``) listens on 127.0.0.1 without persistence; the Celery result backend
is the Airflow metadata database. Each worker runs ``airflow celery worker`` from its own folder
``workers/worker-N/`` under the stack's state dir, holding its own copy of ``dags/``, ``plugins/`` and
``gx/`` (copied again at each start) and its own AIRFLOW_HOME, so a task works only through what a
real deployment shares: the metadata database, the warehouse, S3 (GX stores, Data Docs, task logs)
and the broker. Task logs go to S3 (remote logging) because no worker serves its disk to the UI.
"""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

from local_stack import timeouts
from local_stack.process import (
    ProcessRecord, StackError, bind_failed, is_alive, log_size, log_tail, spawn, start_on_free_port, wait_until,
)

EXECUTORS = ("local", "celery")
REDIS_DEFAULT_PORT = 16379
# What a worker gets a copy of: the deployable tree, as the production image holds it (deploy/Dockerfile).
WORKER_TREE = ("dags", "plugins", "gx")
WORKER_CONCURRENCY = 2
# Shared by every Airflow process of a deployment (the Helm chart keeps them in Secrets): the Fernet key
# of stored connections/variables, the JWT secret of task tokens, the API's secret key.
SHARED_SECRETS = (("core", "fernet_key"), ("api_auth", "jwt_secret"), ("api", "secret_key"))


def worker_names(count: int) -> list[str]:
    return [f"worker-{n}" for n in range(1, count + 1)]


def redis_command(port: int, data_dir: Path) -> list[str]:
    """redis-server on 127.0.0.1:port, nothing persisted (the broker's queue lives as long as the stack)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise StackError("redis-server not found: the Celery topology needs Debian's redis-server "
                         "(run 'sudo apt-get install redis-server', or ./sparkify as root installs it)")
    return [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
            "--protected-mode", "yes", "--dir", str(data_dir)]


def redis_answers(port: int) -> bool:
    """True if a Redis server answers PING on 127.0.0.1:port."""
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeouts.PROBE).ping())
    except redis.RedisError:
        return False


def start_redis(ports: list[int], data_dir: Path, log_file: Path, *, fixed: bool = False,
                named_by: str | None = None) -> tuple[ProcessRecord, int]:
    """Start redis-server on the first of ports it can bind (it binds its own); returns (record, port)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    started: dict[str, ProcessRecord] = {}

    def start_on(port: int) -> bool:
        since = log_size(log_file)
        record = spawn(redis_command(port, data_dir), log_file)
        wait_until(lambda: redis_answers(port) or not is_alive(record), timeouts.SERVER_START,
                   f"Redis to answer PING on 127.0.0.1:{port}", logs=[log_file])
        if is_alive(record):
            started["record"] = record
            return True
        if fixed or not bind_failed(log_file, since):
            raise StackError(f"redis-server exited at start; log {log_file}:\n{log_tail(log_file)}")
        return False

    port = start_on_free_port("Redis", ports, start_on, fixed=fixed, named_by=named_by)
    return started["record"], port


def celery_env(redis_port: int, metadata_uri: str, bucket: str) -> dict[str, str]:
    """AIRFLOW__* settings of CeleryExecutor for every Airflow process of the stack."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_uri.replace("postgresql+psycopg2://", "postgresql://", 1),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"s3://{bucket}/airflow-logs",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_credentials",
    }


def shared_secrets(airflow_home: Path) -> dict[str, str]:
    """The secrets every process must share, from the airflow.cfg Airflow wrote into airflow_home, as env vars.

    A worker has its own AIRFLOW_HOME, where Airflow would generate different ones.
    """
    config = configparser.ConfigParser(interpolation=None)
    config.read(airflow_home / "airflow.cfg")
    return {f"AIRFLOW__{section.upper()}__{key.upper()}": value for section, key in SHARED_SECRETS
            if (value := config.get(section, key, fallback=""))}


def prepare_worker(repo: Path, worker_dir: Path) -> dict[str, str]:
    """Copy repo's dags/, plugins/ and gx/ (not gx/uncommitted/) into worker_dir afresh; returns the
    worker's own AIRFLOW_HOME, DAGS_FOLDER and PLUGINS_FOLDER settings."""
    for name in WORKER_TREE:
        target = worker_dir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(repo / name, target, ignore=shutil.ignore_patterns("uncommitted", "__pycache__", "*.pyc"))
    return {
        "AIRFLOW_HOME": str(worker_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(worker_dir / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(worker_dir / "plugins"),
    }


def worker_command(airflow_exe: str, name: str) -> list[str]:
    """`airflow celery worker` named name@<host>; no log server (task logs go to S3)."""
    return [airflow_exe, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs"]


def worker_ready(log_file: Path, since: int = 0) -> bool:
    """True once Celery logged that the worker is ready (after byte `since` of its log)."""
    try:
        with open(log_file, "rb") as log:
            log.seek(since)
            return b" ready." in log.read()
    except FileNotFoundError:
        return False


def wait_workers_ready(workers: dict[str, tuple[ProcessRecord, Path, int]]) -> None:
    """Until each worker (record, log, log offset at its start) is ready; fail at once if one exits."""
    def all_ready() -> bool:
        for name, (record, log_file, _) in workers.items():
            if not is_alive(record):
                raise StackError(f"celery {name} exited; log {log_file}:\n{log_tail(log_file)}")
        return all(worker_ready(log_file, since) for _, log_file, since in workers.values())

    wait_until(all_ready, timeouts.AIRFLOW_HEALTHY, "every Celery worker to report ready",
               interval=1, logs=[log_file for _, log_file, _ in workers.values()])

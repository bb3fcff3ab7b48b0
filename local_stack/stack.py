"""The whole local stack: PostgreSQL (warehouse `sparkify` + Airflow metadata `airflow`), moto S3,
an SMTP catcher for the alerts and Airflow, with all state under one folder (default `<repo>/.sparkify/`):

    pgdata/  logs/  airflow/ (AIRFLOW_HOME)  mail/ (alerts, .eml)  state.json (ports, pids)  airflow-passwords.json  lock
    with --executor celery also:  redis/  workers/worker-N/ (dags/ plugins/ gx/ airflow/)

`up` is idempotent and starts only what is not running; `down` stops exactly the processes
recorded in state.json (and the PostgreSQL cluster of pgdata/). Ports come from SPARKIFY_PG_PORT /
SPARKIFY_S3_PORT / SPARKIFY_SMTP_PORT / SPARKIFY_AIRFLOW_PORT / SPARKIFY_REDIS_PORT (0: any free
port), else the port recorded, the defaults below or the next free port above them. Everything
listens on 127.0.0.1 only.

Airflow runs with LocalExecutor, or with ``up(executor="celery", workers=N)`` CeleryExecutor, Redis
and N Celery workers, each from its own copy of the deployable tree (``local_stack.celery``); the
executor is recorded and kept until ``down``.

A port is never chosen ahead of its server: S3 and the SMTP catcher get their socket bound by us
(``process.listen_socket``); PostgreSQL and the api-server, which bind their own, are started
again on the next candidate when the port was taken meanwhile (unless it was named by its variable).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local_stack import airflow, celery, timeouts
from local_stack.mail import MailCatcher
from local_stack.postgres import WAREHOUSE_SCHEMA, PostgresServer, run_sql_file, warehouse_schema
from local_stack.process import (
    ANY_PORT, ChildServer, PortTaken, ProcessRecord, StackError, bind_failed, default_ports,
    is_alive, log_size, log_tail, port_in_use, spawn, start_on_free_port, stop_all,
)
from local_stack.s3 import REGION, S3Server, Seed, create_bucket

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
BUCKET = "sparkify-local"
WAREHOUSE_DB = "sparkify"
METADATA_DB = "airflow"
# service -> (default port, env var that overrides it)
PORTS = {"postgres": (55432, "SPARKIFY_PG_PORT"), "s3": (15000, "SPARKIFY_S3_PORT"), "smtp": (1025, "SPARKIFY_SMTP_PORT"),
         "airflow": (18080, "SPARKIFY_AIRFLOW_PORT"), "redis": (celery.REDIS_DEFAULT_PORT, "SPARKIFY_REDIS_PORT")}
ALERT_RECIPIENTS = "data-team@sparkify.local"


def any_free_ports_env() -> dict[str, str]:
    """The environment variables that give a whole stack any free ports (each of PORTS' variables = 0)."""
    return {env_var: str(ANY_PORT) for _, env_var in PORTS.values()}


def _env_port(env_var: str) -> int | None:
    """The port $env_var names (0: any free port), None when it is unset or empty."""
    value = os.environ.get(env_var, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > 65535:
        raise StackError(f"{env_var}={value!r}: expected a TCP port (0: any free port)")
    return int(value)


def shell_quote(value: str) -> str:
    """Single-quote value for POSIX shells ('it'"'"'s')."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


class Stack:
    """The local stack rooted at repo, its state in state_dir (default $SPARKIFY_STATE_DIR, else repo/.sparkify)."""

    def __init__(self, repo: Path = REPO, state_dir: Path | None = None) -> None:
        self.repo = Path(repo).resolve()
        state_dir = state_dir or os.environ.get("SPARKIFY_STATE_DIR")
        self.state_dir = Path(state_dir).resolve() if state_dir else self.repo / ".sparkify"
        self.logs = self.state_dir / "logs"
        self.state_file = self.state_dir / "state.json"
        self.mail_dir = self.state_dir / "mail"

    # -- state -------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {"ports": {}, "processes": {}}

    def _save(self, state: Mapping[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Exclusive lock over state.json for one up/down; yields the state, saved on exit."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._load()
            try:
                yield state
            finally:
                self._save(state)

    def _port(self, state: Mapping[str, Any], service: str) -> int:
        """The port recorded for service, else its env override (0: any, not chosen yet) or default."""
        default, env_var = PORTS[service]
        recorded = state["ports"].get(service)
        if recorded:
            return int(recorded)
        named = _env_port(env_var)
        return default if named is None else named

    def _candidates(self, state: Mapping[str, Any], service: str) -> tuple[list[int], str | None]:
        """(ports to try for service in order, the variable that named the only one): $VAR=N gives [N];
        else the port recorded (the one the other services know), then with $VAR=0 any free port (0), or
        the default and the ports above it."""
        default, env_var = PORTS[service]
        named = _env_port(env_var)
        if named not in (None, ANY_PORT):
            return [named], env_var
        recorded = [state["ports"][service]] if state["ports"].get(service) else []
        others = [ANY_PORT] if named == ANY_PORT else [p for p in default_ports(default) if p not in recorded]
        return recorded + others, None

    def _record(self, state: Mapping[str, Any], name: str) -> ProcessRecord | None:
        data = state["processes"].get(name)
        return ProcessRecord.from_json(data) if data else None

    # -- components ---------------------------------------------------------------------------

    def _postgres(self, port: int) -> PostgresServer:
        return PostgresServer(self.state_dir / "pgdata", port, self.logs / "postgres.log")

    def _airflow_settings(self, state: Mapping[str, Any]) -> airflow.AirflowSettings:
        pg_port = self._port(state, "postgres")
        return airflow.AirflowSettings(
            home=self.state_dir / "airflow",
            dags_folder=self.repo / "dags",
            plugins_folder=self.repo / "plugins",
            metadata_uri=f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/{METADATA_DB}",
            api_port=self._port(state, "airflow"),
            passwords_file=self.state_dir / "airflow-passwords.json",
        )

    def _environment(self, state: Mapping[str, Any]) -> dict[str, str]:
        pg_port, s3_port = self._port(state, "postgres"), self._port(state, "s3")
        warehouse = f"postgresql://postgres@127.0.0.1:{pg_port}/{WAREHOUSE_DB}"
        path = [str(airflow.BIN)] + [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != str(airflow.BIN)]
        settings = self._airflow_settings(state)
        return {
            **airflow.airflow_env(settings),
            **(celery.celery_env(self._port(state, "redis"), settings.metadata_uri, BUCKET)
               if self._executor(state)["name"] == "celery" else {}),
            **airflow.connection_env(warehouse, f"http://127.0.0.1:{s3_port}", BUCKET, REGION),
            **airflow.alert_env("127.0.0.1", self._port(state, "smtp"), ALERT_RECIPIENTS),
            **airflow.api_env(settings.passwords_file),
            "WAREHOUSE_URI": warehouse,
            "PATH": os.pathsep.join(path),
        }

    def _up_postgres(self, state: dict[str, Any], result: dict[str, list[str]]) -> PostgresServer:
        server = self._postgres(self._port(state, "postgres"))
        if server.is_running():
            result["already_running"].append("postgres")
        else:
            ports, env_var = self._candidates(state, "postgres")
            if env_var and port_in_use(ports[0]):
                raise StackError(f"{env_var}={ports[0]}: port already in use on 127.0.0.1; cannot start PostgreSQL there")
            log.info("starting PostgreSQL (%s)", f"port {ports[0]}" if env_var else "the first free port")
            server.start(ports=ports)
            state["ports"]["postgres"] = server.port
            result["started"].append("postgres")
        state["processes"]["postgres"] = {"pid": server.pid, "started": None}
        for db in (METADATA_DB, WAREHOUSE_DB):
            if server.create_database(db):
                log.info("created database %s", db)
        schema = warehouse_schema(self.repo)
        for path in schema:
            run_sql_file(server.uri(WAREHOUSE_DB), path)
            log.info("applied %s to %s", path.name, WAREHOUSE_DB)
        if not schema:
            log.warning("%s not found in %s; warehouse tables not created", " and ".join(WAREHOUSE_SCHEMA), self.repo)
        return server

    def _up_s3(self, state: dict[str, Any], result: dict[str, list[str]], seed_dir: Path | None, reseed: bool) -> None:
        record = self._record(state, "s3")
        running = bool(record and is_alive(record))
        port = None
        if not running and seed_dir is None and (served := state.get("s3_seed")):
            if Path(served).is_dir():  # moto keeps objects in memory only: what it served is loaded again
                log.warning("moto S3 is not running: starting it and loading %s into s3://%s again", served, BUCKET)
                seed_dir = Path(served)
            else:
                log.warning("moto S3 is not running and %s, which it served, is gone: its bucket starts empty "
                            "(load data with ./sparkify up --data DIR)", served)
        if running and seed_dir and reseed:
            # Same port: the running Airflow components have it in their connection.
            log.info("restarting moto S3 to load %s", seed_dir)
            stop_all([record], timeout=timeouts.STOP_GRACE)
            port, running = self._port(state, "s3"), False
        if running:
            result["already_running"].append("s3")
            if seed_dir:
                log.warning("S3 already running: %s not loaded (use local_stack.s3.upload_tree)", seed_dir)
        else:
            seed = Seed(BUCKET, Path(seed_dir)) if seed_dir else None
            server = S3Server(ANY_PORT, self.logs / "s3.log", seed=seed)
            log.info("starting moto S3%s", f" seeded from {seed_dir}" if seed else "")
            state["processes"]["s3"] = self._start_child(server, state, "s3", [port] if port else None).to_json()
            state["ports"]["s3"] = server.port
            state["s3_seed"] = str(Path(seed_dir).resolve()) if seed_dir else None
            result["started"].append("s3")
        create_bucket(f"http://127.0.0.1:{self._port(state, 's3')}", BUCKET)

    def _up_smtp(self, state: dict[str, Any], result: dict[str, list[str]]) -> None:
        record = self._record(state, "smtp")
        if record and is_alive(record):
            result["already_running"].append("smtp")
            return
        catcher = MailCatcher(ANY_PORT, self.mail_dir, self.logs / "smtp.log")
        log.info("starting the SMTP catcher (mail in %s)", self.mail_dir)
        state["processes"]["smtp"] = self._start_child(catcher, state, "smtp").to_json()
        state["ports"]["smtp"] = catcher.port
        result["started"].append("smtp")

    def _start_child(self, server: ChildServer, state: Mapping[str, Any], service: str,
                     ports: list[int] | None = None) -> ProcessRecord:
        """server.start() on a socket bound here: the given ports, else service's candidates (0: any)."""
        env_var = None
        if ports is None:
            ports, env_var = self._candidates(state, service)
        try:
            record = server.start(ports=ports)
        except PortTaken as taken:
            if env_var:
                raise StackError(f"{env_var}={taken.ports[0]}: port already in use on 127.0.0.1; "
                                 f"cannot start {server.what} there") from None
            raise
        log.info("%s on 127.0.0.1:%d (log %s)", server.what, server.port, server.log_file)
        return record

    def _up_airflow(self, state: dict[str, Any], result: dict[str, list[str]]) -> None:
        alive = {name: record for name in airflow.COMPONENTS if (record := self._record(state, name)) and is_alive(record)}
        if alive and "postgres" in result["started"]:
            # Their metadata database went away under them (an outage): a component may be exiting or stuck.
            log.warning("PostgreSQL was started again: restarting Airflow's %s", ", ".join(alive))
            stop_all(alive.values(), timeout=timeouts.AIRFLOW_STOP_GRACE)
        dead = [name for name in airflow.COMPONENTS if not ((r := self._record(state, name)) and is_alive(r))]
        result["already_running"] += [name for name in airflow.COMPONENTS if name not in dead]
        logs = {name: self.logs / f"airflow-{name}.log" for name in airflow.COMPONENTS}
        if dead:
            airflow.ensure_password(self._airflow_settings(state).passwords_file)
            log.info("airflow db migrate")
            airflow.migrate({**os.environ, **self._environment(state)}, self.logs / "airflow-migrate.log")
            if dead == list(airflow.COMPONENTS):
                self._start_all_airflow(state, result, logs)
            else:  # the others run with the recorded api port in their configuration: it stays
                env = {**os.environ, **self._environment(state)}
                for name in dead:
                    self._start_airflow_component(name, env, state, result, logs)
        settings = self._airflow_settings(state)
        processes = {name: self._record(state, name) for name in airflow.COMPONENTS}
        log.info("waiting for Airflow at %s to report healthy", settings.url)
        airflow.wait_healthy(settings.url, processes, logs)

    def _start_airflow_component(self, name: str, env: Mapping[str, str], state: dict[str, Any],
                                 result: dict[str, list[str]], logs: Mapping[str, Path]) -> ProcessRecord:
        log.info("starting airflow %s", name)
        record = airflow.start_component(name, env, logs[name])
        state["processes"][name] = record.to_json()
        result["started"].append(name)
        return record

    def _start_all_airflow(self, state: dict[str, Any], result: dict[str, list[str]], logs: Mapping[str, Path]) -> None:
        """Every component, with the api-server on the first candidate port it can bind.

        The port is chosen just before the api-server starts; if another process took it before the
        api-server bound it, the four are stopped and started again on the next candidate.
        """
        ports, env_var = self._candidates(state, "airflow")

        def start_on(port: int) -> bool:
            state["ports"]["airflow"] = port
            env = {**os.environ, **self._environment(state)}
            since = log_size(logs["api-server"])
            records = [self._start_airflow_component(name, env, state, result, logs) for name in airflow.COMPONENTS]
            url = self._airflow_settings(state).url
            if airflow.wait_answering(url, self._record(state, "api-server"), logs["api-server"]):
                return True
            stop_all(records, timeout=timeouts.AIRFLOW_STOP_GRACE)
            if env_var or not bind_failed(logs["api-server"], since):
                raise StackError(f"airflow api-server exited; log {logs['api-server']}:\n{log_tail(logs['api-server'])}")
            for name in airflow.COMPONENTS:
                state["processes"].pop(name, None)
                result["started"].remove(name)
            return False

        start_on_free_port("the Airflow api-server", ports, start_on, fixed=env_var is not None, named_by=env_var)

    @staticmethod
    def _executor(state: Mapping[str, Any]) -> dict[str, Any]:
        """The executor recorded ({"name": "local" | "celery", "workers": N}); LocalExecutor when none is."""
        return state.get("executor") or {"name": "local", "workers": 0}

    def _workers(self, state: Mapping[str, Any]) -> list[str]:
        return celery.worker_names(self._executor(state)["workers"])

    def worker_dir(self, name: str) -> Path:
        return self.state_dir / "workers" / name

    def _set_executor(self, state: dict[str, Any], executor: str | None, workers: int | None) -> None:
        """Record the executor asked for (default: the one recorded, else local); a running Airflow keeps its own."""
        recorded = self._executor(state)
        name = executor or recorded["name"]
        if name not in celery.EXECUTORS:
            raise StackError(f"executor {name!r}: expected one of {', '.join(celery.EXECUTORS)}")
        if workers is not None and name != "celery":
            raise StackError("--workers needs --executor celery")
        count = (recorded.get("workers") or 2 if workers is None else workers) if name == "celery" else 0
        if name == "celery" and count < 1:
            raise StackError(f"--workers {count}: the Celery topology needs at least one worker")
        wanted = {"name": name, "workers": count}
        running = [n for n in (*airflow.COMPONENTS, *self._workers(state), "redis")
                   if (r := self._record(state, n)) and is_alive(r)]
        if running and wanted != recorded:
            workers_note = f" and {recorded['workers']} worker(s)" if recorded["name"] == "celery" else ""
            raise StackError(f"the stack runs with the {recorded['name']} executor{workers_note}: "
                             "stop it first (./sparkify down), then start it with the new options")
        state["executor"] = wanted

    def _up_redis(self, state: dict[str, Any], result: dict[str, list[str]]) -> None:
        record = self._record(state, "redis")
        if record and is_alive(record):
            result["already_running"].append("redis")
            return
        ports, env_var = self._candidates(state, "redis")
        log.info("starting Redis (the Celery broker)")
        record, port = celery.start_redis(ports, self.state_dir / "redis", self.logs / "redis.log",
                                          fixed=env_var is not None, named_by=env_var)
        log.info("Redis on 127.0.0.1:%d (log %s)", port, self.logs / "redis.log")
        state["processes"]["redis"] = record.to_json()
        state["ports"]["redis"] = port
        result["started"].append("redis")

    def _up_workers(self, state: dict[str, Any], result: dict[str, list[str]]) -> None:
        """Start each Celery worker that is not running, from a fresh copy of the tree, and wait until all are ready."""
        starting = {}
        secrets = celery.shared_secrets(self._airflow_settings(state).home)
        for name in self._workers(state):
            record = self._record(state, name)
            if record and is_alive(record):
                result["already_running"].append(name)
                continue
            log_file = self.logs / f"celery-{name}.log"
            env = {**os.environ, **self._environment(state), **secrets,
                   **celery.prepare_worker(self.repo, self.worker_dir(name))}
            since = log_size(log_file)
            log.info("starting celery %s in %s", name, self.worker_dir(name))
            record = spawn(celery.worker_command(airflow.airflow_exe(), name), log_file, env=env,
                           cwd=self.worker_dir(name))
            state["processes"][name] = record.to_json()
            result["started"].append(name)
            starting[name] = (record, log_file, since)
        if starting:
            celery.wait_workers_ready(starting)

    # -- API ----------------------------------------------------------------------------------

    def up(self, seed_dir: Path | None = None, reseed: bool = False, executor: str | None = None,
           workers: int | None = None) -> dict[str, Any]:
        """Start whatever is not running; returns {"started": [...], "already_running": [...], "status": ...}.

        seed_dir: a Sparkify-layout folder loaded into the bucket when S3 is started by this call;
        with reseed, a running S3 is restarted to load it (moto keeps objects in memory only). An S3
        that stopped is started again with the folder it last served. executor: "local" or "celery"
        (with workers, default 2); default the one recorded, else local.
        """
        result: dict[str, list[str]] = {"started": [], "already_running": []}
        _fetch_data_docs_assets()
        with self._locked() as state:
            self._set_executor(state, executor, workers)
            self._up_postgres(state, result)
            self._up_s3(state, result, seed_dir, reseed)
            self._up_smtp(state, result)
            if self._workers(state):
                self._up_redis(state, result)
            self._up_airflow(state, result)
            self._up_workers(state, result)
        if not result["started"]:
            log.info("local stack already running (%s)", self.state_dir)
        return {**result, "status": self.status()}

    def down(self) -> dict[str, list[str]]:
        """Stop the recorded processes (Airflow and its workers, then S3, SMTP and Redis) and the PostgreSQL
        cluster; returns {"stopped": [...]}."""
        stopped = []
        with self._locked() as state:
            # Airflow components and workers together (each may wait for running tasks), then the servers.
            airflow_group = (*airflow.COMPONENTS, *self._workers(state))
            for group in (airflow_group, ("s3", "smtp", "redis")):
                records = {name: r for name in group if (r := self._record(state, name))}
                grace = timeouts.AIRFLOW_STOP_GRACE if group == airflow_group else timeouts.STOP_GRACE
                for (name, record), was_running in zip(records.items(), stop_all(records.values(), timeout=grace)):
                    if was_running:
                        log.info("stopped %s (pid %d)", name, record.pid)
                        stopped.append(name)
                for name in group:
                    state["processes"].pop(name, None)
            if self._postgres(self._port(state, "postgres")).stop():
                log.info("stopped postgres")
                stopped.append("postgres")
            state["processes"].pop("postgres", None)
            state.pop("executor", None)  # the next up starts LocalExecutor unless told otherwise
        return {"stopped": stopped}

    def status(self) -> dict[str, Any]:
        """Structured status: per service running/pid/port/endpoint/log, Airflow health and login."""
        state = self._load()
        pg = self._postgres(self._port(state, "postgres"))
        s3_record = self._record(state, "s3")
        smtp_record = self._record(state, "smtp")
        settings = self._airflow_settings(state)
        components = {}
        for name in airflow.COMPONENTS:
            record = self._record(state, name)
            components[name] = {
                "running": bool(record and is_alive(record)),
                "pid": record.pid if record else None,
                "log": str(self.logs / f"airflow-{name}.log"),
            }
        any_airflow = any(c["running"] for c in components.values())
        celery_status = {}
        if self._workers(state):
            redis_record = self._record(state, "redis")
            celery_status = {
                "redis": {"running": bool(redis_record and is_alive(redis_record)),
                          "pid": redis_record.pid if redis_record else None, "port": self._port(state, "redis"),
                          "log": str(self.logs / "redis.log")},
                "workers": {name: {"running": bool((r := self._record(state, name)) and is_alive(r)),
                                   "pid": r.pid if r else None, "dir": str(self.worker_dir(name)),
                                   "log": str(self.logs / f"celery-{name}.log")}
                            for name in self._workers(state)},
            }
        return {
            "state_dir": str(self.state_dir),
            "executor": self._executor(state)["name"],
            **celery_status,
            "postgres": {"running": pg.is_running(), "pid": pg.pid, "port": pg.port,
                         "uri": pg.uri(WAREHOUSE_DB), "log": str(pg.log_file)},
            "s3": {"running": bool(s3_record and is_alive(s3_record)), "pid": s3_record.pid if s3_record else None,
                   "port": self._port(state, "s3"), "endpoint_url": f"http://127.0.0.1:{self._port(state, 's3')}",
                   "bucket": BUCKET, "log": str(self.logs / "s3.log")},
            "smtp": {"running": bool(smtp_record and is_alive(smtp_record)), "pid": smtp_record.pid if smtp_record else None,
                     "port": self._port(state, "smtp"), "mail_dir": str(self.mail_dir), "recipients": ALERT_RECIPIENTS,
                     "log": str(self.logs / "smtp.log")},
            "airflow": {"components": components, "url": settings.url, "port": settings.api_port,
                        "health": airflow.health(settings.url) if any_airflow else None,
                        "user": airflow.USER,
                        "password": airflow.read_password(settings.passwords_file)},
        }

    def environment(self) -> dict[str, str]:
        """Variables a shell (or a test) needs to use the stack: Airflow config, connections, PATH."""
        return self._environment(self._load())

    def env(self) -> str:
        """environment() as `export K='V'` lines for `eval "$(./sparkify env)"`."""
        return "".join(f"export {key}={shell_quote(value)}\n" for key, value in self.environment().items())


def _fetch_data_docs_assets() -> None:
    """The scripts and styles Data Docs pages load, for a UI without internet access (helpers.data_docs_assets)."""
    from helpers import data_docs_assets

    if not data_docs_assets.missing():
        return
    try:
        log.info("fetching the Data Docs scripts and styles from the npm registry: %s",
                 ", ".join(data_docs_assets.fetch()))
    except (OSError, ValueError) as error:
        log.warning("Data Docs scripts and styles not fetched (%s): GX's own pages load them from CDNs", error)


def up(seed_dir: Path | None = None) -> dict[str, Any]:
    """Stack().up(): start the stack of this repo (state in .sparkify/)."""
    return Stack().up(seed_dir)


def down() -> dict[str, list[str]]:
    """Stack().down(): stop what up() started."""
    return Stack().down()


def status() -> dict[str, Any]:
    """Stack().status()."""
    return Stack().status()


def env() -> str:
    """Stack().env(): shell exports for this repo's stack."""
    return Stack().env()

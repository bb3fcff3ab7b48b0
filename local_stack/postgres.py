"""A private PostgreSQL server (stand-in for Redshift and Airflow's metadata DB) on 127.0.0.1.

initdb and the server refuse to run as root, so when this process is root they run as the OS
user `postgres` (created by Debian's postgresql package) through runuser, and the data
directory and log are owned by that user. Auth is `trust`; the server listens on 127.0.0.1
only and puts its unix socket in the data directory.

PostgreSQL binds its port itself: if another process took it between the choice and the bind, the
start fails with "Address already in use" in the server log, and ``start`` tries the next candidate
port (port 0: any free port).
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import errors, sql

from local_stack import timeouts
from local_stack.process import (
    ANY_PORT, StackError, StackTimeout, bind_failed, log_size, log_tail, pid_alive, start_on_free_port,
)

log = logging.getLogger(__name__)

OS_USER = "postgres"
SUPERUSER = "postgres"
MAX_SOCKET_PATH = 100  # a unix socket path must fit in sun_path (108 bytes on Linux)
SETTINGS = {"work_mem": "64MB"}
"""Server settings over PostgreSQL's defaults. ``work_mem``: the 4MB default made the staging load's
duplicate probe (a ``GROUP BY`` of the record key) spill to disk in 21 batches at 1M events, 1.7 s;
with 64MB 5 batches, 1.25 s (``EXPLAIN ANALYZE``, the same staged day). Per sort or hash node (hash
nodes up to twice that, ``hash_mem_multiplier``), so a few busy tasks stay within a laptop's memory."""


def _version_key(bindir: str) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin; non-numeric parts sort first."""
    return tuple(int(part) if part.isdigit() else -1 for part in Path(bindir).parent.name.split("."))


def find_bindir() -> Path:
    """Directory holding initdb/pg_ctl/postgres: $PG_BINDIR, else Debian's newest, else PATH."""
    candidates = [os.environ["PG_BINDIR"]] if os.environ.get("PG_BINDIR") else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    if which := shutil.which("pg_ctl"):
        candidates.append(str(Path(which).parent))
    for directory in candidates:
        if all((Path(directory) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    raise StackError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in $PG_BINDIR, "
        "/usr/lib/postgresql/*/bin or PATH; install them with: apt-get install postgresql"
    )


def _as_server_user() -> list[str]:
    """Command prefix that runs a tool as the OS user `postgres` when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise StackError(
            f"running as root needs the OS user '{OS_USER}' to own the server "
            "(apt-get install postgresql creates it)"
        ) from None
    return ["runuser", "-u", OS_USER, "--"]


def _check_reachable(path: Path, uid: int) -> None:
    """Raise unless every parent directory of path can be entered by uid."""
    for parent in path.parents:
        st = parent.stat()
        if not (st.st_uid == uid or st.st_mode & stat.S_IXOTH):
            raise StackError(
                f"{parent} (mode {stat.filemode(st.st_mode)}) cannot be entered by OS user '{OS_USER}'; "
                f"put the PostgreSQL data dir {path} elsewhere"
            )


class PostgresServer:
    """One PostgreSQL cluster in data_dir, served on 127.0.0.1:port (0: any free port, chosen by ``start``)."""

    def __init__(self, data_dir: Path, port: int, log_file: Path | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.log_file = Path(log_file).resolve() if log_file else self.data_dir.with_name(self.data_dir.name + ".log")

    def uri(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    @property
    def pid(self) -> int | None:
        """Postmaster pid from postmaster.pid, if that process is alive."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid is not None

    def _run(self, tool: str, *args: str, timeout: float, waiting_for: str | None = None) -> None:
        """Run a server tool as the server's OS user. With waiting_for, it is `pg_ctl -w -t timeout`: its
        running out of time is a StackTimeout naming that; the process itself gets a minute more."""
        cmd = [*_as_server_user(), str(find_bindir() / tool), *args]
        if waiting_for:
            cmd[-1:-1] = ["-w", "-t", str(int(timeout))]  # before the action (start, stop)
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                    timeout=timeout + 60 if waiting_for else timeout)
        except subprocess.TimeoutExpired:
            raise StackTimeout(waiting_for or f"{tool} to finish", timeout, [self.log_file]) from None
        output = result.stderr.strip() or result.stdout.strip()
        if result.returncode != 0 and waiting_for and ("in time" in output or "does not shut down" in output):
            raise StackTimeout(waiting_for, timeout, [self.log_file], detail=output)
        if result.returncode != 0:
            raise StackError(
                f"{tool} failed (exit {result.returncode}): {output}\n"
                f"server log {self.log_file}:\n{log_tail(self.log_file)}"
            )

    def _prepare_dirs(self) -> None:
        """Create the data dir and log file; hand them to the `postgres` OS user when root."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        if os.geteuid() == 0:
            _as_server_user()  # fails clearly if the user is missing
            user = pwd.getpwnam(OS_USER)
            _check_reachable(self.data_dir, user.pw_uid)
            _check_reachable(self.log_file, user.pw_uid)
            for path in (self.data_dir, self.log_file):
                os.chown(path, user.pw_uid, user.pw_gid)

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def start(self, timeout: float | None = None, ports: Iterable[int] | None = None) -> float:
        """initdb on first use, then start and wait until it accepts connections; returns seconds taken.

        The port: self.port, or when it is 0 any free one; with ports, the first of them that the
        server could bind (one that was taken meanwhile is skipped). self.port is the one it took.
        """
        timeout = timeouts.POSTGRES_START if timeout is None else timeout
        if self.is_running():
            raise StackError(f"PostgreSQL already running on data dir {self.data_dir} (pid {self.pid})")
        explicit = ports is None and self.port != ANY_PORT
        began = time.monotonic()

        def start_on(port: int) -> bool:
            self.port = port
            if len(str(self.data_dir / f".s.PGSQL.{self.port}")) > MAX_SOCKET_PATH:
                raise StackError(f"data dir path {self.data_dir} is too long for a unix socket; use a shorter one")
            self._prepare_dirs()
            if not self.initialized():
                log.info("initdb %s", self.data_dir)
                self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                          "--no-locale", timeout=timeouts.POSTGRES_INITDB)
            since = log_size(self.log_file)
            options = " ".join([f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1",
                                *(f"-c {name}={value}" for name, value in SETTINGS.items())])
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "start",
                          timeout=timeout, waiting_for=f"PostgreSQL to accept connections on 127.0.0.1:{port}")
            except StackError:
                if explicit or not bind_failed(self.log_file, since) or self.is_running():
                    raise
                return False
            return True

        candidates = [self.port] if explicit else [ANY_PORT] if ports is None else ports
        start_on_free_port("PostgreSQL", candidates, start_on, fixed=explicit)
        log.info("PostgreSQL on 127.0.0.1:%d (pid %s, log %s)", self.port, self.pid, self.log_file)
        return time.monotonic() - began

    def stop(self) -> bool:
        """Fast shutdown (pg_ctl stop -m fast); False if it was not running."""
        if not self.is_running():
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "stop", timeout=timeouts.POSTGRES_STOP,
                  waiting_for=f"PostgreSQL on 127.0.0.1:{self.port} to shut down")
        return True

    def _connect(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.uri(dbname))
        conn.autocommit = True
        return conn

    def create_database(self, name: str) -> bool:
        """Create database name if missing; returns True if it was created."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
        except errors.DuplicateDatabase:
            return False
        finally:
            conn.close()

    def drop_database(self, name: str) -> None:
        """Drop database name (and its sessions) if it exists."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            conn.close()


WAREHOUSE_SCHEMA = ("create_tables.sql", "create_tables_postgres.sql")
"""The SQL files that make the local warehouse, in order, in the repo: the tables both targets share,
then PostgreSQL's indexes (create_tables_redshift.sql is the production counterpart)."""


def warehouse_schema(repo: Path = Path(__file__).resolve().parents[1]) -> list[Path]:
    """The files of ``WAREHOUSE_SCHEMA`` that ``repo`` has."""
    return [repo / name for name in WAREHOUSE_SCHEMA if (repo / name).exists()]


def run_sql_file(uri: str, path: Path) -> None:
    """Execute the SQL script at path in the database at uri, in one transaction."""
    conn = psycopg2.connect(uri)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(Path(path).read_text())
    finally:
        conn.close()


@contextmanager
def scratch_warehouse(prefix: str, *schema: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server of its own in a temporary folder, with database ``bench`` made by the SQL
    files ``schema``, in order: yields (the database's URI, the folder); the server is stopped and the
    folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        folder = Path(scratch)
        folder.chmod(0o711)  # PostgreSQL runs as the `postgres` user when we are root
        server = PostgresServer(folder / "pg", ANY_PORT, folder / "pg.log")
        server.start()
        try:
            server.create_database("bench")
            for path in schema:
                run_sql_file(server.uri("bench"), path)
            yield server.uri("bench"), folder
        finally:
            server.stop()

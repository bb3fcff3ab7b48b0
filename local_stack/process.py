"""Detached server processes: spawn in a new session, check, and stop by the recorded pid.

Each process is started with ``start_new_session=True``, so its pid is also its session id
and process-group id. Stopping signals every live process of that session (found in /proc),
which also catches workers that moved to their own process group. A record carries the
kernel start time of the pid, so a stale record never matches a reused pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")

# Popen objects of the processes spawned here, kept so they can be reaped (no zombies, no warnings).
_children: dict[int, subprocess.Popen[bytes]] = {}


class StackError(RuntimeError):
    """A local-stack component failed; the message names it and its log file."""


@dataclass(frozen=True)
class ProcessRecord:
    """A process started by this package: pid (= session id) and its kernel start time."""

    pid: int
    started: int | None

    def to_json(self) -> dict[str, int | None]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, int | None]) -> ProcessRecord:
        return cls(pid=int(data["pid"]), started=data.get("started"))


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state), or None if gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Kernel start time of pid in clock ticks; None if the pid does not exist or /proc is absent."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (reaps it first if we spawned it)."""
    if pid in _children and _children[pid].poll() is not None:
        del _children[pid]
        return False
    if PROC.is_dir():
        fields = _stat_fields(pid)
        return fields is not None and fields[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_alive(record: ProcessRecord) -> bool:
    """True if the recorded process still runs and is the same process (not a reused pid)."""
    if not pid_alive(record.pid):
        return False
    return record.started is None or start_time(record.pid) == record.started


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) pids whose session id is sid (just sid itself where /proc is absent)."""
    if not PROC.is_dir():
        return [sid] if pid_alive(sid) else []
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def spawn(
    cmd: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ProcessRecord:
    """Start cmd detached in a new session, stdout+stderr appended to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return ProcessRecord(pid=proc.pid, started=start_time(proc.pid))


def _signal_session(sid: int, sig: signal.Signals) -> list[int]:
    members = session_members(sid)
    for pid in members:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return members


def stop_all(records: Iterable[ProcessRecord], timeout: float = 20.0) -> list[bool]:
    """SIGTERM every process of each record's session at once, SIGKILL what is left after timeout.

    Orphans of a dead leader are stopped too. Per record: False if nothing of it was left to stop.
    """
    records = list(records)
    signalled = []
    for record in records:
        if record.started is not None and start_time(record.pid) not in (None, record.started):
            signalled.append(False)  # the pid now belongs to an unrelated process
        else:
            signalled.append(bool(_signal_session(record.pid, signal.SIGTERM)))
    sids = [r.pid for r, sent in zip(records, signalled) if sent]

    def all_gone() -> bool:
        for sid in sids:
            pid_alive(sid)  # reaps the leader if we spawned it
        return not any(session_members(sid) for sid in sids)

    try:
        wait_until(all_gone, timeout, "processes to exit", interval=0.1)
    except StackError:
        for sid in sids:
            _signal_session(sid, signal.SIGKILL)
        wait_until(all_gone, 5.0, f"sessions {sids} to exit after SIGKILL")
    return signalled


def stop(record: ProcessRecord, timeout: float = 20.0) -> bool:
    """stop_all() for one record."""
    return stop_all([record], timeout)[0]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll predicate until true; raise StackError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def start_server(
    cmd: Sequence[str], log_file: Path, *, host: str, port: int, what: str, answers: Callable[[], bool],
    timeout: float, cwd: Path | None = None,
) -> ProcessRecord:
    """Spawn a server on host:port and wait until ``answers()``; on failure stop it and show its log."""
    if port_in_use(port, host):
        raise StackError(f"port {port} on {host} is already in use; cannot start {what} there")
    process = spawn(cmd, log_file, cwd=cwd)
    try:
        wait_until(lambda: answers() or not is_alive(process), timeout, f"{what} on {host}:{port}")
    except StackError as exc:
        stop(process)
        raise StackError(f"{exc}; log {log_file}:\n{log_tail(log_file)}") from None
    if not is_alive(process):
        raise StackError(f"{what} exited at start; log {log_file}:\n{log_tail(log_file)}")
    return process


PACKAGE_PARENT = Path(__file__).resolve().parents[1]  # the servers' cwd, so `-m local_stack....` imports


class ChildServer:
    """A server on host:port run as `python -m <module>` in its own session; stopped by its pid.

    Subclasses name it (``what``), give its ``command()`` and say when it ``answers()``.
    """

    what = "server"
    start_timeout = 30.0

    def __init__(self, port: int, log_file: Path, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.log_file = log_file
        self.process: ProcessRecord | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def is_running(self) -> bool:
        return self.process is not None and is_alive(self.process)

    def start(self, timeout: float | None = None) -> ProcessRecord:
        """Start the server and wait until it answers."""
        self.process = start_server(
            self.command(), self.log_file, host=self.host, port=self.port, what=self.what, answers=self.answers,
            timeout=self.start_timeout if timeout is None else timeout, cwd=PACKAGE_PARENT,
        )
        return self.process

    def stop(self) -> bool:
        """Stop the server (its whole session); False if it was not running."""
        if self.process is None:
            return False
        stopped = stop(self.process)
        self.process = None
        return stopped


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A currently unused TCP port chosen by the kernel."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pick_port(default: int, env_var: str, host: str = "127.0.0.1", span: int = 100) -> int:
    """Port from env_var (must be free), else default or the next free one above it."""
    if value := os.environ.get(env_var):
        port = int(value)
        if port_in_use(port, host):
            raise StackError(f"{env_var}={port}: port already in use on {host}")
        return port
    for port in range(default, default + span):
        if not port_in_use(port, host):
            return port
    raise StackError(f"no free port in {default}..{default + span - 1} on {host}; set {env_var}")


def log_tail(path: Path, lines: int = 30) -> str:
    """Last lines of a log file, or a note that it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])

"""Detached server processes: spawn in a new session, check, and stop by the recorded pid.

Each process is started with ``start_new_session=True``, so its pid is also its session id
and process-group id. Stopping signals every live process of that session (found in /proc),
which also catches workers that moved to their own process group. A record carries the
kernel start time of the pid, so a stale record never matches a reused pid.

Ports: a child server of ours (moto S3, the SMTP catcher) gets its listening socket from us,
already bound (``listen_socket``), so no other process can take its port between the choice and
the bind. A server that binds its port itself (PostgreSQL, Airflow's api-server) is started again
on the next candidate port when its log says that port was taken meanwhile (``bind_failed``).
Port 0 means any free port, as for bind(2).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from local_stack import timeouts

log = logging.getLogger(__name__)
PROC = Path("/proc")
LOG_TAIL_LINES = 40  # lines of a service's log shown in an error
ANY_PORT = 0
ANY_PORT_ATTEMPTS = 20  # free ports tried, one after the other, for a server that binds its port itself

# Popen objects of the processes spawned here, kept so they can be reaped (no zombies, no warnings).
_children: dict[int, subprocess.Popen[bytes]] = {}


class StackError(RuntimeError):
    """A local-stack component failed; the message names it and its log file."""


class StackTimeout(StackError):
    """A wait ran out: the message names what it waited for, how long, and the tail of each relevant log."""

    def __init__(self, what: str, seconds: float, logs: Iterable[Path] = (), detail: str = "") -> None:
        self.what, self.seconds, self.logs = what, seconds, [Path(p) for p in logs]
        super().__init__(timeout_message(what, seconds, self.logs, detail))


class PortTaken(StackError):
    """None of the ports a server could take was free."""

    def __init__(self, message: str, ports: Sequence[int]) -> None:
        super().__init__(message)
        self.ports = list(ports)


def timeout_message(what: str, seconds: float, logs: Iterable[Path] = (), detail: str = "") -> str:
    """'timed out after Ns waiting for <what>[: detail]', then the last lines of each log."""
    text = f"timed out after {seconds:.0f}s waiting for {what}" + (f": {detail}" if detail else "")
    for path in logs:
        text += f"\n--- last {LOG_TAIL_LINES} lines of {path} ---\n{log_tail(path)}"
    return text


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
    pass_fds: Sequence[int] = (),
) -> ProcessRecord:
    """Start cmd detached in a new session, stdout+stderr appended to log_file; pass_fds are inherited."""
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
            pass_fds=tuple(pass_fds),
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


def stop_all(records: Iterable[ProcessRecord], timeout: float | None = None) -> list[bool]:
    """SIGTERM every process of each record's session at once, SIGKILL what is left after timeout
    (default ``timeouts.STOP_GRACE``).

    Orphans of a dead leader are stopped too. Per record: False if nothing of it was left to stop.
    """
    timeout = timeouts.STOP_GRACE if timeout is None else timeout
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
    except StackTimeout:
        for sid in sids:
            _signal_session(sid, signal.SIGKILL)
        wait_until(all_gone, timeouts.KILLED_EXIT, f"sessions {sids} to exit after SIGKILL")
    return signalled


def stop(record: ProcessRecord, timeout: float | None = None) -> bool:
    """stop_all() for one record."""
    return stop_all([record], timeout)[0]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2,
               logs: Iterable[Path] = ()) -> None:
    """Poll predicate until true; after timeout seconds raise StackTimeout naming `what`, with the tail of each log."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise StackTimeout(what, timeout, logs)
        time.sleep(interval)


# --- ports -----------------------------------------------------------------------------------------


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(timeouts.PROBE)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A currently unused TCP port chosen by the kernel.

    Only a guess: another process may bind it before whoever uses it does. A server of ours takes
    ``listen_socket`` instead, or port 0 (``PostgresServer``), which picks and retries itself.
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def any_free_ports(host: str = "127.0.0.1", attempts: int = ANY_PORT_ATTEMPTS) -> Iterator[int]:
    """Candidates for 'any free port' of a server that binds its port itself: a fresh free_port() each."""
    return (free_port(host) for _ in range(attempts))


def concrete_ports(ports: Iterable[int], host: str = "127.0.0.1") -> Iterator[int]:
    """ports for a server that binds its port itself: each as it is, 0 (any) as any_free_ports()."""
    for port in ports:
        if port == ANY_PORT:
            yield from any_free_ports(host)
        else:
            yield port


def start_on_free_port(what: str, ports: Iterable[int], start: Callable[[int], bool], *, fixed: bool = False,
                       named_by: str | None = None, host: str = "127.0.0.1") -> int:
    """Start a server that binds its port itself on the first of ``ports`` (0: any free one) it can
    bind; returns that port.

    A port in use is skipped. ``start(port)`` starts the server there; it returns False when the
    server's log says another process took the port between the check and the bind (having left
    nothing running), and the next candidate is tried. ``fixed``: the one port was named, so a port
    in use fails at once, naming ``named_by`` (the variable that named it) when given.
    """
    tried = []
    for port in concrete_ports(ports, host):
        if port_in_use(port, host):
            if fixed:
                raise StackError(f"{named_by}={port}: port already in use on {host}; cannot start {what} there"
                                 if named_by else f"port {port} on {host} is already in use; cannot start {what} there")
            tried.append(port)
            continue
        if start(port):
            return port
        log.warning("port %d was taken before %s could bind it: trying another one", port, what)
        tried.append(port)
    raise StackError(f"no free port for {what} on {host}: tried {_port_list(tried) or 'none'}")


def default_ports(default: int, span: int = 100) -> range:
    """default and the ports above it, the candidates of a service that has a usual port."""
    return range(default, min(default + span, 65536))


def listen_socket(host: str, ports: Iterable[int], what: str = "the server") -> socket.socket:
    """A TCP socket listening on host at the first of ports that can be bound (0: one the kernel picks).

    The socket is ours from the bind on: hand it to the server (``spawn(..., pass_fds=...)``) and no
    other process can take the port in between. Raises PortTaken naming the ports tried.
    """
    tried = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a stopped server's TIME_WAIT does not block
        try:
            sock.bind((host, port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            if error.errno != errno.EADDRINUSE:
                raise
            tried.append(port)
            continue
        return sock
    if len(tried) == 1:
        raise PortTaken(f"port {tried[0]} on {host} is already in use; cannot start {what} there", tried)
    raise PortTaken(f"no free port for {what} on {host}: tried {_port_list(tried)}", tried)


def _port_list(ports: Sequence[int]) -> str:
    if len(ports) > 3 and list(ports) == list(range(ports[0], ports[0] + len(ports))):
        return f"{ports[0]}..{ports[-1]}"
    return ", ".join(map(str, ports))


def log_size(path: Path) -> int:
    """Bytes in the log now (0 if it does not exist): where the next start's lines begin."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def bind_failed(log_file: Path, since: int = 0) -> bool:
    """True if the log, from byte `since`, says a port could not be bound because it was in use."""
    try:
        with open(log_file, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace").lower()
    except FileNotFoundError:
        return False
    return "address already in use" in text


# --- child servers ---------------------------------------------------------------------------------


def start_server(
    cmd: Sequence[str], log_file: Path, *, host: str, port: int, what: str, answers: Callable[[], bool],
    timeout: float, cwd: Path | None = None, sock: socket.socket | None = None,
) -> ProcessRecord:
    """Spawn a server on host:port and wait until ``answers()``; on failure stop it and show its log.

    With sock (its listening socket, already bound; closed here once the server has it) the port
    is not checked: it is ours.
    """
    if sock is None and port_in_use(port, host):
        raise StackError(f"port {port} on {host} is already in use; cannot start {what} there")
    try:
        process = spawn(cmd, log_file, cwd=cwd, pass_fds=[sock.fileno()] if sock else [])
    finally:
        if sock is not None:
            sock.close()  # the server holds it now: if it exits, the port is free again
    try:
        wait_until(lambda: answers() or not is_alive(process), timeout, f"{what} to answer on {host}:{port}",
                   logs=[log_file])
    except StackTimeout:
        stop(process)
        raise
    if not is_alive(process):
        raise StackError(f"{what} exited at start; log {log_file}:\n{log_tail(log_file)}")
    return process


PACKAGE_PARENT = Path(__file__).resolve().parents[1]  # the servers' cwd, so `-m local_stack....` imports


class ChildServer:
    """A server on host:port run as `python -m <module>` in its own session; stopped by its pid.

    Subclasses name it (``what``), give its ``command(fd)`` (fd: the listening socket it inherits)
    and say when it ``answers()``. Port 0: any free port, known once started.
    """

    what = "server"
    start_timeout = timeouts.SERVER_START

    def __init__(self, port: int, log_file: Path, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.log_file = log_file
        self.process: ProcessRecord | None = None

    def command(self, fd: int | None = None) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def is_running(self) -> bool:
        return self.process is not None and is_alive(self.process)

    def start(self, timeout: float | None = None, ports: Iterable[int] | None = None) -> ProcessRecord:
        """Start the server on a socket bound here (self.port, else the first free of ports) and wait until it answers."""
        self.command()  # a bad command line fails before any port is taken
        sock = listen_socket(self.host, [self.port] if ports is None else ports, self.what)
        self.port = sock.getsockname()[1]
        self.process = start_server(
            self.command(sock.fileno()), self.log_file, host=self.host, port=self.port, what=self.what,
            answers=self.answers, timeout=self.start_timeout if timeout is None else timeout, cwd=PACKAGE_PARENT,
            sock=sock,
        )
        return self.process

    def stop(self) -> bool:
        """Stop the server (its whole session); False if it was not running."""
        if self.process is None:
            return False
        stopped = stop(self.process)
        self.process = None
        return stopped


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Last lines of a log file, or a note that it does not exist."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"

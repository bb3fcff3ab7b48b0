"""Detached processes: a stop reaches the whole session and never a reused pid."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_stack import timeouts
from local_stack.process import (
    LOG_TAIL_LINES, ChildServer, PortTaken, ProcessRecord, StackError, StackTimeout, bind_failed, free_port, is_alive,
    listen_socket, log_size, port_in_use, session_members, spawn, start_on_free_port, start_time, stop, wait_until,
)

REPO = Path(__file__).resolve().parents[2]

# A parent that starts a child in its own process group (as executors do), then both sleep.
TREE = (
    "import os, subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setpgid(0, 0); time.sleep(300)']); "
    "time.sleep(300)"
)


def test_stop_ends_the_whole_session_including_children_in_other_groups(tmp_path):
    record = spawn([sys.executable, "-c", TREE], tmp_path / "tree.log")
    wait_until(lambda: len(session_members(record.pid)) == 2, timeouts.CHILD_START, "the child to start")
    assert is_alive(record)
    assert stop(record, timeout=5)
    assert session_members(record.pid) == []
    assert not is_alive(record)
    assert not stop(record)


def test_a_record_whose_pid_was_reused_is_neither_alive_nor_stopped(tmp_path):
    record = spawn([sys.executable, "-c", "import time; time.sleep(300)"], tmp_path / "sleep.log")
    stale = ProcessRecord(pid=record.pid, started=start_time(record.pid) - 1)
    assert not is_alive(stale)
    assert not stop(stale)
    assert is_alive(record)
    assert stop(record)


def test_listen_socket_holds_the_first_port_it_can_bind_and_names_a_taken_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with listen_socket("127.0.0.1", [port, 0], "the probe") as held:
            assert held.getsockname()[1] not in (port, 0)
            # held from the bind on: another process can neither bind it nor find it free
            assert port_in_use(held.getsockname()[1])
        with pytest.raises(PortTaken, match=f"port {port} on 127.0.0.1 is already in use; cannot start the probe there"):
            listen_socket("127.0.0.1", [port], "the probe")


def test_a_port_bound_but_not_listening_is_free_to_a_probe_yet_taken_to_a_bind():
    # The race a server that binds its own port loses: free when checked, taken when bound.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        assert not port_in_use(port)
        with pytest.raises(PortTaken):
            listen_socket("127.0.0.1", [port])


def test_start_on_free_port_skips_ports_in_use_and_tries_the_next_when_the_bind_lost_the_race():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        lost, won = free_port(), free_port()
        started = []

        def start(port):
            started.append(port)
            return port != lost  # the server's log said another process bound `lost` first

        assert start_on_free_port("the probe", [busy, lost, won], start) == won
        assert started == [lost, won]
        with pytest.raises(StackError, match=f"SPARKIFY_PROBE_PORT={busy}: port already in use on 127.0.0.1; "
                                             "cannot start the probe there"):
            start_on_free_port("the probe", [busy], start, fixed=True, named_by="SPARKIFY_PROBE_PORT")
        with pytest.raises(StackError, match=f"no free port for the probe on 127.0.0.1: tried {busy}, {lost}"):
            start_on_free_port("the probe", [busy, lost], start)


def test_bind_failed_reads_only_what_the_log_got_since_the_start(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n")
    since = log_size(log)
    assert bind_failed(log) and not bind_failed(log, since)
    with log.open("a") as more:
        more.write("ERROR: [Errno 98] error while attempting to bind on address ('127.0.0.1', 8080): address already in use\n")
    assert bind_failed(log, since)
    assert not bind_failed(tmp_path / "missing.log")


def test_wait_until_names_what_timed_out():
    began = time.monotonic()
    with pytest.raises(StackError, match="waiting for the moon"):
        wait_until(lambda: False, 0.3, "the moon", interval=0.05)
    assert time.monotonic() - began < 5


def test_a_timeout_shows_the_tail_of_the_log_of_what_it_waited_for(tmp_path):
    log = tmp_path / "moon.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 101)))
    with pytest.raises(StackTimeout) as caught:
        wait_until(lambda: False, 0.2, "the moon to rise", interval=0.05, logs=[log, tmp_path / "absent.log"])
    message = str(caught.value)
    assert message.startswith("timed out after 0s waiting for the moon to rise\n")
    assert f"--- last {LOG_TAIL_LINES} lines of {log} ---\n" + "\n".join(f"line {n}" for n in range(61, 101)) in message
    assert "line 60\n" not in message
    assert f"(no log at {tmp_path / 'absent.log'})" in message
    assert caught.value.what == "the moon to rise" and caught.value.logs == [log, tmp_path / "absent.log"]


def test_a_child_server_that_never_answers_times_out_naming_it_with_its_log(tmp_path):
    class Silent(ChildServer):
        what = "the silent server"

        def command(self, fd=None):
            return [sys.executable, "-c", "import time; print('starting up, slowly', flush=True); time.sleep(300)"]

        def answers(self):
            return False

    server = Silent(0, tmp_path / "silent.log")
    with pytest.raises(StackTimeout) as caught:
        server.start(timeout=1)
    message = str(caught.value)
    assert message.startswith(f"timed out after 1s waiting for the silent server to answer on 127.0.0.1:{server.port}")
    assert "starting up, slowly" in message
    assert not port_in_use(server.port)  # stopped, and its socket went with it


def test_timeouts_scale_with_one_variable():
    def timeout(scale):
        env = {**os.environ, "SPARKIFY_TIMEOUT_SCALE": scale}
        return subprocess.run([sys.executable, "-c", "from local_stack import timeouts; print(timeouts.SERVER_START)"],
                              env=env, capture_output=True, text=True, cwd=REPO)

    base = float(timeout("1").stdout)
    assert float(timeout("2.5").stdout) == 2.5 * base
    refused = timeout("fast")
    assert refused.returncode != 0 and "SPARKIFY_TIMEOUT_SCALE='fast': expected a positive number" in refused.stderr

"""Detached processes: a stop reaches the whole session and never a reused pid."""

import socket
import sys
import time

import pytest

from local_stack.process import (
    ProcessRecord, StackError, is_alive, pick_port, session_members, spawn, start_time, stop, wait_until,
)

# A parent that starts a child in its own process group (as executors do), then both sleep.
TREE = (
    "import os, subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setpgid(0, 0); time.sleep(300)']); "
    "time.sleep(300)"
)


def test_stop_ends_the_whole_session_including_children_in_other_groups(tmp_path):
    record = spawn([sys.executable, "-c", TREE], tmp_path / "tree.log")
    wait_until(lambda: len(session_members(record.pid)) == 2, 10, "the child to start")
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


def test_pick_port_skips_a_taken_default_but_refuses_a_taken_explicit_port(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.delenv("SPARKIFY_TEST_PORT", raising=False)
        assert pick_port(port, "SPARKIFY_TEST_PORT") > port
        monkeypatch.setenv("SPARKIFY_TEST_PORT", str(port))
        with pytest.raises(StackError, match=f"SPARKIFY_TEST_PORT={port}: port already in use"):
            pick_port(port, "SPARKIFY_TEST_PORT")


def test_wait_until_names_what_timed_out():
    began = time.monotonic()
    with pytest.raises(StackError, match="waiting for the moon"):
        wait_until(lambda: False, 0.3, "the moon", interval=0.05)
    assert time.monotonic() - began < 2

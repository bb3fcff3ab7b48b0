"""`pytest --under-load`: the test session on a busy machine, on purpose.

For the whole session: CPU hogs (busy Python loops, two per core unless `--load-hogs N`) and, unless
`--under-load-cpu`, a second local stack of its own (a temp state dir, any free ports) that runs
`sparkify demo` on generated days and then `sparkify rerun` over them again and again: a scheduler,
LocalExecutor workers, PostgreSQL and moto busy beside the session's own servers, as when another
clone's stack runs a backfill. It runs from a copy of the working tree (another clone, in effect:
its GX results and Data Docs go to the copy's gx/, not to the ones the tests read).

Each hog and the second stack's driver run in a session of their own and are stopped by their pid
at the end; the second stack is then stopped with `sparkify down`. The load average is sampled
every 15 s and summed up at the end of the run; the logs stay in the session's sparkify-load-* folder.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from local_stack import timeouts
from local_stack.process import ProcessRecord, spawn, stop_all
from local_stack.stack import any_free_ports_env

REPO = Path(__file__).resolve().parents[1]
HOG = "while True: pass"
LOAD_DAYS = ("2018-11-01", "2018-11-03")  # the second stack's generated days, run again and again
SAMPLE_EVERY = 15.0
# Not copied into the second stack's clone: environments, caches, state, and GX's results and Data Docs.
NOT_CLONED = {".git", ".venv", ".sparkify", ".artifacts", ".pytest_cache", ".ruff_cache", "__pycache__"}
NOT_CLONED_IN_GX_UNCOMMITTED = {"validations", "data_docs"}
# The second stack's driver: a demo (generates the days, starts the stack, backfills), then reruns
# forever. A failed rerun (say the stack went down) is retried after a pause, not in a tight loop.
DRIVER = f"""
set -u
"$PYTHON" -m local_stack.cli demo --days 3 --events 3000 --songs 300 || echo "sparkify demo failed: $?"
while :; do
  "$PYTHON" -m local_stack.cli rerun {LOAD_DAYS[0]} {LOAD_DAYS[1]} || {{ echo "sparkify rerun failed: $?"; sleep 30; }}
done
"""


def _not_cloned(folder: str, names: list[str]) -> set[str]:
    ignored = NOT_CLONED & set(names)
    if Path(folder).name == "uncommitted" and Path(folder).parent.name == "gx":
        ignored |= NOT_CLONED_IN_GX_UNCOMMITTED & set(names)
    return ignored


def default_hogs() -> int:
    return 2 * (os.cpu_count() or 1)


@dataclass
class Load:
    """The load of one test session: hogs, maybe a second stack, and load-average samples."""

    hogs: int
    with_stack: bool
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sparkify-load-")))
    records: list[ProcessRecord] = field(default_factory=list)
    stack_record: ProcessRecord | None = None
    samples: list[float] = field(default_factory=list)
    stack_outcome: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None

    @property
    def stack_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHON": sys.executable, "SPARKIFY_STATE_DIR": str(self.folder / "state"),
                **any_free_ports_env()}

    @property
    def clone(self) -> Path:
        return self.folder / "clone"

    @property
    def stack_log(self) -> Path:
        return self.folder / "second-stack.log"

    def start(self) -> None:
        self.folder.chmod(0o711)  # the second stack's PostgreSQL runs as the `postgres` user when we are root
        for number in range(self.hogs):
            self.records.append(spawn([sys.executable, "-c", HOG], self.folder / f"hog-{number}.log"))
        if self.with_stack:
            shutil.copytree(REPO, self.clone, ignore=_not_cloned, symlinks=True)
            self.stack_record = spawn(["bash", "-c", DRIVER], self.stack_log, env=self.stack_env, cwd=self.clone)
        self._sampler = threading.Thread(target=self._sample, name="load-sampler", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.samples.append(os.getloadavg()[0])

    def describe(self) -> str:
        parts = [f"{len(self.records)} CPU hog(s) (pids {', '.join(str(r.pid) for r in self.records)})"]
        if self.stack_record:
            parts.append(f"a second stack backfilling (driver pid {self.stack_record.pid}, log {self.stack_log})")
        return "under load: " + "; ".join(parts)

    def summary(self) -> str:
        if self.samples:
            text = (f"under load: 1-minute load average over {len(self.samples)} samples: min {min(self.samples):.1f}, "
                    f"median {statistics.median(self.samples):.1f}, max {max(self.samples):.1f} "
                    f"on {os.cpu_count()} core(s)")
        else:
            text = "under load: no load-average sample (the session was shorter than 15 s)"
        return text + (f"; {self.stack_outcome}" if self.stack_outcome else "")

    def _stack_outcome(self) -> str:
        try:
            lines = self.stack_log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "the second stack left no log"
        backfills = sum(1 for line in lines if "day(s) succeeded" in line)
        failures = [line for line in lines if line.startswith(("sparkify demo failed", "sparkify rerun failed"))
                    and not line.endswith(": 143")]  # 143: the SIGTERM of stop() itself
        text = f"the second stack finished {backfills} backfill(s)"
        if failures:
            text += f"; {len(failures)} failed (log {self.stack_log}), the last lines:\n" + "\n".join(lines[-6:])
        return text

    def stop(self) -> None:
        """Stop the hogs and the driver by their pids, then the second stack with `sparkify down`; idempotent."""
        self._stop.set()
        records = self.records + ([self.stack_record] if self.stack_record else [])
        self.records = []
        if records:
            stop_all(records, timeout=timeouts.STOP_GRACE)
        if self.stack_record:
            self.stack_record = None
            self.stack_outcome = self._stack_outcome()
            subprocess.run([sys.executable, "-m", "local_stack.cli", "down"], cwd=self.clone, env=self.stack_env,
                           capture_output=True, timeout=timeouts.STACK_DOWN)
        for scratch in (self.folder / "state", self.clone):  # the logs stay, for a look afterwards
            shutil.rmtree(scratch, ignore_errors=True)

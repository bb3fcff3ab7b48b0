"""Benchmark datagen: time, events/s and peak RSS for two sizes side by side, each size in a fresh process.

    .venv/bin/python bench/bench_generate.py                     # 100k and 1M events
    .venv/bin/python bench/bench_generate.py --sizes 10000 2000000

Peak RSS is the child's ru_maxrss (Linux: KiB). A large/small RSS ratio near 1.0 while the event ratio is
10x shows that memory does not grow with the number of events. Output goes to a temporary directory.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for `import datagen`

from datagen import generate  # noqa: E402
from datagen.dataset import DEFAULT_DAYS, DEFAULT_SONGS  # noqa: E402


def _measure(events: int, songs: int, out_dir: str) -> None:
    """Child process: generate once and print seconds and peak RSS as JSON."""
    started = time.perf_counter()
    summary = generate(out_dir, events=events, songs=songs, days=DEFAULT_DAYS, progress=False)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": summary.events, "seconds": seconds, "peak_kib": peak_kib}))


def _run_child(events: int, songs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="datagen-bench-") as out_dir:
        command = [sys.executable, __file__, "--child", "--songs", str(songs), "--sizes", str(events), "--out", out_dir]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="event counts")
    parser.add_argument("--songs", type=int, default=DEFAULT_SONGS, help="catalog size, the same for every run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _measure(args.sizes[0], args.songs, args.out)
        return
    runs = [_run_child(events, args.songs) for events in args.sizes]
    print(f"{'events':>12} {'songs':>7} {'seconds':>8} {'events/s':>10} {'peak RSS MiB':>13}")
    for run in runs:
        print(f"{run['events']:>12,} {args.songs:>7,} {run['seconds']:>8.2f} {run['events'] / run['seconds']:>10,.0f}"
              f" {run['peak_kib'] / 1024:>13.1f}")
    smallest, largest = runs[0], runs[-1]
    print(f"largest / smallest: events x{largest['events'] / smallest['events']:.1f}, "
          f"peak RSS x{largest['peak_kib'] / smallest['peak_kib']:.2f}")


if __name__ == "__main__":
    main()

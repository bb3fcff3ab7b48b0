"""Run the benchmarks of bench/ and print one table: a row per measure, its ratio and its target.

    ./sparkify bench              # the full run: days of up to 10M events, a year of 100k-event days
    ./sparkify bench --quick      # a reviewer's run (about 10 minutes on 2 cores): up to 1M events, 10k-event days
    ./sparkify bench --only P3 P5

Every figure is measured side by side in the same run, on scratch PostgreSQL servers of the local
stack's own build, with data from the project's generator (and the real sample in ../shared), so
a ratio holds on a noisy machine where a time would not. Each benchmark also runs alone
(``.venv/bin/python bench/bench_<name>.py --help``) and says there what it measures and how.
Exit 1 when a measure misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BENCHMARKS = {
    "bench_stage_local": ("P1", "P1b", "P1c", "P2"),
    "bench_history": ("P3",),
    "bench_gate": ("P4",),
    "bench_scaling": ("P4",),
    "bench_parse": ("P5",),
    "bench_scheduler": ("P6",),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sparkify bench", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: the run a reviewer makes (about 10 minutes)")
    parser.add_argument("--only", nargs="+", metavar="P", choices=sorted({p for ps in BENCHMARKS.values() for p in ps}),
                        help="run only the benchmarks of these measures")
    args = parser.parse_args(argv)

    found, started = [], time.perf_counter()
    for name, numbers in BENCHMARKS.items():
        if args.only and not set(numbers) & set(args.only):
            continue
        module = importlib.import_module(name)
        print(f"== {'/'.join(numbers)}: bench/{name}.py - {module.__doc__.splitlines()[0]}", flush=True)
        began = time.perf_counter()
        measures = module.measures(args.quick, report=lambda line: print(f"   {line}", flush=True))
        for measure in measures:
            print(f"   {measure.line()}", flush=True)
        print(f"   ({time.perf_counter() - began:.0f} s)", flush=True)
        found += measures

    print(f"\nsparkify bench{' --quick' if args.quick else ''}: {len(found)} measures in "
          f"{(time.perf_counter() - started) / 60:.1f} min")
    for measure in found:
        print(measure.line())
    missed = [measure.number for measure in found if not measure.passed]
    if missed:
        print(f"MISS: {', '.join(dict.fromkeys(missed))}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

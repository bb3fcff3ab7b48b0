"""Benchmark how a day's run grows with the day's events, and the run's gate against plain SQL (P4, docs/performance-scaling.svg).

    .venv/bin/python bench/bench_scaling.py                                   # 10k, 100k and 1M events a day
    .venv/bin/python bench/bench_scaling.py --sizes 10000 100000 1000000 10000000

For each size, two days of that many events each are generated (datagen) into a scratch
PostgreSQL made by the local stack's schema files: the first day and the catalog are published
with the DAG's SQL, then the second is run as the DAG runs it (bench/day_run.py) twice, the faster
kept: stage, load, record (the day's metrics), gate (every suite's checkpoint, in the run's audit
area), publish. Beside the gate, in the same audit area before publishing, the same checks as
plain SQL: every expectation of every suite as one query (bench_gate.plain_sql) and the history
judgement's own queries - what a user would write instead of GX.

Printed: each phase's seconds by size; P4 at each size (the gate's time over plain SQL's); P4's
growth (the gate's time per event at the largest size over that at the smallest: 1.0 is linear,
below it the fixed cost shrinks per event). Drawn: each phase's time against the day's events
(log-log) into --plot (default docs/performance-scaling.svg).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "bench")]

from bench_gate import TARGET, run_plain, suite_expectations  # noqa: E402
from day_run import PHASES, fastest_run, gx_context_for  # noqa: E402
from measures import Measure  # noqa: E402

START = date(2018, 11, 1)
PLOT = REPO / "docs" / "performance-scaling.svg"
LINEAR = 1.2
"""P4's growth target: the gate's time per event at the largest day within 1.2x that at the smallest."""


def measure_size(events: int, runs: int = 2, report=print) -> dict[str, float]:
    """The phases' seconds of a run of a day of ``events`` events, and the gate's as plain SQL (``plain``)."""
    import psycopg

    from datagen import generate
    from helpers.audit_area import area_name
    from local_stack import sql_pipeline
    from local_stack.postgres import scratch_warehouse, warehouse_schema
    from quality_gate import gx_context, history

    days = [str(START), str(START + timedelta(days=1))]
    with scratch_warehouse("bench-scaling-", *warehouse_schema()) as (uri, scratch_dir):
        data = scratch_dir / "data"
        generate(data, events=events * 2, songs=2_000, start=START, days=2, progress=False)
        context = gx_context_for(uri, scratch_dir, audit_area=area_name("test", days[1]))
        specs = gx_context.validated_tables()
        suites = suite_expectations(context, specs)

        def plain(cursor) -> float:
            started = time.perf_counter()
            for spec in specs:
                if spec.history:
                    history.judge_day(cursor, spec, date.fromisoformat(days[1]))
            run_plain(cursor, suites, {spec.name: f'"{spec.name}"' for spec in specs})
            return time.perf_counter() - started

        with psycopg.connect(uri) as connection:
            sql_pipeline.load_days(connection, data, days[:1])
            best = fastest_run(runs, connection, context, data, days[1], in_area=plain)
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM staging_events WHERE ts >= %s", (days[1],))
                staged = cursor.fetchone()[0]
    best["events"] = staged
    report(f"{staged:>10,} events: " + ", ".join(f"{phase} {best[phase]:.2f} s" for phase in PHASES)
           + f"; the gate as plain SQL {best['in_area']:.2f} s")
    return best


def measures_of(results: dict[int, dict[str, float]]) -> list[Measure]:
    found = [Measure("P4", f"the run's gate (every suite, its audit area) vs plain SQL, time ({size:,} events)",
                     result["gate"] / result["in_area"], TARGET, at_least=False) for size, result in results.items()]
    if len(results) > 1:
        small, large = results[min(results)], results[max(results)]
        growth = (large["gate"] / large["events"]) / (small["gate"] / small["events"])
        found.append(Measure("P4", f"the gate's time per event, {max(results):,} vs {min(results):,} events a day",
                             growth, LINEAR, at_least=False))
    return found


def plot(results: dict[int, dict[str, float]], path: Path) -> None:
    """Each phase's seconds against the day's events, log-log, as SVG (no timestamp: the file changes only with the figures)."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "sparkify"
    sizes = sorted(results)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for phase, label in [*((phase, phase) for phase in PHASES), ("in_area", "gate as plain SQL")]:
        axes.plot(sizes, [results[size][phase] for size in sizes], marker="o",
                  linestyle="--" if phase == "in_area" else "-", label=label)
    axes.set(xscale="log", yscale="log", xlabel="events in the day", ylabel="seconds",
             title="One day's run by phase (local PostgreSQL, 2 cores)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)


def measures(quick: bool, report=print) -> list[Measure]:
    """10k and 100k events a day (quick: the committed plot stays as it is), else up to 10M, drawn into PLOT."""
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000, 10_000_000]
    results = {size: measure_size(size, report=report) for size in sizes}
    if not quick:
        plot(results, PLOT)
        report(f"plot: {PLOT}")
    return measures_of(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], metavar="EVENTS",
                        help="events a day, one run per size (default 10000 100000 1000000)")
    parser.add_argument("--plot", type=Path, default=PLOT, help=f"the SVG to draw (default {PLOT.relative_to(REPO)})")
    args = parser.parse_args()
    results = {size: measure_size(size) for size in args.sizes}
    plot(results, args.plot)
    for measure in measures_of(results):
        print(measure.line())
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()

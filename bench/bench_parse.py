"""Benchmark what the DAG files cost the DAG processor: their parse time on top of importing airflow.sdk.

    .venv/bin/python bench/bench_parse.py            # 7 fresh processes, the median
    .venv/bin/python bench/bench_parse.py --runs 15

Each run is a fresh Python process, as the DAG processor parses a file in a fresh child: it
imports ``airflow.sdk`` (timed: the baseline every DAG file pays), then executes every file of
``dags/`` with ``plugins/`` on the path, as Airflow puts it there (timed: what our files add). Printed: both
medians, their ratio, the DAGs each file defined, and whether a parse imported a module the
project keeps out of parse time (GX, pandas, a database driver).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from measures import Measure  # noqa: E402

TARGET_SECONDS = 0.3
KEPT_OUT = ("great_expectations", "pandas", "psycopg", "psycopg2", "boto3", "sqlalchemy_redshift")


def _child() -> None:
    import importlib.util
    import time

    started = time.perf_counter()
    import airflow.sdk

    imported = time.perf_counter()
    sys.path[:0] = [str(REPO / "dags"), str(REPO / "plugins")]
    dags = {}
    for path in sorted((REPO / "dags").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_dag_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dags[path.name] = sorted(value.dag_id for value in vars(module).values() if isinstance(value, airflow.sdk.DAG))
    parsed = time.perf_counter()
    print(json.dumps({"sdk": imported - started, "dags": parsed - imported, "defined": dags,
                      "heavy": sorted(name for name in KEPT_OUT if name in sys.modules)}))


def measure(runs: int = 7, report=print) -> Measure:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        for _ in range(runs):
            run = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, env=env)
            if run.returncode:
                raise SystemExit(f"parsing the DAG files failed:\n{run.stderr[-3000:]}")
            results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    sdk = statistics.median(result["sdk"] for result in results)
    dags = statistics.median(result["dags"] for result in results)
    report(f"import airflow.sdk      {sdk:6.3f} s  (median of {runs} fresh processes)")
    report(f"+ parse dags/*.py       {dags:6.3f} s  = {dags / sdk:.2f}x the import")
    for name, dag_ids in results[0]["defined"].items():
        report(f"  {name}: {', '.join(dag_ids) or 'no DAG'}")
    heavy = results[0]["heavy"]
    report(f"modules kept out of parse time that a parse imported: {', '.join(heavy) or 'none'}")
    return Measure("P5", "DAG files' parse time on top of importing airflow.sdk", dags, TARGET_SECONDS,
                   at_least=False, unit=" s")


def measures(quick: bool, report=print) -> list[Measure]:
    return [measure(report=report)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes to measure (default 7)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child()
        return
    print(measure(args.runs).line())


if __name__ == "__main__":
    main()

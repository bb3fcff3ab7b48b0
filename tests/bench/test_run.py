"""`./sparkify bench`: a row per measure against its target, exit 1 on a miss."""

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run  # noqa: E402
from measures import Measure  # noqa: E402


@pytest.mark.parametrize(("value", "at_least", "passed"), [
    (1.0, True, True), (0.99, True, False), (1.2, False, True), (1.21, False, False),
])
def test_a_measure_passes_on_its_target_and_misses_beyond_it(value, at_least, passed):
    target = 1.0 if at_least else 1.2
    measure = Measure("P1", "what", value, target, at_least=at_least)
    assert measure.passed is passed
    assert measure.line().endswith("PASS" if passed else "MISS")
    assert f"{'>=' if at_least else '<='} {target:g}x" in measure.line()


def test_the_table_lists_every_measure_and_a_miss_exits_1(monkeypatch, capsys):
    calls = []

    def fake(name, found):
        module = types.ModuleType(name)
        module.__doc__ = f"{name} benchmark."
        module.measures = lambda quick, report: calls.append((name, quick)) or found
        monkeypatch.setitem(sys.modules, name, module)

    fake("bench_fast", [Measure("P7", "fast enough", 2.0, 1.0, at_least=True)])
    fake("bench_slow", [Measure("P8", "too slow", 3.0, 2.0, at_least=False)])
    monkeypatch.setattr(run, "BENCHMARKS", {"bench_fast": ("P7",), "bench_slow": ("P8",)})

    assert run.main(["--quick"]) == 1
    table = capsys.readouterr().out.split("measures in", 1)[1]
    assert "fast enough" in table and "PASS" in table and "too slow" in table
    assert "MISS: P8" in table
    assert calls == [("bench_fast", True), ("bench_slow", True)]

    calls.clear()
    assert run.main(["--only", "P7"]) == 0
    assert calls == [("bench_fast", False)]

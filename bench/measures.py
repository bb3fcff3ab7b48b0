"""One row of `./sparkify bench`'s table: a measure, its value and its target (bench/run.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    number: str
    """The issue's name for it: P1, P1b, ..."""
    what: str
    value: float
    target: float
    at_least: bool
    """True: the value must reach the target (a speed); False: stay within it (a cost)."""
    unit: str = "x"

    @property
    def passed(self) -> bool:
        return self.value >= self.target if self.at_least else self.value <= self.target

    def line(self) -> str:
        bound = ">=" if self.at_least else "<="
        value = f"{self.value:.2f}{self.unit}"
        target = f"{bound} {self.target:g}{self.unit}"
        return f"{self.number:<4} {self.what:<66} {value:>10}  target {target:<9} {'PASS' if self.passed else 'MISS'}"

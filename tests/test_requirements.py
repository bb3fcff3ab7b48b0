"""The environment is the lock: every pin installed as written, and `pip check` clean but for the
pins requirements-no-deps.txt says it lifts."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-no-deps.txt", "constraints.txt")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")
LIFTS = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+\s+#\s*lifts:\s*(.+)$")
# pip check's two kinds of complaint (pip/_internal/commands/check.py).
UNMET = re.compile(r"^(\S+) \S+ has requirement (.+), but you have \S+ \S+\.$")
MISSING = re.compile(r"^(\S+) \S+ requires (\S+), which is not installed\.$")


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (REPO / name).read_text().splitlines():
        if match := PIN.match(line.strip()):
            found[canonicalize_name(match[1])] = match[2]
    return found


def lifted() -> set[tuple[str, str]]:
    """(package, requirement) for each requirement requirements-no-deps.txt lifts."""
    found = set()
    for line in (REPO / "requirements-no-deps.txt").read_text().splitlines():
        if match := LIFTS.match(line.strip()):
            found |= {(canonicalize_name(match[1]), requirement.strip()) for requirement in match[2].split(",")}
    return found


def pip_check_problems(output: str) -> set[tuple[str, str]]:
    problems = set()
    for line in output.splitlines():
        if match := UNMET.match(line) or MISSING.match(line):
            problems.add((canonicalize_name(match[1]), match[2]))
        elif line.strip() and line.strip() != "No broken requirements found.":
            problems.add(("(unparsed)", line))
    return problems


def test_every_pin_of_the_requirement_files_is_what_is_installed_and_the_lock_agrees_with_them():
    lock = pins("constraints.txt")
    for name in REQUIREMENT_FILES:
        for package, version in pins(name).items():
            assert lock.get(package) == version, f"{name} pins {package}=={version}, constraints.txt {lock.get(package)}"
            assert metadata.version(package) == version, (
                f"{package} {metadata.version(package)} is installed, {name} pins {version}: run ./sparkify to reinstall")


def test_pip_check_finds_only_the_requirements_that_requirements_no_deps_lifts():
    allowed = lifted()
    assert allowed, "requirements-no-deps.txt lifts nothing: then it should not exist"
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    problems = pip_check_problems(result.stdout + result.stderr)
    unexpected = sorted(problems - allowed)
    assert not unexpected, f"unmet requirements that requirements-no-deps.txt does not lift: {unexpected}"
    met_again = sorted(allowed - problems)
    assert not met_again, (
        f"requirements-no-deps.txt lifts {met_again}, but pip check finds them met: move those packages back to "
        "requirements.txt")


def test_pip_check_output_is_read_as_the_requirements_it_names():
    output = ("airflow-provider-great-expectations 1.0.0 has requirement structlog<25.5.0, but you have structlog 26.1.0.\n"
              "great-expectations 1.24.1 requires marshmallow, which is not installed.\n"
              "something pip check says that is neither\n")
    assert pip_check_problems(output) == {
        ("airflow-provider-great-expectations", "structlog<25.5.0"),
        ("great-expectations", "marshmallow"),
        ("(unparsed)", "something pip check says that is neither"),
    }
    assert pip_check_problems("No broken requirements found.\n") == set()

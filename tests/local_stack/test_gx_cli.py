"""`./sparkify gx` (local_stack.gx_cli): list, show, add, remove, edit, docs, --help, on a copy of gx/.

validate against a loaded warehouse is tested with the suites (tests/plugins/helpers/test_gx_suites.py).
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from quality_gate import gx_context
from local_stack import gx_cli

COMMANDS = ("list", "show", "edit", "add", "remove", "validate", "docs", "build")


@pytest.fixture
def gx_dir(tmp_path) -> Path:
    target = tmp_path / "gx"
    shutil.copytree(gx_context.GX_DIR, target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


def cli(gx_dir: Path, *argv: str) -> int:
    return gx_cli.main(["--gx-dir", str(gx_dir), *argv])


def suite(gx_dir: Path, name: str) -> dict:
    return json.loads((gx_dir / "expectations" / f"{name}.json").read_text())


def editor(tmp_path: Path, script: str) -> str:
    """An $EDITOR: a shell script run as `editor FILE`."""
    path = tmp_path / "editor.sh"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_list_shows_every_tables_suite_with_its_batch_and_size(gx_dir, capsys):
    assert cli(gx_dir, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TABLE", "BATCH", "EXPECTATIONS", "FILE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == [spec.name for spec in gx_context.validated_tables()]
    assert "one day by start_time" in rows["songplays"] and "whole table" in rows["users"]
    assert f" {len(suite(gx_dir, 'time')['expectations'])}  " in rows["time"]


def test_show_lists_each_expectation_with_its_id_type_column_and_details(gx_dir, capsys):
    assert cli(gx_dir, "show", "time") == 0
    out = capsys.readouterr().out
    expectations = suite(gx_dir, "time")["expectations"]
    assert out.startswith(f"Suite 'time' of table time: {len(expectations)} expectation(s), batch: one day by start_time")
    for expectation in expectations:
        assert expectation["id"][:8] in out
    hour = next(line for line in out.splitlines() if " hour " in line and "between" in line)
    assert "max_value=23.0, min_value=0.0" in hour
    assert "Every time row is the start_time of a songplay." in out


def test_show_refuses_an_unknown_table(gx_dir, capsys):
    with pytest.raises(SystemExit) as exited:
        cli(gx_dir, "show", "nope")
    assert exited.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_add_then_remove_an_expectation_rebuilding_data_docs_each_time(gx_dir, capsys):
    before = (gx_dir / "expectations/users.json").read_bytes()
    suite_page = gx_dir / "uncommitted/data_docs/local_site/expectations/users.html"
    assert cli(gx_dir, "add", "users", "ExpectColumnValueLengthsToBeBetween", "--column", "first_name",
               "--kwarg", "min_value=1", "--kwarg", "max_value=256", "--description", "Names fit") == 0
    out = capsys.readouterr().out
    added = suite(gx_dir, "users")["expectations"][-1]
    assert added["type"] == "expect_column_value_lengths_to_be_between"
    assert added["kwargs"] == {"column": "first_name", "min_value": 1, "max_value": 256}
    assert added["description"] == "Names fit"
    assert f"Added [{added['id'][:8]}] expect_column_value_lengths_to_be_between to suite 'users'" in out
    assert f"Data Docs rebuilt: {gx_dir}/uncommitted/data_docs/local_site/index.html" in out
    assert "Names fit" in suite_page.read_text()

    assert cli(gx_dir, "remove", "users", added["id"][:8]) == 0
    out = capsys.readouterr().out
    assert f"Removed [{added['id'][:8]}] expect_column_value_lengths_to_be_between (column first_name)" in out
    assert "Data Docs rebuilt: " in out and "Names fit" not in suite_page.read_text()
    assert (gx_dir / "expectations/users.json").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["expect_column_values_to_not_be_nul", "--column", "level"],
         "unknown expectation type 'expect_column_values_to_not_be_nul'; did you mean expect_column_values_to_not_be_null"),
        (["expect_column_values_to_be_between", "--kwarg", "min_value=0"], "column field required"),
        (["expect_column_values_to_be_in_set", "--column", "level", "--kwarg", "value_set"], "expected KEY=VALUE"),
    ],
)
def test_add_refuses_unknown_types_and_bad_arguments(gx_dir, capsys, argv, message):
    before = (gx_dir / "expectations/users.json").read_bytes()
    assert cli(gx_dir, "add", "users", *argv) == 1
    assert message in capsys.readouterr().err
    assert (gx_dir / "expectations/users.json").read_bytes() == before


def test_remove_needs_one_matching_id(gx_dir, capsys):
    assert cli(gx_dir, "remove", "users", "zzzz") == 1
    assert "Suite 'users' has no expectation whose id starts with 'zzzz'" in capsys.readouterr().err
    assert cli(gx_dir, "remove", "users", "") == 1
    assert f"matches {len(suite(gx_dir, 'users')['expectations'])} expectations" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ('printf "{ not json" > "$1"', "invalid JSON at line 1 column 3"),
        ('sed -i "s/expect_column_values_to_be_unique/expect_column_values_to_be_uniq/" "$1"',
         "unknown expectation type 'expect_column_values_to_be_uniq'; did you mean expect_column_values_to_be_unique"),
        ('sed -i "s/\\"name\\": \\"time\\"/\\"name\\": \\"clock\\"/" "$1"', "\"name\" must stay 'time'"),
        ('sed -i "s/\\"column\\": \\"hour\\"/\\"colum\\": \\"hour\\"/" "$1"', "column field required"),
        ("exit 3", "exited with 3"),
    ],
    ids=["invalid-json", "unknown-type", "renamed", "bad-arguments", "editor-failed"],
)
def test_edit_refuses_what_gx_does_not_accept_and_keeps_the_original(gx_dir, tmp_path, capsys, monkeypatch, script, message):
    monkeypatch.setenv("EDITOR", editor(tmp_path, script))
    monkeypatch.delenv("VISUAL", raising=False)
    path = gx_dir / "expectations/time.json"
    original = path.read_bytes()
    assert cli(gx_dir, "edit", "time") == 1
    err = capsys.readouterr().err
    assert message in err
    assert path.read_bytes() == original
    kept = Path(err.rstrip().rsplit("your edit is kept in ", 1)[1])
    assert kept.is_file()
    kept.unlink()


def test_edit_saves_a_valid_change_keeping_the_ids_and_rebuilds_data_docs(gx_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'sed -i "s/\\"max_value\\": 23.0/\\"max_value\\": 22/" "$1"'))
    monkeypatch.delenv("VISUAL", raising=False)
    ids = [e["id"] for e in suite(gx_dir, "time")["expectations"]]
    assert cli(gx_dir, "edit", "time") == 0
    out = capsys.readouterr().out
    assert f"Saved {len(ids)} expectation(s) to " in out and "Data Docs rebuilt: " in out
    assert (gx_dir / "uncommitted/data_docs/local_site/expectations/time.html").is_file()
    expectations = suite(gx_dir, "time")["expectations"]
    assert [e["id"] for e in expectations] == ids
    hour = next(e for e in expectations if e["type"] == "expect_column_values_to_be_between" and e["kwargs"]["column"] == "hour")
    assert hour["kwargs"]["max_value"] == 22


def test_edit_without_changes_saves_nothing(gx_dir, capsys, monkeypatch):
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.delenv("VISUAL", raising=False)
    assert cli(gx_dir, "edit", "time") == 0
    assert "No changes" in capsys.readouterr().out


def test_validate_needs_the_warehouse_uri(gx_dir, capsys, monkeypatch):
    monkeypatch.delenv(gx_cli.WAREHOUSE_ENV, raising=False)
    assert cli(gx_dir, "validate", "users") == 1
    assert "Set WAREHOUSE_URI to the warehouse's postgresql:// URI" in capsys.readouterr().err


def test_validate_refuses_an_unknown_table(gx_dir, capsys, monkeypatch):
    monkeypatch.setenv(gx_cli.WAREHOUSE_ENV, "postgresql://nobody@127.0.0.1:1/none")
    assert cli(gx_dir, "validate", "nope") == 1
    assert "No expectation suite for table 'nope'" in capsys.readouterr().err


def test_docs_builds_data_docs_and_prints_index(gx_dir, capsys):
    assert cli(gx_dir, "docs") == 0
    index = Path(capsys.readouterr().out.strip())
    assert index == gx_dir / "uncommitted/data_docs/local_site/index.html" and index.is_file()
    assert (index.parent / "expectations/songplays.html").is_file()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exited:
        gx_cli.main([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: sparkify gx {command}")

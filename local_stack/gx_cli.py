"""`./sparkify gx`: the Great Expectations suites of the warehouse tables (GX 1.x has no CLI of its own).

    ./sparkify gx list                         # each table's suite: batch, expectations, file
    ./sparkify gx show songplays               # its expectations, with their ids
    ./sparkify gx edit songplays               # $EDITOR on a copy, saved only if GX accepts it
    ./sparkify gx add users expect_column_values_to_be_in_set --column gender --kwarg 'value_set=["M", "F"]'
    ./sparkify gx remove users 1a2b3c4d        # an expectation id, or a unique prefix of one
    ./sparkify gx validate [TABLE ...] [--date 2018-11-21]   # against $WAREHOUSE_URI
    ./sparkify gx docs                         # rebuild Data Docs, print where index.html is
    ./sparkify gx build [--warehouse redshift] # rebuild the context from the table spec (after adding a table)

The suites are gx/expectations/<suite>.json; edit, add and remove rebuild the whole Data Docs site
after saving, so its pages show the suites as they are. Day-partitioned tables are validated on one
UTC day: --date, else the latest day in the table. In the Airflow UI, Data Docs are under Browse.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality_gate import gx_context  # from plugins/: local_stack puts it on sys.path
from helpers.audit_area import area_day, checked_area

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.data_context import FileDataContext
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from helpers.tables import TableSpec

REPO = Path(__file__).resolve().parents[1]

WAREHOUSE_ENV = "WAREHOUSE_URI"


class CliError(Exception):
    """A refused command: the message says why and what to do."""


# --- commands ------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    print(f"{'TABLE':<16} {'BATCH':<22} {'EXPECTATIONS':>12}  FILE")
    for spec, path in gx_context.iter_suite_files(args.gx_dir):
        try:
            count = str(len(_read_suite_json(path)["expectations"]))
        except CliError as error:
            count = f"unreadable: {error}"
        print(f"{spec.name:<16} {_batch_kind(spec):<22} {count:>12}  {_shown(path)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    spec = gx_context.table_spec(args.table)
    path = _suite_path(args.gx_dir, spec)
    suite = _read_suite_json(path)
    expectations = suite["expectations"]
    print(f"Suite {suite.get('name')!r} of table {spec.name}: {len(expectations)} expectation(s), "
          f"batch: {_batch_kind(spec)}, file: {_shown(path)}")
    rows = [("ID", "EXPECTATION", "COLUMN", "DETAILS")]
    for expectation in expectations:
        kwargs = dict(expectation.get("kwargs") or {})
        column = str(kwargs.pop("column", ""))
        rows.append((str(expectation.get("id", ""))[:8], str(expectation.get("type")), column,
                     _details(kwargs, expectation.get("description"))))
    widths = [max(len(row[index]) for row in rows) for index in range(3)]
    for row in rows:
        print(("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3]).rstrip())
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    spec = gx_context.table_spec(args.table)
    path = _suite_path(args.gx_dir, spec)
    original = path.read_text(encoding="utf-8")
    handle, name = tempfile.mkstemp(prefix=f"gx-{spec.suite}-", suffix=".json")
    draft = Path(name)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(original)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        returncode = subprocess.call([*shlex.split(editor), str(draft)])
    except OSError as error:
        draft.unlink()
        raise CliError(f"Cannot run the editor {editor!r} (set $EDITOR): {error}") from None
    edited = draft.read_text(encoding="utf-8")
    if returncode != 0:
        raise CliError(f"{editor} exited with {returncode}: {_shown(path)} is unchanged; your edit is kept in {draft}")
    if edited == original:
        draft.unlink()
        print(f"No changes: {_shown(path)} is unchanged.")
        return 0
    try:
        suite = _parse_suite(edited, spec, draft)
    except CliError as error:
        raise CliError(f"{error}\nNot saved: {_shown(path)} is unchanged; your edit is kept in {draft}") from None
    context = _context(args.gx_dir)
    saved = context.suites.add_or_update(suite)
    draft.unlink()
    print(f"Saved {len(saved.expectations)} expectation(s) to {_shown(path)}.")
    _rebuild_docs(context)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    spec = gx_context.table_spec(args.table)
    kwargs: dict[str, Any] = {"column": args.column} if args.column else {}
    for item in args.kwarg:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise CliError(f"--kwarg {item!r}: expected KEY=VALUE (VALUE as JSON, or else a plain string).")
        kwargs[key.strip()] = _json_or_text(value)
    entry = {"type": _expectation_type(args.expectation), "kwargs": kwargs}
    if args.description:
        entry["description"] = args.description
    expectation = _expectation(entry, args.expectation).to_domain_obj()
    context = _context(args.gx_dir)
    added = _suite(context, spec).add_expectation(expectation)
    print(f"Added [{str(added.id)[:8]}] {added.expectation_type} to suite {spec.suite!r} "
          f"({_shown(_suite_path(args.gx_dir, spec))}); id {added.id}")
    _rebuild_docs(context)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    spec = gx_context.table_spec(args.table)
    context = _context(args.gx_dir)
    suite = _suite(context, spec)
    prefix = args.id.strip().lower()
    matches = [expectation for expectation in suite.expectations if str(expectation.id).lower().startswith(prefix)]
    if not matches:
        raise CliError(f"Suite {spec.suite!r} has no expectation whose id starts with {args.id!r} "
                       f"(ids: ./sparkify gx show {spec.name}).")
    if len(matches) > 1:
        ids = ", ".join(str(expectation.id) for expectation in matches)
        raise CliError(f"Id prefix {args.id!r} matches {len(matches)} expectations of suite {spec.suite!r}: {ids}")
    (expectation,) = matches
    suite.delete_expectation(expectation)
    column = getattr(expectation, "column", None)
    print(f"Removed [{str(expectation.id)[:8]}] {expectation.expectation_type}"
          f"{f' (column {column})' if column else ''} from suite {spec.suite!r}.")
    _rebuild_docs(context)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    specs = [gx_context.table_spec(table) for table in args.tables] or gx_context.validated_tables()
    context = _context(args.gx_dir)
    _use_warehouse(gx_context.warehouse_kind(context))
    day = args.date
    if args.audit_area:
        area = _audit_area(args.audit_area)
        gx_context.read_audit_area_first(context, area)
        day = day or area_day(area)
        print(f"Validating audit area {area} (then the published tables), day {day}")
    elif day is None:
        return _audit(context, specs, args)
    failed: list[str] = []
    for spec in specs:
        table = spec.name
        try:
            result = gx_context.run_checkpoint(context, table, day)
        except gx_context.EmptyDay as error:
            failed.append(table)
            print(f"FAIL  {error}")
            continue
        except Exception as error:  # a table that cannot be validated is reported and counted as failed
            failed.append(table)
            print(f"ERROR {table}: {type(error).__name__}: {_first_line(error)}")
            continue
        batches = ", ".join(gx_context.batch_ids(result))
        if result.success:
            evaluated = sum(len(suite_result.results) for suite_result in result.run_results.values())
            print(f"PASS  {table}: {evaluated} expectation(s) on batch {batches}")
        elif gx_context.has_critical_failure(result):
            failed.append(table)
            print(f"FAIL  {gx_context.failure_report(table, context, result)}")
        else:
            print(f"WARN  {gx_context.failure_report(table, context, result)}")
    index = gx_context.build_docs_index(context)
    if failed:
        print(f"{len(failed)} of {len(specs)} suite(s) failed: {', '.join(failed)}. Data Docs: {index}")
        return 1
    print(f"All {len(specs)} suite(s) passed. Data Docs: {index}")
    return 0


def _audit(context: FileDataContext, specs: list[TableSpec], args: argparse.Namespace) -> int:
    """The warehouse audit (quality_gate.warehouse_audit): every table, every day, the missing days."""
    from quality_gate import warehouse_audit

    span = f"{args.start or 'the first day'} to {args.end or 'the last day'}"
    print(f"Auditing {', '.join(spec.name for spec in specs)}: every table in full, every day from {span}"
          + (f", and the days with a file in {args.source}" if args.source else ""))
    audit = warehouse_audit.run(context, specs, start=args.start, end=args.end, source_days=_source_days(args.source),
                                progress=lambda line: print(f"... {line}", file=sys.stderr, flush=True))
    print("\n".join(audit.lines()))
    print(f"Data Docs: {gx_context.build_docs_index(context)}")
    return 1 if audit.failed else 0


def _source_days(source: str | None) -> list[date]:
    """The days with an events file in ``source``: a folder laid out like the bucket, or s3://bucket[/prefix]."""
    if not source:
        return []
    pattern = re.compile(r"log_data/\d{4}/\d{2}/(\d{4}-\d{2}-\d{2})-events\.json$")
    if source.startswith("s3://"):
        import boto3

        bucket, _, prefix = source.removeprefix("s3://").partition("/")
        pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    else:
        root = Path(source)
        keys = [path.relative_to(root).as_posix() for path in root.glob("log_data/*/*/*-events.json")]
    return sorted(date.fromisoformat(match[1]) for key in keys if (match := pattern.search(key)))


def cmd_build(args: argparse.Namespace) -> int:
    kind = args.warehouse
    if kind is None:
        try:
            kind = gx_context.warehouse_kind(_context(args.gx_dir))
        except (CliError, KeyError):
            kind = "postgres"
    _use_warehouse(kind)
    context = gx_context.build(args.gx_dir, warehouse=kind)
    print(f"{_shown(args.gx_dir)} matches the table spec: {', '.join(s.name for s in gx_context.validated_tables())} "
          f"({gx_context.warehouse_kind(context)} datasource)")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    print(_build_docs(_context(args.gx_dir)))
    return 0


def _rebuild_docs(context: FileDataContext) -> None:
    """After a suite edit: the whole site again, so every page shows the suites as they are now."""
    print(f"Data Docs rebuilt: {_build_docs(context)}")


def _build_docs(context: FileDataContext) -> Path:
    """Build the whole Data Docs site; its index.html."""
    context.build_data_docs(site_names=[gx_context.DOCS_SITE])
    return gx_context.docs_index(context)


# --- suites ------------------------------------------------------------------------------------


def _audit_area(name: str) -> str:
    try:
        return checked_area(name)
    except ValueError as error:
        raise CliError(str(error)) from None


def _use_warehouse(kind: str) -> None:
    """Point the context's datasource at $WAREHOUSE_URI, in the driver its ``kind`` needs."""
    uri = os.environ.get(WAREHOUSE_ENV)
    if not uri:
        raise CliError(f"Set {WAREHOUSE_ENV} to the warehouse's postgresql:// URI "
                       '(for the local stack: eval "$(./sparkify env)").')
    gx_context.set_warehouse_url(gx_context.warehouse_url(uri, kind))


def _context(gx_dir: Path) -> FileDataContext:
    try:
        return gx_context.file_context(gx_dir)
    except FileNotFoundError as error:
        raise CliError(str(error)) from None


def _suite_path(gx_dir: Path, spec: TableSpec) -> Path:
    return gx_dir / "expectations" / f"{spec.suite}.json"


def _suite(context: FileDataContext, spec: TableSpec) -> ExpectationSuite:
    from great_expectations.exceptions import DataContextError

    try:
        return context.suites.get(spec.suite)
    except DataContextError:
        raise CliError(f"Table {spec.name}: suite {spec.suite!r} not found in {context.root_directory}/expectations.") from None


def _read_suite_json(path: Path) -> dict[str, Any]:
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{_shown(path)} does not exist") from None
    except json.JSONDecodeError as error:
        raise CliError(f"{_shown(path)}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise CliError(f"{_shown(path)}: expected a JSON object with an \"expectations\" list")
    return suite


def _parse_suite(text: str, spec: TableSpec, source: Path) -> ExpectationSuite:
    """The suite in ``text`` if GX accepts it; else CliError naming the file, expectation and reason."""
    import great_expectations as gx

    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{source}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise CliError(f"{source}: expected a JSON object with an \"expectations\" list")
    if document.get("name") != spec.suite:
        raise CliError(f"{source}: \"name\" must stay {spec.suite!r} (the checkpoint of table {spec.name} uses it), "
                       f"not {document.get('name')!r}")
    unknown = sorted(set(document) - {"name", "id", "expectations", "meta", "notes"})
    if unknown:
        raise CliError(f"{source}: unknown suite field(s) {', '.join(unknown)}")
    expectations = []
    for number, entry in enumerate(document["expectations"], start=1):
        label = f"{source}: expectation {number}"
        if not isinstance(entry, dict):
            raise CliError(f"{label}: expected a JSON object, got {json.dumps(entry)[:60]}")
        label += f" ({entry.get('type')!r}{', id ' + str(entry['id']) if entry.get('id') else ''})"
        expectations.append(_expectation(entry, label))
    return gx.ExpectationSuite(name=spec.suite, id=document.get("id"), expectations=expectations,
                               meta=document.get("meta"), notes=document.get("notes"))


def _expectation(entry: dict[str, Any], label: str) -> ExpectationConfiguration:
    """An expectation's JSON form, checked by GX; CliError with ``label`` and the reason otherwise."""
    gx_context.quiet_gx()
    import great_expectations  # noqa: F401  (registers the core expectation types)
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.registry import _registered_expectations

    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in _registered_expectations:
        close = difflib.get_close_matches(str(kind), list(_registered_expectations), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see https://greatexpectations.io/expectations"
        raise CliError(f"{label}: unknown expectation type {kind!r}{hint}")
    if not isinstance(entry.get("kwargs", {}), dict):
        raise CliError(f"{label}: \"kwargs\" must be a JSON object")
    try:
        configuration = ExpectationConfiguration(**{"kwargs": {}, **entry})
        configuration.to_domain_obj()  # validates the arguments
    except Exception as error:  # GX raises pydantic, TypeError or its own errors for bad arguments
        raise CliError(f"{label}: invalid: {_first_line(error, all_lines=True)}") from None
    return configuration


def _expectation_type(name: str) -> str:
    """snake_case type from a type or class name: ExpectColumnValuesToNotBeNull -> expect_column_values_to_not_be_null."""
    if "_" in name or name.islower():
        return name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _details(kwargs: dict[str, Any], description: str | None) -> str:
    if "unexpected_rows_query" in kwargs and description:
        return description
    text = ", ".join(f"{key}={json.dumps(value)}" for key, value in kwargs.items())
    return f"{text} -- {description}" if description and text else description or text


def _batch_kind(spec: TableSpec) -> str:
    return f"one day by {spec.slice_column}" if spec.slice_column else "whole table"


def _shown(path: Path) -> str:
    """``path`` relative to the repo when inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _first_line(error: BaseException, all_lines: bool = False) -> str:
    text = " ".join(str(error).split()) if all_lines else (str(error).strip().splitlines() or [""])[0]
    return text[:400]


# --- arguments -----------------------------------------------------------------------------------


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    tables = [spec.name for spec in gx_context.validated_tables()]
    parser = argparse.ArgumentParser(prog="sparkify gx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gx-dir", type=Path, default=gx_context.GX_DIR,
                        help=f"the GX File Data Context (default: {_shown(gx_context.GX_DIR)})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="each table's suite: batch, number of expectations, file").set_defaults(run=cmd_list)

    show = commands.add_parser("show", help="a suite's expectations, with their ids")
    show.add_argument("table", choices=tables, metavar="TABLE", help=f"one of {', '.join(tables)}")
    show.set_defaults(run=cmd_show)

    edit = commands.add_parser("edit", help="edit a suite's JSON in $EDITOR; saved only if GX accepts it",
                               description="Opens $VISUAL or $EDITOR (default vi) on a copy of the suite's JSON. "
                               "Invalid JSON, unknown expectation types or bad arguments are refused with the "
                               "reason; the suite file is then unchanged and the edit is kept in a temp file.")
    edit.add_argument("table", choices=tables, metavar="TABLE", help=f"one of {', '.join(tables)}")
    edit.set_defaults(run=cmd_edit)

    add = commands.add_parser("add", help="add an expectation to a suite",
                              description="Example: add time expect_column_values_to_be_between --column hour "
                              "--kwarg min_value=0 --kwarg max_value=23")
    add.add_argument("table", choices=tables, metavar="TABLE", help=f"one of {', '.join(tables)}")
    add.add_argument("expectation", help="type (expect_column_values_to_not_be_null) or class (ExpectColumnValuesToNotBeNull)")
    add.add_argument("--column", help="the column it checks")
    add.add_argument("--kwarg", action="append", default=[], metavar="KEY=VALUE",
                     help="another argument; VALUE is read as JSON (0, [\"M\", \"F\"], true), else as text; repeatable")
    add.add_argument("--description", help="what it means, shown in show, failures and Data Docs")
    add.set_defaults(run=cmd_add)

    remove = commands.add_parser("remove", help="remove an expectation from a suite by id")
    remove.add_argument("table", choices=tables, metavar="TABLE", help=f"one of {', '.join(tables)}")
    remove.add_argument("id", metavar="ID", help="the expectation's id, or a unique prefix (as in show)")
    remove.set_defaults(run=cmd_remove)

    validate = commands.add_parser("validate", help=f"audit the warehouse at ${WAREHOUSE_ENV}; non-zero if any fails",
                                   description=f"Runs the suites against the warehouse at ${WAREHOUSE_ENV} "
                                   "(a postgresql:// URI) and updates Data Docs. Without --date: the warehouse audit, "
                                   "every table in full and every day partition (or --from/--to), each day against "
                                   "its history, and the days a day-partitioned table lacks; it prints what it "
                                   "covered. Exits 1 when any suite fails or a day is missing, naming each failed "
                                   "table, day and expectation.")
    validate.add_argument("tables", nargs="*", metavar="TABLE",
                          help=f"tables to validate (default: all): {', '.join(tables)}")
    validate.add_argument("--date", type=_day, help="validate that UTC day of the day-partitioned tables only "
                          "(default: the warehouse audit: every table in full, every day, the missing days)")
    validate.add_argument("--from", dest="start", type=_day, metavar="DAY", help="audit from this day on")
    validate.add_argument("--to", dest="end", type=_day, metavar="DAY", help="audit up to this day, included")
    validate.add_argument("--source", metavar="DIR_OR_S3", help="also report the days with an events file here "
                          "(a folder laid out like the bucket, or s3://bucket) that a table has no rows on")
    validate.add_argument("--audit-area", metavar="AREA",
                          help="validate a run's audit area as the DAG's gate does (e.g. the one a failed run's alert "
                          "names, after editing a suite); --date defaults to the area's day")
    validate.set_defaults(run=cmd_validate)

    commands.add_parser("docs", help="rebuild Data Docs and print where index.html is (a file, or its s3:// URL when SPARKIFY_GX_STORES is set)").set_defaults(run=cmd_docs)

    build = commands.add_parser(
        "build", help=f"create or update the context from the table spec (needs ${WAREHOUSE_ENV})",
        description="Creates or updates the datasource, assets, batch definitions, validation definitions and "
        "checkpoints from helpers/tables.py (the suites must exist); running it again changes nothing. "
        f"GX checks each table exists in the warehouse at ${WAREHOUSE_ENV}.",
    )
    build.set_defaults(run=cmd_build)
    build.add_argument("--warehouse", choices=sorted(gx_context.WAREHOUSE_DRIVERS),
                       help="the datasource's kind: postgres (local stack) or redshift (production, sqlalchemy-redshift); "
                       "default: the kind it has, else postgres")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    gx_context.quiet_gx(logging.CRITICAL)  # GX logs each failed metric's traceback; failures are reported here
    try:
        return args.run(args)
    except (CliError, ValueError) as error:
        print(f"sparkify gx {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

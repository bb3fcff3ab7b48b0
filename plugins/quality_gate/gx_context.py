"""Great Expectations for the warehouse: the File Data Context in <repo>/gx, built from the table spec.

The expectation suites (``gx/expectations/<suite>.json``) are the source of truth: people edit them
by hand or with ``./sparkify gx``. ``build()`` derives everything else from ``helpers.tables``: one
datasource, GX's Postgres one (local stack, committed) or its Redshift one (production: ``./sparkify
gx build --warehouse redshift``), whose connection string is ``${SPARKIFY_WAREHOUSE_URL}``
(substituted from the environment when a validation runs, never written to a file), and per table with a ``suite`` a
table asset, a batch definition (daily on its slice column, else the whole table), a validation
definition and a checkpoint that updates Data Docs. Checkpoints and validation definitions are named
after their table.

GX is imported inside the functions: the DAG file imports this module when it is parsed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlparse

from helpers.db import quote_column, quote_table
from helpers.tables import TABLES, TableSpec
from quality_gate import history, reconciliation

if TYPE_CHECKING:
    from great_expectations import Checkpoint, ExpectationSuite
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.data_context import FileDataContext
    from great_expectations.datasource.fluent import SQLDatasource

GX_DIR = Path(__file__).resolve().parents[2] / "gx"
URL_ENV = "SPARKIFY_WAREHOUSE_URL"
STORES_ENV = "SPARKIFY_GX_STORES"
"""``s3://<bucket>/<prefix>``: where validation results and Data Docs live when set (file_context)."""
DATASOURCE = "warehouse"
DAILY = "daily"
WHOLE_TABLE = "whole_table"
ALL_DAYS_SUFFIX = "__all_days"
DOCS_SITE = "local_site"
DOCS_URL_PATH = "data-docs"
"""Where plugins/data_docs_plugin.py serves the Data Docs site, under the Airflow API server's base URL."""
WAREHOUSE_DRIVERS = {"postgres": "postgresql+psycopg", "redshift": "redshift+psycopg2"}
"""The SQLAlchemy driver of each kind of datasource (GX's Redshift datasource accepts psycopg2 only)."""
RESULT_FORMAT = {"result_format": "SUMMARY"}
SAMPLE_VALUES = 5
"""Unexpected values quoted per failed expectation in failure reports."""
SAMPLE_ROWS_QUOTED = 2
"""Unexpected rows quoted per failed unexpected-rows expectation in failure reports (Data Docs show more)."""
QUOTED_VALUE_WIDTH = 40
"""Characters of a row's value quoted in failure reports (longer ones are cut, marked …)."""
UNEXPECTED_ROWS_TYPES = ("unexpected_rows_expectation", "expect_query_to_return_no_rows")
"""GX's unexpected-rows expectation and ours (quality_gate.expectations), which keeps the first rows."""


def quiet_gx(level: int = logging.WARNING) -> None:
    """Keep GX's chatter (hundreds of INFO lines per import) below ``level`` out of task logs and the CLI."""
    logger = logging.getLogger("great_expectations")
    if logger.getEffectiveLevel() < level:
        logger.setLevel(level)


def validated_tables() -> list[TableSpec]:
    """The tables of the spec that have a suite, in spec order."""
    return [spec for spec in TABLES if spec.suite]


def table_spec(table: str) -> TableSpec:
    for spec in validated_tables():
        if spec.name == table:
            return spec
    names = ", ".join(spec.name for spec in validated_tables())
    raise ValueError(f"No expectation suite for table {table!r}: the tables with one are {names}.")


def day_batch_parameters(day: date) -> dict[str, int]:
    """Batch parameters selecting one UTC day of a table partitioned daily on its slice column."""
    return {"year": day.year, "month": day.month, "day": day.day}


def file_context(gx_dir: Path = GX_DIR) -> FileDataContext:
    """The File Data Context in ``gx_dir`` (the repo's gx/ by default); it must exist.

    With ${SPARKIFY_GX_STORES} set (``s3://<bucket>/<prefix>``), its validation results and Data Docs
    site are in S3 (quality_gate.s3_store), shared by every worker; the committed stores stay files.
    """
    if not (gx_dir / "great_expectations.yml").is_file():
        raise FileNotFoundError(f"No GX File Data Context in {gx_dir}: great_expectations.yml is missing.")
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context import FileDataContext

    _share_compiled_templates()
    define_expectations()
    shared = os.environ.get(STORES_ENV)
    if not shared:
        return gx.get_context(mode="file", context_root_dir=gx_dir)
    config = FileDataContext._load_file_backed_project_config(gx_dir)  # GX's own reader of the yml
    return gx.get_context(mode="file", context_root_dir=gx_dir, project_config=shared_stores(config, shared))


def stores_location(url: str) -> tuple[str, str]:
    """(bucket, prefix) of a ${SPARKIFY_GX_STORES} URL; a ValueError naming the setting unless it is s3://<bucket>/<prefix>."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise ValueError(f"{STORES_ENV}={url!r}: expected s3://<bucket>/<prefix> (the prefix may be empty).")
    return parsed.netloc, parsed.path.strip("/")


def shared_stores(config: Any, url: str) -> Any:
    """``config`` (a DataContextConfig) with its validation results and Data Docs site under ``url``
    (``s3://<bucket>/<prefix>``): ``<prefix>/validations/`` and ``<prefix>/data_docs/``. In memory only:
    the committed great_expectations.yml keeps its file stores."""
    bucket, prefix = stores_location(url)

    def on_s3(name: str) -> dict[str, str]:
        return {"module_name": "quality_gate.s3_store", "class_name": "S3StoreBackend",
                "bucket": bucket, "prefix": f"{prefix}/{name}" if prefix else name}

    config.stores[config.validation_results_store_name]["store_backend"] = on_s3("validations")
    config.data_docs_sites[DOCS_SITE]["store_backend"] = on_s3("data_docs")
    return config


def _share_compiled_templates() -> None:
    """Compile GX's Data Docs templates once per process.

    GX makes a new Jinja environment for every view it renders, so each page of a Data Docs build
    compiles the same templates again: profiled, that was 2.9 s of the 4.5 s a warehouse audit spent
    building Data Docs (378 compilations for 21 renders). GX has no setting for it; a Jinja bytecode
    cache shared by those environments keeps the compiled code (Jinja still checks each template's
    source, so an edited template is compiled again).
    """
    from great_expectations.render.view.view import DefaultJinjaView

    if getattr(DefaultJinjaView, "_sparkify_bytecode_cache", None) is not None:
        return
    from jinja2 import BytecodeCache

    class InMemory(BytecodeCache):
        def __init__(self) -> None:
            self.code: dict[str, bytes] = {}

        def load_bytecode(self, bucket: Any) -> None:
            if (code := self.code.get(bucket.key)) is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket: Any) -> None:
            self.code[bucket.key] = bucket.bytecode_to_string()

    cache = InMemory()
    make_view = DefaultJinjaView.__init__

    def init(view: Any, *args: Any, **kwargs: Any) -> None:
        make_view(view, *args, **kwargs)
        view.env.bytecode_cache = cache

    DefaultJinjaView.__init__ = init
    DefaultJinjaView._sparkify_bytecode_cache = cache


def define_expectations() -> None:
    """Define the project's own expectations (quality_gate.expectations): GX finds a suite's
    expectation types among the classes defined when it loads the suite."""
    import quality_gate.expectations  # noqa: F401 (GX registers each class as it is defined)


def table_checkpoint(table: str, context: FileDataContext) -> Checkpoint:
    """The checkpoint validating ``table`` (for GXValidateCheckpointOperator's configure_checkpoint)."""
    define_expectations()
    return context.checkpoints.get(table)


# --- building the context -------------------------------------------------------------------------


def build(gx_dir: Path = GX_DIR, warehouse: str | None = None) -> FileDataContext:
    """Create or update the context in ``gx_dir`` to match the table spec; running it again changes nothing.

    ``warehouse`` is the datasource's kind, a key of WAREHOUSE_DRIVERS (default: the kind it has,
    else postgres). Needs ${SPARKIFY_WAREHOUSE_URL} to reach a warehouse holding the tables, with
    that kind's driver (GX checks each asset's table), and every table's suite in gx_dir/expectations/.
    """
    quiet_gx()
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.exceptions import DataContextError

    define_expectations()
    context = gx.get_context(mode="file", context_root_dir=gx_dir)
    if context.variables.progress_bars != ProgressBarsConfig(globally=False, metric_calculations=False) or (
        context.variables.analytics_enabled is not False
    ):
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.analytics_enabled = False
        context.variables.save()

    datasource = _datasource(context, warehouse)
    wanted = {spec.name for spec in validated_tables()}
    wanted |= {all_days(spec.name) for spec in validated_tables() if spec.slice_column}
    for spec in validated_tables():
        try:
            suite = context.suites.get(spec.suite)
        except DataContextError:
            raise FileNotFoundError(
                f"Table {spec.name}: its suite file {gx_dir / 'expectations' / spec.suite}.json is missing."
            ) from None
        _sync_generated(suite, reconciliation.MARK, [item.expectation() for item in reconciliation.reconciliations(spec)])
        _sync_generated(suite, history.MARK,
                        history.expectations(spec, _columns(datasource, spec.name)) if spec.history else [])
        for name, batch_definition in _batch_definitions(datasource, spec).items():
            validation = _get_or_add(
                context.validation_definitions,
                gx.ValidationDefinition(name=name, data=batch_definition, suite=suite),
                same=lambda old, new: old.data.id == new.data.id and old.suite.id == new.suite.id,
            )
            _get_or_add(
                context.checkpoints,
                gx.Checkpoint(
                    name=name,
                    validation_definitions=[validation],
                    actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[DOCS_SITE])],
                    result_format=RESULT_FORMAT,
                ),
                same=lambda old, new: old.dict(exclude={"id"}) == new.dict(exclude={"id"}),
            )
    for factory in (context.checkpoints, context.validation_definitions):
        for stale in [item for item in factory.all() if item.name not in wanted]:
            factory.delete(stale.name)
    for asset in [asset for asset in datasource.assets if asset.name not in wanted]:
        datasource.delete_asset(asset.name)
    return context


def _sync_generated(suite: ExpectationSuite, mark: dict[str, str], wanted: list[dict]) -> None:
    """Give ``suite`` the ``wanted`` expectations, replacing the ones marked ``mark`` (meta) made before.

    The expectations made from the table spec (reconciliation, history) are marked so; unchanged ones
    are kept as they are, ids included, so building again changes no file.
    """
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    def essence(config: dict) -> str:
        return repr((config["type"], config["kwargs"], config.get("description"), str(config.get("severity"))))

    present = [expectation for expectation in suite.expectations
               if all((expectation.meta or {}).get(key) == value for key, value in mark.items())]
    if sorted(essence(expectation.configuration.to_json_dict()) for expectation in present) == sorted(map(essence, wanted)):
        return
    for expectation in present:
        suite.delete_expectation(expectation)
    for config in wanted:
        suite.add_expectation(ExpectationConfiguration(**config).to_domain_obj())
    suite.save()


def _columns(datasource: SQLDatasource, table: str) -> list[str]:
    """The published table's columns in the warehouse, in order (information_schema: every dialect has it)."""
    from helpers.audit_area import PUBLISHED_SCHEMA

    connection = datasource.get_engine().raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(history.COLUMNS_SQL, (PUBLISHED_SCHEMA, table))
        return [name for (name,) in cursor.fetchall()]
    finally:
        connection.close()


def _datasource(context: FileDataContext, kind: str | None) -> SQLDatasource:
    connection_string = "${" + URL_ENV + "}"
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except KeyError:
        datasource = None
    if datasource is not None and str(datasource.connection_string) != connection_string:
        raise ValueError(
            f"Datasource {DATASOURCE!r} in {context.root_directory}/great_expectations.yml must have connection "
            f"string {connection_string}, never a literal one (it would be committed)."
        )
    kind = kind or (datasource.type if datasource is not None else "postgres")
    if kind not in WAREHOUSE_DRIVERS:
        raise ValueError(f"Unknown warehouse {kind!r}: expected one of {', '.join(WAREHOUSE_DRIVERS)}.")
    if datasource is not None and datasource.type == kind:
        return datasource
    if datasource is not None:
        context.data_sources.delete(DATASOURCE)  # its assets are made again for the new kind
    add = context.data_sources.add_redshift if kind == "redshift" else context.data_sources.add_postgres
    return add(DATASOURCE, connection_string=connection_string)


def warehouse_kind(context: FileDataContext) -> str:
    """The kind of the context's datasource: postgres or redshift."""
    return context.data_sources.get(DATASOURCE).type


def warehouse_url(url: str, kind: str) -> str:
    """``url`` (a warehouse's SQLAlchemy URL, any driver) with the driver GX's ``kind`` datasource needs."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername=WAREHOUSE_DRIVERS[kind]).render_as_string(hide_password=False)


def _batch_definitions(datasource: SQLDatasource, spec: TableSpec) -> dict[str, BatchDefinition]:
    """The table's batch definitions, by the name of the checkpoint validating them: a day-partitioned
    table has a daily one (a run's day) and a whole-table one (every day at once, ``all_days``)."""
    try:
        asset = datasource.get_asset(spec.name)
    except LookupError:
        asset = datasource.add_table_asset(name=spec.name, table_name=spec.name)
    if asset.table_name != spec.name:
        datasource.delete_asset(spec.name)
        asset = datasource.add_table_asset(name=spec.name, table_name=spec.name)
    names = [DAILY, WHOLE_TABLE] if spec.slice_column else [WHOLE_TABLE]
    for stale in [bd.name for bd in asset.batch_definitions if bd.name not in names]:
        asset.delete_batch_definition(stale)
    found = {}
    for name in names:
        try:
            batch_definition = asset.get_batch_definition(name)
        except KeyError:
            batch_definition = None
        if batch_definition is not None and name == DAILY:
            partitioner = batch_definition.partitioner
            if partitioner is None or partitioner.column_name != spec.slice_column:
                asset.delete_batch_definition(name)
                batch_definition = None
        if batch_definition is None:
            batch_definition = (asset.add_batch_definition_daily(name, column=spec.slice_column) if name == DAILY
                                else asset.add_batch_definition_whole_table(name))
        found[all_days(spec.name) if spec.slice_column and name == WHOLE_TABLE else spec.name] = batch_definition
    return found


def all_days(table: str) -> str:
    """The checkpoint validating every day of a day-partitioned table at once (the warehouse audit)."""
    return f"{table}{ALL_DAYS_SUFFIX}"


def _get_or_add(factory: Any, wanted: Any, same: Callable[[Any, Any], bool]) -> Any:
    """The stored item named like ``wanted`` if it is the ``same``, else ``wanted`` stored in its place."""
    from great_expectations.exceptions import DataContextError

    try:
        existing = factory.get(wanted.name)
    except DataContextError:
        return factory.add(wanted)
    if same(existing, wanted):
        return existing
    return factory.add_or_update(wanted)


# --- running and reporting ------------------------------------------------------------------------


class EmptyDay(Exception):
    """A day-partitioned table has no row on the day: GX finds no batch, so the day fails as empty."""


def empty_day_message(table: str, day: date | None) -> str:
    spec = table_spec(table)
    when = f"on {day.isoformat()} (UTC) by {spec.slice_column}" if day else "at all"
    return f"Table {table}: no rows {when}, so suite {spec.suite!r} has no batch to validate; it must not be empty."


def run_checkpoint(context: FileDataContext, table: str, day: date | None = None) -> CheckpointResult:
    """Validate ``table``: its ``day`` when it is day-partitioned (default: its latest day), else all of it,
    its history judged against the days before (quality_gate.history).

    Raises EmptyDay when a day-partitioned table has no row on that day.
    """
    from great_expectations.exceptions.exceptions import NoAvailableBatchesError

    spec = table_spec(table)
    if spec.slice_column and day is None:
        day = latest_day(context, spec)
    parameters = day_batch_parameters(day) if spec.slice_column and day else {}
    judgement = judge_history(context, spec, day)
    try:
        return table_checkpoint(table, context).run(
            batch_parameters=parameters, expectation_parameters=judgement.parameters if judgement else None)
    except NoAvailableBatchesError:
        raise EmptyDay(empty_day_message(table, day if spec.slice_column else None)) from None


def judge_history(
    context: FileDataContext, spec: TableSpec, day: date | None, *, record_in: str | None = None, run_id: str = ""
) -> history.Judgement | None:
    """``day`` of ``spec``'s table measured and bounded by its history, through the context's warehouse
    (and its audit area, once ``read_audit_area_first``); with ``record_in`` the day's metrics are
    recorded in that audit area. None for a table without history or without a day."""
    if spec.history is None or day is None:
        return None
    connection = warehouse_connection(context)
    try:
        judgement = history.judge_day(connection.cursor(), spec, day, record_in=record_in, run_id=run_id)
        connection.commit()
    finally:
        connection.close()
    return judgement


def latest_day(context: FileDataContext, spec: TableSpec) -> date | None:
    """The latest day of a day-partitioned table, as the validation sees it (None: empty)."""
    connection = warehouse_connection(context)
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT MAX({quote_column(spec.slice_column)}) FROM {quote_table(spec.name)}")
        (latest,) = cursor.fetchone()
    finally:
        connection.close()
    return latest.date() if latest else None


def warehouse_connection(context: FileDataContext) -> Any:
    """A DB-API connection of the engine the validations run on (its search path included)."""
    return context.data_sources.get(DATASOURCE).get_execution_engine().engine.raw_connection()


@dataclass(frozen=True)
class FailedExpectation:
    id: str
    type: str
    column: str | None
    description: str | None
    observed: str
    error: bool
    """True when the expectation could not be evaluated (bad SQL, lost connection), not a data failure."""
    severity: str = "critical"
    """critical: fails the run; warning: reported, the run goes on (GX's severity, set in the suite)."""

    @property
    def critical(self) -> bool:
        return self.error or self.severity == "critical"

    def __str__(self) -> str:
        about = f"column {self.column}" if self.column else self.description
        return f"[{self.id[:8]}] {self.type}{f' ({about})' if about else ''}: {self.observed}"


def failed_expectations(result: CheckpointResult) -> list[FailedExpectation]:
    """Every failed expectation of ``result`` with what was observed."""
    failures = []
    for suite_result in result.run_results.values():
        for item in suite_result.results:
            if item.success:
                continue
            config = item.expectation_config
            error = _raised(item.exception_info or {})
            if error is not None:
                observed = f"could not be evaluated: {error}"
            elif config.type in UNEXPECTED_ROWS_TYPES:
                observed = unexpected_rows_observed(item.result)
            else:
                observed = _observed(item.result, config.kwargs)
            failures.append(
                FailedExpectation(
                    id=str(config.id),
                    type=config.type,
                    column=config.kwargs.get("column"),
                    description=config.description,
                    observed=observed,
                    error=error is not None,
                    severity=_severity(config),
                )
            )
    return failures


def unexpected_rows_observed(result: dict[str, Any]) -> str:
    """What an unexpected-rows expectation's ``result`` observed: the count and its first rows, when kept."""
    rows = (result.get("details") or {}).get("sample_rows") or []

    def quoted(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= QUOTED_VALUE_WIDTH else text[:QUOTED_VALUE_WIDTH - 1] + "…"

    sample = "; ".join(", ".join(f"{name}={quoted(value)}" for name, value in row.items()) for row in rows[:SAMPLE_ROWS_QUOTED])
    return f"{result.get('observed_value')} unexpected row(s)" + (f" (e.g. {sample})" if sample else "")


def _raised(exception_info: dict[str, Any]) -> str | None:
    """First line of the exception GX caught while evaluating an expectation, if any.

    ``exception_info`` is either one {"raised_exception", "exception_message", ...} or such a dict
    per metric that failed to resolve.
    """
    infos = [exception_info, *(value for value in exception_info.values() if isinstance(value, dict))]
    for info in infos:
        if info.get("raised_exception"):
            lines = str(info.get("exception_message") or "unknown error").strip().splitlines()
            return lines[0] if lines else "unknown error"
    return None


def _observed(result: dict[str, Any], kwargs: dict[str, Any]) -> str:
    if "unexpected_count" in result:
        sample = ", ".join(repr(value) for value in (result.get("partial_unexpected_list") or [])[:SAMPLE_VALUES])
        count = f"{result['unexpected_count']} of {result.get('element_count', '?')} rows unexpected"
        return f"{count} (e.g. {sample})" if sample else count
    observed = result.get("observed_value")
    if mismatched := (result.get("details") or {}).get("mismatched"):
        return f"observed {observed!r}; mismatched {mismatched!r}"
    if "min_value" in kwargs or "max_value" in kwargs:
        return f"observed {_number(observed)}, expected {_number(kwargs.get('min_value'))} to {_number(kwargs.get('max_value'))}"
    return f"observed {observed!r}"


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value) if value is not None else "any"


def _severity(config: Any) -> str:
    return str(getattr(config.severity, "value", config.severity) or "critical")


def batch_ids(result: CheckpointResult) -> list[str]:
    return [str(key.batch_identifier) for key in result.run_results]


@dataclass(frozen=True)
class DocsSite:
    """The Data Docs site, on this disk (``file://``) or in S3 (``s3://``, quality_gate.s3_store). Its pages
    are named by their path below the site's root: ``index.html``, ``validations/<suite>/...html``."""

    root: str
    """The URL of the site's folder, ending in "/"."""
    aws_conn_id: str | None = None
    """The connection reading a site in S3."""

    def page(self, url: str) -> str:
        """The page that ``url``, a URL GX gives for this site, names."""
        if not url.startswith(self.root):
            raise ValueError(f"{url} is not a page of the Data Docs site at {self.root}.")
        return unquote(url.removeprefix(self.root))

    def location(self, page: str = "index.html") -> str:
        """Where ``page`` is, as a person would open it: its file's path, or its s3:// URL."""
        url = self.root + quote(page)
        return unquote(urlparse(url).path) if url.startswith("file:") else unquote(url)

    def read(self, page: str) -> bytes | None:
        """The content of ``page`` (a folder means its index.html); None if it is missing or outside the site."""
        parts = [part for part in page.split("/") if part]
        if any(part in {".", ".."} or "\\" in part for part in parts):
            return None
        if self.root.startswith("file:"):
            root = Path(unquote(urlparse(self.root).path)).resolve()
            candidate = root.joinpath(*parts).resolve()
            if candidate.is_dir():
                candidate = candidate / "index.html"
            return candidate.read_bytes() if candidate.is_relative_to(root) and candidate.is_file() else None
        from quality_gate.s3_store import shared_hook

        client = shared_hook(self.aws_conn_id).get_conn()
        bucket, _, prefix = unquote(self.root).removeprefix("s3://").partition("/")
        for key in ([f"{prefix}{'/'.join(parts)}"] if parts else []) + [f"{prefix}{''.join(f'{part}/' for part in parts)}index.html"]:
            try:  # one GET a page (S3Hook.get_key would HEAD it first, and check_for_key again)
                return client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except client.exceptions.NoSuchKey:
                continue
        return None


def docs_site(context: FileDataContext) -> DocsSite:
    """The context's Data Docs site (DOCS_SITE)."""
    from quality_gate.s3_store import AWS_CONN_ID, S3StoreBackend

    (site,) = context.get_docs_sites_urls(site_names=[DOCS_SITE], only_if_exists=False)
    backend = context.variables.data_docs_sites[DOCS_SITE].get("store_backend") or {}
    on_s3 = backend.get("class_name") == S3StoreBackend.__name__
    return DocsSite(site["site_url"].rsplit("/", 1)[0] + "/", backend.get("aws_conn_id", AWS_CONN_ID) if on_s3 else None)


def docs_pages(context: FileDataContext, result: CheckpointResult) -> list[str]:
    """The Data Docs page of each validation in ``result``."""
    site = docs_site(context)
    return [site.page(url["site_url"]) for key in result.run_results
            for url in context.get_docs_sites_urls(resource_identifier=key, site_names=[DOCS_SITE])]


def docs_index(context: FileDataContext) -> str:
    """Where the site's index is: its file's path, or its s3:// URL."""
    return docs_site(context).location()


def build_docs_index(context: FileDataContext) -> str:
    """Build the site's index page from the stores as they are now (a validation's update renders only its
    own pages: quality_gate.docs_builder); where it is."""
    from quality_gate.docs_builder import PagesSiteBuilder, site_builder

    builder = site_builder(context, DOCS_SITE)
    if isinstance(builder, PagesSiteBuilder):  # GX's own SiteBuilder rebuilds the index with every update
        builder.build_index()
    return docs_index(context)


@dataclass(frozen=True)
class LatestValidation:
    """A table's most recent validation in the context's results store (all None: never validated)."""

    table: str
    suite: str
    success: bool | None = None
    """False only when a critical expectation failed; a validation with warnings passed."""
    warnings: bool = False
    validated_at: datetime | None = None
    batch: str | None = None
    page: str | None = None
    run_name: str | None = None
    """The validation's run name: the audit area it read, for the DAG's validations."""


def latest_result_keys(context: FileDataContext) -> dict[str, Any]:
    """The key of each suite's most recent result in the context's results store, by suite name."""
    latest: dict[str, Any] = {}
    for key in context.validation_results_store.list_keys():
        suite = key.expectation_suite_identifier.name
        if suite not in latest or key.run_id.run_time > latest[suite].run_id.run_time:
            latest[suite] = key
    return latest


def latest_validations(context: FileDataContext) -> list[LatestValidation]:
    """Each validated table's latest validation result, with its Data Docs page (None until built), in spec order."""
    store = context.validation_results_store
    latest = latest_result_keys(context)
    rows, site = [], docs_site(context)
    for spec in validated_tables():
        key = latest.get(spec.suite)
        if key is None:
            rows.append(LatestValidation(spec.name, spec.suite))
            continue
        success, warnings = _outcome(store.get(key))
        rows.append(LatestValidation(
            spec.name, spec.suite, success=success, warnings=warnings, validated_at=key.run_id.run_time,
            batch=str(key.batch_identifier), page=_page(context, site, key), run_name=key.run_id.run_name,
        ))
    return rows


@dataclass(frozen=True)
class DayStatus:
    day: date
    success: bool
    warnings: bool
    page: str | None


def daily_statuses(context: FileDataContext, days: int = 30) -> dict[str, list[DayStatus]]:
    """Per validated table, the latest validation of each of its last ``days`` days, oldest first: the day
    of its batch for a day-partitioned table, the day it ran for a whole table."""
    partitioned = {spec.suite for spec in validated_tables() if spec.slice_column}
    latest: dict[tuple[str, date], Any] = {}
    for key in context.validation_results_store.list_keys():
        suite = key.expectation_suite_identifier.name
        match = _BATCH_DAY.search(str(key.batch_identifier))
        if suite in partitioned and not match:
            continue  # a validation of all its days (the warehouse audit): no day of its own
        day = date(*map(int, match.groups())) if match else key.run_id.run_time.date()
        slot = (suite, day)
        if slot not in latest or key.run_id.run_time > latest[slot].run_id.run_time:
            latest[slot] = key
    statuses, site = {}, docs_site(context)
    for spec in validated_tables():
        chosen = sorted((day, key) for (suite, day), key in latest.items() if suite == spec.suite)[-days:]
        statuses[spec.name] = [DayStatus(day, *_outcome(context.validation_results_store.get(key)), _page(context, site, key))
                               for day, key in chosen]
    return statuses


_BATCH_DAY = re.compile(r"year_(\d{4})-month_(\d{1,2})-day_(\d{1,2})")


def _outcome(result: Any) -> tuple[bool, bool]:
    """(passed, with warnings) of a suite validation result: only critical failures fail it."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    worst = result.get_max_severity_failure()
    return worst != FailureSeverity.CRITICAL, worst is not None and worst != FailureSeverity.CRITICAL


def _page(context: FileDataContext, site: DocsSite, key: Any) -> str | None:
    (url,) = context.get_docs_sites_urls(resource_identifier=key, site_names=[DOCS_SITE])
    return site.page(url["site_url"]) if url["site_url"] else None


def docs_url(page: str, base_url: str) -> str:
    """URL of Data Docs ``page`` as served by the Airflow UI at ``base_url``."""
    return f"{base_url.rstrip('/')}/{DOCS_URL_PATH}/{quote(page)}"


def failure_report(
    table: str, context: FileDataContext, result: CheckpointResult, link: Callable[[str], str] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """What a failed validation of ``table`` says: each failed expectation, observed values, ``notes``,
    Data Docs page.

    ``link`` turns the page into what is shown (default: where it is, DocsSite.location).
    """
    failures = failed_expectations(result)
    critical = [failure for failure in failures if failure.critical]
    warnings = [failure for failure in failures if not failure.critical]
    evaluated = sum(len(suite_result.results) for suite_result in result.run_results.values())
    outcome = f"failed {len(critical)} of {evaluated}" if critical else f"passed its {evaluated}"
    lines = [
        f"Table {table}: suite {table_spec(table).suite!r} {outcome} expectation(s) on batch "
        f"{', '.join(batch_ids(result))}" + (f", with {len(warnings)} warning(s)" if warnings else "") + ":",
        *(f"  - {failure}" for failure in critical),
        *(["Warnings (reported; they do not fail the run):"] if warnings else []),
        *(f"  - {failure}" for failure in warnings),
        *notes,
        *(f"Data Docs: {(link or docs_site(context).location)(page)}" for page in docs_pages(context, result)),
    ]
    return "\n".join(lines)


def has_critical_failure(result: CheckpointResult) -> bool:
    """True if an expectation that fails the run failed (or could not be evaluated); warnings do not count."""
    return any(failure.critical for failure in failed_expectations(result))


def read_audit_area_first(context: FileDataContext, area: str) -> None:
    """Make the warehouse datasource resolve unqualified table names in audit area ``area`` first, so
    the suites' batches and their queries read the run's rows (helpers.audit_area)."""
    from helpers.audit_area import in_audit_area

    on_connect(context, [in_audit_area(area).sql])


def on_connect(context: FileDataContext, statements: Sequence[str]) -> None:
    """Every connection the warehouse datasource's engine opens from now on runs ``statements`` first
    (session settings: SQLAlchemy's recipe for a default schema; a startup ``options`` parameter is
    not accepted by every server)."""
    from sqlalchemy import event

    if not statements:
        return
    engine = context.data_sources.get(DATASOURCE).get_execution_engine().engine

    def run_statements(dbapi_connection: Any, connection_record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        dbapi_connection.autocommit = autocommit

    engine.dispose()  # connections opened before now would miss the settings
    event.listen(engine, "connect", run_statements)


def set_warehouse_url(url: str) -> None:
    """Point ${SPARKIFY_WAREHOUSE_URL} at the warehouse for the validations of this process."""
    os.environ[URL_ENV] = url


def iter_suite_files(gx_dir: Path = GX_DIR) -> Iterator[tuple[TableSpec, Path]]:
    """Each validated table and the path of its suite's JSON file."""
    for spec in validated_tables():
        yield spec, gx_dir / "expectations" / f"{spec.suite}.json"

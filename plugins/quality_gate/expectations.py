"""ExpectQueryToReturnNoRows: GX's UnexpectedRowsExpectation, its query run once, its first rows kept.

GX 1.24's UnexpectedRowsExpectation runs its query twice per validation (once fetching the rows, up to
200 of them into the client, once as a COUNT) and keeps the rows only with result_format COMPLETE,
where no Data Docs renderer shows them. Every reconciliation of the gate is one such query, the
heaviest of the suites. This subclass, the custom SQL expectation GX documents (a subclass of
UnexpectedRowsExpectation), runs it once, ``SELECT *, COUNT(*) OVER ()`` of the query ``LIMIT
SAMPLE_ROWS``: the count and the first rows in one scan. Its result holds the rows (BASIC and above)
as ``details.sample_rows``, and its Data Docs entry shows them as a table below the count, so a
failed reconciliation names the rows that disagree.

GX registers an expectation when its class is defined: gx_context imports this module before it
loads a suite (GX stays out of the DAG file's imports).
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, ClassVar

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider
from great_expectations.render import LegacyDiagnosticRendererType, RenderedTableContent
from great_expectations.render.renderer.renderer import renderer

SAMPLE_ROWS = 20
"""Unexpected rows kept in a result (and shown in Data Docs)."""
_TOTAL = "sparkify_unexpected_total"
SAMPLE_METRIC = "sparkify_unexpected_rows.sample"


class UnexpectedRowsSample(QueryMetricProvider):
    """``{"count": <rows the query returns>, "rows": <its first SAMPLE_ROWS rows>}``, in one query."""

    metric_name = SAMPLE_METRIC
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine: SqlAlchemyExecutionEngine, metric_domain_kwargs: dict,
                    metric_value_kwargs: dict, metrics: dict[str, Any], runtime_configuration: dict) -> dict:
        batch_selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        query = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=cls._get_query_from_metric_value_kwargs(metric_value_kwargs),
            batch_selectable=batch_selectable, execution_engine=execution_engine)
        sample = (f"SELECT unexpected.*, COUNT(*) OVER () AS {_TOTAL} FROM ({query}) AS unexpected "
                  f"LIMIT {SAMPLE_ROWS}")
        rows = [dict(row) for row in execution_engine.execute_query(sa.text(sample)).mappings().fetchall()]
        count = int(rows[0][_TOTAL]) if rows else 0
        return {"count": count, "rows": [{name: _plain(value) for name, value in row.items() if name != _TOTAL}
                                         for row in rows]}


def _plain(value: Any) -> Any:
    """A row's value as the JSON of a stored validation result can hold it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class ExpectQueryToReturnNoRows(UnexpectedRowsExpectation):
    """The query (``{batch}`` standing for the batch) returns no row; its first rows are kept when it does."""

    metric_dependencies: ClassVar[tuple[str, ...]] = (SAMPLE_METRIC,)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict:
        sample = metrics[SAMPLE_METRIC]
        success = sample["count"] == 0
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": success}
        return {"success": success,
                "result": {"observed_value": sample["count"], "details": {"sample_rows": sample["rows"]}}}

    @classmethod
    @renderer(renderer_type=LegacyDiagnosticRendererType.UNEXPECTED_TABLE)
    def _diagnostic_unexpected_table_renderer(cls, configuration: Any = None, result: Any = None,
                                              runtime_configuration: dict | None = None) -> list | None:
        rows = ((result.result or {}).get("details") or {}).get("sample_rows") if result is not None else None
        if not rows:
            return None
        count = result.result.get("observed_value")
        header = list(rows[0])
        shown = f"the first {len(rows)} of {count}" if count and count > len(rows) else f"all {len(rows)}"
        return [RenderedTableContent(
            content_block_type="table",
            header={"content_block_type": "string_template",
                    "string_template": {"template": f"Unexpected rows ({shown})", "tag": "strong"}},
            header_row=header,
            table=[["null" if row.get(name) is None else row.get(name) for name in header] for row in rows],
            styling={"body": {"classes": ["table-bordered", "table-sm", "mt-3"]}},
        )]

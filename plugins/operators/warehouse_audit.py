"""WarehouseAuditOperator: the published warehouse audited table by table (quality_gate.warehouse_audit)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret

from helpers.alerts import WARNINGS_XCOM

if TYPE_CHECKING:
    from airflow.sdk import Context

    from helpers.tables import TableSpec

_EVENTS_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})-events\.json$")


class WarehouseAuditOperator(BaseOperator):
    """Audit ``tables`` of the published warehouse: in full, every day, the days missing.

    A day is missing from a day-partitioned table when, between the first and the last day of any of
    ``span_tables`` (and any day with an events file under ``s3_prefix``), the table has no row on
    it. A failed expectation or a missing day fails the task at once (no retry), naming each table,
    day and expectation; warnings (history) go to the log and the run's alert.

    :param tables: the table specs to audit (helpers.tables).
    :param span_tables: the day-partitioned specs whose days span the audit (default: ``tables``).
    :param s3_bucket: the source bucket (templated); with ``s3_prefix``, its events files count as days.
    :param s3_prefix: the events prefix in ``s3_bucket`` (e.g. ``log_data/``).
    :param redshift_conn_id: the warehouse connection.
    :param aws_conn_id: the AWS connection that lists the bucket.
    """

    template_fields: Sequence[str] = ("s3_bucket",)
    ui_color = "#FF6310"

    def __init__(
        self,
        *,
        tables: Sequence[TableSpec],
        span_tables: Sequence[TableSpec] = (),
        s3_bucket: str | None = None,
        s3_prefix: str | None = None,
        redshift_conn_id: str = "redshift",
        aws_conn_id: str = "aws_credentials",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = list(tables)
        self.span_tables = list(span_tables) or self.tables
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.redshift_conn_id = redshift_conn_id
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from helpers.db import Dialect, query_limits
        from quality_gate import gx_context, warehouse_audit

        gx_context.quiet_gx()
        gx = gx_context.file_context()
        url = PostgresHook(postgres_conn_id=self.redshift_conn_id).sqlalchemy_url.render_as_string(hide_password=False)
        mask_secret(url)
        kind = gx_context.warehouse_kind(gx)
        gx_context.set_warehouse_url(gx_context.warehouse_url(url, kind))
        gx_context.on_connect(gx, query_limits(Dialect(kind), self.execution_timeout))
        audit = warehouse_audit.run(gx, self.tables, span_specs=self.span_tables, source_days=self._source_days(),
                                    progress=self.log.info)
        report = "\n".join(audit.lines())
        if audit.failed:
            raise AirflowFailException(f"Warehouse audit of {', '.join(spec.name for spec in self.tables)}:\n{report}")
        self.log.info("%s", report)
        if any(not finding.critical for finding in audit.findings):
            context["ti"].xcom_push(key=WARNINGS_XCOM, value=report)

    def _source_days(self) -> list[date]:
        if not (self.s3_bucket and self.s3_prefix):
            return []
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        keys = S3Hook(aws_conn_id=self.aws_conn_id).list_keys(bucket_name=self.s3_bucket, prefix=self.s3_prefix) or []
        return sorted(date.fromisoformat(match[1]) for key in keys if (match := _EVENTS_FILE.search(key)))

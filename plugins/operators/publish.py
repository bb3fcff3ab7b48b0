"""PublishOperator: the run's audit area swapped into the published tables in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from helpers.audit_area import MissingInAuditArea, checked_area, publish_steps, relations_sql
from helpers.db import TimeSlice, dialect_of, run_in_transaction

if TYPE_CHECKING:
    from airflow.sdk import Context

    from helpers.tables import TableSpec


class PublishOperator(BaseOperator):
    """Publish what ``audit_area`` holds for ``tables``, then drop the area (helpers.audit_area).

    One transaction: the run's slice of every day-partitioned table is replaced, tables loaded
    whole are replaced, merged tables get their changes; readers see the old day or the new one.
    Runs only after the quality gate passed.

    :param audit_area: the run's audit area (templated).
    :param tables: the table spec (helpers.tables.TABLES), in the order tables are locked.
    :param slice_start: start of the run's slice, ISO date or timestamp (templated).
    :param slice_end: end of the slice, exclusive (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("audit_area", "slice_start", "slice_end")
    ui_color = "#2E86AB"
    ui_fgcolor = "#FFFFFF"

    def __init__(
        self,
        *,
        audit_area: str,
        tables: Sequence[TableSpec],
        slice_start: str,
        slice_end: str,
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not tables:
            raise ValueError("PublishOperator needs the tables to publish.")
        self.audit_area = audit_area
        self.tables = list(tables)
        self.slice_start = slice_start
        self.slice_end = slice_end
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> None:
        area = checked_area(self.audit_area)
        connection = BaseHook.get_connection(self.redshift_conn_id)
        hook = connection.get_hook()
        dialect = dialect_of(connection.conn_type, connection.host)
        relations = {name for name, _ in hook.get_records(relations_sql(), parameters=(area,))}
        try:
            steps = publish_steps(
                dialect=dialect, area=area, specs=self.tables,
                time_slice=TimeSlice.parse(self.slice_start, self.slice_end), in_area_now=relations,
            )
        except MissingInAuditArea as missing:
            raise AirflowFailException(str(missing)) from None
        self.log.info("Publishing audit area %s (%s)", area, ", ".join(sorted(relations)))
        run_in_transaction(hook, steps, self.log, timeout=self.execution_timeout, dialect=dialect)
        self.log.info("Published audit area %s and dropped it", area)

"""The part LoadFactOperator and LoadDimensionOperator share: write a ``TableLoad`` into the audit area."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from helpers.audit_area import in_audit_area, published, quarantine_note
from helpers.db import TimeSlice, data_error, dialect_of, quote_column, run_in_transaction
from helpers.loads import LoadMode, build_load_steps
from helpers.sql_queries import TableLoad

if TYPE_CHECKING:
    from airflow.sdk import Context


class TableLoadOperator(BaseOperator):
    """Run ``load`` for ``table`` inside the run's audit area, in one transaction (helpers.loads).

    A load that fails on the data (a value the SELECT cannot cast, a duplicate key) fails the task
    at once, naming the area whose staged rows caused it; other errors are retried.
    """

    template_fields: Sequence[str] = ("audit_area", "slice_start", "slice_end")

    def __init__(
        self,
        *,
        table: str,
        audit_area: str,
        load: TableLoad,
        mode: LoadMode | str,
        keys: Sequence[str] = (),
        slice_column: str | None = None,
        slice_start: str | None = None,
        slice_end: str | None = None,
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        published(table)  # a plain table name
        for column in (*keys, *([slice_column] if slice_column else [])):
            quote_column(column)
        self.table = table
        self.audit_area = audit_area
        self.load = load
        self.mode = LoadMode(mode)
        self.keys = tuple(keys)
        self.slice_column = slice_column
        self.slice_start = slice_start
        self.slice_end = slice_end
        self.redshift_conn_id = redshift_conn_id

    def time_slice(self) -> TimeSlice | None:
        if self.slice_start is None and self.slice_end is None:
            return None
        return TimeSlice.parse(self.slice_start, self.slice_end)

    def execute(self, context: Context) -> None:
        connection = BaseHook.get_connection(self.redshift_conn_id)
        dialect = dialect_of(connection.conn_type, connection.host)
        time_slice = self.time_slice()
        steps = [
            in_audit_area(self.audit_area),
            *build_load_steps(
                dialect=dialect,
                area=self.audit_area,
                published_table=published(self.table),
                table=self.table,
                load=self.load,
                mode=self.mode,
                keys=self.keys,
                slice_column=self.slice_column,
                time_slice=time_slice,
            ),
        ]
        self.log.info("Loading %s (%s) into audit area %s for slice %s", self.table, self.mode.value,
                      self.audit_area, time_slice or "(none)")
        try:
            run_in_transaction(connection.get_hook(), steps, self.log, timeout=self.execution_timeout, dialect=dialect)
        except Exception as error:
            if (reason := data_error(error)) is None:
                raise
            raise AirflowFailException(
                f"Cannot load {self.table} from the run's staged rows: {reason}\n"
                f"{quarantine_note(self.audit_area, _day(time_slice))}"
            ) from None


def _day(time_slice: TimeSlice | None) -> str | None:
    return time_slice.start.date().isoformat() if time_slice else None

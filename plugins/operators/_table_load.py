"""The part LoadFactOperator and LoadDimensionOperator share: run a ``TableLoad`` in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator

from helpers.db import TimeSlice, dialect_of, quote_column, quote_table, run_in_transaction
from helpers.loads import LoadMode, build_load_steps
from helpers.sql_queries import TableLoad

if TYPE_CHECKING:
    from airflow.sdk import Context


class TableLoadOperator(BaseOperator):
    template_fields: Sequence[str] = ("slice_start", "slice_end")

    def __init__(
        self,
        *,
        table: str,
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
        quote_table(table)
        for column in (*keys, *([slice_column] if slice_column else [])):
            quote_column(column)
        self.table = table
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
        time_slice = self.time_slice()
        steps = build_load_steps(
            dialect=dialect_of(connection.conn_type, connection.host),
            table=self.table,
            load=self.load,
            mode=self.mode,
            keys=self.keys,
            slice_column=self.slice_column,
            time_slice=time_slice,
        )
        self.log.info("Loading %s (%s) for slice %s", self.table, self.mode.value, time_slice or "(none)")
        run_in_transaction(connection.get_hook(), steps, self.log)

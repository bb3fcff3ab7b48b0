"""LoadFactOperator: append a fact table's rows for the run's time slice, safe to re-run."""

from __future__ import annotations

from typing import Any

from operators._table_load import TableLoadOperator


class LoadFactOperator(TableLoadOperator):
    """Load ``load`` into the fact ``table``.

    Appends, as facts are never rewritten. Given ``slice_column``, the rows of the run's slice
    [slice_start, slice_end) are deleted in the same transaction first, so re-running or
    backfilling a day never duplicates a fact.

    :param table: the fact table.
    :param load: ``helpers.sql_queries.TableLoad``: the columns and the SELECT producing them.
    :param slice_column: timestamp column of ``table`` the run's slice is on.
    :param slice_start: start of the slice, ISO date or timestamp (templated).
    :param slice_end: end of the slice, exclusive (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#F98866"

    def __init__(self, *, table: str, load: Any, slice_column: str | None = None, **kwargs: Any) -> None:
        super().__init__(table=table, load=load, mode="append", slice_column=slice_column, **kwargs)

"""LoadFactOperator: the run's slice of a fact table, written into the run's audit area."""

from __future__ import annotations

from typing import Any

from operators._table_load import TableLoadOperator


class LoadFactOperator(TableLoadOperator):
    """Load ``load`` for the fact ``table`` into ``<audit_area>.<table>``.

    Facts are appended, never rewritten: the area holds the rows of the run's slice
    [slice_start, slice_end) of ``slice_column``, and publish replaces that slice of the published
    table with them, so re-running or backfilling a day never duplicates a fact.

    :param table: the fact table.
    :param audit_area: the run's audit area (templated).
    :param load: ``helpers.sql_queries.TableLoad``: the columns and the SELECT producing them.
    :param slice_column: timestamp column of ``table`` the run's slice is on.
    :param slice_start: start of the slice, ISO date or timestamp (templated).
    :param slice_end: end of the slice, exclusive (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#F98866"

    def __init__(self, *, table: str, load: Any, slice_column: str, **kwargs: Any) -> None:
        super().__init__(table=table, load=load, mode="append", slice_column=slice_column, **kwargs)

"""LoadDimensionOperator: a dimension table's new rows, in one of three modes, written into the run's audit area."""

from __future__ import annotations

from typing import Any

from operators._table_load import TableLoadOperator


class LoadDimensionOperator(TableLoadOperator):
    """Load ``load`` for the dimension ``table`` into the run's audit area (modes: helpers.loads).

    :param table: the dimension table.
    :param audit_area: the run's audit area (templated).
    :param load: ``helpers.sql_queries.TableLoad``: the columns and the SELECT producing them.
    :param mode: ``truncate-insert`` (replace the table), ``append`` (replace the run's slice of
        ``slice_column``), or ``upsert`` (insert or replace the rows whose ``keys`` come again, when
        they win the load's merge order).
    :param keys: the natural key, for ``upsert``.
    :param slice_column: the column of the run's slice, for ``append``.
    :param slice_start: start of the run's slice, for a SELECT restricted to it (templated).
    :param slice_end: end of the run's slice, exclusive (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#80BD9E"

    def __init__(self, *, table: str, load: Any, mode: str = "truncate-insert", **kwargs: Any) -> None:
        super().__init__(table=table, load=load, mode=mode, **kwargs)

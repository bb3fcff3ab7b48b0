"""LoadDimensionOperator: load a dimension table in one of three modes, in one transaction."""

from __future__ import annotations

from typing import Any

from operators._table_load import TableLoadOperator


class LoadDimensionOperator(TableLoadOperator):
    """Load ``load`` into the dimension ``table``.

    :param table: the dimension table.
    :param load: ``helpers.sql_queries.TableLoad``: the columns and the SELECT producing them.
    :param mode: ``truncate-insert`` (replace the table), ``append``, or ``upsert`` (replace the rows
        whose ``keys`` come again, add the others).
    :param keys: the natural key, for ``upsert``.
    :param slice_start: start of the run's slice, for a SELECT restricted to it (templated).
    :param slice_end: end of the run's slice, exclusive (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#80BD9E"

    def __init__(self, *, table: str, load: Any, mode: str = "truncate-insert", **kwargs: Any) -> None:
        super().__init__(table=table, load=load, mode=mode, **kwargs)

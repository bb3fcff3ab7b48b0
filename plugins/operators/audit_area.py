"""OpenAuditAreaOperator: the run's audit area, made anew (helpers.audit_area)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator

from helpers.audit_area import checked_area, open_steps
from helpers.db import dialect_of, run_in_transaction

if TYPE_CHECKING:
    from airflow.sdk import Context


class OpenAuditAreaOperator(BaseOperator):
    """Create the schema ``audit_area`` for the run's writes, after dropping every area of the same day.

    Those are the areas of earlier runs of the day that did not publish (their quarantine ends
    here) and this run's own from an earlier try. Returns the area's name (XCom), which the run's
    alert quotes when the run fails before publishing.

    :param audit_area: the run's audit area, ``audit_<yyyymmdd>_<hash>`` (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("audit_area",)
    ui_color = "#C9D6DF"

    def __init__(self, *, audit_area: str, redshift_conn_id: str = "redshift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audit_area = audit_area
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> str:
        area = checked_area(self.audit_area)
        steps = open_steps(area)
        connection = BaseHook.get_connection(self.redshift_conn_id)
        run_in_transaction(connection.get_hook(), steps, self.log, timeout=self.execution_timeout,
                           dialect=dialect_of(connection.conn_type, connection.host))
        dropped = steps[0].dropped
        self.log.info("Opened audit area %s%s", area,
                      f"; dropped the earlier area(s) of its day: {', '.join(dropped)}" if dropped else "")
        return area

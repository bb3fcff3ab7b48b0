"""GXValidateTableOperator: the provider's checkpoint operator for one warehouse table on the run's day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

from helpers.alerts import WARNINGS_XCOM
from helpers.tables import rendered_flag
from airflow.sdk.log import mask_secret
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from great_expectations_provider.operators.validate_checkpoint import GXValidateCheckpointOperator

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey
    from great_expectations import Checkpoint
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.data_context import AbstractDataContext

    from quality_gate.history import Judgement


class DataDocsLink(BaseOperatorLink):
    """The "Data Docs" button of a validation task: its validation's page in the Airflow UI's Data Docs.

    Airflow stores the link when the task ends, passed or failed (no link if nothing was validated).
    """

    name = "Data Docs"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "data_docs_url", None) or ""


class GXValidateTableOperator(GXValidateCheckpointOperator):
    """Run ``table``'s GX checkpoint; a failed suite fails the task without retrying.

    GXValidateCheckpointOperator has no template fields; this subclass templates ``run_day``
    (``"{{ ds }}"``) and turns it into the batch parameters year/month/day of the table's daily
    batch definition. Once the context is loaded, ${SPARKIFY_WAREHOUSE_URL} is set from the
    ``redshift_conn_id`` connection, with the driver of the context's datasource (Postgres or
    Redshift), and masked in logs. With ``audit_area`` (templated) the suite reads the run's audit
    area first (helpers.audit_area): it validates the run's rows before anything is published, and
    the validation's run name in Data Docs names the area.

    A failed critical expectation is a fact about the data: AirflowFailException, whose message
    names the table, each failed expectation with its observed value, and the validation's Data
    Docs page. Failed warnings (their ``severity`` in the suite) are reported in the log, Data Docs
    and XCom ``sparkify_warnings`` (the run's alert), and the task succeeds. An expectation that
    could not be evaluated (lost connection, bad SQL) raises AirflowException, which is retried.

    A table with ``history`` in the table spec is first measured on the run's day and bounded by the
    published days before it (quality_gate.history); the bounds go to the suite as parameters and
    the day's metrics are recorded in the audit area, published with the run. Data Docs links point at the Airflow UI (plugins/data_docs_plugin.py serves
    the site there), so the task's "Data Docs" button and the alerts open the validation's page.

    :param table: the validated table (its checkpoint is named after it).
    :param run_day: the run's day, ISO date (templated); None validates the whole table.
    :param audit_area: the run's audit area (templated); None validates the published tables.
    :param allow_empty: a day without rows has no batch to validate: it fails the task, unless this
        run publishes an explicitly empty day (templated ``True``/``False``; the staging task then
        staged nothing on purpose), when the task succeeds with a warning.
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("run_day", "audit_area", "allow_empty")
    operator_extra_links = (DataDocsLink(),)
    ui_color = "#FF6310"

    def __init__(
        self,
        *,
        table: str,
        run_day: str | None = None,
        audit_area: str | None = None,
        allow_empty: bool | str = False,
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.run_day = run_day
        self.audit_area = audit_area
        self.allow_empty = allow_empty
        self.redshift_conn_id = redshift_conn_id
        self.data_docs_url: str | None = None

    def execute(self, context: Context) -> None:
        from helpers.audit_area import checked_area, quarantine_note
        from helpers.db import Dialect, query_limits
        from quality_gate import gx_context

        gx_context.quiet_gx()  # before GX is first imported
        from great_expectations.exceptions.exceptions import NoAvailableBatchesError
        from great_expectations_provider.common.errors import GXValidationFailed

        day = date.fromisoformat(self.run_day) if self.run_day else None
        if day:
            self.batch_parameters = gx_context.day_batch_parameters(day)
        configure_checkpoint = self.configure_checkpoint

        def use_warehouse_then_configure(data_context: AbstractDataContext) -> Checkpoint:
            kind = gx_context.warehouse_kind(data_context)
            url = gx_context.warehouse_url(_warehouse_url(self.redshift_conn_id), kind)
            mask_secret(url)
            gx_context.set_warehouse_url(url)
            if self.audit_area:
                gx_context.read_audit_area_first(data_context, checked_area(self.audit_area))
            gx_context.on_connect(data_context, query_limits(Dialect(kind), self.execution_timeout))
            run.judgement = gx_context.judge_history(data_context, gx_context.table_spec(self.table), day,
                                                     record_in=self.audit_area, run_id=context.get("run_id") or "")
            if run.judgement:
                self.log.info("%s", run.judgement.summary)
            return configure_checkpoint(data_context)

        note = "\n" + quarantine_note(self.audit_area, self.run_day) if self.audit_area else ""
        run = _RecordedRun(use_warehouse_then_configure, run_name=self.audit_area)
        self.configure_checkpoint = run.configure
        try:
            super().execute(context)
        except NoAvailableBatchesError:
            if day and rendered_flag(self.allow_empty, f"{self.task_id}: allow_empty"):
                report = f"Table {self.table}: no rows on {day.isoformat()}, as this run publishes an empty day."
                self.log.warning("%s", report)
                context["ti"].xcom_push(key=WARNINGS_XCOM, value=report)
                return
            raise AirflowFailException(gx_context.empty_day_message(self.table, day) + note) from None
        except GXValidationFailed:
            if run.result is None:
                raise
            report = gx_context.failure_report(self.table, run.context, run.result, link=run.docs_url,
                                               notes=[run.judgement.summary] if run.judgement else [])
            if any(failure.error for failure in gx_context.failed_expectations(run.result)):
                raise AirflowException(report + note) from None
            if gx_context.has_critical_failure(run.result):
                raise AirflowFailException(report + note) from None
            self.log.warning("%s", report)
            context["ti"].xcom_push(key=WARNINGS_XCOM, value=report)
            return
        finally:
            self.configure_checkpoint = configure_checkpoint
            if run.result is not None:
                self.data_docs_url = next(iter(run.pages()), None)
        self.log.info("Table %s passed its suite on batch %s. Data Docs: %s", self.table,
                      ", ".join(gx_context.batch_ids(run.result)), ", ".join(run.pages()))

class _RecordedRun:
    """Stands in for the checkpoint the provider runs, keeping its context and result for the report."""

    def __init__(self, configure_checkpoint: Callable[[AbstractDataContext], Checkpoint], run_name: str | None) -> None:
        self._configure_checkpoint = configure_checkpoint
        self._run_name = run_name
        self.judgement: Judgement | None = None
        """The day's history judgement, made once the warehouse is set (quality_gate.history)."""
        self._checkpoint: Checkpoint | None = None
        self.context: AbstractDataContext | None = None
        self.result: CheckpointResult | None = None

    def configure(self, context: AbstractDataContext) -> _RecordedRun:
        self.context = context
        self._checkpoint = self._configure_checkpoint(context)
        return self

    def run(self, **kwargs: Any) -> CheckpointResult:
        """The checkpoint's run with the history's bounds as suite parameters, named ``run_name`` in Data Docs
        when one is given."""
        from great_expectations.core.run_identifier import RunIdentifier

        if self.judgement:
            kwargs["expectation_parameters"] = {**(kwargs.get("expectation_parameters") or {}),
                                                **self.judgement.parameters}
        if self._run_name:
            kwargs["run_id"] = RunIdentifier(run_name=self._run_name, run_time=datetime.now(timezone.utc))
        self.result = self._checkpoint.run(**kwargs)
        return self.result

    def docs_url(self, page: str) -> str:
        """``page``'s URL in the Airflow UI."""
        from quality_gate import gx_context
        from helpers.airflow_ui import base_url

        return gx_context.docs_url(page, base_url())

    def pages(self) -> list[str]:
        """URLs of the Data Docs pages of the validations run."""
        from quality_gate import gx_context

        return [self.docs_url(page) for page in gx_context.docs_pages(self.context, self.result)]


def _warehouse_url(conn_id: str) -> str:
    """SQLAlchemy URL of the connection, password included (escaped) and masked in logs."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    url = PostgresHook(postgres_conn_id=conn_id).sqlalchemy_url.render_as_string(hide_password=False)
    mask_secret(url)
    return url

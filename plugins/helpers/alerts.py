"""Run alerts: one message per failed DAG run (optionally per succeeded run) to every configured channel.

- ``record_task_failure`` is every task's ``on_failure_callback``. Airflow calls it after the final
  try only (a try that will be retried calls ``on_retry_callback``). It keeps the task's error, try
  number and log URL in XCom ``sparkify_failure``: the DAG-level callback's context has no exception.
- ``alert_failed_run`` is the DAG's ``on_failure_callback``: once per failed run, in the DAG
  processor (in its own process under ``airflow dags test``). It reads the run's task states and
  those XComs, adds the quality-gate details (failed expectations from the GX result a validation
  task pushed to XCom ``return_value``; failed checks listed in DataQualityOperator's message; Data
  Docs links) and, when the run failed after opening its audit area and before publishing, where
  its rows are kept (helpers.audit_area), then sends one message to every channel.
- ``alert_succeeded_run`` is the DAG's ``on_success_callback``: an alert when a validation passed
  with warnings (XCom ``sparkify_warnings``, e.g. a day out of its history's bounds), else a short
  digest only when variable ``sparkify_alert_on_success`` is true.

Channels are on when their connection exists; none is required. A channel that fails is logged and
the others still send; nothing here raises into Airflow, so an alert never changes a run's result.

| channel | connection | sent with |
|---|---|---|
| email | ``sparkify_alerts_smtp`` (SMTP; ``from_email`` in its extra) | ``SmtpNotifier`` to variable ``sparkify_alert_emails`` (comma-separated) |
| Slack | ``sparkify_alerts_slack`` (Slack Incoming Webhook) | ``SlackWebhookNotifier`` |
| webhook | ``sparkify_alerts_webhook`` (HTTP; host = the full URL) | ``JsonWebhookNotifier``: POST of ``RunReport.document()`` |

Provider and HTTP libraries are imported inside the functions: the DAG file imports this module.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from helpers.airflow_ui import ui_url
from helpers.audit_area import OPEN_TASK_ID, PUBLISH_TASK_ID, quarantine_note

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier, Context

log = logging.getLogger(__name__)

FAILURE_XCOM = "sparkify_failure"
WARNINGS_XCOM = "sparkify_warnings"
"""What a validation that passed with warnings pushes (operators.gx_validate): its report."""
SMTP_CONN_ID = "sparkify_alerts_smtp"
SLACK_CONN_ID = "sparkify_alerts_slack"
WEBHOOK_CONN_ID = "sparkify_alerts_webhook"
EMAILS_VARIABLE = "sparkify_alert_emails"
ON_SUCCESS_VARIABLE = "sparkify_alert_on_success"
MAX_ERROR_CHARS = 4000
SUBJECT_TASKS = 3
CHANNEL_TIMEOUT = 10
"""Seconds per Slack/webhook request: callbacks share the DAG processor's parsing timeout."""

_QUALITY_HEADER = re.compile(r"\d+ of \d+ data quality check\(s\) failed:")
_QUALITY_LINE = re.compile(r"^\s*- (?P<table>[^:\s]+): (?P<check>.+?): expected (?P<expected>.+), got (?P<got>.+)$")
_DATA_DOCS_LINE = re.compile(r"^\s*Data Docs: (?P<link>\S.*)$")
_URL = re.compile(r"(?:https?|file)://[^\s<>\"']+")


# --- the report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A failed quality check or expectation of a table, with what was observed."""

    table: str
    check: str
    observed: str
    expected: str | None = None

    def __str__(self) -> str:
        expected = f" (expected {self.expected})" if self.expected else ""
        return f"{self.table}: {self.check}: {self.observed}{expected}"


@dataclass(frozen=True)
class FailedTask:
    """A failed task of the run: its final try, its error (secrets masked) and the quality-gate details."""

    task_id: str
    try_number: int | None
    max_tries: int | None
    error: str | None
    log_url: str
    findings: tuple[Finding, ...] = ()
    data_docs: tuple[str, ...] = ()

    @property
    def tries(self) -> str:
        if self.try_number is None:
            return "try ?"
        return f"try {self.try_number}" + (f" of {self.max_tries + 1}" if self.max_tries is not None else "")

    @property
    def summary(self) -> str:
        """The error: its first line when the findings detail it, else all of it."""
        if not self.error:
            return "no error recorded (the task did not finish its failure handling); see its log"
        return self.error.splitlines()[0] if self.findings else self.error


@dataclass(frozen=True)
class RunReport:
    """What an alert says about one DAG run, as text, HTML, Slack mrkdwn or a JSON document."""

    dag_id: str
    run_id: str
    logical_date: str | None
    succeeded: bool
    run_url: str
    reason: str | None = None
    failed: tuple[FailedTask, ...] = ()
    not_run: tuple[str, ...] = ()
    task_count: int = 0
    quarantine: str | None = None
    """Where the rows of a run that did not publish are kept, and how to query them."""
    warnings: tuple[tuple[str, str], ...] = ()
    """(task, report) of each validation that passed with warnings."""

    @property
    def day(self) -> str:
        return self.logical_date[:10] if self.logical_date else "no logical date"

    def subject(self) -> str:
        if self.succeeded and self.warnings:
            tasks = ", ".join(task for task, _ in self.warnings)
            return f"[sparkify] {self.dag_id} succeeded with warnings for {self.day}: {tasks}"
        if self.succeeded:
            return f"[sparkify] {self.dag_id} succeeded for {self.day}"
        tasks = [task.task_id for task in self.failed]
        named = ", ".join(tasks[:SUBJECT_TASKS]) + (f" +{len(tasks) - SUBJECT_TASKS} more" if len(tasks) > SUBJECT_TASKS else "")
        return f"[sparkify] {self.dag_id} FAILED for {self.day}: {named or self.reason or 'no failed task'}"

    def text(self) -> str:
        """The message as plain text (email body, logs)."""
        lines = [
            self.subject().removeprefix("[sparkify] "),
            "",
            f"DAG:          {self.dag_id}",
            f"Run:          {self.run_id}",
            f"Logical date: {self.logical_date or '-'}",
            f"Open the run: {self.run_url}",
        ]
        if self.succeeded:
            lines.append(f"Tasks:        {self.task_count} finished")
            return "\n".join([*lines, *self._warning_lines()]) + "\n"
        lines.append(f"Reason:       {self.reason or '-'}")
        if self.quarantine:
            lines += ["", self.quarantine]
        lines += ["", f"{len(self.failed)} failed task(s):" if self.failed else "No task failed (see the run)."]
        for number, task in enumerate(self.failed, 1):
            lines += ["", f"{number}. {task.task_id} ({task.tries})"]
            lines += [f"   {line}" for line in f"Error: {task.summary}".splitlines()]
            if task.findings:
                lines.append("   Failed checks:")
                lines += [f"     - {finding}" for finding in task.findings]
            lines += [f"   Data Docs: {link}" for link in task.data_docs]
            lines.append(f"   Log: {task.log_url}")
        if self.not_run:
            lines += ["", f"Not run because of the failure: {', '.join(self.not_run)}"]
        return "\n".join([*lines, *self._warning_lines()]) + "\n"

    def _warning_lines(self) -> list[str]:
        lines = []
        for task, report in self.warnings:
            lines += ["", f"Warning from {task} (the run went on):", *(f"   {line}" for line in report.splitlines())]
        return lines

    def html(self) -> str:
        """text() as HTML: monospace, links clickable."""
        body = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', html.escape(self.text(), quote=False))
        return f'<div style="font-family: monospace; white-space: pre-wrap">{body}</div>'

    def slack(self) -> str:
        """The message in Slack mrkdwn."""
        icon = ":large_green_circle:" if self.succeeded else ":red_circle:"
        lines = [f"{icon} *{_slack(self.subject().removeprefix('[sparkify] '))}*",
                 f"Run <{self.run_url}|{_slack(self.run_id)}>, logical date {_slack(self.logical_date or '-')}"]
        if self.quarantine:
            lines.append(_slack(self.quarantine))
        for task in self.failed:
            lines.append(f"• *{_slack(task.task_id)}* ({task.tries}) <{task.log_url}|log>")
            lines += [f"> {_slack(line)}" for line in task.summary.splitlines()[:15]]
            lines += [f"    ◦ {_slack(str(finding))}" for finding in task.findings]
            lines += [f"    Data Docs: {_slack_link(link)}" for link in task.data_docs]
        if self.not_run:
            lines.append(f"Not run: {_slack(', '.join(self.not_run))}")
        for task, report in self.warnings:
            lines.append(f":warning: *{_slack(task)}*")
            lines += [f"> {_slack(line)}" for line in report.splitlines()[:15]]
        return "\n".join(lines)

    def document(self) -> dict[str, Any]:
        """The message as the JSON document of the webhook."""
        document = asdict(self)
        document["event"] = "dag_run_succeeded" if self.succeeded else "dag_run_failed"
        document["subject"] = self.subject()
        return document


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(link: str) -> str:
    return f"<{link}>" if link.startswith(("http://", "https://")) else _slack(link)


# --- quality-gate details ---------------------------------------------------------------------------


def quality_check_findings(error: str) -> list[Finding]:
    """The failed checks listed in a DataQualityOperator failure (``  - table: check: expected X, got Y``)."""
    if not _QUALITY_HEADER.search(error):
        return []
    return [
        Finding(m["table"], m["check"], observed=f"got {m['got']}", expected=m["expected"])
        for m in map(_QUALITY_LINE.match, error.splitlines())
        if m
    ]


def data_docs_links(error: str) -> list[str]:
    """The ``Data Docs: <link>`` lines of a validation failure."""
    return [m["link"].strip() for m in map(_DATA_DOCS_LINE.match, error.splitlines()) if m]


def expectation_findings(table: str, result: Mapping[str, Any]) -> tuple[list[Finding], list[str]]:
    """Failed expectations and result URLs of a GX checkpoint result (``CheckpointResult.describe_dict()``)."""
    findings, links = [], []
    for validation in result.get("validation_results") or []:
        if validation.get("success"):
            continue
        if validation.get("result_url"):
            links.append(validation["result_url"])
        for expectation in validation.get("expectations") or []:
            if expectation.get("success"):
                continue
            column = (expectation.get("kwargs") or {}).get("column")
            check = str(expectation.get("expectation_type")) + (f" (column {column})" if column else "")
            findings.append(Finding(table, check, observed=_observed(expectation)))
    return findings, links


def _observed(expectation: Mapping[str, Any]) -> str:
    info = expectation.get("exception_info") or {}
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "unknown error").strip().splitlines()
        return f"could not be evaluated: {message[0] if message else 'unknown error'}"
    result = expectation.get("result") or {}
    if "unexpected_count" in result:
        observed = f"{result['unexpected_count']} of {result.get('element_count', '?')} rows unexpected"
        sample = ", ".join(repr(value) for value in (result.get("partial_unexpected_list") or [])[:5])
        return f"{observed} (e.g. {sample})" if sample else observed
    from quality_gate import gx_context

    if expectation.get("expectation_type") in gx_context.UNEXPECTED_ROWS_TYPES:
        return gx_context.unexpected_rows_observed(result)
    return f"observed {result.get('observed_value')!r}"


def _validated_table(task_id: str) -> str:
    """``validate.validate_songplays`` -> ``songplays`` (the DAG names validation tasks after their table)."""
    return task_id.rsplit(".", 1)[-1].removeprefix("validate_")


# --- reading the run --------------------------------------------------------------------------------


@contextmanager
def _execution_api(context: Context) -> Iterator[None]:
    """Give the callback the Execution API: task states, XComs, variables, connections.

    The DAG processor runs DAG callbacks with its supervisor's channel to the API. ``dag.test()``
    (``airflow dags test``) calls them in its own process without one; there they get the same
    in-process supervisor, on the metadata DB, that dag.test() gives each task (built as
    ``InProcessTestSupervisor.start`` does in Airflow 3.3.0, private ``_api_client`` included).
    """
    from airflow.sdk.execution_time import task_runner

    if getattr(task_runner, "SUPERVISOR_COMMS", None) is not None:
        yield
        return
    import os
    import uuid

    import psutil
    import structlog
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
        set_supervisor_comms,
    )

    ti = context.get("ti")
    supervisor = InProcessTestSupervisor(
        id=ti.id if ti else uuid.uuid4(),
        pid=os.getpid(),
        process=psutil.Process(),
        process_log=structlog.get_logger(logger_name="sparkify.alerts"),
        client=InProcessTestSupervisor._api_client(context.get("dag")),
    )
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
    with set_supervisor_comms(supervisor.comms):
        yield


def collect(context: Context, *, succeeded: bool) -> RunReport:
    """The run's report from the callback context, its task states and the failed tasks' XComs."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    from airflow.sdk.execution_time.xcom import XCom

    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    logical_date = context.get("logical_date") or getattr(context.get("dag_run"), "logical_date", None)
    states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})

    def xcom(task_id: str, key: str) -> Any:
        return XCom.get_one(key=key, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)

    warnings = tuple(
        (task_id, report) for task_id in sorted(task for task, state in states.items() if state == "success")
        if (report := xcom(task_id, WARNINGS_XCOM))
    )
    quarantine = None
    if not succeeded and states.get(OPEN_TASK_ID) == "success" and states.get(PUBLISH_TASK_ID) != "success":
        if area := xcom(OPEN_TASK_ID, "return_value"):
            quarantine = quarantine_note(area, logical_date.isoformat() if logical_date else None)
    failed = []
    for task_id in sorted(task for task, state in states.items() if state == "failed"):
        record = xcom(task_id, FAILURE_XCOM) or {}
        error = record.get("error")
        findings = quality_check_findings(error) if error else []
        links = data_docs_links(error) if error else []
        result = xcom(task_id, "return_value")
        if isinstance(result, Mapping) and "validation_results" in result:
            findings, result_links = expectation_findings(_validated_table(task_id), result)
            links = [*result_links, *(link for link in links if link not in result_links)]
        failed.append(
            FailedTask(
                task_id=task_id,
                try_number=record.get("try_number"),
                max_tries=record.get("max_tries"),
                error=error,
                log_url=record.get("log_url") or ui_url(f"/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}"),
                findings=tuple(findings),
                data_docs=tuple(links),
            )
        )
    return RunReport(
        dag_id=dag_id,
        run_id=run_id,
        logical_date=logical_date.isoformat() if logical_date else None,
        succeeded=succeeded,
        run_url=ui_url(f"/dags/{dag_id}/runs/{quote(run_id)}"),
        reason=None if succeeded else context.get("reason"),
        failed=tuple(failed),
        not_run=tuple(sorted(task for task, state in states.items() if state == "upstream_failed")),
        task_count=len(states),
        quarantine=quarantine,
        warnings=warnings,
    )


# --- channels ---------------------------------------------------------------------------------------


def _email(report: RunReport) -> BaseNotifier | None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import BaseHook, Variable

    recipients = [r for r in re.split(r"[,;\s]+", Variable.get(EMAILS_VARIABLE, default="") or "") if r]
    if not recipients:
        log.warning("Alert email not sent: connection %s exists but variable %s names no recipient.",
                    SMTP_CONN_ID, EMAILS_VARIABLE)
        return None
    # Every field given: SmtpNotifier renders none (it would need the DAG's Jinja environment).
    sender = BaseHook.get_connection(SMTP_CONN_ID).extra_dejson.get("from_email")
    if not sender:
        raise ValueError(f"Connection {SMTP_CONN_ID} has no from_email in its extra: the alert's sender.")
    return SmtpNotifier(to=recipients, from_email=sender, subject=report.subject(), html_content=report.html(),
                        smtp_conn_id=SMTP_CONN_ID)


def _slack_webhook(report: RunReport) -> BaseNotifier:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    return SlackWebhookNotifier(slack_webhook_conn_id=SLACK_CONN_ID, text=report.slack(), timeout=CHANNEL_TIMEOUT)


def _webhook(report: RunReport) -> BaseNotifier:
    from notifiers.json_webhook import JsonWebhookNotifier

    return JsonWebhookNotifier(payload=report.document(), http_conn_id=WEBHOOK_CONN_ID, timeout=CHANNEL_TIMEOUT)


@dataclass(frozen=True)
class Channel:
    name: str
    conn_id: str
    notifier: Callable[[RunReport], BaseNotifier | None] = field(repr=False)


CHANNELS = (
    Channel("email", SMTP_CONN_ID, _email),
    Channel("slack", SLACK_CONN_ID, _slack_webhook),
    Channel("webhook", WEBHOOK_CONN_ID, _webhook),
)


def _configured(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def send(report: RunReport, context: Context) -> dict[str, str]:
    """Send ``report`` to every channel whose connection exists; returns each channel's outcome.

    Outcomes: ``sent``, ``off`` (no connection), ``skipped`` (nothing to send to) or ``failed: ...``.
    """
    from airflow.sdk.log import redact

    outcomes = {}
    for channel in CHANNELS:
        try:
            if not _configured(channel.conn_id):
                outcomes[channel.name] = "off"
                continue
            notifier = channel.notifier(report)
            if notifier is None:
                outcomes[channel.name] = "skipped"
                continue
            # The content is final: notify() directly, so braces in error messages are not read as Jinja.
            notifier.notify(context)
            outcomes[channel.name] = "sent"
        except Exception as error:
            outcomes[channel.name] = f"failed: {redact(f'{type(error).__name__}: {error}')}"
            log.error("Alert channel %s (connection %s) failed for %s %s: %s",
                      channel.name, channel.conn_id, report.dag_id, report.run_id, outcomes[channel.name])
    log.info("Alert %r: %s", report.subject(), ", ".join(f"{name} {outcome}" for name, outcome in outcomes.items()))
    return outcomes


# --- the callbacks ----------------------------------------------------------------------------------


def record_task_failure(context: Context) -> None:
    """Task ``on_failure_callback``: keep the error, try and log URL for the run's alert (XCom ``sparkify_failure``)."""
    from airflow.sdk.log import redact

    ti, error = context["ti"], context.get("exception")
    message = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    try:
        ti.xcom_push(FAILURE_XCOM, {
            "error": redact(str(message))[:MAX_ERROR_CHARS] if message else None,
            "try_number": ti.try_number,
            "max_tries": ti.max_tries,
            "log_url": ti.log_url,
        })
    except Exception:
        log.exception("Could not record the failure of %s for the run's alert", ti.task_id)


def alert_failed_run(context: Context) -> None:
    """DAG ``on_failure_callback``: one alert for the failed run, to every configured channel."""
    _alert(context, succeeded=False)


def alert_succeeded_run(context: Context) -> None:
    """DAG ``on_success_callback``: warnings of the gate, else a digest when ``sparkify_alert_on_success`` is true."""
    _alert(context, succeeded=True)


def _alert(context: Context, *, succeeded: bool) -> None:
    try:
        with _execution_api(context):
            report = collect(context, succeeded=succeeded)
            if succeeded and not report.warnings:
                from airflow.sdk import Variable

                if str(Variable.get(ON_SUCCESS_VARIABLE, default="false")).strip().lower() not in ("true", "1", "yes", "on"):
                    return
            send(report, context)
    except Exception:
        log.exception("Alert for run %s of %s not sent", context.get("run_id"), getattr(context.get("dag"), "dag_id", "?"))

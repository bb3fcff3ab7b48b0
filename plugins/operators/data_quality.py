"""DataQualityOperator: run SQL checks against the warehouse, report every failure at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from helpers.audit_area import in_audit_area, quarantine_note
from helpers.db import Step, TimeSlice, dialect_of, run_in_transaction
from helpers.tables import rendered_flag
from quality_gate.sql_checks import COMPARATORS, SqlCheck

if TYPE_CHECKING:
    from airflow.sdk import Context


class DataQualityOperator(BaseOperator):
    """Run ``checks``; when any fails, fail the task listing each (table, check, expected, got).

    With ``audit_area`` the checks read the run's audit area first (helpers.audit_area): they check
    the warehouse as it will be after publishing, before anything is published.

    A failed check is a fact about the data, so the task fails without retrying; an error while
    running a check (lost connection, bad SQL) is raised as is and retried.

    :param checks: the ``SqlCheck`` list.
    :param audit_area: the run's audit area (templated); None checks the published tables.
    :param slice_start: start of the run's slice, for sliced checks (templated).
    :param slice_end: end of the run's slice, exclusive (templated).
    :param allow_empty: the run publishes an explicitly empty day: the checks that need rows are
        skipped (templated ``True``/``False``).
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("audit_area", "slice_start", "slice_end", "allow_empty")
    ui_color = "#89DA59"

    def __init__(
        self,
        *,
        checks: Sequence[SqlCheck],
        audit_area: str | None = None,
        slice_start: str | None = None,
        slice_end: str | None = None,
        allow_empty: bool | str = False,
        redshift_conn_id: str = "redshift",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not checks:
            raise ValueError("DataQualityOperator needs at least one check.")
        self.checks = list(checks)
        self.audit_area = audit_area
        self.slice_start = slice_start
        self.slice_end = slice_end
        self.allow_empty = allow_empty
        self.redshift_conn_id = redshift_conn_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        sliced = any(check.sliced for check in self.checks)
        params = TimeSlice.parse(self.slice_start, self.slice_end).params if sliced else ()
        results: list[dict[str, Any]] = []
        checks = self.checks
        if rendered_flag(self.allow_empty, f"{self.task_id}: allow_empty"):
            for check in checks:
                if check.needs_rows:
                    self.log.info("SKIP %s.%s: this run publishes an empty day", check.table, check.name)
            checks = [check for check in checks if not check.needs_rows]

        def run_checks(cursor: Any) -> None:
            for check in checks:
                cursor.execute(check.sql, params if check.sliced else None)
                row = cursor.fetchone()
                got = row[0] if row else None
                passed = got is not None and COMPARATORS[check.comparator](got, check.expected)
                self.log.info("%s %s.%s: got %r, expected %s %r", "PASS" if passed else "FAIL",
                              check.table, check.name, got, check.comparator, check.expected)
                results.append({"table": check.table, "check": check.name,
                                "expected": f"{check.comparator} {check.expected!r}", "got": got, "passed": passed})

        steps: list[Step] = [in_audit_area(self.audit_area)] if self.audit_area else []
        steps.append(run_checks)
        connection = BaseHook.get_connection(self.redshift_conn_id)
        run_in_transaction(connection.get_hook(), steps, self.log, timeout=self.execution_timeout,
                           dialect=dialect_of(connection.conn_type, connection.host))
        failures = [r for r in results if not r["passed"]]
        if failures:
            lines = "\n".join(f"  - {r['table']}: {r['check']}: expected {r['expected']}, got {r['got']!r}" for r in failures)
            note = f"\n{quarantine_note(self.audit_area, self.slice_start)}" if self.audit_area else ""
            raise AirflowFailException(f"{len(failures)} of {len(results)} data quality check(s) failed:\n{lines}{note}")
        return results

"""Layer reconciliation: every loaded table against what its load computes from the staged rows.

A table's load (``helpers.sql_queries``, named in the table spec) says how its rows follow from the
staging tables, so its suite gets, generated from it, ``ExpectQueryToReturnNoRows`` expectations
(critical; quality_gate.expectations: GX's UnexpectedRowsExpectation with its first rows kept):

- a day-partitioned load (``songplays``, ``time``): the batch's rows that the load does not compute
  from the rows staged for the batch's days, and the rows it computes that the batch lacks; every
  column, so a changed time, user, level, session, song or artist is caught, and so is a fact without
  its event or an event without its fact;
- a merged load (``users``, ``songs``, ``artists``): every key the staged rows give is in the table
  with the values the load chooses from them (the winner of the load's merge order: a user's latest
  event). With a ``recency`` column the staged winner only counts when it is at least as recent as
  the table's row, since a newer row comes from a day staged elsewhere (a run's audit area holds one
  day; the published staging tables hold all of them);
- a table loaded whole: the table is exactly what the load computes;
- a staging table, from the counts its load recorded (``helpers.rejects.LOAD_METRICS``): every record
  read was staged, rejected or an exact duplicate, and the table holds what was staged; the rejects
  are within the limit the load ran with (a run past it fails at staging already; this keeps the
  published days honest in ``./sparkify gx validate``); and, a warning that lists them, no record of
  its source files for the batch's days was rejected.

The queries name relations unqualified, so they read what the validation reads: in a run its audit
area, then the published tables (helpers.audit_area); in ``./sparkify gx validate`` the published
tables. ``./sparkify gx build`` writes them into the suites, marked ``meta.sparkify = "reconciliation"``,
and replaces the ones it wrote before: changing a load or adding a table keeps its suite in step.

Each query mentions a JOIN so that GX leaves ``{batch}`` unaliased and the query aliases it itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpers.db import quote_column
from helpers.loads import LoadMode
from helpers.audit_area import METRICS_TABLE
from helpers.rejects import LOAD_METRICS, REJECTS_TABLE, load_metric
from helpers.tables import Role, TableSpec

MARK = {"sparkify": "reconciliation"}
"""The ``meta`` of the expectations made here (``gx build`` replaces them)."""


@dataclass(frozen=True)
class Reconciliation:
    description: str
    query: str
    severity: str = "critical"

    def expectation(self) -> dict:
        """The suite entry (the JSON of gx/expectations/<suite>.json)."""
        return {
            "type": "expect_query_to_return_no_rows",
            "kwargs": {"unexpected_rows_query": self.query},
            "description": self.description,
            "meta": dict(MARK),
            "severity": self.severity,
        }


def reconciliations(spec: TableSpec) -> list[Reconciliation]:
    """What ``spec``'s suite must check of its table against its load (none for a table without a load)."""
    if spec.role is Role.STAGING:
        return [*_load_counts(spec), _rejected(spec)]
    load = spec.load
    if load is None:
        return []
    columns = ", ".join(quote_column(column) for column in load.columns)
    if spec.mode is LoadMode.APPEND:
        return _day_partitioned(spec.name, spec.slice_column, columns, load)
    if spec.mode is LoadMode.TRUNCATE_INSERT:
        computed = f"SELECT {columns} FROM ({load.everything()}) AS computed"
        return _both_ways(spec.name, f"SELECT {columns} FROM {{batch}} AS b CROSS JOIN (SELECT 1 AS one) AS unit",
                          computed)
    return [_merged(spec, columns)]


def _batch_days(slice_column: str) -> str:
    column = quote_column(slice_column)
    return (
        f"SELECT DATE_TRUNC('day', MIN(d.{column})) AS first_day, "
        f"DATE_TRUNC('day', MAX(d.{column})) + INTERVAL '1 day' AS after_last_day FROM {{batch}} AS d"
    )


def _load_counts(spec: TableSpec) -> list[Reconciliation]:
    """The staging loads' recorded counts (a row per load: its day and counts) against the batch and the limit."""
    name = quote_column(spec.name).strip('"')  # a plain name: safe as a literal
    metrics = ", ".join(f"'{load_metric(metric)}'" for metric in LOAD_METRICS)
    counts = ",\n       ".join(f"MAX(CASE WHEN m.metric = '{load_metric(metric)}' THEN m.value END) AS {metric}"
                               for metric in LOAD_METRICS)
    recorded = f"m.table_name = '{name}' AND m.metric IN ({metrics})"
    if spec.slice_column:
        column = quote_column(spec.slice_column)
        loads = (f"WITH batch_days AS ({_batch_days(spec.slice_column)}),\n"
                 f"loads AS (\nSELECT m.day, {counts}\nFROM {METRICS_TABLE} AS m CROSS JOIN batch_days\n"
                 f"WHERE {recorded} AND m.day >= batch_days.first_day AND m.day < batch_days.after_last_day\n"
                 "GROUP BY m.day\n)\n")
        in_table = (f"(SELECT COUNT(*) FROM {{batch}} AS b WHERE b.{column} >= l.day "
                    f"AND b.{column} < l.day + INTERVAL '1 day')")
        which = "each load of the batch's days"
    else:  # loaded whole: its last load
        last = (f"SELECT run_id FROM {METRICS_TABLE} WHERE table_name = '{name}' AND metric = '{load_metric('read')}' "
                "ORDER BY recorded_at DESC LIMIT 1")
        loads = (f"WITH loads AS (\nSELECT m.day, {counts}, batch.table_rows\n"
                 f"FROM {METRICS_TABLE} AS m CROSS JOIN (SELECT COUNT(*) AS table_rows FROM {{batch}} AS b) AS batch\n"
                 f"WHERE {recorded} AND m.run_id = ({last})\nGROUP BY m.day, batch.table_rows\n)\n")
        in_table = "l.table_rows"
        which = "its last load"
    return [
        Reconciliation(
            f"Every record {which} read (in {METRICS_TABLE}: load:read) was staged, rejected or an exact duplicate, "
            f"and {spec.name} holds the records it staged.",
            f"{loads}SELECT l.*, {in_table} AS in_table FROM loads AS l\n"
            f"WHERE l.read <> l.staged + l.rejected + l.duplicates OR l.staged <> {in_table}",
        ),
        Reconciliation(
            f"The rejects of {which} are within the limit it ran with ({METRICS_TABLE}: load:rejected at most "
            "load:rejects_allowed; the table spec's, or the run's params max_rejects and max_reject_fraction).",
            f"{loads}SELECT l.* FROM loads AS l\nWHERE l.rejected > l.rejects_allowed",
        ),
    ]


def _rejected(spec: TableSpec) -> Reconciliation:
    rejects = f"SELECT r.source, r.line_number, r.column_name, r.reason FROM {REJECTS_TABLE} AS r"
    name = quote_column(spec.name).strip('"')  # a plain name: safe as a literal
    if spec.slice_column:
        query = (f"WITH batch_days AS ({_batch_days(spec.slice_column)})\n{rejects} CROSS JOIN batch_days\n"
                 f"WHERE r.table_name = '{name}' AND r.day >= batch_days.first_day AND r.day < batch_days.after_last_day")
        days = " of the batch's days"
    else:
        query = (f"{rejects} CROSS JOIN (SELECT COUNT(*) AS staged FROM {{batch}} AS b) AS batch\n"
                 f"WHERE r.table_name = '{name}'")
        days = ""
    return Reconciliation(
        f"Every record of the source files{days} was staged into {spec.name}: none was rejected (the rejects are "
        f"in {REJECTS_TABLE}; a run with more than its table's limit fails at staging).",
        query, severity="warning",
    )


def _day_partitioned(table: str, slice_column: str, columns: str, load) -> list[Reconciliation]:
    days = _batch_days(slice_column)
    computed = load.between("(SELECT first_day FROM batch_days)", "(SELECT after_last_day FROM batch_days)")
    prefix = f"WITH batch_days AS ({days}),\ncomputed AS (\n{computed}\n)\n"
    batch_rows = f"SELECT {columns} FROM {{batch}} AS b"
    computed_rows = f"SELECT {columns} FROM computed AS c CROSS JOIN batch_days"
    return [
        Reconciliation(
            f"Every {table} row of the batch's days is what its load computes for those days, in every column.",
            f"{prefix}{batch_rows}\nEXCEPT\n{computed_rows}",
        ),
        Reconciliation(
            f"Every {table} row its load computes for the batch's days is in the batch.",
            f"{prefix}{computed_rows}\nEXCEPT\n{batch_rows}",
        ),
    ]


def _both_ways(table: str, batch_rows: str, computed_rows: str) -> list[Reconciliation]:
    return [
        Reconciliation(f"Every {table} row is what its load computes, in every column.",
                       f"{batch_rows}\nEXCEPT\n{computed_rows}"),
        Reconciliation(f"Every {table} row its load computes is in the table.",
                       f"{computed_rows}\nEXCEPT\n{batch_rows}"),
    ]


def _merged(spec: TableSpec, columns: str) -> Reconciliation:
    load = spec.load
    keys = ", ".join(quote_column(key) for key in spec.keys)
    match = " AND ".join(f"b.{quote_column(key)} = s.{quote_column(key)}" for key in spec.keys)
    if ranking := load.ranking():
        chosen = (
            f"SELECT {columns} FROM (\n"
            f"    SELECT c.*, ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {ranking}) AS merge_rank\n"
            f"    FROM staged AS c\n"
            f") AS ranked WHERE merge_rank = 1"
        )
        chooses = f"the first staged row by {ranking}"
    else:
        chosen = f"SELECT {columns} FROM staged"
        chooses = "its rows"
    missing = " OR ".join(f"b.{quote_column(key)} IS NULL" for key in spec.keys)
    condition = missing
    newer = ""
    if load.recency:
        recency = quote_column(load.recency)
        condition = f"{missing} OR b.{recency} <= s.{recency}"
        newer = f"; a row newer ({load.recency}) than every staged one comes from a day staged elsewhere"
    query = (
        f"WITH staged AS (\n{load.everything()}\n),\n"
        f"chosen AS ({chosen}),\n"
        f"differing AS (SELECT {columns} FROM chosen EXCEPT SELECT {columns} FROM {{batch}} AS t)\n"
        f"SELECT s.*, CASE WHEN {missing} THEN 'missing' ELSE 'differs' END AS problem\n"
        f"FROM differing AS s LEFT JOIN {{batch}} AS b ON {match}\n"
        f"WHERE {condition}"
    )
    description = (
        f"Every {spec.name} key the staged rows give is in {spec.name} with the values the load chooses: "
        f"{chooses}{newer}."
    )
    return Reconciliation(description, query)

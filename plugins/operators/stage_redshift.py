"""StageToRedshiftOperator: copy JSON objects from S3 into a staging table of the run's audit area.

On Amazon Redshift this is ``COPY ... FORMAT AS JSON`` from S3. On PostgreSQL (the local stack)
the same objects are streamed from S3 and loaded with ``COPY ... FROM STDIN`` after applying the
same JSONPaths and TIMEFORMAT rules (``helpers.json_copy``), so both targets stage the same rows.

Either way the load is one transaction that writes only the run's audit area (helpers.audit_area):
the objects go into ``<area>.<table>``, shaped like the published table; publish later replaces the
run's slice of the published table with it. Objects holding rows outside the run's slice fail the
task (no row is dropped silently).

Every record read is staged or rejected (helpers.rejects): rejects go to ``<area>.staging_rejects``
with their object, line, column and reason, and the task fails at once (no retry) when they pass
the table's limit, naming the first ones; below it, the task logs them and the run's alert warns.
The load's counts go to ``<area>.quality_metrics`` (helpers.rejects.LOAD_METRICS) for the gate.

A day with no record (an empty file, or no object under the key) fails the task and so never
replaces the published day, unless ``allow_empty`` says this run publishes an explicitly empty day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from helpers import rejects
from helpers.alerts import WARNINGS_XCOM
from helpers.audit_area import (
    MANIFEST_TABLE,
    METRICS_TABLE,
    PUBLISHED_SCHEMA,
    checked_area,
    in_area,
    published,
    quarantine_note,
)
from helpers.db import (
    END_TRANSACTION,
    Dialect,
    Statement,
    Step,
    TimeSlice,
    data_error,
    day_statistics,
    dialect_of,
    quote_column,
    run_in_transaction,
)
from helpers.tables import rendered_flag

if TYPE_CHECKING:
    from airflow.sdk import Context

_BUCKET_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-")


class StageToRedshiftOperator(BaseOperator):
    """Stage JSON from ``s3://s3_bucket/s3_key`` into ``table`` of the run's audit area.

    :param table: the published staging table; the area's copy is shaped like it.
    :param audit_area: the run's audit area, the schema written (templated).
    :param s3_bucket: bucket holding the data.
    :param s3_key: key or key prefix of the objects to load (templated, e.g. built from ``ds``).
    :param json_paths: ``"auto"``, ``"auto ignorecase"``, or a JSONPaths file as ``s3://bucket/key`` or
        as a key in ``s3_bucket``.
    :param slice_column: timestamp column whose range [slice_start, slice_end) the run owns: every
        staged row must fall in it; ``None`` for a source that is always loaded in full.
    :param slice_start: start of the slice, an ISO date or timestamp (templated).
    :param slice_end: end of the slice, exclusive (templated).
    :param timeformat: Redshift TIMEFORMAT for timestamp columns: ``auto``, ``epochmillisecs``, ``epochsecs``.
    :param region: region of the bucket, for Redshift's COPY (templated).
    :param iam_role: IAM role ARN Redshift assumes to read S3 (templated); without it, the keys of
        ``aws_conn_id`` are passed in the COPY's CREDENTIALS (never logged).
    :param skip_unchanged: for a whole-table load (no ``slice_column``): copy nothing when the source
        objects (keys, ETags, sizes) are those of the published load recorded in ``staging_manifest``;
        the area then reads the published table. Copying a catalog of many small files is slow on
        Redshift and locally alike.
    :param copy_options: extra Redshift COPY options, e.g. ``["BLANKSASNULL"]``. On PostgreSQL only
        options with a local equivalent are accepted (see ``helpers.json_copy``).
    :param column_rules: ``helpers.rejects.ColumnRule``s: a record whose value a rule refuses is rejected.
    :param record_key: the columns that identify a record: its exact duplicates are staged once, records
        sharing it with other values are rejected (``helpers.rejects.deduplication``).
    :param max_rejects: the rejects tolerated, at most (templated; Redshift's ``MAXERROR``).
    :param max_reject_fraction: the rejects tolerated, at most, as a fraction of the records read (templated).
    :param allow_empty: for a sliced load: a source with no record (an empty file, or no object under
        ``s3_key``) stages nothing and succeeds with a warning, so the run publishes an explicitly
        empty day (templated: ``True``/``False``, e.g. a DAG param). Otherwise it fails the task.
    :param redshift_conn_id: the warehouse: a ``redshift`` connection, or ``postgres`` for the local stack.
    :param aws_conn_id: the AWS connection used to read S3 (locally: its ``endpoint_url`` extra).
    """

    template_fields: Sequence[str] = (
        "audit_area", "s3_bucket", "s3_key", "json_paths", "slice_start", "slice_end", "region", "iam_role",
        "max_rejects", "max_reject_fraction", "allow_empty",
    )
    ui_color = "#358140"

    def __init__(
        self,
        *,
        table: str,
        audit_area: str,
        s3_bucket: str,
        s3_key: str,
        json_paths: str = "auto",
        slice_column: str | None = None,
        slice_start: str | None = None,
        slice_end: str | None = None,
        timeformat: str = "auto",
        region: str | None = None,
        iam_role: str | None = None,
        skip_unchanged: bool = False,
        copy_options: Sequence[str] = (),
        column_rules: Sequence[rejects.ColumnRule] = (),
        record_key: Sequence[str] = (),
        max_rejects: int | str = rejects.RejectLimit.max_count,
        max_reject_fraction: float | str = rejects.RejectLimit.max_fraction,
        allow_empty: bool | str = False,
        redshift_conn_id: str = "redshift",
        aws_conn_id: str = "aws_credentials",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        published(table)  # a plain table name
        if slice_column is not None:
            quote_column(slice_column)
            if slice_start is None or slice_end is None:
                raise ValueError(f"{table}: slice_column needs slice_start and slice_end.")
            if skip_unchanged:
                raise ValueError(f"{table}: skip_unchanged is for whole-table loads; a slice is always reloaded.")
        elif allow_empty is not False:
            raise ValueError(f"{table}: allow_empty is for sliced loads; an empty whole-table load would empty the table.")
        self.table = table
        self.audit_area = audit_area
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.json_paths = json_paths
        self.slice_column = slice_column
        self.slice_start = slice_start
        self.slice_end = slice_end
        self.timeformat = timeformat
        self.region = region
        self.iam_role = iam_role
        self.skip_unchanged = skip_unchanged
        self.copy_options = list(copy_options)
        self.column_rules = list(column_rules)
        for rule in self.column_rules:
            quote_column(rule.column)
        self.record_key = list(record_key)
        for column in self.record_key:
            quote_column(column)
        self.max_rejects = max_rejects
        self.max_reject_fraction = max_reject_fraction
        self.allow_empty = allow_empty
        self.redshift_conn_id = redshift_conn_id
        self.aws_conn_id = aws_conn_id
        if any(option.strip().upper().startswith("MAXERROR") for option in self.copy_options):
            raise ValueError(f"{table}: set MAXERROR with max_rejects, not in copy_options.")
        if not any(isinstance(value, str) and "{{" in value for value in (max_rejects, max_reject_fraction)):
            self.reject_limit()  # a limit known when the DAG is parsed is checked then
        self._run_id = "manual"
        self._run_day: date | None = None

    # --- SQL ---------------------------------------------------------------------------------

    @property
    def load_table(self) -> str:
        """The area's table the objects are copied into, quoted."""
        return in_area(self.audit_area, self.table)

    def time_slice(self) -> TimeSlice | None:
        if self.slice_column is None:
            return None
        return TimeSlice.parse(self.slice_start, self.slice_end)

    def reject_limit(self) -> rejects.RejectLimit:
        try:
            return rejects.RejectLimit(int(self.max_rejects), float(self.max_reject_fraction))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{self.table}: invalid reject limit (max_rejects={self.max_rejects!r}, "
                             f"max_reject_fraction={self.max_reject_fraction!r}): {error}") from None

    def empty_allowed(self) -> bool:
        """Whether a source with no record publishes an explicitly empty day (``allow_empty`` rendered)."""
        return rendered_flag(self.allow_empty, f"{self.table}: allow_empty")

    def metrics_day(self) -> date:
        """The day the load's counts are recorded under: the slice's, else the run's logical date."""
        time_slice = self.time_slice()
        if time_slice:
            return time_slice.start.date()
        return self._run_day or datetime.now(timezone.utc).date()

    def _reject_fields(self) -> tuple[str, Any, str]:
        """table, day (None for a table loaded whole), run id: the first columns of its rejects."""
        time_slice = self.time_slice()
        return self.table, time_slice.start.date() if time_slice else None, self._run_id

    def _source_uri(self) -> str:
        if not self.s3_bucket or not set(self.s3_bucket) <= _BUCKET_CHARS:
            raise ValueError(f"Invalid S3 bucket name {self.s3_bucket!r}.")
        return f"s3://{self.s3_bucket}/{self.s3_key.lstrip('/')}"

    def _jsonpaths_uri(self) -> str | None:
        """The JSONPaths file as an s3:// URI, or None for 'auto'."""
        if self.json_paths.strip().lower() in ("auto", "auto ignorecase"):
            return None
        if self.json_paths.startswith("s3://"):
            return self.json_paths
        return f"s3://{self.s3_bucket}/{self.json_paths.lstrip('/')}"

    def _build_copy_query(self, credentials: str, *, redact: bool = False) -> str:
        jsonpaths = self._jsonpaths_uri()
        json_format = _literal(jsonpaths) if jsonpaths else _literal(self.json_paths.strip().lower())
        lines = [
            f"COPY {self.load_table}",
            f"FROM {_literal(self._source_uri())}",
            "CREDENTIALS '***'" if redact else credentials,
            f"FORMAT AS JSON {json_format}",
            f"TIMEFORMAT {_literal(self.timeformat)}",
        ]
        if self.region:
            lines.append(f"REGION {_literal(self.region)}")
        lines.append(f"MAXERROR {self.reject_limit().max_count}")
        lines.extend(self.copy_options)
        return "\n".join(lines)

    def build_steps(
        self, dialect: Dialect, load_step: Step, time_slice: TimeSlice | None, manifest: Manifest | None = None
    ) -> list[Step]:
        """The transaction: the area's table made anew, ``load_step`` fills it and records the rejects,
        checks, the count of what was staged and rejected, the manifest."""
        checked_area(self.audit_area)
        steps: list[Step] = [Statement(f"DROP TABLE IF EXISTS {self.load_table}")]
        if manifest is not None:
            steps.append(_SkipIfUnchanged(self, manifest))
        steps += [
            Statement(f"CREATE TABLE {self.load_table} (LIKE {published(self.table)})"),
            Statement(f"DELETE FROM {rejects.area_rejects(self.audit_area)} WHERE table_name = %s", (self.table,)),
            load_step,
        ]
        if dialect is Dialect.REDSHIFT:
            steps.append(Statement(rejects.redshift_copy_rejects_sql(self.audit_area),
                                   (*self._reject_fields(), self.audit_area, self.table)))
            for rule in self.column_rules:  # COPY has no per-column pattern: refused rows move to the rejects
                steps += [Statement(sql, params) for sql, params in rejects.rule_steps(
                    self.audit_area, self.table, rule, self._reject_fields(), self._source_uri())]
        if self.record_key:
            steps.append(_Deduplicate(self))
        if time_slice is not None:
            steps.append(_SliceGuard(self, time_slice))
        steps += [self._tally, _RecordLoad(self)]
        if manifest is not None:
            steps.extend(manifest.record(self.audit_area, self.table))
        if dialect is Dialect.POSTGRES:  # statistics for the loads' joins (Redshift's COPY keeps its own)
            if self.slice_column:
                steps.append(Statement(day_statistics(f"{self.audit_area}.{self.table}", self.slice_column)))
            steps.append(Statement(f"ANALYZE {self.load_table}"))
        return steps

    # --- execution ---------------------------------------------------------------------------

    def execute(self, context: Context) -> None:
        connection = BaseHook.get_connection(self.redshift_conn_id)
        dialect = dialect_of(connection.conn_type, connection.host)
        hook = connection.get_hook()
        time_slice = self.time_slice()
        limit = self.reject_limit()
        self._run_id = context.get("run_id") or "manual"
        self._run_day = date.fromisoformat(context["ds"]) if context.get("ds") else None
        self._tally = _Tally(self, limit)
        self.log.info(
            "Staging %s into %s (%s) for slice %s; rejects tolerated: %s", self._source_uri(), self.load_table,
            dialect.value, time_slice or "(whole table)", limit,
        )
        manifest = self._source_manifest() if self.skip_unchanged else None
        if dialect is Dialect.POSTGRES:
            load_step = self._postgres_copy
        elif self.empty_allowed() and not self._source_objects():
            load_step = _copy_nothing  # COPY fails on a prefix with no object
        else:
            load_step = self._redshift_copy()
        steps = self.build_steps(dialect, load_step, time_slice, manifest)
        try:
            completed = run_in_transaction(hook, steps, self.log, timeout=self.execution_timeout, dialect=dialect)
        except Exception as error:
            if (reason := data_error(error)) is None:
                raise
            where = (f" More load errors than MAXERROR ({limit.max_count}) fail Redshift's COPY: see them with "
                     "SELECT * FROM sys_load_error_detail ORDER BY start_time DESC LIMIT 20."
                     if dialect is Dialect.REDSHIFT else "")
            raise AirflowFailException(
                f"Cannot stage {self._source_uri()} into {self.table}: {reason}.{where} Nothing was staged.") from None
        if completed:
            self._judge(limit, context)

    def _judge(self, limit: rejects.RejectLimit, context: Context) -> None:
        """After the commit (so the area keeps what was staged and rejected): fail past the limit, else
        log the count and, with rejects, warn in the run's alert."""
        tally = self._tally
        read = tally.staged + tally.rejected + tally.duplicates
        if tally.read is not None and tally.read != read:
            raise AirflowFailException(
                f"{self._source_uri()}: {tally.read} record(s) read, but {tally.staged} staged, {tally.rejected} "
                f"rejected and {tally.duplicates} duplicate(s): records were lost. Nothing was published; report "
                "this as a bug.")
        time_slice = self.time_slice()
        quarantine = quarantine_note(self.audit_area, time_slice.start.date().isoformat() if time_slice else None)
        if read == 0 and self.empty_allowed():
            report = (f"{self._source_uri()} holds no record: staged nothing, so the run publishes {self.table}'s "
                      f"day {time_slice.start.date()} empty, as this run's allow_empty asked.")
            self.log.warning("%s", report)
            if ti := context.get("ti"):
                ti.xcom_push(key=WARNINGS_XCOM, value=report)
            return
        if read == 0:
            raise AirflowFailException(
                f"{self._source_uri()} holds no record (an empty file): a load of nothing is refused, so the "
                f"published {self.table} keeps its rows. Deliver the records and run the day again; or, if the "
                f"day really had none, run it with the DAG param publish_empty_day.\n{quarantine}")
        summary = (f"{self._source_uri()}: {read} record(s) read, {tally.staged} staged into {self.load_table}, "
                   f"{tally.rejected} rejected")
        if tally.duplicates:
            summary += f", {tally.duplicates} exact duplicate(s) of staged records (staged once)"
        if not tally.rejected:
            self.log.info("%s", summary)
            if tally.duplicates and (ti := context.get("ti")):
                ti.xcom_push(key=WARNINGS_XCOM, value=summary)
            return
        first = "\n".join(f"  {rejects.describe(*row)}" for row in tally.first)
        more = f"\n  ... {tally.rejected - len(tally.first)} more" if tally.rejected > len(tally.first) else ""
        see = f"See them all: {rejects.query_hint(self.audit_area, self.table)}"
        if tally.stopped or tally.rejected > limit.allowed(read):
            stopped = " (reading stopped there)" if tally.stopped else ""
            raise AirflowFailException(
                f"Too many rejects staging {self.table}: {summary}{stopped}; the limit is {limit} "
                f"({limit.allowed(read)} here). First rejects:\n{first}{more}\n{see}. Fix the file and run the day "
                f"again, or raise the limit for one run (the DAG's params max_rejects and max_reject_fraction).\n"
                f"{quarantine}")
        report = f"{summary} (within the limit: {limit}):\n{first}{more}\n{see}"
        self.log.warning("%s", report)
        if ti := context.get("ti"):
            ti.xcom_push(key=WARNINGS_XCOM, value=report)

    def _source_objects(self) -> int:
        """How many objects ``s3_key`` names (a key, or a prefix)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return sum(1 for _ in S3Hook(aws_conn_id=self.aws_conn_id).iter_file_metadata(
            prefix=self.s3_key.lstrip("/"), bucket_name=self.s3_bucket))

    def _source_manifest(self) -> Manifest:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        digest, objects = hashlib.md5(usedforsecurity=False), 0
        listing = S3Hook(aws_conn_id=self.aws_conn_id).iter_file_metadata(
            prefix=self.s3_key.lstrip("/"), bucket_name=self.s3_bucket
        )
        for item in listing:
            digest.update(f"{item['Key']}\0{item.get('ETag', '')}\0{item['Size']}\n".encode())
            objects += 1
        return Manifest(self._source_uri(), digest.hexdigest(), objects)

    def _redshift_copy(self) -> Statement:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.providers.amazon.aws.utils.redshift import build_credentials_block
        from airflow.sdk.log import mask_secret

        if self.iam_role:
            credentials = f"IAM_ROLE {_literal(self.iam_role)}"
        else:
            block = build_credentials_block(S3Hook(aws_conn_id=self.aws_conn_id).get_credentials())
            mask_secret(block)
            credentials = f"CREDENTIALS {_literal(block)}"
        return Statement(self._build_copy_query(credentials), redacted=self._build_copy_query("", redact=True))

    def _postgres_copy(self, cursor: Any) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from helpers import json_copy
        from helpers.s3_objects import COMPRESSED, iter_object_lines

        s3 = S3Hook(aws_conn_id=self.aws_conn_id)
        columns = json_copy.table_columns(cursor, PUBLISHED_SCHEMA, self.table)
        if not columns:
            raise AirflowFailException(
                f"Table {PUBLISHED_SCHEMA}.{self.table} does not exist in the warehouse: run create_tables.sql first.")
        jsonpaths_uri = self._jsonpaths_uri()
        jsonpaths = None
        if jsonpaths_uri:
            bucket, _, key = jsonpaths_uri.removeprefix("s3://").partition("/")
            if not s3.check_for_key(key, bucket):  # a data error: no retry would find it
                raise AirflowFailException(f"The JSONPaths file {jsonpaths_uri} does not exist: upload it, or set "
                                           "the table spec's json_paths to where it is.")
            jsonpaths = json_copy.parse_jsonpaths_file(s3.read_key(key, bucket), jsonpaths_uri)
        options = json_copy.CopyOptions.from_redshift(self.timeformat, self.copy_options)
        builder = json_copy.RowBuilder(
            columns, jsonpaths, options, ignore_case=self.json_paths.strip().lower() == "auto ignorecase",
            patterns={rule.column: (rule.pattern, rule.reason) for rule in self.column_rules},
        )
        limit = self.reject_limit()
        found: list[json_copy.Reject] = []

        def reject(record: json_copy.Reject) -> None:
            found.append(record)
            if len(found) > limit.max_count:  # like MAXERROR: stop reading, keep what was read
                raise _TooManyRejects

        objects = rows = 0
        try:
            with json_copy.copy_into(cursor, self.load_table, builder) as copy:
                write_row = copy.write_row
                try:
                    for key, lines in iter_object_lines(s3, self.s3_bucket, self.s3_key.lstrip("/"), gzip=options.gzip):
                        source = f"s3://{self.s3_bucket}/{key}"
                        objects += 1
                        if lines is COMPRESSED:
                            reject(json_copy.Reject(source, 1, None, _COMPRESSED_REASON, ""))
                            continue
                        for line_no, row in json_copy.iter_rows(lines, source, builder, reject):
                            write_row(row)
                            rows += 1
                            if rows % _PROGRESS_ROWS == 0:
                                self.log.info("%s: %d rows so far (line %d)", source, rows, line_no)
                        if objects % 1000 == 0:
                            self.log.info("Read %d objects, %d rows so far", objects, rows)
                except _TooManyRejects:
                    self._tally.stopped = True
        except json_copy.JsonCopyError as error:
            raise AirflowFailException(f"Cannot stage into {self.table}: {error}") from None
        if objects == 0 and not self.empty_allowed():
            raise AirflowFailException(
                f"No object under {self._source_uri()}: the prefix matches nothing (Redshift's COPY fails the same "
                "way). Deliver the file and run the day again; or, if the day really had no record, run it with the "
                "DAG param publish_empty_day."
            )
        fields = self._reject_fields()
        cursor.executemany(rejects.insert_sql(self.audit_area), [
            (*fields, record.source, record.line, record.column, record.reason[:rejects.REASON_LIMIT], record.raw)
            for record in found
        ])
        self._tally.read = rows + len(found)
        self.log.info("Copied %d rows from %d object(s) into %s; %d rejected", rows, objects, self.load_table, len(found))


_PROGRESS_ROWS = 1_000_000
"""A big object's load logs its progress every this many rows."""
_COMPRESSED_REASON = ("the object is gzip-compressed: load it with COPY's GZIP option (add \"GZIP\" to the "
                      "table spec's copy_options), or deliver it uncompressed")


class _TooManyRejects(Exception):
    """More rejects than ``max_rejects``: the PostgreSQL load stops reading."""


def _copy_nothing(cursor: Any) -> None:
    """The load of an explicitly empty day with no object to copy."""


class _Tally:
    """What the load staged and rejected, counted in the area at the end of its transaction."""

    def __init__(self, operator: StageToRedshiftOperator, limit: rejects.RejectLimit) -> None:
        area = operator.audit_area
        self.limit = limit
        self.sql = (f"SELECT (SELECT COUNT(*) FROM {operator.load_table}), "
                    f"(SELECT COUNT(*) FROM {rejects.area_rejects(area)} WHERE table_name = %s)")
        self.first_sql = rejects.first_rejects_sql(area)
        self.table = operator.table
        self.staged = self.rejected = self.duplicates = 0
        self.read: int | None = None
        """Records the PostgreSQL load read (Redshift's COPY does not say)."""
        self.stopped = False
        self.first: list[tuple] = []

    def __call__(self, cursor: Any) -> None:
        cursor.execute(self.sql, (self.table,))
        self.staged, self.rejected = cursor.fetchone()[:2]
        if self.rejected:
            cursor.execute(self.first_sql, (self.table,))
            self.first = cursor.fetchall()

    def metrics(self) -> dict[str, int]:
        read = self.read if self.read is not None else self.staged + self.rejected + self.duplicates
        return rejects.load_metrics(read=read, staged=self.staged, rejected=self.rejected, duplicates=self.duplicates,
                                    limit=self.limit)


class _RecordLoad:
    """Records the tally as the day's ``load:`` metrics of the table in the area (published with the run)."""

    def __init__(self, operator: StageToRedshiftOperator) -> None:
        self._operator = operator

    def __call__(self, cursor: Any) -> None:
        operator = self._operator
        for sql, params in rejects.record_load_sql(in_area(operator.audit_area, METRICS_TABLE), operator.metrics_day(),
                                                   operator.table, operator._run_id, operator._tally.metrics()):
            cursor.execute(sql, params)


@dataclass(frozen=True)
class Manifest:
    """What a whole-table load copies: recorded in the area's ``staging_manifest``, published with the table."""

    source: str
    fingerprint: str
    objects: int

    @staticmethod
    def last_load(table: str) -> str:
        """The published load of ``table`` (one parameter: its name) and the rows the table has now."""
        return (
            "SELECT source, fingerprint, loaded_at, row_count, "
            f"(SELECT COUNT(*) FROM {published(table)}) FROM {published(MANIFEST_TABLE)} WHERE table_name = %s"
        )

    def record(self, area: str, table: str) -> list[Statement]:
        manifest = in_area(area, MANIFEST_TABLE)
        return [
            Statement(f"CREATE TABLE IF NOT EXISTS {manifest} (LIKE {published(MANIFEST_TABLE)})"),
            Statement(f"DELETE FROM {manifest} WHERE table_name = %s", (table,)),
            Statement(
                f"INSERT INTO {manifest} (table_name, source, fingerprint, objects, row_count, loaded_at) "
                f"SELECT %s, %s, %s, %s, COUNT(*), CURRENT_TIMESTAMP FROM {in_area(area, table)}",
                (table, self.source, self.fingerprint, self.objects),
            ),
        ]


class _SkipIfUnchanged:
    """Ends the transaction early when the published load copied the same objects and its rows are still there."""

    def __init__(self, operator: StageToRedshiftOperator, manifest: Manifest) -> None:
        self.sql = Manifest.last_load(operator.table)
        self.params = (operator.table,)
        self._operator = operator
        self._manifest = manifest

    def __call__(self, cursor: Any) -> object | None:
        cursor.execute(self.sql, self.params)
        last = cursor.fetchone()
        manifest = self._manifest
        if last and tuple(last[:2]) == (manifest.source, manifest.fingerprint) and last[3] == last[4]:
            self._operator.log.info(
                "%s is unchanged since its load at %s (%d objects, fingerprint %s) and %s still holds its "
                "%d rows: nothing to copy; the audit area reads the published table.",
                manifest.source, last[2], manifest.objects, manifest.fingerprint, self._operator.table, last[3],
            )
            return END_TRANSACTION
        return None


class _Deduplicate:
    """Stages exact duplicates once and rejects records that share a key with other values."""

    def __init__(self, operator: StageToRedshiftOperator) -> None:
        self._operator = operator
        self.sql = rejects.deduplication(operator.audit_area, operator.table, operator.record_key,
                                         operator._reject_fields(), operator._source_uri())

    def __call__(self, cursor: Any) -> None:
        cursor.execute(self.sql.probe)
        if not cursor.fetchone()[0]:
            return
        cursor.execute(self.sql.distinct)
        cursor.execute(self.sql.counts)
        staged, distinct = cursor.fetchone()[:2]
        for sql, params in self.sql.steps:
            cursor.execute(sql, params or None)
        self._operator._tally.duplicates = staged - distinct
        self._operator.log.info("Key %s: %d exact duplicate(s) staged once; records sharing a key with other values "
                                "rejected", ", ".join(self._operator.record_key), staged - distinct)


class _SliceGuard:
    """Fails the load when the copied rows reach outside the run's slice (or have no slice value)."""

    def __init__(self, operator: StageToRedshiftOperator, time_slice: TimeSlice) -> None:
        column = quote_column(operator.slice_column)
        self.sql = (
            f"SELECT COUNT(*), MIN({column}), MAX({column}) FROM {operator.load_table} "
            f"WHERE {column} IS NULL OR {column} < %s OR {column} >= %s"
        )
        self.params = time_slice.params
        self._operator = operator
        self._slice = time_slice

    def __call__(self, cursor: Any) -> None:
        cursor.execute(self.sql, self.params)
        count, first, last = cursor.fetchone()
        if count:
            operator = self._operator
            raise AirflowFailException(
                f"{operator._source_uri()}: {count} row(s) have {operator.slice_column} outside this run's "
                f"slice {self._slice} (from {first} to {last}; NULLs count too). Nothing was staged. "
                "Check that the key matches the run's date, or move those rows to their own day's file."
            )


def _literal(value: str) -> str:
    """A SQL string literal (Redshift's COPY takes no parameters for its source and options)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"

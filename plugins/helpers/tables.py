"""The Sparkify tables, one entry each: what the DAG stages, loads and checks.

Adding a table is adding an entry here (and its DDL to create_tables.sql); the DAG builds its
tasks from this list. Values in ``{{ }}`` are Airflow templates rendered for each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from helpers import sql_queries
from helpers.loads import LoadMode
from helpers.rejects import ColumnRule, RejectLimit
from helpers.sql_queries import TableLoad


@dataclass(frozen=True)
class History:
    """Judge each day of a day-partitioned table against the days before it (quality_gate.history)."""

    window_days: int = 14
    """The trailing window, in days before the run's day."""
    min_days: int = 7
    """Days of history needed in the window before anything is judged."""
    k: float = 5.0
    """Bounds: median ± k × spread."""
    distinct: tuple[str, ...] = ()
    """Columns whose count of distinct values is judged (e.g. users)."""
    shape: tuple[str, ...] = ()
    """Numeric columns whose mean and standard deviation are judged."""


class Role(str, Enum):
    STAGING = "staging"
    FACT = "fact"
    DIMENSION = "dimension"


@dataclass(frozen=True)
class TableSpec:
    name: str
    role: Role
    keys: tuple[str, ...] = ()
    """Natural key: unique and not null (checked), and the match of an upsert."""
    load: TableLoad | None = None
    """Fact and dimension tables: the SELECT that builds them (helpers.sql_queries)."""
    mode: LoadMode = LoadMode.APPEND
    slice_column: str | None = None
    """Timestamp column partitioned by run: a run replaces only its own day in it."""
    s3_key: str | None = None
    """Staging tables: key or prefix in the source bucket (templated)."""
    json_paths: str = "auto"
    timeformat: str = "auto"
    copy_options: tuple[str, ...] = ()
    """Staging tables: extra Redshift COPY options (e.g. ``GZIP`` for compressed objects)."""
    skip_unchanged: bool = False
    """Staging tables loaded whole: skip the copy while the source objects are unchanged."""
    rejects: RejectLimit = RejectLimit()
    """Staging tables: the rejected source records a run tolerates (helpers.rejects)."""
    record_key: tuple[str, ...] = ()
    """Staging tables: the columns identifying a source record (its exact duplicates are staged once)."""
    column_rules: tuple[ColumnRule, ...] = ()
    """Staging tables: values the star schema's loads cast, checked as they are staged (else rejected)."""
    suite: str | None = None
    """Great Expectations suite validating the table."""
    history: History | None = None
    """Day-partitioned tables: each day's metrics recorded and judged against the days before."""


# The day a run loads: its logical date, in UTC, as [ds, ds + 1 day).
RUN_DAY_START = "{{ ds }}"
RUN_DAY_END = "{{ macros.ds_add(ds, 1) }}"


def run_param(name: str, default: object) -> str:
    """The DAG param ``name`` of the run (as a template) when it is set, else ``default``."""
    return f"{{{{ params.{name} if params.{name} is not none else {default!r} }}}}"


def rendered_flag(value: bool | str, name: str) -> bool:
    """A templated boolean as rendered (``True``/``False``, any case); ``name`` says whose in the error."""
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{name} must be True or False, not {value!r}.")
    return text == "true"


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "staging_events",
        Role.STAGING,
        s3_key="log_data/{{ macros.ds_format(ds, '%Y-%m-%d', '%Y/%m') }}/{{ ds }}-events.json",
        json_paths="log_json_path.json",
        timeformat="epochmillisecs",
        slice_column="ts",
        record_key=("userid", "sessionid", "iteminsession", "ts"),
        # The loads cast userid to the INTEGER users.user_id / songplays.user_id; "" is a logged-out event.
        column_rules=(ColumnRule("userid", "(-?[0-9]{1,9})?",
                                 "the star schema's user_id is an INTEGER: a user id is a whole number, or empty"),),
        suite="staging_events",
        history=History(distinct=("userid",), shape=("length",)),
    ),
    TableSpec("staging_songs", Role.STAGING, s3_key="song_data/", skip_unchanged=True, record_key=("song_id",),
              suite="staging_songs"),
    TableSpec(
        "songplays",
        Role.FACT,
        keys=("songplay_id",),
        load=sql_queries.SONGPLAYS,
        mode=LoadMode.APPEND,
        slice_column="start_time",
        suite="songplays",
        history=History(distinct=("user_id",)),
    ),
    TableSpec("users", Role.DIMENSION, keys=("user_id",), load=sql_queries.USERS, mode=LoadMode.UPSERT, suite="users"),
    TableSpec("songs", Role.DIMENSION, keys=("song_id",), load=sql_queries.SONGS, mode=LoadMode.UPSERT, suite="songs"),
    TableSpec(
        "artists", Role.DIMENSION, keys=("artist_id",), load=sql_queries.ARTISTS, mode=LoadMode.UPSERT, suite="artists"
    ),
    # Derived from the day's songplays, so the day is replaced with them (no orphan after a reload).
    TableSpec(
        "time",
        Role.DIMENSION,
        keys=("start_time",),
        load=sql_queries.TIME,
        mode=LoadMode.APPEND,
        slice_column="start_time",
        suite="time",
    ),
)


def tables(role: Role) -> list[TableSpec]:
    return [spec for spec in TABLES if spec.role is role]

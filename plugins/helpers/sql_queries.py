"""The SELECTs that build the star schema from the staging tables.

Each load is a ``TableLoad``: the target's columns and a SELECT producing them, in that order and
named like them. A load of day-partitioned data restricts its rows with the placeholder
``{in_slice}``, which ``TableLoad.sql()`` turns into the run's slice as two positional parameters
``%s`` (start inclusive, end exclusive, both naive UTC timestamps), so a literal ``%`` must be
written ``%%``; the quality gate recomputes the same SELECT over other ranges
(``quality_gate.reconciliation``). The SQL is the common subset of Amazon Redshift and PostgreSQL,
so both targets run it unchanged; a run runs it in its audit area (helpers.audit_area).
"""

from __future__ import annotations

from dataclasses import dataclass

IN_SLICE = "{in_slice}"


@dataclass(frozen=True)
class TableLoad:
    """A SELECT whose result is loaded into ``columns`` of a table."""

    columns: tuple[str, ...]
    select: str
    slice_on: str | None = None
    """The expression the run's slice bounds, where ``select`` says ``{in_slice}``; None: not sliced."""
    recency: str | None = None
    """Upserts: the column whose newest value wins when rows compete for one key (helpers.loads)."""
    merge_order: str | None = None
    """Upserts: ORDER BY breaking the ties left among the load's own rows for one key, the first wins."""

    def __post_init__(self) -> None:
        if (IN_SLICE in self.select) != (self.slice_on is not None):
            raise ValueError(f"A sliced load's SELECT says {IN_SLICE} and names slice_on; this one: {self.select[:80]!r}")

    @property
    def sliced(self) -> bool:
        return self.slice_on is not None

    def sql(self) -> str:
        """The SELECT of a run: its slice's start and end as the two parameters."""
        return self.between("%s", "%s")

    def between(self, start: str, end: str) -> str:
        """The SELECT over [start, end), two SQL expressions (a load that is not sliced: all of it)."""
        if self.slice_on is None:
            return self.select
        return self.select.replace(IN_SLICE, f"{self.slice_on} >= {start} AND {self.slice_on} < {end}")

    def ranking(self, source: str | None = None) -> str:
        """ORDER BY of the rows competing for one key, the first wins: the newest (``recency``), then
        ``merge_order``. With ``source`` (0 for the load's rows, 1 for the table's) the load's row wins
        a tie in recency (a day loaded again replaces its rows) and, without recency, any tie; without
        either, the load's row always wins.
        """
        terms = [f"{self.recency} DESC"] if self.recency else []
        if source and self.recency:
            terms.append(source)
        if self.merge_order:
            terms.append(self.merge_order)
        if source and not self.recency:
            terms.append(source)
        return ", ".join(terms)

    def everything(self) -> str:
        """The SELECT over every staged row."""
        return self.select.replace(IN_SLICE, "1 = 1")


# One row per NextSong event of the slice. The song is matched on title, artist name and duration
# exactly; catalog duplicates of that triple resolve to the lowest song_id, so no event is doubled.
# "rank_in_match <= 1", not "= 1" (the same rows): PostgreSQL estimates "= 1" on a window's output at
# 0.5% of the catalog, and where the events' range is bound at run time (the gate's reconciliation)
# it then plans a nested loop of every event against every song (measured: 1.4 s for 8,786 events
# and 2,000 songs, growing with their product; 37 ms with "<= 1", a merge join).
SONGPLAYS = TableLoad(
    columns=(
        "songplay_id", "start_time", "user_id", "level", "song_id",
        "artist_id", "session_id", "location", "user_agent",
    ),
    select="""
SELECT MD5(e.userid || '|' || CAST(e.sessionid AS VARCHAR) || '|' || CAST(e.iteminsession AS VARCHAR)
           || '|' || TO_CHAR(e.ts, 'YYYY-MM-DD HH24:MI:SS.MS')) AS songplay_id,
       e.ts AS start_time,
       CAST(e.userid AS INTEGER) AS user_id,
       e.level AS level,
       s.song_id AS song_id,
       s.artist_id AS artist_id,
       e.sessionid AS session_id,
       e.location AS location,
       e.useragent AS user_agent
FROM staging_events e
LEFT JOIN (
    SELECT title, artist_name, duration, song_id, artist_id,
           ROW_NUMBER() OVER (PARTITION BY title, artist_name, duration ORDER BY song_id) AS rank_in_match
    FROM staging_songs
) s
    ON  s.title = e.song
    AND s.artist_name = e.artist
    AND s.duration = e.length
    AND s.rank_in_match <= 1
WHERE e.page = 'NextSong'
  AND e.userid <> ''
  AND {in_slice}
""".strip(),
    slice_on="e.ts",
)

# A candidate row per event of the slice with a user; the user's latest event wins against the
# others and against the row already in users (recency), so loading days in any order (parallel
# backfills) keeps each user's latest level; events at the same time are told apart by merge_order.
USERS = TableLoad(
    columns=("user_id", "first_name", "last_name", "gender", "level", "last_seen_at"),
    select="""
SELECT CAST(userid AS INTEGER) AS user_id, firstname AS first_name, lastname AS last_name, gender, level,
       ts AS last_seen_at
FROM staging_events
WHERE userid <> '' AND {in_slice}
""".strip(),
    slice_on="ts",
    recency="last_seen_at",
    merge_order="level DESC, first_name, last_name",
)

SONGS = TableLoad(
    columns=("song_id", "title", "artist_id", "year", "duration"),
    select="""
SELECT song_id, title, artist_id, year, duration
FROM (
    SELECT song_id, title, artist_id, year, duration,
           ROW_NUMBER() OVER (PARTITION BY song_id ORDER BY title, artist_id, duration) AS duplicate
    FROM staging_songs
    WHERE song_id IS NOT NULL
) ranked
WHERE duplicate = 1
""".strip(),
)

# An artist_id can come with several name/location variants (e.g. "Snoop Dogg" and "Snoop Dogg
# featuring Kid Cudi"). Keep the most complete one: with coordinates, with a location, then the
# shortest name; ties broken by name and song_id so the choice never depends on load order.
ARTISTS = TableLoad(
    columns=("artist_id", "name", "location", "latitude", "longitude"),
    select="""
SELECT artist_id, artist_name AS name, artist_location AS location, artist_latitude AS latitude,
       artist_longitude AS longitude
FROM (
    SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude,
           ROW_NUMBER() OVER (
               PARTITION BY artist_id
               ORDER BY CASE WHEN artist_latitude IS NULL THEN 1 ELSE 0 END,
                        CASE WHEN COALESCE(artist_location, '') = '' THEN 1 ELSE 0 END,
                        LENGTH(artist_name), artist_name, song_id
           ) AS preference
    FROM staging_songs
    WHERE artist_id IS NOT NULL
) ranked
WHERE preference = 1
""".strip(),
)

TIME = TableLoad(
    columns=("start_time", "hour", "day", "week", "month", "year", "weekday"),
    select="""
SELECT DISTINCT start_time,
       CAST(EXTRACT(hour FROM start_time) AS INTEGER) AS hour,
       CAST(EXTRACT(day FROM start_time) AS INTEGER) AS day,
       CAST(EXTRACT(week FROM start_time) AS INTEGER) AS week,
       CAST(EXTRACT(month FROM start_time) AS INTEGER) AS month,
       CAST(EXTRACT(year FROM start_time) AS INTEGER) AS year,
       CAST(EXTRACT(dow FROM start_time) AS INTEGER) AS weekday
FROM songplays
WHERE {in_slice}
""".strip(),
    slice_on="start_time",
)

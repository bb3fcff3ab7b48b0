"""The SELECTs that build the star schema from the staging tables.

Each load is a ``TableLoad``: the target's columns and a SELECT producing them, in that order. Loads
of day-partitioned data take the run's slice as two positional parameters ``%s`` (start inclusive,
end exclusive, both naive UTC timestamps); a literal ``%`` must therefore be written ``%%``.
The SQL is the common subset of Amazon Redshift and PostgreSQL, so both targets run it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableLoad:
    """A SELECT whose result is loaded into ``columns`` of a table."""

    columns: tuple[str, ...]
    select: str
    sliced: bool = False
    """True when ``select`` takes the run's slice (start, end) as its two parameters."""
    merge_order: str | None = None
    """Upserts: ORDER BY of the rows competing for one key, the first wins (helpers.loads); None: the newest load."""


# One row per NextSong event of the slice. The song is matched on title, artist name and duration
# exactly; catalog duplicates of that triple resolve to the lowest song_id, so no event is doubled.
SONGPLAYS = TableLoad(
    columns=(
        "songplay_id", "start_time", "user_id", "level", "song_id",
        "artist_id", "session_id", "location", "user_agent",
    ),
    select="""
SELECT MD5(e.userid || '|' || CAST(e.sessionid AS VARCHAR) || '|' || CAST(e.iteminsession AS VARCHAR)
           || '|' || TO_CHAR(e.ts, 'YYYY-MM-DD HH24:MI:SS.MS')),
       e.ts,
       CAST(e.userid AS INTEGER),
       e.level,
       s.song_id,
       s.artist_id,
       e.sessionid,
       e.location,
       e.useragent
FROM staging_events e
LEFT JOIN (
    SELECT title, artist_name, duration, song_id, artist_id,
           ROW_NUMBER() OVER (PARTITION BY title, artist_name, duration ORDER BY song_id) AS rank_in_match
    FROM staging_songs
) s
    ON  s.title = e.song
    AND s.artist_name = e.artist
    AND s.duration = e.length
    AND s.rank_in_match = 1
WHERE e.page = 'NextSong'
  AND e.userid <> ''
  AND e.ts >= %s AND e.ts < %s
""".strip(),
    sliced=True,
)

# A candidate row per event of the slice with a user; the user's latest event wins against the
# others and against the row already in users (merge_order), so loading days in any order
# (parallel backfills) keeps each user's latest level.
USERS = TableLoad(
    columns=("user_id", "first_name", "last_name", "gender", "level", "last_seen_at"),
    select="""
SELECT CAST(userid AS INTEGER), firstname, lastname, gender, level, ts
FROM staging_events
WHERE userid <> '' AND ts >= %s AND ts < %s
""".strip(),
    sliced=True,
    merge_order="last_seen_at DESC, level DESC, first_name, last_name",
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
SELECT artist_id, artist_name, artist_location, artist_latitude, artist_longitude
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
       CAST(EXTRACT(hour FROM start_time) AS INTEGER),
       CAST(EXTRACT(day FROM start_time) AS INTEGER),
       CAST(EXTRACT(week FROM start_time) AS INTEGER),
       CAST(EXTRACT(month FROM start_time) AS INTEGER),
       CAST(EXTRACT(year FROM start_time) AS INTEGER),
       CAST(EXTRACT(dow FROM start_time) AS INTEGER)
FROM songplays
WHERE start_time >= %s AND start_time < %s
""".strip(),
    sliced=True,
)

"""`generate()`: write a whole Sparkify-shaped dataset (songs, day files, JSONPaths) and return a `Summary`."""

import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

from tqdm import tqdm

from datagen.catalog import MAX_SONGS, Catalog
from datagen.events import EVENTS_PER_USER, LOG_JSON_PATHS, EventStream, day_quotas

DEFAULT_EVENTS = 10_000
DEFAULT_SONGS = 3_000
DEFAULT_START = date(2018, 11, 1)
DEFAULT_DAYS = 30
DEFAULT_SEED = 42
DEFAULT_MATCH_RATIO = 0.05  # share of NextSong events that play a catalog song (sample: 319 / 6,820)

MARKER_FILE = ".datagen.json"  # parameters and summary; marks a directory as generator output
JSON_PATHS_FILE = "log_json_path.json"
LINES_PER_WRITE = 4_096


class DatagenError(ValueError):
    """Invalid arguments, or an output directory the generator must not write into."""


@dataclass(frozen=True)
class Summary:
    """What `generate()` wrote. `expected_matches` is the exact songplays join count (song, artist, length)."""

    out_dir: Path
    start: date
    days: int
    seed: int
    match_ratio: float
    users: int
    songs: int
    artists: int
    events: int
    next_song_events: int
    logged_out_events: int
    sessions: int
    expected_matches: int
    song_files: int
    log_files: int
    files_written: int  # song files + day files + log_json_path.json (the marker file is not counted)

    def as_json(self) -> dict:
        """The fields as JSON values; `out_dir` left out so that equal runs write equal markers."""
        fields = asdict(self)
        del fields["out_dir"]
        fields["start"] = self.start.isoformat()
        return fields


def _validate(events: int, songs: int, days: int, match_ratio: float, users: int | None) -> None:
    if events < 0:
        raise DatagenError(f"events must be >= 0, got {events}")
    if not 0 <= songs < MAX_SONGS:
        raise DatagenError(f"songs must be between 0 and {MAX_SONGS - 1}, got {songs}")
    if days < 1:
        raise DatagenError(f"days must be >= 1, got {days}")
    if not 0.0 <= match_ratio <= 1.0:
        raise DatagenError(f"match_ratio must be between 0 and 1, got {match_ratio}")
    if users is not None and users < 1:
        raise DatagenError(f"users must be >= 1, got {users}")


def _parse_start(start: date | str) -> date:
    try:
        return date.fromisoformat(start) if isinstance(start, str) else start
    except ValueError:
        raise DatagenError(f"start must be a date or YYYY-MM-DD, got {start!r}") from None


def _prepare_out_dir(out_dir: Path, force: bool) -> None:
    """Create `out_dir`, or clear the generator's own entries in it; refuse a foreign non-empty directory."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DatagenError(f"{out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()) and not (out_dir / MARKER_FILE).is_file() and not force:
        raise DatagenError(
            f"refusing to write into {out_dir}: it is not empty and has no {MARKER_FILE} from an earlier run "
            "(use --force / force=True to write into it anyway)"
        )
    for tree in ("song_data", "log_data"):
        if (out_dir / tree).exists():
            shutil.rmtree(out_dir / tree)
    for name in (JSON_PATHS_FILE, MARKER_FILE):
        (out_dir / name).unlink(missing_ok=True)


def _write_marker(out_dir: Path, content: dict) -> None:
    marker = json.dumps({"generator": "datagen", **content}, indent=2, sort_keys=True)
    (out_dir / MARKER_FILE).write_text(marker, encoding="ascii")


def _write_day(path: Path, lines: Iterable[str], bar: tqdm) -> None:
    """JSON Lines joined by `\\n`, no trailing newline (empty file for a day without events)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="") as out:
        chunk: list[str] = []
        separator = ""
        for line in lines:
            chunk.append(line)
            if len(chunk) == LINES_PER_WRITE:
                out.write(separator + "\n".join(chunk))
                separator = "\n"
                bar.update(len(chunk))
                chunk.clear()
        if chunk:
            out.write(separator + "\n".join(chunk))
            bar.update(len(chunk))


def generate(
    out_dir: str | Path,
    *,
    events: int = DEFAULT_EVENTS,
    songs: int = DEFAULT_SONGS,
    start: date | str = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    match_ratio: float = DEFAULT_MATCH_RATIO,
    users: int | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> Summary:
    """Write `songs` song files and `events` events over `days` day files from `start` into `out_dir`.

    Same arguments give byte-identical files. `users` defaults to events / 80 (at least 1). About
    `match_ratio` of the NextSong events play a catalog song and match it exactly on (song, artist, length);
    the others never match. `progress` shows tqdm bars on stderr (default: when stderr is a terminal).
    `out_dir` must be new, empty or an earlier output of this generator, unless `force` is set.
    """
    _validate(events, songs, days, match_ratio, users)
    start = _parse_start(start)
    users = users if users is not None else max(1, events // EVENTS_PER_USER)
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, force)
    parameters = {"events": events, "songs": songs, "start": start.isoformat(), "days": days, "seed": seed,
                  "match_ratio": match_ratio, "users": users}
    _write_marker(out_dir, {"complete": False, "parameters": parameters})
    show = sys.stderr.isatty() if progress is None else progress

    catalog = Catalog(seed)
    with tqdm(total=songs, desc="songs", unit=" songs", file=sys.stderr, disable=not show) as bar:
        catalog.write(out_dir, songs, bar)
    (out_dir / JSON_PATHS_FILE).write_text(LOG_JSON_PATHS, encoding="ascii")

    stream = EventStream(seed=seed, users=users, match_ratio=match_ratio, match_pool=catalog.match_pool,
                         start=start, days=days)
    with tqdm(total=events, desc="events", unit=" events", unit_scale=True, file=sys.stderr, disable=not show) as bar:
        for offset, quota in enumerate(day_quotas(events, days, start, seed)):
            day = start + timedelta(days=offset)
            path = out_dir / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"
            _write_day(path, stream.day_lines(day, quota), bar)

    summary = Summary(
        out_dir=out_dir, start=start, days=days, seed=seed, match_ratio=match_ratio, users=users, songs=songs,
        artists=catalog.artists, events=events, next_song_events=stream.next_song_events,
        logged_out_events=stream.logged_out_events, sessions=stream.sessions,
        expected_matches=stream.expected_matches, song_files=songs, log_files=days, files_written=songs + days + 1,
    )
    _write_marker(out_dir, {"complete": True, "summary": summary.as_json()})
    return summary

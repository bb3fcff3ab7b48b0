"""Tests for datagen: determinism, S3 layout and file format, event and song quirks, exact matches, CLI.

The real sample (/work/shared/data/sparkify) is only read, never copied: the same format checks run on it and
on generated data, and generated key sets, value types and quirk rates are compared with the real ones.
"""

import collections
import json
import re
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from datagen import DatagenError, generate

REPO = Path(__file__).resolve().parents[2]
REAL_SAMPLE = REPO.parent / "shared" / "data" / "sparkify"
START = date(2018, 11, 1)
DAYS = 30
EVENTS = 30_000
SONGS = 15_000  # about the real catalog size, so rare quirks can be compared with the real rates
MATCH_RATIO = 0.05
LOGGED_OUT_PAGES = {"Home", "Login", "About", "Help"}
NULL_WHEN_LOGGED_OUT = ("firstName", "lastName", "gender", "location", "registration", "userAgent", "artist", "song",
                        "length")
TRACK_FILE = re.compile(r"TRA[A-Z]{4}128F[0-9A-F]{7}\.json")


def canonical(value: object) -> str:
    """The S3 style, written independently of datagen: compact, sorted keys, ASCII, `/` as `\\/`."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def read_log_file(path: Path) -> list[dict]:
    """Events of one day file, checking the real format: `\\n` between lines, none at the end, canonical lines."""
    text = path.read_bytes().decode("ascii")
    assert not text.endswith("\n") and "\r" not in text, path
    events = []
    for line in text.split("\n") if text else []:
        event = json.loads(line)
        assert canonical(event) == line, (path, line)  # also proves every float reads back as the same float
        events.append(event)
    return events


def read_song_file(path: Path) -> dict:
    text = path.read_bytes().decode("ascii")
    song = json.loads(text)
    assert canonical(song) == text and not text.endswith("\n"), path
    return song


def read_dataset(root: Path) -> tuple[dict[str, list[dict]], list[dict]]:
    logs = {path.name: read_log_file(path) for path in sorted(root.glob("log_data/*/*/*-events.json"))}
    songs = [read_song_file(path) for path in sorted(root.glob("song_data/*/*/*/*.json"))]
    return logs, songs


def all_events(logs: dict[str, list[dict]]) -> list[dict]:
    return [event for events in logs.values() for event in events]


def type_signature(records: list[dict]) -> set[tuple[str, str]]:
    return {(key, type(value).__name__) for record in records for key, value in record.items()}


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def real():
    assert REAL_SAMPLE.is_dir(), f"real sample missing: {REAL_SAMPLE}"
    return read_dataset(REAL_SAMPLE)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    summary = generate(out, events=EVENTS, songs=SONGS, start=START, days=DAYS, seed=7, match_ratio=MATCH_RATIO,
                       progress=False)
    logs, songs = read_dataset(out)
    return out, summary, logs, songs


def test_same_seed_gives_same_bytes_and_another_seed_differs(tmp_path):
    arguments = dict(events=3_000, songs=400, start="2019-02-25", days=7, progress=False)
    generate(tmp_path / "a", seed=1, **arguments)
    generate(tmp_path / "b", seed=1, **arguments)
    generate(tmp_path / "c", seed=2, **arguments)
    first, second, third = (tree_bytes(tmp_path / name) for name in "abc")
    assert len(first) == 400 + 7 + 2  # songs, days, log_json_path.json, marker
    assert first == second
    assert set(first) != set(third)  # other track ids
    assert first["log_data/2019/02/2019-02-25-events.json"] != third["log_data/2019/02/2019-02-25-events.json"]


def test_layout_matches_the_bucket(generated, real):
    out, summary, logs, songs = generated
    assert {path.name for path in out.iterdir()} == {"song_data", "log_data", "log_json_path.json", ".datagen.json"}
    assert list(logs) == [f"2018-11-{day:02d}-events.json" for day in range(1, DAYS + 1)]
    assert all(path.parent.name == "11" and path.parent.parent.name == "2018" for path in out.glob("log_data/*/*/*"))
    song_paths = list(out.glob("song_data/*/*/*/*.json"))
    assert len(song_paths) == len(songs) == SONGS == summary.song_files
    for path in song_paths:
        assert TRACK_FILE.fullmatch(path.name), path
        assert (path.parent.parent.parent.name, path.parent.parent.name, path.parent.name) == tuple(path.name[2:5])
    assert len({song["song_id"] for song in songs}) == SONGS
    assert summary.files_written == len(song_paths) + len(logs) + 1
    assert (out / "log_json_path.json").read_bytes() == (REAL_SAMPLE / "log_json_path.json").read_bytes()


def test_real_sample_passes_the_same_format_checks(real):
    logs, songs = real  # read_dataset asserted the format of every real file
    assert len(all_events(logs)) == 8_056 and len(songs) == 14_896


def test_slashes_are_escaped_like_the_real_files(generated):
    out, _, _, _ = generated
    text = (out / "log_data/2018/11/2018-11-14-events.json").read_text(encoding="ascii")
    assert '"Mozilla\\/5.0 ' in text and "Mozilla/" not in text


def test_event_count_is_exact_and_days_vary_by_weekday(generated):
    _, summary, logs, _ = generated
    per_day = {name[:10]: len(events) for name, events in logs.items()}
    assert sum(per_day.values()) == EVENTS == summary.events
    weekday = [count for day, count in per_day.items() if date.fromisoformat(day).weekday() < 5]
    weekend = [count for day, count in per_day.items() if date.fromisoformat(day).weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.8 * sum(weekday) / len(weekday)
    assert len(set(per_day.values())) > DAYS // 2


def test_every_event_is_inside_its_files_utc_day_in_ts_order(generated):
    _, _, logs, _ = generated
    for name, events in logs.items():
        days = {datetime.fromtimestamp(event["ts"] / 1000, timezone.utc).date().isoformat() for event in events}
        assert days == {name[:10]}
        timestamps = [event["ts"] for event in events]
        assert timestamps == sorted(timestamps), name


def test_logged_out_events_have_the_real_quirks(generated):
    _, summary, logs, _ = generated
    events = all_events(logs)
    logged_out = [event for event in events if event["userId"] == ""]
    assert logged_out and len(logged_out) == summary.logged_out_events
    assert 0.01 < len(logged_out) / EVENTS < 0.08  # real: 286 / 8,056
    assert {event["page"] for event in logged_out} == LOGGED_OUT_PAGES
    for event in logged_out:
        assert event["auth"] == "Logged Out" and event["level"] in ("free", "paid")
        for key in NULL_WHEN_LOGGED_OUT:
            assert event[key] is None, (key, event)
    assert all(event["auth"] == "Logged In" and event["userId"].isdigit() for event in events if event["userId"])


def test_pages_methods_and_statuses_are_those_of_the_real_log(generated, real):
    events, real_events = all_events(generated[2]), all_events(real[0])
    triples = {(event["page"], event["method"], event["status"]) for event in events}
    assert triples <= {(event["page"], event["method"], event["status"]) for event in real_events}
    for event in events:
        if event["page"] == "NextSong":
            assert event["status"] == 200 and isinstance(event["length"], float) and event["length"] > 0
            assert isinstance(event["artist"], str) and isinstance(event["song"], str)
        else:
            assert event["artist"] is None and event["song"] is None and event["length"] is None
    share = collections.Counter(event["page"] for event in events)["NextSong"] / len(events)
    real_share = collections.Counter(event["page"] for event in real_events)["NextSong"] / len(real_events)
    assert abs(share - real_share) < 0.04


def test_sessions_are_runs_of_consecutive_items(generated):
    _, summary, logs, _ = generated
    sessions = collections.defaultdict(list)
    for event in all_events(logs):
        sessions[event["sessionId"]].append(event)
    assert len(sessions) == summary.sessions
    for events in sessions.values():
        assert [event["itemInSession"] for event in events] == list(range(len(events)))
        assert len({event["userId"] for event in events} - {""}) <= 1
    lengths = sorted(len(events) for events in sessions.values())
    assert lengths[len(lengths) // 2] <= 4 and lengths[-1] >= 50  # real: median 2, max 128


def test_users_keep_their_fields_and_some_switch_level(generated):
    events = [event for event in all_events(generated[2]) if event["userId"]]
    fields = collections.defaultdict(set)
    levels = collections.defaultdict(set)
    for event in events:
        fields[event["userId"]].add((event["firstName"], event["lastName"], event["gender"], event["location"],
                                     event["registration"], event["userAgent"]))
        if event["page"] == "NextSong":
            levels[event["userId"]].add(event["level"])
    assert all(len(variants) == 1 for variants in fields.values())
    assert any(levels_seen == {"free", "paid"} for levels_seen in levels.values())
    pages = {event["page"] for event in events}
    assert {"Submit Upgrade", "Submit Downgrade"} <= pages
    agents = {event["userAgent"] for event in events}
    assert any(agent.startswith('"') and agent.endswith('"') for agent in agents)
    assert any('"' not in agent for agent in agents)
    assert len({event["ts"] % 1000 for event in events}) == 1  # one millisecond offset, like the real "…796"
    assert all(event["registration"] < event["ts"] for event in events)


def test_key_sets_and_types_equal_the_real_ones(generated, real):
    _, _, logs, songs = generated
    real_logs, real_songs = real
    events, real_events = all_events(logs), all_events(real_logs)
    assert {tuple(event) for event in events} == {tuple(event) for event in real_events}
    assert type_signature(events) == type_signature(real_events)
    assert {tuple(song) for song in songs} == {tuple(song) for song in real_songs}
    assert type_signature(songs) == type_signature(real_songs)  # int/float titles, int names and locations, nulls


SONG_QUIRKS = {
    "int title": lambda song: type(song["title"]) is int,
    "int artist_name": lambda song: type(song["artist_name"]) is int,
    "int artist_location": lambda song: type(song["artist_location"]) is int,
    "year 0": lambda song: song["year"] == 0,
    "null lat/long": lambda song: song["artist_latitude"] is None,
    "empty location": lambda song: song["artist_location"] == "",
    "control char": lambda song: any(isinstance(value, str) and re.search("[\x00-\x1f]", value)
                                     for value in (song["title"], song["artist_name"], song["artist_location"])),
    "U+0019": lambda song: any(isinstance(value, str) and "\x19" in value
                               for value in (song["title"], song["artist_name"])),
    "padded location": lambda song: isinstance(song["artist_location"], str)
    and song["artist_location"] != song["artist_location"].strip(),
    "padded title": lambda song: isinstance(song["title"], str) and song["title"] != song["title"].strip(),
    "non-ASCII title": lambda song: isinstance(song["title"], str) and not song["title"].isascii(),
    "non-ASCII artist_name": lambda song: isinstance(song["artist_name"], str) and not song["artist_name"].isascii(),
    "quote in title": lambda song: isinstance(song["title"], str) and '"' in song["title"],
}


@pytest.mark.parametrize("quirk", SONG_QUIRKS)
def test_song_quirks_occur_at_about_the_real_rate(generated, real, quirk):
    songs, real_songs = generated[3], real[1]
    rate = sum(map(SONG_QUIRKS[quirk], songs)) / len(songs)
    real_rate = sum(map(SONG_QUIRKS[quirk], real_songs)) / len(real_songs)
    assert real_rate / 3 <= rate <= real_rate * 3, (quirk, rate, real_rate)


def test_songs_have_null_coordinates_together_and_artist_variants(generated):
    songs = generated[3]
    assert all((song["artist_latitude"] is None) == (song["artist_longitude"] is None) for song in songs)
    assert all(song["num_songs"] == 1 and isinstance(song["duration"], float) for song in songs)
    assert any(type(song["title"]) is float for song in songs)
    assert any(song["artist_location"] is None for song in songs)
    variants = collections.defaultdict(set)
    for song in songs:
        variants[song["artist_id"]].add((song["artist_name"], song["artist_location"], song["artist_latitude"]))
    with_variants = sum(len(rows) > 1 for rows in variants.values())
    assert 0.02 < with_variants / len(variants) < 0.1  # real: 426 of 9,553 artist ids
    assert 0.5 < len(variants) / len(songs) < 0.8  # real: 9,553 / 14,896


def exact_matches(events: list[dict], songs: list[dict]) -> int:
    """The songplays join: NextSong events equal to a song on song=title, artist=artist_name, length=duration."""
    catalog = {(song["title"], song["artist_name"], song["duration"]) for song in songs}
    plays = [(event["song"], event["artist"], event["length"]) for event in events if event["page"] == "NextSong"]
    return sum(play in catalog for play in plays)


def test_exact_matches_equal_the_summary_and_the_match_ratio(generated, real):
    _, summary, logs, songs = generated
    events = all_events(logs)
    matches = exact_matches(events, songs)
    assert matches == summary.expected_matches
    assert 0 < matches < summary.next_song_events
    assert abs(matches / summary.next_song_events - MATCH_RATIO) < 0.01
    assert abs(matches / summary.next_song_events - exact_matches(all_events(real[0]), real[1]) / 6_820) < 0.02
    titles_and_artists = {(song["title"], song["artist_name"]) for song in songs}
    plays = [(event["song"], event["artist"]) for event in events if event["page"] == "NextSong"]
    near = sum(play in titles_and_artists for play in plays)
    assert near > matches  # like the real data: joining without length finds more rows


@pytest.mark.parametrize("match_ratio", [0.0, 1.0])
def test_match_ratio_bounds(tmp_path, match_ratio):
    summary = generate(tmp_path, events=2_000, songs=300, days=3, seed=5, match_ratio=match_ratio, progress=False)
    logs, songs = read_dataset(tmp_path)
    assert exact_matches(all_events(logs), songs) == summary.expected_matches
    assert summary.expected_matches == round(match_ratio * summary.next_song_events)


def test_days_without_events_get_empty_files(tmp_path):
    summary = generate(tmp_path, events=3, songs=5, days=10, seed=3, progress=False)
    logs, _ = read_dataset(tmp_path)
    assert len(logs) == 10 == summary.log_files
    assert sum(map(len, logs.values())) == 3
    assert sum(1 for path in tmp_path.glob("log_data/*/*/*") if path.stat().st_size == 0) >= 7


@pytest.mark.parametrize(
    "arguments",
    [dict(events=-1), dict(days=0), dict(match_ratio=1.5), dict(users=0), dict(songs=-3), dict(start="2018-11-31")],
)
def test_bad_arguments_are_rejected(tmp_path, arguments):
    with pytest.raises(DatagenError, match="must be"):
        generate(tmp_path / "out", progress=False, **arguments)
    assert not (tmp_path / "out").exists()


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datagen", *arguments], cwd=REPO, capture_output=True, text=True)


def test_cli_help_shows_the_defaults():
    result = run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines to the terminal width
    for expected in ("--out", "--events", "--songs", "--start", "--days", "--seed", "--match-ratio", "--force",
                     "--no-progress", "default: 10000", "default: 2018-11-01", "default: 0.05"):
        assert expected in text, expected


def test_cli_refuses_a_foreign_directory_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    small = ("--out", str(tmp_path), "--events", "500", "--days", "2", "--no-progress")
    refused = run_cli(*small, "--songs", "50")
    assert refused.returncode == 2 and "refusing to write" in refused.stderr and "--force" in refused.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    forced = run_cli(*small, "--songs", "50", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "events: 500" in forced.stdout and (tmp_path / "notes.txt").read_text() == "keep me"
    again = run_cli(*small, "--songs", "20")  # an earlier output is replaced without --force
    assert again.returncode == 0, again.stderr
    assert len(list(tmp_path.glob("song_data/*/*/*/*.json"))) == 20


def test_cli_rejects_a_bad_date():
    result = run_cli("--out", "unused", "--start", "2018-13-01")
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr

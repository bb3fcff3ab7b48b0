"""Song catalog: one `song_data/A/B/C/TRABC....json` file per song, plus a bounded pool of songs events can play.

Catalog durations are even multiples of 10 µs and lengths of songs outside the catalog are odd multiples
(`catalog_duration` / `outside_duration`), so an event's length equals a catalog duration only when the event
plays that catalog song. The exact-match count is therefore known without keeping the catalog in memory.
"""

import random
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from datagen import vocab
from datagen.encoding import encode

MAX_SONGS = 1 << 28  # ids embed a 28-bit permutation of the song index (7 hex digits)
MATCH_POOL_SIZE = 2_000  # catalog songs events may play: a uniform sample of the whole catalog
RECENT_ARTISTS = 1_000  # artists a new song may reuse

# Rates per song or per artist, close to the real sample (SOURCES.md); the rarest raised a little so they show.
NEW_ARTIST_RATE = 0.64  # real: 9,553 artist ids for 14,896 songs
ARTIST_VARIANT_RATE = 0.12  # reused artist shown with another name or location (real: 426 ids with variants)
YEAR_UNKNOWN_RATE = 0.32
NUMERIC_TITLE_RATE = 0.0013
FLOAT_TITLE_RATE = 0.0004
NUMERIC_ARTIST_NAME_RATE = 0.002
NUMERIC_LOCATION_RATE = 0.0012
NULL_LOCATION_RATE = 0.0003
EMPTY_LOCATION_RATE = 0.45
COORDINATES_RATE = 0.64  # of artists with a text location; overall about 35% have coordinates
PADDED_LOCATION_RATE = 0.006
PADDED_TITLE_RATE = 0.001
CONTROL_CHAR_RATE = 0.0015  # U+0019 where an apostrophe belongs, per title and per artist name
APOSTROPHE_RATE = 0.1
NON_ASCII_TITLE_RATE = 0.03
NON_ASCII_ARTIST_RATE = 0.026
NON_ASCII_LOCATION_RATE = 0.013  # of text locations
QUOTED_WORD_RATE = 0.002
TITLE_SUFFIX_RATE = 0.25
LONG_DURATION_RATE = 0.02
DURATION_MEDIAN_SECONDS = 231.0

_ID_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_CHARS = _ID_LETTERS + "0123456789"
_PADDINGS = (" {}", "{} ", "{}\u00a0")


class Playable(NamedTuple):
    """A catalog song as an event sees it: the three columns of the songplays join."""

    artist: str
    title: str
    duration: float


def _duration_units(rng: random.Random) -> int:
    """Half the duration in 10 µs units, from a log-normal fit of the sample (median 231 s, 6-2709 s)."""
    sigma = 1.0 if rng.random() < LONG_DURATION_RATE else 0.36
    seconds = min(max(rng.lognormvariate(0.0, sigma) * DURATION_MEDIAN_SECONDS, 6.0), 2709.0)
    return round(seconds * 50_000)


def catalog_duration(rng: random.Random) -> float:
    """A catalog song duration: an even multiple of 10 µs (k / 100_000 prints with at most 5 decimals)."""
    return 2 * _duration_units(rng) / 100_000


def outside_duration(rng: random.Random) -> float:
    """A length for a song outside the catalog: an odd multiple of 10 µs, so never a catalog duration."""
    return (2 * _duration_units(rng) + 1) / 100_000


def song_title(rng: random.Random) -> str:
    """An invented title with the text quirks of the sample: apostrophes, U+0019, quotes, non-ASCII, `_`, padding."""
    words = vocab.TITLE_WORDS
    title = rng.choice(vocab.TITLE_PATTERNS).format(a=rng.choice(words), b=rng.choice(words), c=rng.choice(words))
    if rng.random() < CONTROL_CHAR_RATE:
        title = f"{rng.choice(vocab.APOSTROPHE_WORDS).replace(chr(39), chr(0x19))} {title}"
    elif rng.random() < APOSTROPHE_RATE:
        title = f"{rng.choice(vocab.APOSTROPHE_WORDS)} {title}"
    if rng.random() < NON_ASCII_TITLE_RATE:
        title = f"{title} {rng.choice(vocab.NON_ASCII_WORDS)}"
    if rng.random() < QUOTED_WORD_RATE:
        title = f'{title} "{rng.choice(words)}"'
    if rng.random() < TITLE_SUFFIX_RATE:
        title += rng.choice(vocab.TITLE_SUFFIXES)
    if rng.random() < PADDED_TITLE_RATE:
        title = rng.choice(_PADDINGS).format(title)
    return title


def artist_name(rng: random.Random) -> str:
    """An invented artist name: people, bands, DJs, a few non-ASCII and apostrophe (or U+0019) names."""
    words = vocab.TITLE_WORDS
    first, last = rng.choice(vocab.ARTIST_FIRST_NAMES), rng.choice(vocab.ARTIST_LAST_NAMES)
    if rng.random() < NON_ASCII_ARTIST_RATE:
        return rng.choice(vocab.NON_ASCII_ARTIST_NAMES)
    if rng.random() < CONTROL_CHAR_RATE:
        return f"{first} O\x19{last}"
    form = rng.random()
    if form < 0.02:
        return f"{first} O'{last}"
    if form < 0.35:
        return f"{first} {last}"
    if form < 0.55:
        return f"The {rng.choice(words)} {rng.choice(words)}s"
    if form < 0.75:
        return f"{rng.choice(words)} {rng.choice(words)}"
    if form < 0.85:
        return f"{rng.choice(vocab.ARTIST_PREFIXES)} {rng.choice(words)}"
    return rng.choice(words) + rng.choice(("", "s", "ers", "ville"))


def _artist_location(rng: random.Random) -> str | int | None:
    roll = rng.random()
    if roll < NULL_LOCATION_RATE:
        return None
    if roll < NULL_LOCATION_RATE + NUMERIC_LOCATION_RATE:
        return rng.randint(20, 999)
    if rng.random() < EMPTY_LOCATION_RATE:
        return ""
    non_ascii = rng.random() < NON_ASCII_LOCATION_RATE
    location = rng.choice(vocab.NON_ASCII_ARTIST_LOCATIONS if non_ascii else vocab.ARTIST_LOCATIONS)
    if rng.random() < PADDED_LOCATION_RATE:
        location = rng.choice(_PADDINGS).format(location)
    return location


def _coordinates(rng: random.Random, location: str | int | None) -> tuple[float | None, float | None]:
    """Latitude and longitude, both null or both set (only for artists with a text location)."""
    if isinstance(location, str) and location and rng.random() < COORDINATES_RATE:
        return round(rng.uniform(-45.9, 69.6), 5), round(rng.uniform(-159.5, 174.8), 5)
    return None, None


def _permuted_hex(index: int, digits: int, offset: int) -> str:
    """`index` mapped through a bijection of [0, 16**digits): distinct indexes give distinct ids."""
    return format((index * 0x9E3779B1 + offset) % 16**digits, f"0{digits}X")


class Catalog:
    """Writes catalog songs in order and samples `MATCH_POOL_SIZE` of them (reservoir sampling) for events."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}:songs")
        self._id_offset = self._rng.getrandbits(32)
        self._recent_artists: list[dict] = []
        self._eligible = 0
        self.artists = 0
        self.match_pool: list[Playable] = []

    def _new_artist(self) -> dict:
        rng = self._rng
        name = rng.randint(1, 3000) if rng.random() < NUMERIC_ARTIST_NAME_RATE else artist_name(rng)
        location = _artist_location(rng)
        latitude, longitude = _coordinates(rng, location)
        artist_id = "AR" + "".join(rng.choices(_ID_CHARS, k=5)) + "1187"
        artist_id += _permuted_hex(self.artists, 7, self._id_offset)
        self.artists += 1
        return {
            "artist_id": artist_id,
            "artist_latitude": latitude,
            "artist_location": location,
            "artist_longitude": longitude,
            "artist_name": name,
        }

    def _artist(self) -> dict:
        """A new artist, or a recent one (sometimes as a name or location variant, like the sample's duplicates)."""
        rng, recent = self._rng, self._recent_artists
        if not recent or rng.random() < NEW_ARTIST_RATE:
            artist = self._new_artist()
            if len(recent) < RECENT_ARTISTS:
                recent.append(artist)
            else:
                recent[rng.randrange(RECENT_ARTISTS)] = artist
            return artist
        artist = rng.choice(recent)
        if rng.random() >= ARTIST_VARIANT_RATE:
            return artist
        variant = dict(artist)
        if isinstance(artist["artist_name"], str) and rng.random() < 0.5:
            variant["artist_name"] = f"{artist['artist_name']}{rng.choice(vocab.ARTIST_JOINERS)}{artist_name(rng)}"
        else:
            variant["artist_location"] = _artist_location(rng)
            variant["artist_latitude"], variant["artist_longitude"] = _coordinates(rng, variant["artist_location"])
        return variant

    def song(self, index: int) -> tuple[str, dict]:
        """Song number `index`: its track id (the file name) and its record."""
        rng = self._rng
        artist = self._artist()
        roll = rng.random()
        if roll < NUMERIC_TITLE_RATE:
            title: str | int | float = rng.randint(1, 2200)
        elif roll < NUMERIC_TITLE_RATE + FLOAT_TITLE_RATE:
            title = round(rng.uniform(1.0, 10.0), 1)
        else:
            title = song_title(rng)
        track_id = "TRA" + "".join(rng.choices(_ID_LETTERS, k=4)) + "128F" + _permuted_hex(index, 7, self._id_offset)
        song_id = "SO" + "".join(rng.choices(_ID_LETTERS, k=5)) + "12A" + _permuted_hex(index, 8, self._id_offset)
        year = 0 if rng.random() < YEAR_UNKNOWN_RATE else int(rng.triangular(1927, 2011, 2007))
        record = {**artist, "duration": catalog_duration(rng), "num_songs": 1, "song_id": song_id, "title": title,
                  "year": year}
        self._offer_to_match_pool(record)
        return track_id, record

    def _offer_to_match_pool(self, record: dict) -> None:
        """Reservoir sampling over songs whose title and artist name are strings (events carry strings)."""
        if not (isinstance(record["title"], str) and isinstance(record["artist_name"], str)):
            return
        playable = Playable(record["artist_name"], record["title"], record["duration"])
        if self._eligible < MATCH_POOL_SIZE:
            self.match_pool.append(playable)
        else:
            slot = self._rng.randrange(self._eligible + 1)
            if slot < MATCH_POOL_SIZE:
                self.match_pool[slot] = playable
        self._eligible += 1

    def write(self, out_dir: Path, songs: int, bar: tqdm) -> None:
        """Write `songs` files under `out_dir/song_data`, compact JSON with sorted keys and no trailing newline."""
        made_dirs: set[Path] = set()  # at most 26 * 26 leaf directories
        for index in range(songs):
            track_id, record = self.song(index)
            leaf = out_dir / "song_data" / track_id[2] / track_id[3] / track_id[4]
            if leaf not in made_dirs:
                leaf.mkdir(parents=True, exist_ok=True)
                made_dirs.add(leaf)
            (leaf / f"{track_id}.json").write_text(encode(record), encoding="ascii")
            bar.update()

"""Listening events (eventsim-shaped): users, sessions and pages as JSON lines, one UTC day at a time, ts ascending.

Memory stays nearly flat as the event count grows. Users are rebuilt from (seed, user id) when needed, with an
LRU cache for the busy ones. NextSong events play songs from two bounded pools: catalog songs, which match
exactly, and songs outside the catalog. A day is planned as one int per session and emitted through a heap of
the sessions open at that moment, never held as a list of events. What does grow is small: one int per
session of the current day, and the ids of the users who already switched level (a few % of the users).
"""

import functools
import heapq
import json
import random
from bisect import bisect_right
from collections.abc import Iterator
from datetime import date

from datagen.catalog import Playable, artist_name, outside_duration, song_title
from datagen.encoding import encode
from datagen import vocab

EVENT_KEYS = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level", "location",
    "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId",
)
# The 18 JSONPaths in the layout of the real log_json_path.json (4-space indent, no trailing newline).
LOG_JSON_PATHS = json.dumps({"jsonpaths": [f"$['{key}']" for key in EVENT_KEYS]}, indent=4)

SECONDS_PER_DAY = 86_400
EVENTS_PER_USER = 80  # default user count is events / 80 (sample: 8,056 events, 97 users)
USER_SKEW = 1.6  # user id = 1 + users * u**1.6: low ids are the heavy listeners
PROFILE_CACHE_SIZE = 4_096
PAID_RATE = 0.4
FEMALE_RATE = 0.65
LEVEL_SWITCH_RATE = 0.08  # users who switch free <-> paid once during the period (sample: 8 of 97)
MAX_REGISTRATION_AGE_S = 120 * SECONDS_PER_DAY

OUTSIDE_POOL_SIZE = 5_000  # songs not in the catalog (sample: 5,324 distinct songs in 6,820 plays)
OUTSIDE_BY_CATALOG_ARTIST_RATE = 0.3  # joins on artist alone find these
OUTSIDE_WITH_CATALOG_TITLE_RATE = 0.05  # same title and artist as a catalog song, other length
SONG_POPULARITY_SKEW = 2.0  # pool index = size * u**2: a few songs get many plays

WEEKDAY_WEIGHTS = (1.0, 1.0, 1.25, 1.0, 1.1, 0.6, 0.45)  # Monday first; sample: Wednesday busiest, Sunday quietest
DAY_JITTER_SIGMA = 0.25
HOUR_WEIGHTS = (6, 6, 5, 4, 5, 6, 7, 7, 8, 10, 11, 12, 12, 13, 16, 18, 19, 18, 18, 14, 13, 10, 8, 7)  # UTC
SESSION_LENGTH_ALPHA = 0.8  # events per session = Pareto(0.8), at most 150: median 2, mean about 8.5 (as the sample)
MAX_SESSION_EVENTS = 150
LENGTH_BITS = 8  # a plan entry is start_second << 8 | events
PLANNED_SECONDS_PER_EVENT = 250  # sessions start early enough to end before midnight

LOGGED_OUT_START_RATE = 0.085  # sessions that begin logged out (Home / Login)
MAX_VISITOR_EVENTS = 3
VISITOR_RATE = 0.5  # of those with at most 3 events: a visitor who never logs in
LOGGED_OUT_HOME_FIRST_RATE = 0.65
FIRST_PAGE_HOME_RATE = 0.4
NEXT_SONG_RATE = 0.93  # of pages chosen freely by a logged-in user
SAVE_SETTINGS_RATE = 0.18
LEVEL_PAGE = "Upgrade/Downgrade"  # Upgrade for free users, Downgrade for paid ones
OTHER_PAGES = ("Home", "Settings", "Help", "About", "Error", "Logout", LEVEL_PAGE)
OTHER_PAGE_CUM_WEIGHTS = (192, 248, 286, 308, 317, 407, 479)  # sample counts (Home: not first, not after Login)
VISITOR_PAGES = ("Home", "About", "Help")
VISITOR_PAGE_CUM_WEIGHTS = (80, 92, 100)
BROWSE_GAP_LOG_MEDIAN = 4.1  # seconds after a page other than NextSong: log-normal, median about 60 s
BROWSE_GAP_SIGMA = 1.2
MAX_BROWSE_GAP_S = 3_600

# page -> (method, status), as in the sample.
PAGES = {
    "NextSong": ("PUT", 200), "Home": ("GET", 200), "Login": ("PUT", 307), "Logout": ("PUT", 307),
    "Settings": ("GET", 200), "Save Settings": ("PUT", 307), "Help": ("GET", 200), "About": ("GET", 200),
    "Error": ("GET", 404), "Upgrade": ("GET", 200), "Downgrade": ("GET", 200),
    "Submit Upgrade": ("PUT", 307), "Submit Downgrade": ("PUT", 307),
}
_PAGE_FIELDS = {page: (encode(page), encode(method), status) for page, (method, status) in PAGES.items()}
_LEVEL_JSON = {"free": encode("free"), "paid": encode("paid")}
_OTHER_LEVEL = {"free": "paid", "paid": "free"}
_LOGGED_IN, _LOGGED_OUT = encode("Logged In"), encode("Logged Out")
# The keys of EVENT_KEYS in order, values already JSON; equals encode(event) for the same dict.
_LINE = (
    '{"artist":%s,"auth":%s,"firstName":%s,"gender":%s,"itemInSession":%d,"lastName":%s,"length":%s,'
    '"level":%s,"location":%s,"method":%s,"page":%s,"registration":%s,"sessionId":%d,"song":%s,'
    '"status":%d,"ts":%d,"userAgent":%s,"userId":%s}'
)
_HOUR_TOTAL = sum(HOUR_WEIGHTS)
_HOUR_SHARE = tuple(weight / _HOUR_TOTAL for weight in HOUR_WEIGHTS)
_HOUR_CUMULATIVE = tuple(sum(HOUR_WEIGHTS[:hour]) / _HOUR_TOTAL for hour in range(25))

# A played song: artist, song and length as JSON, and the whole seconds until the next event.
PoolSong = tuple[str, str, str, int]


def epoch_seconds(day: date) -> int:
    """Seconds from 1970-01-01 to `day` at 00:00 UTC."""
    return (day - date(1970, 1, 1)).days * SECONDS_PER_DAY


def day_quotas(events: int, days: int, start: date, seed: int) -> list[int]:
    """Split `events` over the days by weekday weight and random jitter; the parts sum to `events` exactly."""
    rng = random.Random(f"{seed}:days")
    weekdays = [date.fromordinal(start.toordinal() + offset).weekday() for offset in range(days)]
    weights = [WEEKDAY_WEIGHTS[weekday] * rng.lognormvariate(0.0, DAY_JITTER_SIGMA) for weekday in weekdays]
    total = sum(weights)
    shares = [events * weight / total for weight in weights]
    quotas = [int(share) for share in shares]
    by_remainder = sorted(range(days), key=lambda day: (quotas[day] - shares[day], day))
    for day in by_remainder[: events - sum(quotas)]:
        quotas[day] += 1
    return quotas


def _day_share_before(second: int) -> float:
    """Share of a day's sessions that start before `second` (piecewise uniform within each hour)."""
    hour, into_hour = divmod(second, 3600)
    return _HOUR_CUMULATIVE[hour] + _HOUR_SHARE[hour] * into_hour / 3600


def _second_of_day(share: float) -> int:
    """Inverse of `_day_share_before`."""
    hour = bisect_right(_HOUR_CUMULATIVE, share) - 1
    return hour * 3600 + int((share - _HOUR_CUMULATIVE[hour]) / _HOUR_SHARE[hour] * 3600)


def _pool_song(artist: str, title: str, duration: float) -> PoolSong:
    return encode(artist), encode(title), encode(duration), int(duration)


class UserProfile:
    """A user's fixed fields (JSON text) and level: they switch it in their first session after `switch_at_s`."""

    __slots__ = ("number", "first_name", "gender", "last_name", "location", "registration", "user_agent",
                 "user_id", "initial_level", "switch_at_s")


class Session:
    """An open session: its user (None for a visitor who never logs in), state and the next event's time.

    A user's level comes from `EventStream._level(user)`; a visitor's is fixed in `visitor_level`.
    """

    __slots__ = ("session_id", "ts_s", "remaining", "item", "user", "logged_in", "visitor_level", "queued")

    def __init__(
        self, session_id: int, ts_s: int, remaining: int, user: UserProfile | None, logged_in: bool,
        visitor_level: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.ts_s = ts_s
        self.remaining = remaining
        self.item = 0
        self.user = user
        self.logged_in = logged_in
        self.visitor_level = visitor_level
        self.queued: str | None = None  # a page that must come next (Home after Login, Submit after Upgrade, ...)


class EventStream:
    """Produces each day's event lines; counts what it produced."""

    def __init__(
        self, *, seed: int, users: int, match_ratio: float, match_pool: list[Playable], start: date, days: int
    ) -> None:
        self._seed = seed
        self._users = users
        self._match_ratio = match_ratio
        self._rng = random.Random(f"{seed}:events")
        self._millis = self._rng.randrange(1000)  # every ts and registration shares it, like eventsim's "…796"
        self._period_start_s = epoch_seconds(start)
        self._period_end_s = self._period_start_s + days * SECONDS_PER_DAY
        self._day_end_s = self._period_start_s
        self._match_pool = [_pool_song(*song) for song in match_pool]
        self._outside_pool = self._outside_songs(match_pool)
        self._profile = functools.lru_cache(maxsize=PROFILE_CACHE_SIZE)(self._build_profile)
        self._switched: set[int] = set()  # users who submitted their level switch
        self.sessions = 0
        self.next_song_events = 0
        self.logged_out_events = 0
        self.expected_matches = 0

    def _outside_songs(self, match_pool: list[Playable]) -> list[PoolSong]:
        """Songs the catalog lacks; some share an artist, or title and artist, with a catalog song."""
        rng = random.Random(f"{self._seed}:outside")
        songs = []
        for _ in range(OUTSIDE_POOL_SIZE):
            artist, title = artist_name(rng), song_title(rng)
            if match_pool and rng.random() < OUTSIDE_BY_CATALOG_ARTIST_RATE:
                known = rng.choice(match_pool)
                artist = known.artist
                if rng.random() < OUTSIDE_WITH_CATALOG_TITLE_RATE:
                    title = known.title
            songs.append(_pool_song(artist, title, outside_duration(rng)))
        return songs

    def _build_profile(self, user_id: int) -> UserProfile:
        rng = random.Random(f"{self._seed}:user:{user_id}")
        profile = UserProfile()
        profile.number = user_id
        female = rng.random() < FEMALE_RATE
        profile.first_name = encode(rng.choice(vocab.FEMALE_FIRST_NAMES if female else vocab.MALE_FIRST_NAMES))
        profile.gender = encode("F" if female else "M")
        profile.last_name = encode(rng.choice(vocab.USER_LAST_NAMES))
        profile.location = encode(rng.choice(vocab.USER_LOCATIONS))
        registered_s = self._period_start_s - rng.randint(SECONDS_PER_DAY // 2, MAX_REGISTRATION_AGE_S)
        profile.registration = encode(float(registered_s * 1000 + self._millis))
        agent = rng.choice(vocab.USER_AGENTS)
        profile.user_agent = encode(f'"{agent}"' if "," in agent else agent)
        profile.user_id = encode(str(user_id))
        profile.initial_level = "paid" if rng.random() < PAID_RATE else "free"
        switches = rng.random() < LEVEL_SWITCH_RATE
        profile.switch_at_s = rng.randrange(self._period_start_s, self._period_end_s) if switches else None
        return profile

    def day_lines(self, day: date, quota: int) -> Iterator[str]:
        """The `quota` event lines of `day`, ts ascending, all inside the day (UTC)."""
        day_start_s = epoch_seconds(day)
        self._day_end_s = day_start_s + SECONDS_PER_DAY
        open_sessions: list[tuple[int, int, Session]] = []  # heap of (next ts, session id, session)
        for planned in self._plan_day(quota):
            start_s = day_start_s + (planned >> LENGTH_BITS)
            while open_sessions and open_sessions[0][0] <= start_s:
                yield self._emit(open_sessions)
            session = self._open_session(start_s, planned & ((1 << LENGTH_BITS) - 1))
            heapq.heappush(open_sessions, (start_s, session.session_id, session))
        while open_sessions:
            yield self._emit(open_sessions)

    def _plan_day(self, quota: int) -> list[int]:
        """Sessions of the day as `start_second << LENGTH_BITS | events`, sorted; their events sum to `quota`."""
        rng = self._rng
        plan = []
        while quota:
            events = min(int(rng.paretovariate(SESSION_LENGTH_ALPHA)), MAX_SESSION_EVENTS, quota)
            latest_start = SECONDS_PER_DAY - 1 - events * PLANNED_SECONDS_PER_EVENT
            start = _second_of_day(rng.random() * _day_share_before(latest_start))
            plan.append(start << LENGTH_BITS | events)
            quota -= events
        plan.sort()
        return plan

    def _open_session(self, start_s: int, events: int) -> Session:
        rng = self._rng
        self.sessions += 1
        logged_out_start = rng.random() < LOGGED_OUT_START_RATE
        if logged_out_start and events <= MAX_VISITOR_EVENTS and rng.random() < VISITOR_RATE:
            visitor_level = rng.choice(("free", "paid"))
            return Session(self.sessions, start_s, events, None, logged_in=False, visitor_level=visitor_level)
        user = self._profile(1 + int(self._users * rng.random() ** USER_SKEW))
        return Session(self.sessions, start_s, events, user, logged_in=not logged_out_start)

    def _level(self, user: UserProfile) -> str:
        return _OTHER_LEVEL[user.initial_level] if user.number in self._switched else user.initial_level

    def _emit(self, open_sessions: list[tuple[int, int, Session]]) -> str:
        """The earliest open session's next event; that session moves on in the heap, or leaves it when done."""
        session = open_sessions[0][2]
        line = self._event(session)
        if session.remaining:
            heapq.heapreplace(open_sessions, (session.ts_s, session.session_id, session))
        else:
            heapq.heappop(open_sessions)
        return line

    def _choose_page(self, session: Session) -> str:
        rng = self._rng
        if session.queued:
            page, session.queued = session.queued, None
            return page
        if not session.logged_in:
            if session.user is None:
                return rng.choices(VISITOR_PAGES, cum_weights=VISITOR_PAGE_CUM_WEIGHTS)[0]
            if session.item == 0 and rng.random() < LOGGED_OUT_HOME_FIRST_RATE:
                return "Home"
            return "Login"
        user = session.user
        level = self._level(user)
        if user.switch_at_s is not None and session.ts_s >= user.switch_at_s and user.number not in self._switched:
            submit = "Submit Upgrade" if level == "free" else "Submit Downgrade"
            if session.remaining < 2:
                return submit
            session.queued = submit
            return "Upgrade" if level == "free" else "Downgrade"
        if session.item == 0 and rng.random() < FIRST_PAGE_HOME_RATE:
            return "Home"
        if rng.random() < NEXT_SONG_RATE:
            return "NextSong"
        page = rng.choices(OTHER_PAGES, cum_weights=OTHER_PAGE_CUM_WEIGHTS)[0]
        if page == LEVEL_PAGE:
            return "Upgrade" if level == "free" else "Downgrade"
        if page == "Logout":
            if session.remaining < 2:
                return "Home"
            session.queued = "Home"
        elif page == "Settings" and session.remaining >= 2 and rng.random() < SAVE_SETTINGS_RATE:
            session.queued = "Save Settings"
        return page

    def _event(self, session: Session) -> str:
        """The session's next event as a line; then its state, item and time move on."""
        rng = self._rng
        page = self._choose_page(session)
        if page == "NextSong":
            self.next_song_events += 1
            if self._match_pool and rng.random() < self._match_ratio:
                self.expected_matches += 1
                pool = self._match_pool
            else:
                pool = self._outside_pool
            artist, song, length, gap_s = pool[int(len(pool) * rng.random() ** SONG_POPULARITY_SKEW)]
        else:
            artist = song = length = "null"
            gap_s = min(int(rng.lognormvariate(BROWSE_GAP_LOG_MEDIAN, BROWSE_GAP_SIGMA)) + 1, MAX_BROWSE_GAP_S)
        page_json, method, status = _PAGE_FIELDS[page]
        ts_ms = session.ts_s * 1000 + self._millis
        user = session.user
        level = _LEVEL_JSON[self._level(user) if user else session.visitor_level]
        if session.logged_in:
            line = _LINE % (
                artist, _LOGGED_IN, user.first_name, user.gender, session.item, user.last_name, length, level,
                user.location, method, page_json, user.registration, session.session_id, song, status, ts_ms,
                user.user_agent, user.user_id,
            )
        else:
            self.logged_out_events += 1
            line = _LINE % (
                "null", _LOGGED_OUT, "null", "null", session.item, "null", "null", level, "null", method,
                page_json, "null", session.session_id, "null", status, ts_ms, "null", '""',
            )
        if page == "Login":
            session.logged_in = True
            session.queued = "Home"
        elif page == "Logout":
            session.logged_in = False
        elif page.startswith("Submit "):
            self._switched.add(user.number)
        session.item += 1
        session.remaining -= 1
        if session.remaining:
            # Never past the day's last second, however long the songs turn out.
            session.ts_s += min(gap_s, (self._day_end_s - 1 - session.ts_s) // session.remaining)
        return line

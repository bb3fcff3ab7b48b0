"""Command line: `python -m datagen --out DIR [options]` (see --help)."""

import argparse
import sys
from datetime import date

from datagen.dataset import (
    DEFAULT_DAYS, DEFAULT_EVENTS, DEFAULT_MATCH_RATIO, DEFAULT_SEED, DEFAULT_SONGS, DEFAULT_START, DatagenError,
    generate,
)
from datagen.events import EVENTS_PER_USER


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datagen",
        description="Write Sparkify-shaped data laid out like s3://udacity-dend/: OUT/song_data/A/B/C/TR*.json, "
        "OUT/log_data/YYYY/MM/YYYY-MM-DD-events.json and OUT/log_json_path.json. "
        "Same arguments give byte-identical files.",
        epilog="example: python -m datagen --out /tmp/sparkify --events 10000 --songs 2000 --start 2018-11-01 "
        "--days 30 --seed 42",
    )
    parser.add_argument("--out", required=True, help="output directory (new, empty, or an earlier datagen output)")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS,
                        help="number of log events, exact (default: %(default)s)")
    parser.add_argument("--songs", type=int, default=DEFAULT_SONGS,
                        help="number of song files in the catalog (default: %(default)s)")
    parser.add_argument("--start", type=_iso_date, default=DEFAULT_START,
                        help="first day (UTC), YYYY-MM-DD (default: %(default)s)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS,
                        help="number of days, one log file each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    parser.add_argument("--match-ratio", type=float, default=DEFAULT_MATCH_RATIO,
                        help="share of NextSong events that play a catalog song and match it exactly "
                        "on song, artist and length (default: %(default)s)")
    parser.add_argument("--users", type=int, default=None,
                        help=f"number of distinct user ids (default: events / {EVENTS_PER_USER}, at least 1)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty directory that is not an earlier datagen output "
                        "(its song_data/, log_data/ and log_json_path.json are replaced)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (shown on stderr when it is a terminal)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        summary = generate(
            args.out, events=args.events, songs=args.songs, start=args.start, days=args.days, seed=args.seed,
            match_ratio=args.match_ratio, users=args.users, force=args.force,
            progress=False if args.no_progress else None,
        )
    except DatagenError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(f"wrote {summary.files_written} files to {summary.out_dir}")
    for name, value in summary.as_json().items():
        print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

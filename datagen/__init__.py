"""Sparkify-shaped test data: song_data/, log_data/ and log_json_path.json laid out like s3://udacity-dend/.

    from datagen import generate
    summary = generate("out", events=10_000, songs=2_000, start="2018-11-01", days=30, seed=42)

Same fields, types and quirks as the real sample (see /work/shared/data/sparkify/SOURCES.md), deterministic
for a seed, and streamed: memory stays flat from a handful of events to millions. CLI: `python -m datagen --help`.
"""

from datagen.dataset import DatagenError, Summary, generate

__all__ = ["DatagenError", "Summary", "generate"]

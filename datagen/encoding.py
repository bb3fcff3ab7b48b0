"""JSON text in the exact style of the Sparkify S3 files.

Compact separators, sorted keys, ASCII only (other characters as `\\uXXXX`) and `/` written as `\\/`.
Replacing `/` in the whole text is safe: outside strings JSON has no `/`.
"""

import json

_ENCODER = json.JSONEncoder(ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def encode(value: object) -> str:
    """Return `value` as S3-style JSON text; floats use repr, so they read back as the same float."""
    return _ENCODER.encode(value).replace("/", "\\/")

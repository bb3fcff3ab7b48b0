"""Read the objects under an S3 prefix as lines, fetching ahead while the caller loads.

Loading is CPU work and fetching is waiting, so small objects (a song file is ~300 bytes) are
downloaded by a few threads ahead of the consumer, in key order; objects above ``whole_object_limit``
are streamed in chunks instead. Memory is bounded by ``prefetch * whole_object_limit`` whatever
the number or size of the objects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

MiB = 1024 * 1024


def iter_object_lines(
    s3_hook: Any,
    bucket: str,
    prefix: str,
    *,
    prefetch: int = 16,
    whole_object_limit: int = 8 * MiB,
) -> Iterator[tuple[str, Iterable[bytes]]]:
    """Yield ``(key, lines)`` for every object whose key starts with ``prefix``, in key order.

    Like Redshift's COPY, a key is treated as a prefix: ``log_data/2018/11/2018-11-01`` reads every
    object starting with it. Lines come without their line endings.
    """
    client = s3_hook.get_conn()

    def fetch(key: str, size: int) -> Iterable[bytes]:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        if size <= whole_object_limit:
            return body.read().split(b"\n")
        return body.iter_lines(chunk_size=MiB)

    objects = (
        (item["Key"], item["Size"])
        for item in s3_hook.iter_file_metadata(prefix=prefix, bucket_name=bucket)
        if not item["Key"].endswith("/")
    )
    with ThreadPoolExecutor(max_workers=min(prefetch, 8), thread_name_prefix="s3-prefetch") as pool:
        window: deque[tuple[str, Future]] = deque()
        for key, size in objects:
            window.append((key, pool.submit(fetch, key, size)))
            if len(window) >= prefetch:
                key_ready, future = window.popleft()
                yield key_ready, future.result()
        while window:
            key_ready, future = window.popleft()
            yield key_ready, future.result()

"""Read the objects under an S3 prefix as lines, fetching ahead while the caller loads.

Loading is CPU work and fetching is waiting, so small objects (a song file is ~300 bytes) are
downloaded by a few threads ahead of the consumer, in key order; objects above ``whole_object_limit``
are streamed in chunks instead: their first chunk comes ahead, the rest is read by a thread of its
own, once the consumer reaches the object, up to ``READ_AHEAD_CHUNKS`` ahead of it (socket reads
release the GIL while the consumer decodes). Memory is bounded by ``prefetch * whole_object_limit``
plus the chunks read ahead, whatever the number or size of the objects.

A gzip-compressed object (found by its magic bytes, as the ``.gz`` suffix may lie) is decompressed
when the load has COPY's ``GZIP`` option; without it, it comes as ``COMPRESSED``, for the load to
reject with what to do (Redshift's COPY, too, reads compressed objects only with that option).
"""

from __future__ import annotations

import gzip as gzip_format
import queue
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from typing import Any

MiB = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
READ_AHEAD_CHUNKS = 8
"""Chunks (of 1 MiB) of a streamed object read ahead of the consumer."""
_END = object()
COMPRESSED: Iterable[bytes] = ()
"""The lines of a gzip-compressed object read without the GZIP option: none (``is`` tells it apart)."""


def iter_object_lines(
    s3_hook: Any,
    bucket: str,
    prefix: str,
    *,
    prefetch: int = 16,
    whole_object_limit: int = 8 * MiB,
    gzip: bool = False,
) -> Iterator[tuple[str, Iterable[bytes]]]:
    """Yield ``(key, lines)`` for every object whose key starts with ``prefix``, in key order.

    Like Redshift's COPY, a key is treated as a prefix: ``log_data/2018/11/2018-11-01`` reads every
    object starting with it. Lines come without their line endings; ``gzip``: COPY's GZIP option.
    """
    client = s3_hook.get_conn()

    def fetch(key: str, size: int) -> Iterable[bytes]:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        if size <= whole_object_limit:
            data = body.read()
            if data.startswith(GZIP_MAGIC):
                return gzip_format.decompress(data).split(b"\n") if gzip else COMPRESSED
            return data.split(b"\n")
        chunks = body.iter_chunks(chunk_size=MiB)
        first = next(chunks, b"")
        if first.startswith(GZIP_MAGIC):
            return _gzip_lines(first, _read_ahead(chunks, READ_AHEAD_CHUNKS)) if gzip else COMPRESSED
        return _lines(first, _read_ahead(chunks, READ_AHEAD_CHUNKS))

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


def _read_ahead(chunks: Iterator[bytes], depth: int) -> Iterator[bytes]:
    """``chunks``, read by a thread up to ``depth`` ahead from the first ``next``; its error is raised
    here, after the chunks read before it. A consumer that stops early (closing this generator) stops
    the thread after the chunk it is reading."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                ready.put(chunk)
                if stop.is_set():
                    return
            ready.put(_END)
        except BaseException as error:  # raised in the consumer's thread, after the chunks read before it
            ready.put(error)

    reader = threading.Thread(target=read, name="s3-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # make room for the put the thread may be waiting on
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass


def _lines(first: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a stream of chunks."""
    pending = first
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    yield pending


def _gzip_lines(first: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a gzip stream of chunks (one member after another, as ``gzip`` writes them)."""

    def inflated() -> Iterator[bytes]:
        inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        for chunk in chain([first], chunks):
            while chunk:
                yield inflate.decompress(chunk)
                if not inflate.eof:
                    break
                chunk = inflate.unused_data
                inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        yield inflate.flush()

    return _lines(b"", inflated())

"""Reading S3 objects as lines: whole or streamed, plain or gzip-compressed (found by magic bytes)."""

import gzip
import io
import threading

import pytest

from helpers.s3_objects import COMPRESSED, iter_object_lines

LINES = [b'{"a": %d}' % number for number in range(2000)]
PLAIN = b"\n".join(LINES)


class Body:
    def __init__(self, data):
        self.data = data

    def read(self):
        return self.data

    def iter_chunks(self, chunk_size):
        stream = io.BytesIO(self.data)
        while chunk := stream.read(7):  # small chunks: lines and gzip members straddle them
            yield chunk


class Bucket:
    """What iter_object_lines uses of an S3Hook: the listing and get_object."""

    def __init__(self, objects):
        self.objects = objects

    def iter_file_metadata(self, prefix, bucket_name):
        return [{"Key": key, "Size": len(data)} for key, data in sorted(self.objects.items()) if key.startswith(prefix)]

    def get_conn(self):
        return self

    def get_object(self, Bucket, Key):
        return {"Body": Body(self.objects[Key])}


def read(data, **options):
    ((key, lines),) = list(iter_object_lines(Bucket({"day.json": data}), "bucket", "day", **options))
    return lines if lines is COMPRESSED else list(lines)


@pytest.mark.parametrize("whole_object_limit", [10**9, 10], ids=["whole", "streamed"])
def test_plain_and_gzip_objects_give_the_same_lines(whole_object_limit):
    assert read(PLAIN, whole_object_limit=whole_object_limit) == LINES
    assert read(gzip.compress(PLAIN), whole_object_limit=whole_object_limit, gzip=True) == LINES
    members = gzip.compress(b"\n".join(LINES[:1000]) + b"\n") + gzip.compress(b"\n".join(LINES[1000:]))
    assert read(members, whole_object_limit=whole_object_limit, gzip=True) == LINES


@pytest.mark.parametrize("whole_object_limit", [10**9, 10], ids=["whole", "streamed"])
def test_a_gzip_object_without_the_gzip_option_comes_as_compressed(whole_object_limit):
    assert read(gzip.compress(PLAIN), whole_object_limit=whole_object_limit) is COMPRESSED
    assert read(PLAIN, whole_object_limit=whole_object_limit, gzip=True) == LINES  # the option reads plain ones too


class BrokenBody(Body):
    """A stream that fails after ``good`` chunks, as a dropped connection does mid-object."""

    def __init__(self, data, good):
        super().__init__(data)
        self.good = good
        self.chunks_read = 0

    def iter_chunks(self, chunk_size):
        for chunk in super().iter_chunks(chunk_size):
            if self.chunks_read == self.good:
                raise ConnectionResetError("connection reset by peer")
            self.chunks_read += 1
            yield chunk


def test_a_stream_that_fails_midway_raises_its_error_after_the_lines_read_before_it():
    body = BrokenBody(PLAIN, good=100)  # 700 bytes: the first lines
    bucket = Bucket({"day.json": PLAIN})
    bucket.get_object = lambda Bucket, Key: {"Body": body}
    ((_, lines),) = list(iter_object_lines(bucket, "bucket", "day", whole_object_limit=10))
    read = []
    with pytest.raises(ConnectionResetError, match="connection reset by peer"):
        for line in lines:
            read.append(line)
    assert read == LINES[:len(read)] and read and len(b"\n".join(read)) <= 700


def test_a_consumer_that_stops_early_stops_the_stream_reading_ahead():
    body = BrokenBody(PLAIN * 50, good=10**9)  # about 140,000 chunks: never read to the end
    bucket = Bucket({"day.json": PLAIN * 50})
    bucket.get_object = lambda Bucket, Key: {"Body": body}
    ((_, lines),) = list(iter_object_lines(bucket, "bucket", "day", whole_object_limit=10))
    lines = iter(lines)
    assert next(lines) == LINES[0]
    lines.close()  # the load stopped (say, too many rejects)
    assert not [thread for thread in threading.enumerate() if thread.name == "s3-read-ahead"]
    assert body.chunks_read < 1000

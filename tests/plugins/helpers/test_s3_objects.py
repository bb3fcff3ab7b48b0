"""Reading S3 objects as lines: whole or streamed, plain or gzip-compressed (found by magic bytes)."""

import gzip
import io

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

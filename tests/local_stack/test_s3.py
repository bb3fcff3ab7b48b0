"""moto S3 server process, bucket creation, upload_tree and seeding."""

import pytest

from local_stack.process import ANY_PORT, session_members
from local_stack.s3 import S3Server, Seed, client, create_bucket, upload_tree


def make_tree(root):
    """A small Sparkify-shaped tree plus an entry that must not be uploaded."""
    files = {
        "log_data/2018/11/2018-11-01-events.json": b'{"ts": 1}',
        "log_data/2018/11/2018-11-02-events.json": b'{"ts": 2}',
        "song_data/A/B/C/TRABC1.json": b'{"song_id": "S1"}',
        "song_data/A/B/D/TRABD1.json": b'{"song_id": "S2"}',
        "log_json_path.json": b'{"jsonpaths": []}',
        "README.md": b"not part of the bucket",
    }
    for key, body in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    return {k: v for k, v in files.items() if k != "README.md"}


def bucket_contents(endpoint_url, bucket):
    s3 = client(endpoint_url)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_upload_tree_puts_exactly_the_sparkify_prefixes(tmp_path, s3_server, s3_bucket):
    expected = make_tree(tmp_path)
    stats = upload_tree(tmp_path, s3_bucket, s3_server, progress=False)
    assert (stats.files, stats.bytes) == (len(expected), sum(map(len, expected.values())))
    assert bucket_contents(s3_server, s3_bucket) == expected


def test_upload_tree_names_a_missing_prefix(tmp_path, s3_server, s3_bucket):
    with pytest.raises(FileNotFoundError, match="song_data not found"):
        upload_tree(tmp_path, s3_bucket, s3_server, prefixes=("song_data",), progress=False)


def test_create_bucket_is_idempotent(s3_server, s3_bucket):
    create_bucket(s3_server, s3_bucket)
    assert s3_bucket in [b["Name"] for b in client(s3_server).list_buckets()["Buckets"]]


def test_seeded_server_starts_with_the_tree_and_stop_leaves_nothing(tmp_path):
    expected = make_tree(tmp_path / "tree")
    server = S3Server(ANY_PORT, tmp_path / "s3.log", seed=Seed("seeded", tmp_path / "tree"))
    record = server.start()
    try:
        assert server.is_running() and server.answers()
        assert bucket_contents(server.endpoint_url, "seeded") == expected
    finally:
        assert server.stop()
    assert session_members(record.pid) == []
    assert not server.answers()

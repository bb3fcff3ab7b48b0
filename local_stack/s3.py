"""Local S3: a moto server process on 127.0.0.1, bucket creation and a parallel tree upload.

moto keeps objects in memory: a restarted server starts empty unless it is seeded at start.
Uploading over HTTP costs moto ~3 ms of CPU per object (15k files: ~50 s); seeding at start
(`S3Server(..., seed=Seed(...))`) loads the same tree in ~2 s.
"""

from __future__ import annotations

import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from tqdm import tqdm

from local_stack import timeouts
from local_stack.process import ChildServer

log = logging.getLogger(__name__)


REGION = "us-west-2"
# moto accepts any keys. Airflow masks the secret wherever it appears in a log, so it must not be a
# word that occurs in names (a secret of "local" turned "sparkify-local" into "sparkify-***").
ACCESS_KEY = "sparkify-local-access-key"
SECRET_KEY = "sparkify-local-secret-key-0f3c9a"
SPARKIFY_PREFIXES = ("log_data", "song_data", "log_json_path.json")


@dataclass(frozen=True)
class Seed:
    """A bucket to create at server start, loaded with local_dir/<prefixes>."""

    bucket: str
    local_dir: Path
    prefixes: tuple[str, ...] = SPARKIFY_PREFIXES


class S3Server(ChildServer):
    """A moto S3 server on host:port, run as `python -m local_stack.moto_server` in its own session."""

    what = "moto S3"

    def __init__(self, port: int, log_file: Path, host: str = "127.0.0.1", seed: Seed | None = None) -> None:
        super().__init__(port, log_file, host)
        self.seed = seed
        self.start_timeout = timeouts.S3_SEEDED_START if seed else timeouts.SERVER_START

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self, fd: int | None = None) -> list[str]:
        """The server's command line (on the inherited listening socket fd, if given), seeding first if set."""
        cmd = [sys.executable, "-m", "local_stack.moto_server", "--host", self.host, "--port", str(self.port)]
        if fd is not None:
            cmd += ["--fd", str(fd)]
        if self.seed:
            check_tree(self.seed.local_dir, self.seed.prefixes)  # fail here, not in the child
            cmd += ["--seed", f"{self.seed.bucket}={self.seed.local_dir.resolve()}"]
            cmd += [arg for prefix in self.seed.prefixes for arg in ("--prefix", prefix)]
        return cmd

    def answers(self) -> bool:
        """True if an S3 server responds on the endpoint."""
        try:
            with urllib.request.urlopen(self.endpoint_url, timeout=timeouts.PROBE):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False


def client(endpoint_url: str, max_pool_connections: int = 10) -> BaseClient:
    """A boto3 S3 client for the local endpoint with the stack's dummy credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(max_pool_connections=max_pool_connections, retries={"max_attempts": 3}),
    )


def create_bucket(endpoint_url: str, bucket: str) -> None:
    """Create bucket in REGION; no-op if it already exists."""
    try:
        client(endpoint_url).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


@dataclass(frozen=True)
class UploadStats:
    files: int
    bytes: int
    seconds: float


def check_tree(local_dir: Path, prefixes: Iterable[str]) -> None:
    """Raise FileNotFoundError unless every local_dir/<prefix> exists."""
    for prefix in prefixes:
        if not (local_dir / prefix).exists():
            raise FileNotFoundError(f"{local_dir / prefix} not found (expected a Sparkify bucket layout in {local_dir})")


def tree_files(local_dir: Path, prefixes: Iterable[str]) -> list[Path]:
    """Files under local_dir/<prefix> for each prefix (a file or a directory)."""
    prefixes = tuple(prefixes)
    check_tree(local_dir, prefixes)
    files: list[Path] = []
    for prefix in prefixes:
        entry = local_dir / prefix
        files.extend(sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry])
    return files


def upload_tree(
    local_dir: Path | str,
    bucket: str,
    endpoint_url: str,
    prefixes: Iterable[str] = SPARKIFY_PREFIXES,
    *,
    workers: int = 8,
    progress: bool = True,
) -> UploadStats:
    """Upload local_dir/<prefix> entries to s3://bucket/<same relative key>, in parallel threads.

    Each prefix names a file or directory directly under local_dir; nothing else is uploaded.
    The bucket must exist. Shows a tqdm progress bar on stderr unless progress=False.
    """
    root = Path(local_dir)
    files = tree_files(root, prefixes)
    s3 = client(endpoint_url, max_pool_connections=workers)  # boto3 clients are thread-safe
    began = time.monotonic()

    def put(path: Path) -> int:
        data = path.read_bytes()
        s3.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=data)
        return len(data)

    total = 0
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
        total=len(files), unit="file", desc=f"s3://{bucket}", disable=not progress
    ) as bar:
        for size in pool.map(put, files):
            total += size
            bar.update()
    stats = UploadStats(files=len(files), bytes=total, seconds=time.monotonic() - began)
    log.info("uploaded %d files (%d bytes) to s3://%s in %.1fs", stats.files, stats.bytes, bucket, stats.seconds)
    return stats

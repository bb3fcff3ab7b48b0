"""A GX store backend on S3, through the Amazon provider's S3Hook: validation results and Data Docs
that every worker and the API server share.

GX 1.x dropped its own S3 backend (TupleS3StoreBackend, removed with the other deprecated cloud
backends in great_expectations PR #11675; the maintainers point to a filesystem store synced to S3).
A synced copy cannot serve many workers: each builds the Data Docs index from the results on its own
disk. This backend keeps GX's key layout (TupleStoreBackend's filepath templates, prefixes and
suffixes) and reads and writes objects under ``s3://<bucket>/<prefix>/``, with the credentials and
endpoint of an Airflow AWS connection, so the store needs no key of its own. GX loads it by name:

    store_backend:
      module_name: quality_gate.s3_store
      class_name: S3StoreBackend
      bucket: my-bucket
      prefix: gx/validations

It imports GX: only GX loads it (from a store's config), never a DAG file.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

from great_expectations.data_context.store.tuple_store_backend import TupleStoreBackend
from great_expectations.exceptions import InvalidKeyError, StoreBackendError

AWS_CONN_ID = "aws_credentials"


_HOOKS: dict[tuple[str, str], Any] = {}


def shared_hook(aws_conn_id: str) -> Any:
    """The S3Hook of ``aws_conn_id`` as it is now, one per process: a context has a backend per store and
    site (six in a validation task), and each hook's boto3 client costs 0.1-0.3 s of CPU to make. A
    changed connection gets a hook of its own (keyed by a hash of its URI, never the URI itself)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import BaseHook

    key = (aws_conn_id, hashlib.sha256(BaseHook.get_connection(aws_conn_id).get_uri().encode()).hexdigest())
    if key not in _HOOKS:
        _HOOKS[key] = S3Hook(aws_conn_id=aws_conn_id)
    return _HOOKS[key]


class S3StoreBackend(TupleStoreBackend):
    """Objects ``<prefix>/<GX's file path of the key>`` in ``bucket``, through S3Hook(``aws_conn_id``)."""

    def __init__(  # the keyword arguments are TupleStoreBackend's, which GX passes from the store's config
        self,
        bucket: str,
        prefix: str = "",
        aws_conn_id: str = AWS_CONN_ID,
        filepath_template: str | None = None,
        filepath_prefix: str | None = None,
        filepath_suffix: str | None = None,
        forbidden_substrings: list[str] | None = None,
        fixed_length_key: bool = False,
        suppress_store_backend_id: bool = False,
        manually_initialize_store_backend_id: str = "",
        store_name: str | None = None,
    ) -> None:
        super().__init__(
            filepath_template=filepath_template,
            filepath_prefix=filepath_prefix,
            filepath_suffix=filepath_suffix,
            forbidden_substrings=forbidden_substrings,
            platform_specific_separator=False,  # S3 keys use "/" on every platform
            fixed_length_key=fixed_length_key,
            suppress_store_backend_id=suppress_store_backend_id,
            manually_initialize_store_backend_id=manually_initialize_store_backend_id,
            store_name=store_name,
        )
        if not bucket:
            raise StoreBackendError("S3StoreBackend needs a bucket.")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.aws_conn_id = aws_conn_id
        self._config = {
            key: value
            for key, value in {
                "bucket": bucket, "prefix": prefix, "aws_conn_id": aws_conn_id,
                "filepath_template": filepath_template, "filepath_prefix": filepath_prefix,
                "filepath_suffix": filepath_suffix, "forbidden_substrings": forbidden_substrings,
                "fixed_length_key": fixed_length_key, "suppress_store_backend_id": suppress_store_backend_id,
                "manually_initialize_store_backend_id": manually_initialize_store_backend_id,
                "store_name": store_name,
                "module_name": self.__class__.__module__, "class_name": self.__class__.__name__,
            }.items()
            if value
        }
        if not self._suppress_store_backend_id:
            _ = self.store_backend_id

    @property
    def config(self) -> dict:
        return self._config

    @cached_property
    def hook(self) -> Any:
        return shared_hook(self.aws_conn_id)

    @property
    def client(self) -> Any:
        """The hook's boto3 client. Reads go through it, not S3Hook.read_key, which builds a boto3
        session and resource for every object it reads (0.2-1.3 s each; a validation reads five)."""
        return self.hook.get_conn()

    def object_key(self, key: tuple) -> str:
        """The S3 key holding GX's ``key``."""
        path = self._convert_key_to_filepath(key)
        return f"{self.prefix}/{path}" if self.prefix else path

    def _get(self, key: tuple) -> str:
        name = self.object_key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise InvalidKeyError(f"No object s3://{self.bucket}/{name} for GX key {key}.") from None
        return body.decode("utf-8").rstrip("\n")

    def _get_all(self) -> list[Any]:
        return [self._get(key) for key in self.list_keys() if key != self.STORE_BACKEND_ID_KEY]

    def _set(self, key: Any, value: str | bytes, content_type: str | None = None, **kwargs: Any) -> str:
        if not isinstance(key, tuple):
            key = key.to_tuple()
        name = self.object_key(key)
        body = value.encode("utf-8") if isinstance(value, str) else value
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=name, Body=body, **extra)
        return name

    def _move(self, source_key: tuple, dest_key: tuple, **kwargs: Any) -> tuple | bool:
        if not self._has_key(source_key):
            return False
        self.hook.copy_object(self.object_key(source_key), self.object_key(dest_key),
                              source_bucket_name=self.bucket, dest_bucket_name=self.bucket)
        self.hook.delete_objects(self.bucket, [self.object_key(source_key)])
        return dest_key

    def list_keys(self, prefix: tuple = ()) -> list[tuple]:
        base = f"{self.prefix}/" if self.prefix else ""
        below = base + "".join(f"{part}/" for part in prefix)
        keys = []
        for name in self.hook.list_keys(bucket_name=self.bucket, prefix=below) or []:
            path = name[len(base):]
            if self._is_missing_prefix_or_suffix(self.filepath_prefix, self.filepath_suffix, path):
                continue
            key = self._convert_filepath_to_key(path)
            if key and not self.is_ignored_key(key):
                keys.append(key)
        return keys

    def _has_key(self, key: tuple) -> bool:
        return self.hook.check_for_key(self.object_key(key), bucket_name=self.bucket)

    def remove_key(self, key: Any) -> bool:
        if not isinstance(key, tuple):
            key = key.to_tuple()
        if not self._has_key(key):
            return False
        self.hook.delete_objects(self.bucket, [self.object_key(key)])
        return True

    def get_url_for_key(self, key: tuple, protocol: str | None = None) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

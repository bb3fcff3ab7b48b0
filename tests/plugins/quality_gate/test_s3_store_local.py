"""quality_gate.s3_store on the local stack's moto S3: GX's keys round-trip, and two contexts (two
workers) share validation results and the Data Docs site through it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from quality_gate.gx_context import DOCS_SITE, docs_pages, docs_site
from quality_gate.s3_store import S3StoreBackend


def objects(s3_client, bucket: str, prefix: str = "") -> list[str]:
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_keys_round_trip_under_the_prefix_only(airflow_connections, s3_client, s3_bucket):
    from great_expectations.exceptions import InvalidKeyError

    backend = S3StoreBackend(bucket=s3_bucket, prefix="gx/results/", filepath_suffix=".json",
                             suppress_store_backend_id=True)
    other = S3StoreBackend(bucket=s3_bucket, prefix="gx/other", suppress_store_backend_id=True)
    backend.set(("songs", "run 1", "day"), '{"a": 1}')
    backend.set(("songs", "run 2", "day"), b'{"b": 2}')
    other.set(("songs",), "elsewhere")

    assert objects(s3_client, s3_bucket) == ["gx/other/songs", "gx/results/songs/run 1/day.json",
                                             "gx/results/songs/run 2/day.json"]
    assert backend.get(("songs", "run 1", "day")) == '{"a": 1}'
    assert sorted(backend.list_keys()) == [("songs", "run 1", "day"), ("songs", "run 2", "day")]
    assert backend.list_keys(("songs", "run 2")) == [("songs", "run 2", "day")]
    assert backend.has_key(("songs", "run 2", "day")) and not backend.has_key(("songs", "run 3", "day"))
    assert backend.get_url_for_key(("songs", "run 1", "day")) == f"s3://{s3_bucket}/gx/results/songs/run 1/day.json"

    assert backend.remove_key(("songs", "run 1", "day")) is True
    assert backend.remove_key(("songs", "run 1", "day")) is False
    with pytest.raises(InvalidKeyError, match=f"s3://{s3_bucket}/gx/results/songs/run 1/day.json"):
        backend.get(("songs", "run 1", "day"))
    assert other.get(("songs",)) == "elsewhere"


def test_a_backend_id_is_kept_in_the_bucket_and_shared(airflow_connections, s3_bucket):
    first = S3StoreBackend(bucket=s3_bucket, prefix="gx/results")
    assert S3StoreBackend(bucket=s3_bucket, prefix="gx/results").store_backend_id == first.store_backend_id


def test_backends_share_one_client_per_connection_and_a_changed_connection_gets_its_own(
        airflow_connections_for, airflow_connections, warehouse, s3_server, s3_bucket, closed_port):
    results, site = (S3StoreBackend(bucket=s3_bucket, prefix=prefix, suppress_store_backend_id=True)
                     for prefix in ("gx/validations", "gx/data_docs"))
    assert results.client is site.client

    elsewhere = f"http://127.0.0.1:{closed_port}"
    airflow_connections_for(warehouse, elsewhere, s3_bucket)
    moved = S3StoreBackend(bucket=s3_bucket, prefix="gx/validations", suppress_store_backend_id=True)
    assert moved.client.meta.endpoint_url == elsewhere and results.client.meta.endpoint_url == s3_server
    results.set(("songs",), "kept")
    assert site.client is results.client and results.get(("songs",)) == "kept"


def worker_context(bucket: str):
    """An in-memory GX context whose validation results and Data Docs site are in ``bucket``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    def on_s3(prefix: str) -> dict:
        return {"module_name": "quality_gate.s3_store", "class_name": "S3StoreBackend", "bucket": bucket, "prefix": prefix}

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                               analytics_enabled=False)
    config.stores["validation_results_store"] = {"class_name": "ValidationResultsStore",
                                                 "store_backend": on_s3("gx/validations")}
    config.data_docs_sites = {DOCS_SITE: {"class_name": "SiteBuilder", "store_backend": on_s3("gx/data_docs")}}
    return gx.get_context(mode="ephemeral", project_config=config)


def validate(context, rows: list[int], run_name: str):
    import great_expectations as gx
    import pandas as pd
    from great_expectations.checkpoint import UpdateDataDocsAction

    batch = context.data_sources.add_pandas("frames").add_dataframe_asset("plays").add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name="plays"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=10))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name="plays", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="plays", validation_definitions=[validation],
        actions=[UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])]))
    return checkpoint.run(batch_parameters={"dataframe": pd.DataFrame({"n": rows})}, run_id=gx.RunIdentifier(run_name=run_name))


def test_two_workers_share_validation_results_and_the_data_docs_site(airflow_connections, s3_client, s3_bucket):
    passed = validate(worker_context(s3_bucket), [1, 2], "worker 1")
    failed = validate(other_worker := worker_context(s3_bucket), [1, 20], "worker 2")
    assert passed.success and not failed.success

    keys = other_worker.validation_results_store.list_keys()
    assert sorted(key.run_id.run_name for key in keys) == ["worker 1", "worker 2"]
    pages = [page for page in objects(s3_client, s3_bucket, "gx/data_docs/validations/") if page.endswith(".html")]
    assert len(pages) == 2
    index = s3_client.get_object(Bucket=s3_bucket, Key="gx/data_docs/index.html")
    assert index["ContentType"].startswith("text/html")
    index_html = index["Body"].read().decode()
    assert all(quote(page.removeprefix("gx/data_docs/")) in index_html for page in pages)  # the second build saw the first's result
    (site,) = other_worker.get_docs_sites_urls(resource_identifier=keys[0], site_names=[DOCS_SITE])
    assert site["site_url"].startswith(f"s3://{s3_bucket}/gx/data_docs/validations/plays/")


def test_the_data_docs_site_in_s3_reads_its_pages_and_nothing_outside_it(airflow_connections, s3_client, s3_bucket):
    context = worker_context(s3_bucket)
    result = validate(context, [1, 2], "worker 1")
    s3_client.put_object(Bucket=s3_bucket, Key="gx/secret.txt", Body=b"outside the site")
    site = docs_site(context)
    (page,) = docs_pages(context, result)

    assert site.root == f"s3://{s3_bucket}/gx/data_docs/" and page.startswith("validations/plays/worker 1/")
    assert b"plays" in site.read(page) and site.location(page) == f"s3://{s3_bucket}/gx/data_docs/{page}"
    assert site.read("") == site.read("index.html") and b"<html" in site.read("")
    for outside in ("../secret.txt", "validations/../../secret.txt", "nope.html", "validations"):
        assert site.read(outside) is None, outside

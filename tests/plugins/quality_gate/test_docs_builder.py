"""quality_gate.docs_builder: a validation's Data Docs update renders its own pages without listing the
stores, the index is built when asked for, and a build of the whole site is GX's."""

from __future__ import annotations

from pathlib import Path

import pytest

from quality_gate.docs_builder import PagesSiteBuilder, site_builder
from quality_gate.gx_context import DOCS_SITE


@pytest.fixture
def context(tmp_path):
    """An in-memory GX context whose Data Docs site, built by PagesSiteBuilder, is in tmp_path/site."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                               analytics_enabled=False)
    config.data_docs_sites = {DOCS_SITE: {
        "module_name": "quality_gate.docs_builder", "class_name": "PagesSiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(tmp_path / "site")},
    }}
    return gx.get_context(mode="ephemeral", project_config=config)


@pytest.fixture
def validate(context):
    """validate(rows, run_name): the checkpoint `plays` (n between 0 and 10, Data Docs updated) on ``rows``."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.checkpoint import UpdateDataDocsAction

    batch = context.data_sources.add_pandas("frames").add_dataframe_asset("plays").add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name="plays"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=10))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name="plays", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="plays", validation_definitions=[validation], actions=[UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])]))

    def run(rows: list[int], run_name: str):
        return checkpoint.run(batch_parameters={"dataframe": pd.DataFrame({"n": rows})},
                              run_id=gx.RunIdentifier(run_name=run_name))

    return run


def site_files(tmp_path: Path, folder: str = "") -> list[str]:
    return sorted(str(path.relative_to(tmp_path / "site")) for path in (tmp_path / "site" / folder).rglob("*.html"))


def test_a_validations_update_renders_its_own_pages_and_lists_no_store(context, validate, tmp_path, monkeypatch):
    validate([1, 2], "run 1")
    listed = []
    for store in (context.validation_results_store, context.expectations_store):
        backend = store.store_backend
        monkeypatch.setattr(backend, "list_keys", lambda *args, _list=backend.list_keys, **kwargs: listed.append(1) or _list(*args, **kwargs))
    result = validate([1, 20], "run 2")
    validate([3], None)  # a run without a name, as the provider's operator runs a checkpoint

    assert not result.success and listed == []
    pages = site_files(tmp_path, "validations")
    assert [page.split("/")[2] for page in pages] == ["__none__", "run 1", "run 2"]
    failed = next(page for page in pages if "/run 2/" in page)
    assert "Failed" in (tmp_path / "site" / failed).read_text()
    assert site_files(tmp_path, "expectations") == ["expectations/plays.html"]
    assert not (tmp_path / "site" / "index.html").exists()  # left to build_index


def test_the_index_is_built_on_demand_from_every_stored_validation(context, validate, tmp_path):
    validate([1, 2], "run 1")
    validate([1, 20], "run 2")
    builder = site_builder(context, DOCS_SITE)
    assert isinstance(builder, PagesSiteBuilder)

    builder.build_index()

    index = (tmp_path / "site" / "index.html").read_text()
    assert all(page.replace(" ", "%20") in index or page in index for page in site_files(tmp_path, "validations"))
    assert (tmp_path / "site" / "static").is_dir()  # the stylesheets and scripts every page links to


def test_a_build_of_the_whole_site_is_gxs(context, validate, tmp_path):
    validate([1, 2], "run 1")
    (page,) = site_files(tmp_path, "validations")
    (tmp_path / "site" / page).unlink()

    context.build_data_docs(site_names=[DOCS_SITE])

    assert site_files(tmp_path, "validations") == [page] and (tmp_path / "site" / "index.html").is_file()

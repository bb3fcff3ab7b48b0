"""The Data Docs site's builder: a validation's update renders its own pages; the index is built when it is read.

GX's ``SiteBuilder``, on every checkpoint's ``UpdateDataDocsAction``, lists every key of the
validation results store and of the site, and reads back the latest ``validation_results_limit``
results for its index page, even to render one validation's page: each validation task's update
grows with the store's history (docs/performance.md, P3). ``PagesSiteBuilder``, the site's class in
gx/great_expectations.yml, renders the pages of the resources it is given exactly as GX's section
builders do, without listing anything, and leaves the index to ``build_index``: the Data Docs
plugin builds it when ``index.html`` is asked for, and ``./sparkify gx validate`` once it has
validated. Asked for no resources in particular (``./sparkify gx docs``), it is GX's full build.

Imported by GX when it makes the site (``module_name`` in the site's config), never by a DAG file.
"""

from __future__ import annotations

from typing import Any

from great_expectations.core import ExpectationSuite
from great_expectations.data_context.store.html_site_store import SiteSectionIdentifier
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.data_context.util import instantiate_class_from_config
from great_expectations.render.renderer.site_builder import DefaultSiteSectionBuilder, SiteBuilder
from great_expectations.render.util import resource_key_passes_run_name_filter


class PagesSiteBuilder(SiteBuilder):
    """GX's SiteBuilder that, given resources, renders only their pages and not the index."""

    def build(self, resource_identifiers: list | None = None, build_index: bool = True) -> tuple[Any, Any]:
        if not resource_identifiers:
            return super().build(resource_identifiers, build_index=build_index)
        for section in self.site_section_builders.values():
            for key in resource_identifiers:
                if _in_section(section, key):
                    _render(section, key)
        return self.get_resource_url(only_if_exists=False), None

    def build_index(self) -> None:
        """The index page (and the static assets it and every page use), from the stores as they are now."""
        self.target_store.copy_static_assets()
        self.site_index_builder.build()


def _in_section(section: DefaultSiteSectionBuilder, key: Any) -> bool:
    """Whether GX's ``section`` would render ``key`` when building the whole site."""
    if section.name == "expectations":
        return isinstance(key, ExpectationSuiteIdentifier)
    if not isinstance(key, ValidationResultIdentifier):
        return False
    listed = ValidationResultIdentifier.from_tuple(key.to_tuple())  # as the store lists it: no run name is "__none__"
    return not section.run_name_filter or resource_key_passes_run_name_filter(listed, section.run_name_filter)


def _render(section: DefaultSiteSectionBuilder, key: Any) -> None:
    """``key``'s page, as DefaultSiteSectionBuilder.build renders each key it keeps (GX has no call for one key)."""
    resource = section.source_store.get(key)
    if isinstance(key, ExpectationSuiteIdentifier):
        resource = ExpectationSuite(**resource)
    page = section.view_class.render(section.renderer_class.render(resource), data_context_id=section.data_context_id,
                                     show_how_to_buttons=section.show_how_to_buttons)
    section.target_store.set(SiteSectionIdentifier(site_section_name=section.name, resource_identifier=key), page)


def site_builder(context: Any, site_name: str) -> SiteBuilder:
    """The builder of ``context``'s site ``site_name``, made as GX makes it for build_data_docs."""
    return instantiate_class_from_config(
        config=context.variables.data_docs_sites[site_name],
        runtime_environment={"data_context": context, "root_directory": context.root_directory, "site_name": site_name},
        config_defaults={"class_name": "SiteBuilder", "module_name": "great_expectations.render.renderer.site_builder"},
    )

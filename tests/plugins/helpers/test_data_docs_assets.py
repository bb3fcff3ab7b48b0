"""helpers.data_docs_assets: every CDN address of GX's templates has its vendored copy, fetched checked."""

import io
import tarfile
from pathlib import Path

import pytest

from helpers import data_docs_assets
from helpers.data_docs_assets import CDN, PACKAGES

GX_TEMPLATES = Path(__import__("great_expectations").__file__).parent / "render"


def test_every_script_and_style_gx_loads_from_a_cdn_is_vendored():
    import re

    used = set()
    for template in GX_TEMPLATES.rglob("*"):
        if template.suffix in (".j2", ".py"):
            used |= set(re.findall(r"https://[\w.-]+/[\w./@-]+\.(?:js|css)|https://cdn\.jsdelivr\.net/npm/vega[\w-]*@\d",
                                   template.read_text(encoding="utf-8")))
    assert used and used <= set(CDN)
    for url in CDN:
        package, file = CDN[url]
        assert any(file == entry or file.startswith(entry) for entry in next(p for p in PACKAGES if p.name == package).files)


def test_pages_get_local_addresses_longest_first():
    page = ('<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
            '<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>')
    assert data_docs_assets.local_addresses(page, "/data-docs/") == (
        '<script src="/data-docs/_vendor/vega@5.33.1/build/vega.min.js"></script>'
        '<script src="/data-docs/_vendor/vega-lite@5.23.0/build/vega-lite.min.js"></script>')


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as archive:
        data = b"evil()"
        info = tarfile.TarInfo("package/dist/jquery.min.js")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(data_docs_assets, "PACKAGES", PACKAGES[:1])

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(data_docs_assets.urllib.request, "urlopen", lambda url, timeout: Response(payload.getvalue()))
    with pytest.raises(ValueError, match=r"jquery-3\.7\.1\.tgz: sha512 .* is not the pinned"):
        data_docs_assets.fetch(tmp_path)
    assert not any(tmp_path.iterdir())

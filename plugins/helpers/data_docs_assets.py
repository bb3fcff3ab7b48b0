"""The scripts and styles GX's Data Docs load from public CDNs, vendored from the npm registry.

GX's pages (its index, each validation) load jQuery, Bootstrap, bootstrap-table, Font Awesome and
Vega from CDNs, so where the Airflow UI has no internet access they render unstyled and GX's index
shows no table. ``fetch`` downloads the same versions from the npm registry once (each tarball
checked against its pinned sha512) into ``gx/uncommitted/data_docs_vendor/``; the Data Docs plugin
serves that folder at ``/data-docs/_vendor/`` and ``local_addresses`` rewrites the CDN addresses of
every page it serves. ``./sparkify`` fetches them when it installs the environment; the production
image (deploy/Dockerfile) calls ``fetch`` as it is built.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR_DIR = Path(__file__).resolve().parents[2] / "gx" / "uncommitted" / "data_docs_vendor"
URL_PATH = "_vendor"
"""Where the Data Docs plugin serves ``VENDOR_DIR``, below the site's root."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    """The tarball's sha512, as the registry publishes it."""
    files: tuple[str, ...]
    """Paths in the package (a path ending in / takes the folder)."""

    @property
    def folder(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES = (
    Package("jquery", "3.7.1", "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
            ("dist/jquery.min.js",)),
    Package("bootstrap", "4.3.1", "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
            ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js")),
    Package("popper.js", "1.12.9", "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
            ("dist/umd/popper.min.js",)),
    Package("bootstrap-table", "1.19.1",
            "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
            ("dist/bootstrap-table.min.css", "dist/bootstrap-table.min.js",
             "dist/extensions/filter-control/bootstrap-table-filter-control.css",
             "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
             "dist/extensions/filter-control/bootstrap-table-filter-control.min.js")),
    Package("bootstrap-datepicker", "1.9.0",
            "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
            ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js")),
    Package("@fortawesome/fontawesome-free", "6.6.0",
            "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
            ("css/all.min.css", "webfonts/")),
    Package("@forevolve/bootstrap-dark", "1.1.0",
            "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
            ("dist/css/bootstrap-prefers-dark.css",)),
    Package("vega", "5.33.1", "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
            ("build/vega.min.js",)),
    Package("vega-lite", "5.23.0", "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
            ("build/vega-lite.min.js",)),
    Package("vega-embed", "6.29.0", "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
            ("build/vega-embed.min.js",)),
)
_BY_NAME = {package.name: package for package in PACKAGES}

CDN = {
    # The address in GX's templates -> (package, file in it)
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery", "dist/jquery.min.js"),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": ("bootstrap", "dist/css/bootstrap.min.css"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": ("bootstrap", "dist/js/bootstrap.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": ("popper.js", "dist/umd/popper.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": ("bootstrap-table", "dist/bootstrap-table.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": ("bootstrap-table", "dist/bootstrap-table.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table", "dist/extensions/filter-control/bootstrap-table-filter-control.css"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker", "dist/css/bootstrap-datepicker.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker", "dist/js/bootstrap-datepicker.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free", "css/all.min.css"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark", "dist/css/bootstrap-prefers-dark.css"),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed", "build/vega-embed.min.js"),
}


def local_path(url: str) -> str:
    """The path below the vendor folder that serves CDN address ``url``."""
    name, file = CDN[url]
    return f"{_BY_NAME[name].folder}/{file}"


def local_addresses(page: str, root: str) -> str:
    """``page`` (HTML of the Data Docs site) with each CDN address replaced by its vendored copy under ``root``.

    Longest addresses first, so none is cut into by a shorter one.
    """
    for url in sorted(CDN, key=len, reverse=True):
        page = page.replace(url, f"{root}{URL_PATH}/{local_path(url)}")
    return page


def missing(target: Path = VENDOR_DIR) -> list[Package]:
    """The packages some file of which is not in ``target`` yet."""
    return [package for package in PACKAGES
            if not all((target / package.folder / file).exists() for file in package.files)]


def fetch(target: Path = VENDOR_DIR, timeout: float = 60) -> list[str]:
    """Download every missing package from the npm registry into ``target``; returns the folders written.

    Raises ValueError when a tarball does not match its pinned sha512.
    """
    written = []
    for package in missing(target):
        with urllib.request.urlopen(package.tarball, timeout=timeout) as response:  # noqa: S310 (a pinned https URL)
            data = response.read()
        digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if digest != package.integrity:
            raise ValueError(f"{package.tarball}: sha512 {digest} is not the pinned {package.integrity}.")
        folder = target / package.folder
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                inner = member.name.removeprefix("package/")
                if member.isfile() and any(inner == file or (file.endswith("/") and inner.startswith(file))
                                           for file in package.files):
                    destination = folder / inner
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(archive.extractfile(member).read())
        written.append(package.folder)
    return written

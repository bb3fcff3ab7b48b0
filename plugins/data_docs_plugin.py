"""Data Docs in the Airflow UI: a "Data Docs" entry under Browse, the GX site behind Airflow's login.

The API server mounts ``app`` at ``/data-docs`` (``quality_gate.gx_context.DOCS_URL_PATH``): its home is
each table's latest validation, and below it every page of the site the validation tasks publish
(gx/uncommitted/data_docs/local_site/, GX's own index at ``index.html``), so the
"Data Docs" button of each validation task (``operators.gx_validate.DataDocsLink``) and the links
in alerts open there. A page is served to a user Airflow's auth manager lets read the task
instances of ``DOCS_DAG_ID``; a browser that is not logged in is sent to Airflow's login page and
back. If the site was never built (no validation ran yet), the first request builds it.

Airflow imports this module in every component, so the Airflow API and GX are imported when a
page is requested, not here.
"""

from __future__ import annotations

import asyncio
import functools
import html
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from quality_gate.gx_context import DOCS_URL_PATH

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

    from quality_gate.gx_context import LatestValidation

DOCS_DAG_ID = "sparkify_etl"
"""The DAG whose validations make the site: its readers may read Data Docs."""

app = FastAPI(title="Sparkify Data Docs", openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/{path:path}", include_in_schema=False)
async def data_docs_page(path: str, request: Request) -> Response:
    if not await _may_read(request):
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(_login_url(str(request.url)), status_code=status.HTTP_302_FOUND)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated: log in to Airflow first.")
    site = await asyncio.to_thread(site_dir)
    if not path:
        rows = await asyncio.to_thread(_latest_validations)
        return HTMLResponse(summary_page(rows, site))
    page = find_page(site, path)
    if page is None:
        return HTMLResponse(
            f"<h1>No such Data Docs page</h1><p>{html.escape(path)} is not in the site. "
            f'<a href="{html.escape(_site_root(request, path))}">Data Docs home</a></p>',
            status_code=status.HTTP_404_NOT_FOUND,
        )
    return FileResponse(page)


def find_page(site: Path, path: str) -> Path | None:
    """The file of the site that ``path`` names (a folder means its index.html); None if outside or missing."""
    root = site.resolve()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def summary_page(rows: list[LatestValidation], site: Path) -> str:
    """The landing page: each table's latest validation, linked to its page, and the way to the GX site.

    Self-contained (GX's own index draws its table with scripts from public CDNs, so it is empty
    where the UI has no internet access).
    """
    lines = []
    for row in rows:
        suite_page = f"expectations/{quote(row.suite)}.html"
        if row.success is None:
            status, validated, batch = '<td class="none">never validated</td>', "", ""
        else:
            status = f'<td class="{"passed" if row.success else "failed"}">{"Passed" if row.success else "Failed"}</td>'
            when = row.validated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            link = quote(row.page.relative_to(site).as_posix()) if row.page else ""
            validated = f'<a href="{html.escape(link)}">{when}</a>' if link else when
            batch = html.escape(row.batch or "")
        lines.append(
            f'<tr><td>{html.escape(row.table)}</td>{status}<td>{validated}</td><td>{batch}</td>'
            f"<td>{_rows_read(row)}</td>"
            f'<td><a href="{html.escape(suite_page)}">{html.escape(row.suite)}</a></td></tr>'
        )
    return _SUMMARY.format(rows="\n".join(lines))


def _rows_read(row: LatestValidation) -> str:
    """Where the validated rows are: a run's audit area (kept after a failure), else the published tables."""
    from helpers.audit_area import is_area

    if row.success is None:
        return ""
    if not (row.run_name and is_area(row.run_name)):
        return "published tables"
    area = html.escape(row.run_name)
    if row.success:
        return f"audit area <code>{area}</code>"
    return (f"audit area <code>{area}</code>, kept until the next run of its day: "
            f"<code>SELECT * FROM {area}.{html.escape(row.table)}</code>")


_SUMMARY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data Docs: latest validations</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a202c; }}
table {{ border-collapse: collapse; }} th, td {{ padding: .45rem .9rem; border-bottom: 1px solid #e2e8f0; text-align: left; }}
th {{ background: #f7fafc; }} .passed {{ color: #2f855a; font-weight: 600; }} .failed {{ color: #c53030; font-weight: 600; }}
.none {{ color: #718096; }}
</style></head><body>
<h1>Data Docs: each table's latest validation</h1>
<table><thead><tr><th>Table</th><th>Status</th><th>Validated (page)</th><th>Batch</th><th>Rows validated</th><th>Suite</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p>A run's gate validates its audit area before publishing; a run that failed publishes nothing and keeps its rows
there. Every validation: <a href="index.html">the full Great Expectations site</a> (its index table needs internet
access for its scripts). Edit suites with <code>./sparkify gx</code>.</p>
</body></html>
"""


@functools.cache
def _context() -> FileDataContext:
    from quality_gate import gx_context

    return gx_context.file_context()


def site_dir() -> Path:
    """The Data Docs site's folder, built first if it has no index yet."""
    from quality_gate import gx_context

    site = gx_context.docs_site_dir(_context())
    if not (site / "index.html").is_file():
        _context().build_data_docs(site_names=[gx_context.DOCS_SITE])
    return site


def _latest_validations() -> list[LatestValidation]:
    from quality_gate import gx_context

    return gx_context.latest_validations(_context())


async def _may_read(request: Request) -> bool:
    """True if the request's Airflow token (Authorization header, or the UI's cookie) may read the DAG.

    Read like Airflow's own ``get_user`` dependency reads it; a missing, expired or invalid token is
    False. A valid token without the permission is refused with 403.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    try:
        user = await resolve_user_from_token(token)
    except HTTPException:
        return False
    if not get_auth_manager().is_authorized_dag(
        method="GET", access_entity=DagAccessEntity.TASK_INSTANCE, details=DagDetails(id=DOCS_DAG_ID), user=user
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"You may not read the task instances of {DOCS_DAG_ID}.")
    return True


def _login_url(next_url: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


def _site_root(request: Request, path: str) -> str:
    return request.url.path.removesuffix(path) or "./"


class DataDocsPlugin(AirflowPlugin):
    name = "sparkify_data_docs"
    fastapi_apps = [{"app": app, "url_prefix": f"/{DOCS_URL_PATH}", "name": "Data Docs"}]
    external_views = [
        {
            "name": "Data Docs",
            "href": f"{DOCS_URL_PATH}/",
            "url_route": DOCS_URL_PATH,
            "destination": "nav",
            "category": "browse",
        }
    ]

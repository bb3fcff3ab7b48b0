"""Data Docs in the Airflow UI: a "Data Docs" entry under Browse, the GX site behind Airflow's login.

The API server mounts ``app`` at ``/data-docs`` (``quality_gate.gx_context.DOCS_URL_PATH``): its home is
each table's latest validation, and below it every page of the site the validation tasks publish
(``quality_gate.gx_context.docs_site``: in S3 when ${SPARKIFY_GX_STORES} is set, as on the local stack,
read through S3Hook; else gx/uncommitted/data_docs/local_site/; GX's own index at ``index.html``), so the
"Data Docs" button of each validation task (``operators.gx_validate.DataDocsLink``) and the links
in alerts open there. A page is served to a user Airflow's auth manager lets read the task
instances of ``DOCS_DAG_ID``; a browser that is not logged in is sent to Airflow's login page and
back. If the site was never built (no validation ran yet), the first request builds it; GX's
index is built each time ``index.html`` is asked for (validations render only their own pages:
``quality_gate.docs_builder``).

Airflow imports this module in every component, so the Airflow API and GX are imported when a
page is requested, not here.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import mimetypes
from datetime import date, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from helpers import data_docs_assets
from quality_gate.gx_context import DOCS_URL_PATH

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

    from quality_gate.gx_context import DayStatus, DocsSite, LatestValidation

log = logging.getLogger(__name__)

DOCS_DAG_ID = "sparkify_etl"
"""The DAG whose validations make the site: its readers may read Data Docs."""

app = FastAPI(title="Sparkify Data Docs", openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/{path:path}", include_in_schema=False)
async def data_docs_page(path: str, request: Request) -> Response:
    if not await _may_read(request):
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(_login_url(str(request.url)), status_code=status.HTTP_302_FOUND)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated: log in to Airflow first.")
    if path.startswith(f"{data_docs_assets.URL_PATH}/"):
        asset = find_page(data_docs_assets.VENDOR_DIR, path.removeprefix(f"{data_docs_assets.URL_PATH}/"))
        if asset is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{path} is not vendored: run ./sparkify assets.")
        return FileResponse(asset)
    site = await asyncio.to_thread(docs_site)
    if not path:
        rows, statuses = await asyncio.gather(asyncio.to_thread(_latest_validations), asyncio.to_thread(_daily_statuses))
        return HTMLResponse(summary_page(rows, statuses, await asyncio.to_thread(metric_series)))
    if path == "index.html":  # validations render only their own pages (quality_gate.docs_builder)
        await asyncio.to_thread(_build_index)
    content = await asyncio.to_thread(site.read, path)
    if content is None:
        return HTMLResponse(
            f"<h1>No such Data Docs page</h1><p>{html.escape(path)} is not in the site. "
            f'<a href="{html.escape(_site_root(request, path))}">Data Docs home</a></p>',
            status_code=status.HTTP_404_NOT_FOUND,
        )
    kind = mimetypes.guess_type(path if "." in path.rsplit("/", 1)[-1] else "index.html")[0] or "application/octet-stream"
    if kind == "text/html":  # GX's pages load scripts from CDNs: served from here instead
        return HTMLResponse(data_docs_assets.local_addresses(content.decode("utf-8"), _site_root(request, path)))
    return Response(content, media_type=kind)


def find_page(site: Path, path: str) -> Path | None:
    """The file below folder ``site`` that ``path`` names (a folder means its index.html); None if outside or missing."""
    root = site.resolve()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def summary_page(rows: list[LatestValidation], statuses: dict[str, list[DayStatus]] | None = None,
                 metrics: dict[tuple[str, str], list[tuple[date, float]]] | None = None) -> str:
    """The landing page: each table's latest validation, linked to its page; each table's last 30 days
    (the status of each day's validation, and its volume and match rate from the history table); the
    way to the GX site.

    Self-contained: the charts are inline SVG, drawn here (no script, nothing from the internet).
    """
    lines = []
    for row in rows:
        suite_page = f"expectations/{quote(row.suite)}.html"
        if row.success is None:
            status, validated, batch = '<td class="none">never validated</td>', "", ""
        else:
            status = f'<td class="{_status_class(row.success, row.warnings)}">{_status_text(row.success, row.warnings)}</td>'
            when = row.validated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            link = quote(row.page) if row.page else ""
            validated = f'<a href="{html.escape(link)}">{when}</a>' if link else when
            batch = html.escape(row.batch or "")
        lines.append(
            f'<tr><td>{html.escape(row.table)}</td>{status}<td>{validated}</td><td>{batch}</td>'
            f"<td>{_rows_read(row)}</td>"
            f'<td><a href="{html.escape(suite_page)}">{html.escape(row.suite)}</a></td></tr>'
        )
    days = []
    for row in rows:
        charts = "".join(
            f'<div class="chart">{html.escape(label)} {sparkline(points, percent=percent)}</div>'
            for (table, metric), points in (metrics or {}).items() if table == row.table
            for label, percent in [KEY_METRICS[metric]]
        )
        charts = charts or NO_HISTORY
        days.append(f"<tr><td>{html.escape(row.table)}</td><td>{status_strip((statuses or {}).get(row.table, []))}</td>"
                    f"<td>{charts}</td></tr>")
    return _SUMMARY.format(rows="\n".join(lines), days="\n".join(days))


NO_HISTORY = '<span class="none">no history recorded</span>'
KEY_METRICS = {"row_count": ("rows", False), "non_null:song_id": ("match rate", True)}
"""The history metrics charted on the home (quality_gate.history), with their labels."""
CHART_DAYS = 30


def status_strip(days: list[DayStatus]) -> str:
    """One square per day, coloured by its validation's outcome and linked to its page."""
    if not days:
        return '<span class="none">never validated</span>'
    squares = []
    for number, day in enumerate(days):
        link = quote(day.page) if day.page else ""
        title = f"{day.day.isoformat()}: {_status_text(day.success, day.warnings)}"
        square = (f'<rect x="{number * 12}" y="0" width="10" height="14" rx="2" class="{_status_class(day.success, day.warnings)}">'
                  f"<title>{html.escape(title)}</title></rect>")
        squares.append(f'<a href="{html.escape(link)}">{square}</a>' if link else square)
    span = f"{days[0].day.isoformat()} to {days[-1].day.isoformat()}"
    return (f'<svg class="strip" width="{len(days) * 12}" height="14" role="img" aria-label="{span}">{"".join(squares)}</svg>'
            f' <span class="span">{span}</span>')


def sparkline(points: list[tuple[date, float]], *, percent: bool = False, width: int = 140, height: int = 28) -> str:
    """A line of the values over their days, with the last value written beside it."""
    if not points:
        return '<span class="none">none</span>'
    values = [value for _, value in points]
    low, high = min(values), max(values)
    step = (width - 4) / max(len(points) - 1, 1)
    scale = (height - 4) / (high - low) if high > low else 0
    start = 2 if len(points) > 1 else width - 3  # a single day sits where the newest would
    xy = [(start + i * step, height - 2 - (value - low) * scale) for i, value in enumerate(values)]
    coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    shown = f"{values[-1]:.1%}" if percent else f"{values[-1]:,.0f}"
    title = f"{points[0][0].isoformat()} to {points[-1][0].isoformat()}: {shown} on the last day"
    last_x, last_y = xy[-1]
    return (f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
            f"<title>{html.escape(title)}</title>"
            f'<polyline points="{coordinates}" fill="none" stroke="#2b6cb0" stroke-width="1.5"/>'
            f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="#2b6cb0"/></svg> {shown}')


def _status_class(success: bool, warnings: bool) -> str:
    return "failed" if not success else "warning" if warnings else "passed"


def _status_text(success: bool, warnings: bool) -> str:
    return "Failed" if not success else "Passed with warnings" if warnings else "Passed"


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
.warning {{ color: #b7791f; font-weight: 600; }} .none, .span {{ color: #718096; }}
rect.passed {{ fill: #38a169; }} rect.failed {{ fill: #e53e3e; }} rect.warning {{ fill: #d69e2e; }}
.chart {{ display: inline-block; margin-right: 1.5rem; white-space: nowrap; }} svg {{ vertical-align: middle; }}
</style></head><body>
<h1>Data Docs: each table's latest validation</h1>
<table><thead><tr><th>Table</th><th>Status</th><th>Validated (page)</th><th>Batch</th><th>Rows validated</th><th>Suite</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>The last 30 days</h2>
<table><thead><tr><th>Table</th><th>Each day's validation (newest right)</th><th>History (quality_metrics)</th></tr></thead>
<tbody>
{days}
</tbody></table>
<p>A run's gate validates its audit area before publishing; a run that failed publishes nothing and keeps its rows
there. Every validation: <a href="index.html">the full Great Expectations site</a>. Edit suites with
<code>./sparkify gx</code>.</p>
</body></html>
"""


@functools.cache
def _context() -> FileDataContext:
    from quality_gate import gx_context

    return gx_context.file_context()


def docs_site() -> DocsSite:
    """The Data Docs site, built first if it has no index yet."""
    from quality_gate import gx_context

    site = gx_context.docs_site(_context())
    if site.read("index.html") is None:
        _context().build_data_docs(site_names=[gx_context.DOCS_SITE])
    return site


def _build_index() -> None:
    from quality_gate import gx_context

    gx_context.build_docs_index(_context())


def _latest_validations() -> list[LatestValidation]:
    from quality_gate import gx_context

    return gx_context.latest_validations(_context())


def _daily_statuses() -> dict[str, list[DayStatus]]:
    from quality_gate import gx_context

    return gx_context.daily_statuses(_context(), days=CHART_DAYS)


def metric_series(conn_id: str = "redshift") -> dict[tuple[str, str], list[tuple[date, float]]]:
    """The charted metrics of the last 30 recorded days, by (table, metric); empty if the warehouse cannot tell."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from helpers.audit_area import METRICS_TABLE, published

    table = published(METRICS_TABLE)
    sql = (f"SELECT table_name, metric, day, value FROM {table} WHERE metric IN ({', '.join(['%s'] * len(KEY_METRICS))}) "
           f"AND day > (SELECT MAX(day) FROM {table}) - {CHART_DAYS} ORDER BY table_name, metric, day")
    try:
        records = PostgresHook(postgres_conn_id=conn_id).get_records(sql, parameters=tuple(KEY_METRICS))
    except Exception as error:  # the page still shows every validation; the log says why charts are missing
        log.warning("Data Docs home: no history charts (%s: %s)", type(error).__name__, error)
        return {}
    series: dict[tuple[str, str], list[tuple[date, float]]] = {}
    for table_name, metric, day, value in records:
        if value is not None:
            series.setdefault((table_name, metric), []).append((day, float(value)))
    return series


async def _may_read(request: Request) -> bool:
    """True if the request's Airflow user may read the DAG; False when it has none (no token, or an
    expired or invalid one). A valid user without the permission is refused with 403.

    The user is what Airflow's own ``get_user`` dependency resolves: a bearer token wins over the UI's
    cookie, and a cookie refreshed by Airflow's JWT middleware counts.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    try:
        user = await get_user(request, _oauth_token=None, bearer_credentials=await bearer_scheme(request))
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

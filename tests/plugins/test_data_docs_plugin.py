"""plugins/data_docs_plugin.py: the Data Docs app's pages, its home, and how it is registered with Airflow.

Login and permissions are checked against the real API server in tests/ui/; here the app runs alone,
with its permission check replaced.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import data_docs_plugin
from helpers import data_docs_assets
from quality_gate.gx_context import DOCS_URL_PATH, DayStatus, DocsSite, LatestValidation

SONGPLAYS_PAGE = "validations/songplays/__none__/20181122T010203.000001Z/warehouse-songplays-year_2018-month_11-day_21.html"


@pytest.fixture
def site(tmp_path) -> Path:
    site = tmp_path / "local_site"
    (site / SONGPLAYS_PAGE).parent.mkdir(parents=True)
    (site / SONGPLAYS_PAGE).write_text("<p>songplays failed</p>")
    (site / "index.html").write_text('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script><p>GX index</p>')
    (tmp_path / "great_expectations.yml").write_text("secret: outside the site")
    return site


@pytest.fixture
def vendored(tmp_path, monkeypatch) -> Path:
    """A vendor folder holding jQuery, as ./sparkify assets leaves it."""
    folder = tmp_path / "vendor"
    (folder / "jquery@3.7.1/dist").mkdir(parents=True)
    (folder / "jquery@3.7.1/dist/jquery.min.js").write_text("/* jQuery */")
    monkeypatch.setattr(data_docs_assets, "VENDOR_DIR", folder)
    return folder


@pytest.fixture
def index_builds(monkeypatch) -> list[int]:
    """One entry per build of GX's index the plugin asked for."""
    builds: list[int] = []
    monkeypatch.setattr(data_docs_plugin, "_build_index", lambda: builds.append(1))
    return builds


@pytest.fixture
def client(site, index_builds, monkeypatch) -> TestClient:
    async def may_read(request) -> bool:
        return request.headers.get("authorization") == "Bearer ok"

    monkeypatch.setattr(data_docs_plugin, "_may_read", may_read)
    monkeypatch.setattr(data_docs_plugin, "docs_site", lambda: DocsSite(site.as_uri() + "/"))
    monkeypatch.setattr(data_docs_plugin, "_login_url", lambda next_url: f"/auth/login?next={next_url}")
    monkeypatch.setattr(data_docs_plugin, "_latest_validations", lambda: [
        LatestValidation("songplays", "songplays", success=False,
                         validated_at=datetime(2018, 11, 22, 1, 2, 3, tzinfo=timezone.utc),
                         batch="warehouse-songplays-year_2018-month_11-day_21",
                         page=SONGPLAYS_PAGE),
        LatestValidation("songs", "songs", success=True, validated_at=datetime(2018, 11, 22, tzinfo=timezone.utc),
                         batch="warehouse-songs", run_name="audit_20181121_1a2b3c4d"),
        LatestValidation("artists", "artists", success=False, validated_at=datetime(2018, 11, 22, tzinfo=timezone.utc),
                         batch="warehouse-artists", run_name="audit_20181121_1a2b3c4d"),
        LatestValidation("users", "users"),
    ])
    monkeypatch.setattr(data_docs_plugin, "_daily_statuses", lambda: {
        "songplays": [DayStatus(date(2018, 11, 20), True, False, None),
                      DayStatus(date(2018, 11, 21), True, True, SONGPLAYS_PAGE),
                      DayStatus(date(2018, 11, 22), False, False, SONGPLAYS_PAGE)],
    })
    monkeypatch.setattr(data_docs_plugin, "metric_series", lambda: {
        ("songplays", "row_count"): [(date(2018, 11, 20), 300.0), (date(2018, 11, 21), 437.0)],
        ("songplays", "non_null:song_id"): [(date(2018, 11, 20), 0.05), (date(2018, 11, 21), 0.041)],
    })
    return TestClient(data_docs_plugin.app, headers={"authorization": "Bearer ok"})


def test_the_home_lists_each_tables_latest_validation_with_its_page(client):
    response = client.get("/")
    assert response.status_code == 200
    text = response.text
    assert ('<tr><td>songplays</td><td class="failed">Failed</td><td><a href="validations/songplays/__none__/'
            '20181122T010203.000001Z/warehouse-songplays-year_2018-month_11-day_21.html">2018-11-22 01:02:03 UTC</a>'
            "</td><td>warehouse-songplays-year_2018-month_11-day_21</td>") in text
    assert '<tr><td>users</td><td class="none">never validated</td>' in text
    assert "<td>warehouse-songplays-year_2018-month_11-day_21</td><td>published tables</td>" in text
    assert "<td>warehouse-songs</td><td>audit area <code>audit_20181121_1a2b3c4d</code></td>" in text
    assert ("<td>audit area <code>audit_20181121_1a2b3c4d</code>, kept until the next run of its day: "
            "<code>SELECT * FROM audit_20181121_1a2b3c4d.artists</code></td>") in text
    assert '<a href="index.html">the full Great Expectations site</a>' in text
    # The last 30 days: a square per day, linked to its page, and the history's volume and match rate.
    assert text.count('<rect ') == 3 and 'class="warning"><title>2018-11-21: Passed with warnings</title>' in text
    assert 'class="failed"><title>2018-11-22: Failed</title>' in text and "2018-11-20 to 2018-11-22" in text
    assert "rows <svg" in text and "</svg> 437" in text and "match rate <svg" in text and "</svg> 4.1%" in text
    assert text.count("no history recorded") == 3  # the tables without charted metrics
    assert "https://" not in text  # nothing from the internet


def test_pages_of_the_site_are_served_and_nothing_outside_it(client, index_builds):
    page = client.get("/validations/songplays/__none__/20181122T010203.000001Z/warehouse-songplays-year_2018-month_11-day_21.html")
    assert (page.status_code, page.text) == (200, "<p>songplays failed</p>")
    assert index_builds == []  # a validation's page is served as its task rendered it
    assert client.get("/index.html").text.endswith("<p>GX index</p>")
    assert index_builds == [1]  # GX's index is built when read (quality_gate.docs_builder)
    for path in ("/../great_expectations.yml", "/%2e%2e/great_expectations.yml", "/validations/nope.html"):
        missing = client.get(path)
        assert missing.status_code == 404 and "secret" not in missing.text
        assert "No such Data Docs page" in missing.text


def test_a_browser_without_a_login_is_sent_to_the_login_page_and_an_api_client_gets_401(client):
    browser = client.get("/index.html", headers={"authorization": "", "accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 302
    assert browser.headers["location"] == "/auth/login?next=http://testserver/index.html"
    api = client.get("/index.html", headers={"authorization": ""})
    assert api.status_code == 401 and "log in to Airflow" in api.json()["detail"]


def test_find_page_maps_folders_to_their_index_and_refuses_escapes(site):
    assert data_docs_plugin.find_page(site, "") == (site / "index.html").resolve()
    assert data_docs_plugin.find_page(site, "validations") is None  # a folder without index.html
    assert data_docs_plugin.find_page(site, "../great_expectations.yml") is None
    assert data_docs_plugin.find_page(site, "/etc/passwd") is None


def test_a_site_on_disk_reads_its_pages_maps_folders_to_their_index_and_refuses_escapes(site):
    docs = DocsSite(site.as_uri() + "/")
    assert docs.read(SONGPLAYS_PAGE) == b"<p>songplays failed</p>"
    assert docs.read("") == docs.read("index.html") == (site / "index.html").read_bytes()
    for outside in ("validations", "../great_expectations.yml", "validations/../../great_expectations.yml", "nope.html"):
        assert docs.read(outside) is None, outside
    assert docs.page(docs.root + "validations/a%20b.html") == "validations/a b.html"
    assert docs.location("validations/a b.html") == f"{site}/validations/a b.html"


def test_the_plugin_mounts_the_app_and_adds_a_browse_entry_pointing_at_it():
    plugin = data_docs_plugin.DataDocsPlugin
    (mounted,) = plugin.fastapi_apps
    assert mounted["app"] is data_docs_plugin.app and mounted["url_prefix"] == f"/{DOCS_URL_PATH}"
    (view,) = plugin.external_views
    # Relative to the UI's base URL (no leading slash), shown inside the UI under Browse.
    assert view["href"] == f"{DOCS_URL_PATH}/" and view["destination"] == "nav" and view["category"] == "browse"


def test_gx_pages_load_their_scripts_from_the_vendored_copies_not_from_cdns(client, vendored):
    index = client.get("/index.html")
    assert '<script src="/_vendor/jquery@3.7.1/dist/jquery.min.js"></script>' in index.text
    assert "code.jquery.com" not in index.text
    script = client.get("/_vendor/jquery@3.7.1/dist/jquery.min.js")
    assert (script.status_code, script.text) == (200, "/* jQuery */")
    assert client.get("/_vendor/../great_expectations.yml").status_code == 404
    assert "run ./sparkify assets" in client.get("/_vendor/vega@5.33.1/build/vega.min.js").text

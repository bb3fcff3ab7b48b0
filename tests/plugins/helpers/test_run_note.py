"""helpers.run_note: the run's note names the day it loads, through a (local, fake) Airflow REST API."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from helpers import run_note as notes


def test_run_note_names_the_day_ahead_of_the_note_a_run_has():
    assert notes.run_note("2018-11-06") == "Loads 2018-11-06 (UTC)"
    assert notes.run_note("2018-11-06", "checked by ops") == "Loads 2018-11-06 (UTC)\n\nchecked by ops"
    assert notes.run_note("2018-11-06", "Loads 2018-11-06 (UTC)\n\nchecked by ops") is None
    assert notes.run_note("2018-11-06", "  ") == "Loads 2018-11-06 (UTC)"
    room = 1000 - len("Loads 2018-11-06 (UTC)\n\n")
    assert len(notes.run_note("2018-11-06", "x" * room)) == 1000
    assert notes.run_note("2018-11-06", "x" * (room + 1)) is None  # past the API's 1000 characters: the user's note stays


@pytest.fixture
def fake_api():
    """An Airflow REST API on 127.0.0.1 that hands out token "t0k3n" for admin/pw and keeps one run's note
    (``note``); keeps every request."""
    seen: list[tuple[str, str, dict, str | None]] = []
    run = {"note": None}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            seen.append((self.command, self.path, body, self.headers.get("Authorization")))
            if self.path == "/auth/token":
                status, answer = (201, {"access_token": "t0k3n"}) if body == {"username": "admin", "password": "pw"} \
                    else (401, {"detail": "Invalid credentials"})
            elif self.headers.get("Authorization") != "Bearer t0k3n":
                status, answer = 403, {"detail": "Forbidden"}
            else:
                if self.command == "PATCH":
                    run["note"] = body["note"]
                status, answer = 200, {"dag_run_id": "backfill__2018-11-07T00:00:00+00:00", **run}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", seen=seen, run=run)
    server.shutdown()
    server.server_close()
    thread.join(5)


RUN = "/api/v2/dags/sparkify_etl/dagRuns/backfill__2018-11-07T00%3A00%3A00%2B00%3A00"


def context() -> dict:
    # Airflow 3.3 gives a task its run's note as None whatever it is: the note is read from the API.
    dag_run = SimpleNamespace(dag_id="sparkify_etl", run_id="backfill__2018-11-07T00:00:00+00:00", note=None,
                              logical_date=datetime(2018, 11, 6, tzinfo=timezone.utc))
    return {"dag_run": dag_run}


def use_api(monkeypatch, url: str, password: str = "pw") -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SPARKIFY_AIRFLOW_API",
                       json.dumps({"conn_type": "http", "host": url, "login": "admin", "password": password}))


def test_the_run_gets_its_day_as_note_through_the_rest_api(monkeypatch, fake_api):
    use_api(monkeypatch, fake_api.url)
    fake_api.run["note"] = "checked by ops"
    notes.note_run_day(context())
    assert fake_api.seen == [
        ("POST", "/auth/token", {"username": "admin", "password": "pw"}, None),
        ("GET", RUN, None, "Bearer t0k3n"),
        ("PATCH", f"{RUN}?update_mask=note", {"note": "Loads 2018-11-06 (UTC)\n\nchecked by ops"}, "Bearer t0k3n"),
    ]
    assert fake_api.run["note"] == "Loads 2018-11-06 (UTC)\n\nchecked by ops"


def test_a_run_that_names_its_day_already_is_left_as_it_is(monkeypatch, fake_api):
    use_api(monkeypatch, fake_api.url)
    fake_api.run["note"] = "Loads 2018-11-06 (UTC)\n\nchecked by ops"
    notes.note_run_day(context())
    assert [request[0] for request in fake_api.seen] == ["POST", "GET"]
    assert fake_api.run["note"] == "Loads 2018-11-06 (UTC)\n\nchecked by ops"


def test_without_the_connection_nothing_is_done(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SPARKIFY_AIRFLOW_API", raising=False)
    with caplog.at_level(logging.INFO, logger=notes.__name__):
        notes.note_run_day(context())
    assert "No connection sparkify_airflow_api: the run's note is left as it is" in caplog.text


def test_a_refused_login_is_a_warning_and_never_raises(monkeypatch, fake_api, caplog):
    use_api(monkeypatch, fake_api.url, password="wrong")
    with caplog.at_level(logging.WARNING, logger=notes.__name__):
        notes.note_run_day(context())
    assert [request[1] for request in fake_api.seen] == ["/auth/token"]
    assert f"The run's note was not set through {fake_api.url} (connection sparkify_airflow_api): HTTP Error 401" \
        in caplog.text


def test_the_api_url_from_the_connection():
    def conn(**fields):
        return SimpleNamespace(**{"host": None, "schema": None, "port": None, **fields})

    assert notes.api_url(conn(host="https://airflow.example.com/")) == "https://airflow.example.com"
    assert notes.api_url(conn(host="airflow.internal", schema="https", port=8443)) == "https://airflow.internal:8443"
    assert notes.api_url(conn(host="airflow.internal")) == "http://airflow.internal"

"""A run's note names the day it loads ("Loads 2018-11-06 (UTC)"), set through Airflow's public REST API.

A run's id is named after its ``run_after``, the end of the day it loads
(``backfill__2018-11-07T00:00:00+00:00`` loads 2018-11-06), so each run says its day in its note,
which the UI shows on the run's page and behind the Note button of its row in the Runs list (the
list and the grid show Run After, the day's end, not the logical date). Airflow 3.3's Task SDK
cannot change a run's note (the Execution API only reads it, and sets one only on a run a task
triggers); the public REST API can: ``PATCH
/api/v2/dags/{dag_id}/dagRuns/{run_id}?update_mask=note``. ``note_run_day``, the first task's
``on_execute_callback``, calls it for every run, whoever made it (the scheduler, a backfill or
trigger from the UI, the CLI or the REST API), as the user of the HTTP connection
``sparkify_airflow_api``: host = the API server's URL (empty: ``[api] base_url``), login and
password = a user allowed to edit DAG runs, who gets a token from ``POST /auth/token``. Without that
connection nothing is done; a failure is logged as a warning and never fails the task. The run's
current note is read from the REST API too: the task context's ``dag_run.note`` is None in Airflow
3.3 whatever the note (the Execution API does not load it when a task starts).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from helpers.airflow_ui import base_url

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context

API_CONN_ID = "sparkify_airflow_api"
RUN_NOTE = "Loads {day} (UTC)"
NOTE_MAX_LENGTH = 1000  # the REST API's limit on a run's note
TIMEOUT = 10  # seconds, each request

log = logging.getLogger(__name__)


def run_note(day: str, note: str | None = None) -> str | None:
    """The note of a run loading ``day`` whose note is ``note`` now: ``Loads <day> (UTC)``, then the note it had;
    None when it names the day already, or when the two would not fit in a note (the user's words are never cut)."""
    label = RUN_NOTE.format(day=day)
    note = (note or "").strip()
    if label in note:
        return None
    if not note:
        return label
    noted = f"{label}\n\n{note}"
    return noted if len(noted) <= NOTE_MAX_LENGTH else None


def api_url(conn: Connection) -> str:
    """The API server's URL from the connection: its host as a full URL, or schema://host:port, or [api] base_url."""
    if not conn.host:
        return base_url().rstrip("/")
    if "://" in conn.host:
        return conn.host.rstrip("/")
    return f"{conn.schema or 'http'}://{conn.host}" + (f":{conn.port}" if conn.port else "")


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.load(response)


def note_run_day(context: Context) -> None:
    """``on_execute_callback``: give the run the note naming the day it loads (see the module)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    dag_run = context["dag_run"]
    if dag_run.logical_date is None:
        return
    day = dag_run.logical_date.astimezone(timezone.utc).date().isoformat()
    try:
        conn = BaseHook.get_connection(API_CONN_ID)
    except AirflowNotFoundException:
        log.info("No connection %s: the run's note is left as it is", API_CONN_ID)
        return
    url = api_url(conn)
    run_url = f"{url}/api/v2/dags/{quote(dag_run.dag_id, safe='')}/dagRuns/{quote(dag_run.run_id, safe='')}"
    try:
        token = _call("POST", f"{url}/auth/token", {"username": conn.login, "password": conn.password})["access_token"]
        mask_secret(token)
        note = run_note(day, _call("GET", run_url, token=token).get("note"))
        if note is None:
            return
        _call("PATCH", f"{run_url}?update_mask=note", {"note": note}, token)
    except Exception as error:  # the note only labels the run: never fail the task for it
        log.warning("The run's note was not set through %s (connection %s): %s", url, API_CONN_ID, error)
        return
    log.info("The run's note: %s", note.splitlines()[0])

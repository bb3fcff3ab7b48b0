"""The whole DAG on the local stack with the real Sparkify sample, reconciled against the JSON.

Each run is ``airflow dags test`` in its own process, as a scheduler's worker would run it. Days run
out of order and two of them in parallel, the way backfills do; the warehouse must come out the same
as an independent computation from the JSON files, and the same as all days run in parallel.
Write–audit–publish: re-delivered days that fail (an empty file, a value the fact cannot load, a
failed suite, failed SQL checks) change no published table, keep their rows in the run's audit area
and say so in the alert; a clean re-delivery afterwards restores the day and drops that area.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from helpers.tables import TABLES as TABLE_SPECS
from helpers.tables import Role

from local_stack.airflow import alert_env, connection_env
from local_stack.s3 import REGION

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SEQUENTIAL_DAYS = ("2018-11-21", "2018-11-05", "2018-11-30")
PARALLEL_DAYS = ("2018-11-13", "2018-11-14")
DAYS = SEQUENTIAL_DAYS + PARALLEL_DAYS


def run_dag(day: str, env: dict[str, str], airflow_home: Path, *options: str, dag_id: str = "sparkify_etl"
            ) -> subprocess.CompletedProcess:
    """`airflow dags test DAG_ID DAY [options]` with AIRFLOW_HOME airflow_home (migrated on first use)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    process_env = {**env, "AIRFLOW_HOME": str(airflow_home)}
    if not (airflow_home / "airflow.db").exists():
        subprocess.run([AIRFLOW, "db", "migrate"], env=process_env, capture_output=True, check=True, timeout=300)
    return subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, day, *options], env=process_env, capture_output=True, text=True,
        timeout=900,
    )


def assert_succeeded(result: subprocess.CompletedProcess, day: str) -> None:
    assert result.returncode == 0, f"DAG run for {day} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def pipeline(module_warehouse, sample_s3, tmp_path_factory):
    """The sample's days loaded: three one after the other (out of order), then two at once."""
    env = {
        **os.environ,
        **airflow_env(module_warehouse, sample_s3.endpoint_url, sample_s3.bucket),
    }
    homes = tmp_path_factory.mktemp("airflow")
    for day in SEQUENTIAL_DAYS:
        assert_succeeded(run_dag(day, env, homes / "sequential"), day)
    with ThreadPoolExecutor(len(PARALLEL_DAYS)) as pool:
        results = list(pool.map(lambda day: run_dag(day, env, homes / day), PARALLEL_DAYS))
    for day, result in zip(PARALLEL_DAYS, results):
        assert_succeeded(result, day)
    return {"env": env, "homes": homes, "warehouse": module_warehouse}


def airflow_env(warehouse: str, endpoint_url: str, bucket: str) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **connection_env(warehouse, endpoint_url, bucket, REGION),
    }


# --- the independent computation, straight from the JSON files ---------------------------------


def as_loaded_text(value):
    """How COPY stores a JSON value in a VARCHAR column (numbers keep their digits)."""
    return value if value is None or isinstance(value, str) else repr(value)


@pytest.fixture(scope="module")
def expected(shared_sample):
    events = []
    for day in DAYS:
        path = shared_sample / "log_data" / day[:4] / day[5:7] / f"{day}-events.json"
        events += [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")]
    songs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((shared_sample / "song_data").rglob("*.json"))]
    catalog = {}
    for song in sorted(songs, key=lambda s: s["song_id"]):
        key = (as_loaded_text(song["title"]), as_loaded_text(song["artist_name"]), song["duration"])
        catalog.setdefault(key, song)
    plays = [e for e in events if e["page"] == "NextSong" and e["userId"]]
    latest = {}
    for event in sorted((e for e in events if e["userId"]), key=lambda e: e["ts"]):
        latest[int(event["userId"])] = event["level"]

    def start_time(event):
        return datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"])

    def match(event):
        return catalog.get((event["song"], event["artist"], event["length"]))

    return {
        "staging_events": len(events),
        "staging_songs": len(songs),
        "songplays": Counter(
            (start_time(e), int(e["userId"]), e["sessionId"], (match(e) or {}).get("song_id"), (match(e) or {}).get("artist_id"))
            for e in plays
        ),
        "users": latest,
        "songs": len({s["song_id"] for s in songs}),
        "artists": len({s["artist_id"] for s in songs}),
        "time": {start_time(e) for e in plays},
    }


def query(warehouse, sql):
    with psycopg.connect(warehouse) as conn:
        return conn.execute(sql).fetchall()


def test_songplays_are_one_per_nextsong_event_with_exact_song_matches(pipeline, expected):
    rows = query(pipeline["warehouse"], "SELECT start_time, user_id, session_id, song_id, artist_id FROM songplays")
    assert Counter(rows) == expected["songplays"]
    assert sum(1 for row in rows if row[3]) == sum(n for key, n in expected["songplays"].items() if key[3])
    assert len({r[0] for r in query(pipeline["warehouse"], "SELECT songplay_id FROM songplays")}) == len(rows)


def test_users_hold_each_users_latest_level_whatever_the_load_order(pipeline, expected):
    assert dict(query(pipeline["warehouse"], "SELECT user_id, level FROM users")) == expected["users"]


def test_catalog_tables_hold_one_row_per_song_and_per_artist(pipeline, expected):
    counts = dict(query(pipeline["warehouse"], """
        SELECT 'staging_songs', COUNT(*) FROM staging_songs UNION ALL
        SELECT 'songs', COUNT(*) FROM songs UNION ALL
        SELECT 'artists', COUNT(*) FROM artists UNION ALL
        SELECT 'staging_events', COUNT(*) FROM staging_events"""))
    assert counts == {key: expected[key] for key in ("staging_songs", "songs", "artists", "staging_events")}


def test_time_has_one_row_per_songplay_start_time_with_its_parts(pipeline, expected):
    rows = query(pipeline["warehouse"], 'SELECT start_time, hour, day, week, month, year, weekday FROM "time"')
    assert {row[0] for row in rows} == expected["time"]
    for start, hour, day, week, month, year, weekday in rows:
        assert (hour, day, week, month, year, weekday) == (
            start.hour, start.day, start.isocalendar().week, start.month, start.year, start.isoweekday() % 7,
        )


TABLES = {table: f"{table} t" for table in ("staging_events", "staging_songs", "songplays", "users", "songs", "artists",
                                             '"time"')}
WHOLE_LOADS = ", ".join(f"'{spec.name}'" for spec in TABLE_SPECS if spec.role is Role.STAGING and not spec.slice_column)
# Not when or by which run: a table loaded whole records its load under the day of whichever run loaded it.
# Values to 9 decimals: a mean of the same rows staged in another order differs in its last bits.
TABLES["quality_metrics"] = (
    f"(SELECT CASE WHEN table_name IN ({WHOLE_LOADS}) AND metric LIKE 'load:%' THEN NULL ELSE day END, table_name, "
    "metric, ROUND(CAST(value AS NUMERIC), 9) FROM quality_metrics WHERE NOT ({loads_left_out})) t")
TABLES["staging_rejects"] = "(SELECT table_name, day, source, line_number, column_name, reason, raw_text FROM staging_rejects) t"


def snapshot(warehouse, loads_left_out=("", "")):
    """Row count and an order-independent checksum of every published table (without the load counts
    of ``loads_left_out``: a table and a day)."""
    table, day = loads_left_out
    left_out = f"table_name = '{table}' AND day = '{day}' AND metric LIKE 'load:%'" if table else "FALSE"
    return {
        name: query(warehouse, f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(MD5(CAST(t.* AS TEXT)), '' ORDER BY "
                               f"MD5(CAST(t.* AS TEXT))), '')) FROM {rows.format(loads_left_out=left_out)}")[0]
        for name, rows in TABLES.items()
    }


def recorded_load(warehouse, table, day):
    """The counts ``table``'s staging recorded for ``day`` in quality_metrics (read, staged, ...)."""
    rows = query(warehouse, f"SELECT metric, value FROM quality_metrics WHERE table_name = '{table}' AND day = '{day}' "
                            "AND metric LIKE 'load:%'")
    return {metric.removeprefix("load:"): int(value) for metric, value in rows}


def audit_areas(warehouse, day=""):
    """The audit areas in the warehouse (of ``day`` only, if given)."""
    prefix = f"audit_{day.replace('-', '')}"
    return {name for (name,) in query(warehouse, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'audit%'")
            if name.startswith(prefix)}


def test_a_successful_run_leaves_no_audit_area(pipeline):
    assert audit_areas(pipeline["warehouse"]) == set()


def test_rerunning_a_day_changes_no_table(pipeline):
    before = snapshot(pipeline["warehouse"])
    assert_succeeded(run_dag(SEQUENTIAL_DAYS[1], pipeline["env"], pipeline["homes"] / "rerun"), "re-run")
    assert snapshot(pipeline["warehouse"]) == before


def test_a_corrupt_day_fails_the_run_and_changes_nothing(pipeline, sample_s3, s3_client_for):
    day, s3 = "2018-12-01", s3_client_for(sample_s3.endpoint_url)
    key = f"log_data/2018/12/{day}-events.json"
    s3.put_object(
        Bucket=sample_s3.bucket, Key=key,
        Body=b'{"ts": 1543622400000, "userId": "1", "page": "NextSong"}\n{"ts": 1543622400001, "userId": "2", "page": ',
    )
    before = snapshot(pipeline["warehouse"])
    try:
        result = run_dag(day, pipeline["env"], pipeline["homes"] / "corrupt")
    finally:
        s3.delete_object(Bucket=sample_s3.bucket, Key=key)  # the bucket holds the sample again
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"log_data/2018/12/{day}-events.json, line 2: the JSON document starting here is not complete" in output
    assert snapshot(pipeline["warehouse"]) == before


def test_a_redelivered_day_replaces_that_days_songplays_and_times(pipeline, sample_s3, s3_client_for, shared_sample):
    day = SEQUENTIAL_DAYS[0]
    key = f"log_data/{day[:4]}/{day[5:7]}/{day}-events.json"
    original = (shared_sample / key).read_bytes()
    kept = original.split(b"\n")[:40]
    s3 = s3_client_for(sample_s3.endpoint_url)
    day_filter = f"start_time >= '{day}' AND start_time < DATE '{day}' + 1"
    try:
        s3.put_object(Bucket=sample_s3.bucket, Key=key, Body=b"\n".join(kept))
        assert_succeeded(run_dag(day, pipeline["env"], pipeline["homes"] / "redelivered"), day)
        plays = [json.loads(line) for line in kept if json.loads(line)["page"] == "NextSong"]
        times = {datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"]) for event in plays}
        assert query(pipeline["warehouse"], f"SELECT COUNT(*) FROM songplays WHERE {day_filter}") == [(len(plays),)]
        assert {row[0] for row in query(pipeline["warehouse"], f'SELECT start_time FROM "time" WHERE {day_filter}')} == times
    finally:
        s3.put_object(Bucket=sample_s3.bucket, Key=key, Body=original)
        assert_succeeded(run_dag(day, pipeline["env"], pipeline["homes"] / "redelivered"), day)


@pytest.fixture(scope="module")
def parallel_warehouse(postgres_server, sample_s3, tmp_path_factory):
    """Every day of DAYS loaded at once, three at a time (max_active_runs), into a warehouse of its own."""
    from tests.conftest import _fresh_database

    name = _fresh_database(postgres_server)
    env = {**os.environ, **airflow_env(postgres_server.uri(name), sample_s3.endpoint_url, sample_s3.bucket)}
    homes = tmp_path_factory.mktemp("parallel")
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda day: run_dag(day, env, homes / day), DAYS))
    for day, result in zip(DAYS, results):
        assert_succeeded(result, day)
    yield postgres_server.uri(name)
    postgres_server.drop_database(name)


def test_a_parallel_backfill_publishes_the_same_tables_as_the_sequential_one(pipeline, parallel_warehouse):
    assert snapshot(parallel_warehouse) == snapshot(pipeline["warehouse"])
    assert audit_areas(parallel_warehouse) == set()


# --- write–audit–publish: a bad re-delivery of a published day changes nothing published -----------

FAULT_DAY = SEQUENTIAL_DAYS[1]
FAULT_KEY = f"log_data/{FAULT_DAY[:4]}/{FAULT_DAY[5:7]}/{FAULT_DAY}-events.json"


def _every_fifth(lines, change):
    return [json.dumps(change(json.loads(line))) if number % 5 == 0 else line for number, line in enumerate(lines)]


FAULTS = {
    # fault: (the re-delivered file from the original lines, the task that fails)
    "an empty file": (lambda lines: [], "stage.stage_events"),
    "a userId the star schema cannot take": (
        lambda lines: _every_fifth(lines, lambda event: {**event, "userId": "x" + event["userId"]}
                                   if event["page"] == "NextSong" else event),
        "stage.stage_events"),  # rejected there, too many of them
    "a value its suite refuses": (lambda lines: _every_fifth(lines, lambda event: {**event, "method": "POST"}),
                                  "validate.validate_staging_events"),
    "every event delivered again with other values": (
        lambda lines: lines + [json.dumps({**json.loads(line), "level": "gold"}) for line in lines if line.strip()],
        "stage.stage_events"),  # which of the two is right cannot be told: both rejected
}


@pytest.fixture
def alerted_env(pipeline, smtp_catcher, mailbox):
    """The pipeline's environment with email alerts to the SMTP catcher."""
    return {**pipeline["env"], **alert_env("127.0.0.1", smtp_catcher.port, "oncall@sparkify.test")}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failed_redelivery_publishes_nothing_and_quarantines_its_rows(pipeline, alerted_env, mailbox, fault,
                                                                        sample_s3, s3_client_for, shared_sample):
    redeliver, failing_task = FAULTS[fault]
    original = (shared_sample / FAULT_KEY).read_bytes()
    delivered = "\n".join(redeliver(original.decode("utf-8").split("\n"))).encode()
    s3 = s3_client_for(sample_s3.endpoint_url)
    before = snapshot(pipeline["warehouse"])
    s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=delivered)
    try:
        result = run_dag(FAULT_DAY, alerted_env, pipeline["homes"] / "faults")
    finally:
        s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=original)
    assert result.returncode != 0, result.stdout[-3000:]
    assert snapshot(pipeline["warehouse"]) == before

    (area,) = audit_areas(pipeline["warehouse"], FAULT_DAY)  # the earlier fault's area was dropped
    staged, rejected = query(pipeline["warehouse"], f"SELECT (SELECT COUNT(*) FROM {area}.staging_events), "
                                                    f"(SELECT COUNT(*) FROM {area}.staging_rejects)")[0]
    assert staged + rejected == len([line for line in delivered.split(b"\n") if line.strip()])
    (mail,) = mailbox.messages()
    assert f"FAILED for {FAULT_DAY}" in mail.subject and f"{failing_task} (try 1 of 4)" in mail.text()
    assert f"Nothing was published: the published tables are as before this run. Its rows are kept in audit area " \
           f"{area} until the next run of {FAULT_DAY}" in mail.text()
    assert f"Its rows are kept in audit area {area}" in result.stdout + result.stderr  # the failed task's message


def test_a_clean_redelivery_after_a_failure_restores_the_day_and_drops_the_quarantine(pipeline):
    before = snapshot(pipeline["warehouse"])
    assert_succeeded(run_dag(FAULT_DAY, pipeline["env"], pipeline["homes"] / "faults"), FAULT_DAY)
    assert snapshot(pipeline["warehouse"]) == before
    assert audit_areas(pipeline["warehouse"], FAULT_DAY) == set()


def test_the_weekly_audit_names_every_day_with_a_source_file_that_was_never_loaded(pipeline, alerted_env, mailbox):
    result = run_dag("2018-12-03", alerted_env, pipeline["homes"] / "audit", dag_id="sparkify_audit")
    assert result.returncode != 0, result.stdout[-3000:]
    (mail,) = mailbox.messages()
    assert mail.subject == "[sparkify] sparkify_audit FAILED for 2018-12-03: audit_songplays, audit_staging_events, audit_time"
    november = [date(2018, 11, 1) + timedelta(days=n) for n in range(30)]  # the bucket has a file for each
    never = ", ".join(day.isoformat() for day in november if day.isoformat() not in DAYS)
    for table in ("staging_events", "songplays", "time"):
        assert f"PASS  {table} (all {len(DAYS)} days): " in mail.text()
        assert f"MISSING  {table}: no rows on {never}\n" in mail.text()


def test_a_day_with_a_few_bad_records_publishes_its_good_rows_and_its_rejects_until_redelivered(
        pipeline, alerted_env, mailbox, sample_s3, s3_client_for, shared_sample):
    clean = snapshot(pipeline["warehouse"])
    original = (shared_sample / FAULT_KEY).read_bytes()
    lines = original.split(b"\n")
    bad = {4: lines[4][:30], 20: lines[20].replace(b'"sessionId":', b'"sessionId":"x","was":')}
    s3 = s3_client_for(sample_s3.endpoint_url)
    s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY,
                  Body=b"\n".join(bad.get(number, line) for number, line in enumerate(lines)))
    try:
        assert_succeeded(run_dag(FAULT_DAY, alerted_env, pipeline["homes"] / "rejects"), FAULT_DAY)
    finally:
        s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=original)
    day = f"ts >= '{FAULT_DAY}' AND ts < DATE '{FAULT_DAY}' + 1"
    staged = clean["staging_events"][0] - len(bad)
    assert query(pipeline["warehouse"], "SELECT COUNT(*) FROM staging_events")[0][0] == staged
    good_times = {datetime(1970, 1, 1) + timedelta(milliseconds=json.loads(line)["ts"])
                  for number, line in enumerate(lines) if line.strip() and number not in bad}
    assert {ts for (ts,) in query(pipeline["warehouse"], f"SELECT ts FROM staging_events WHERE {day}")} == good_times
    rejects = query(pipeline["warehouse"], "SELECT day, source, line_number, column_name FROM staging_rejects "
                                           "ORDER BY line_number")
    source = f"s3://{sample_s3.bucket}/{FAULT_KEY}"
    assert rejects == [(date.fromisoformat(FAULT_DAY), source, 5, None), (date.fromisoformat(FAULT_DAY), source, 21, "sessionid")]
    (mail,) = mailbox.messages()
    assert mail.subject == (f"[sparkify] sparkify_etl succeeded with warnings for {FAULT_DAY}: stage.stage_events, "
                            "validate.validate_staging_events")  # the staging task, and the gate in Data Docs
    assert f"{source}, line 21: column sessionid: cannot load 'x'" in mail.text()
    assert "Every record of the source files of the batch's days was staged into staging_events" in mail.text()

    assert_succeeded(run_dag(FAULT_DAY, pipeline["env"], pipeline["homes"] / "rejects"), FAULT_DAY)  # re-delivered
    assert snapshot(pipeline["warehouse"]) == clean
    assert query(pipeline["warehouse"], "SELECT COUNT(*) FROM staging_rejects") == [(0,)]


def test_a_day_delivered_three_times_publishes_each_event_once(pipeline, alerted_env, mailbox, sample_s3, s3_client_for,
                                                                shared_sample):
    clean = snapshot(pipeline["warehouse"], loads_left_out=("staging_events", FAULT_DAY))
    original = (shared_sample / FAULT_KEY).read_bytes()
    s3 = s3_client_for(sample_s3.endpoint_url)
    s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=b"\n".join([original.rstrip(b"\n")] * 3))
    try:
        assert_succeeded(run_dag(FAULT_DAY, alerted_env, pipeline["homes"] / "duplicates"), FAULT_DAY)
    finally:
        s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=original)
    assert snapshot(pipeline["warehouse"], loads_left_out=("staging_events", FAULT_DAY)) == clean
    events = len([line for line in original.split(b"\n") if line.strip()])
    load = recorded_load(pipeline["warehouse"], "staging_events", FAULT_DAY)
    assert (load["read"], load["staged"], load["rejected"], load["duplicates"]) == (3 * events, events, 0, 2 * events)
    (mail,) = mailbox.messages()
    assert mail.subject == f"[sparkify] sparkify_etl succeeded with warnings for {FAULT_DAY}: stage.stage_events"
    assert f"{3 * events} record(s) read, {events} staged" in mail.text()
    assert f"{2 * events} exact duplicate(s) of staged records (staged once)" in mail.text()

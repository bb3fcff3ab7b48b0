"""The whole DAG on the local stack with the real Sparkify sample, reconciled against the JSON.

Each run is ``airflow dags test`` in its own process, as a scheduler's worker would run it. Days run
out of order and two of them in parallel, the way backfills do; the warehouse must come out the same
as an independent computation from the JSON files, and the same as all days run in parallel.
Write–audit–publish: re-delivered days that fail (an empty file, a value the fact cannot load, a
failed suite, failed SQL checks) change no published table, keep their rows in the run's audit area
and say so in the alert; a clean re-delivery afterwards restores the day and drops that area.
Bad input: a corpus of bad lines and of bad objects, generated from the real files, in as few runs as
can hold it: each bad record is a reject saying where and why, each good one is staged once.
"""

from __future__ import annotations

import gzip
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

from local_stack import timeouts
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
        subprocess.run([AIRFLOW, "db", "migrate"], env=process_env, capture_output=True, check=True,
                       timeout=timeouts.AIRFLOW_MIGRATE)
    return subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, day, *options], env=process_env, capture_output=True, text=True,
        timeout=timeouts.DAG_TEST,
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


@pytest.mark.parametrize("delivery", ["an empty file", "no file"])
def test_a_day_run_with_publish_empty_day_publishes_it_empty_and_the_audit_says_so(
        pipeline, alerted_env, mailbox, sample_s3, s3_client_for, shared_sample, delivery):
    from quality_gate.warehouse_audit import days_published_empty

    warehouse, s3 = pipeline["warehouse"], s3_client_for(sample_s3.endpoint_url)
    clean = snapshot(warehouse)
    original = (shared_sample / FAULT_KEY).read_bytes()
    if delivery == "no file":
        s3.delete_object(Bucket=sample_s3.bucket, Key=FAULT_KEY)
    else:
        s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=b"")
    try:
        result = run_dag(FAULT_DAY, alerted_env, pipeline["homes"] / "empty", "-c", '{"publish_empty_day": true}')
    finally:
        s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=original)
    assert_succeeded(result, FAULT_DAY)
    on_day = {"staging_events": "ts", "songplays": "start_time", '"time"': "start_time"}
    assert {table: query(warehouse, f"SELECT COUNT(*) FROM {table} WHERE {column} >= '{FAULT_DAY}' "
                                    f"AND {column} < DATE '{FAULT_DAY}' + 1")[0][0]
            for table, column in on_day.items()} == dict.fromkeys(on_day, 0)
    assert _load_counts(warehouse, "public", "staging_events", FAULT_DAY) == _counts(0, 0, 0, 0, 0)
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        assert days_published_empty(cursor) == [date.fromisoformat(FAULT_DAY)]
    (mail,) = mailbox.messages()
    assert mail.subject == (f"[sparkify] sparkify_etl succeeded with warnings for {FAULT_DAY}: stage.stage_events, "
                            "validate.validate_songplays, validate.validate_staging_events, validate.validate_time")
    assert f"Table songplays: no rows on {FAULT_DAY}, as this run publishes an empty day." in mail.text()
    assert (f"s3://{sample_s3.bucket}/{FAULT_KEY} holds no record: staged nothing, so the run publishes "
            f"staging_events's day {FAULT_DAY} empty") in mail.text()

    assert_succeeded(run_dag(FAULT_DAY, pipeline["env"], pipeline["homes"] / "empty"), FAULT_DAY)  # re-delivered
    assert snapshot(warehouse) == clean
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        assert days_published_empty(cursor) == []


# --- a corpus of bad input, generated from the real day file, through the DAG ----------------------

MiB = 1024 * 1024
RECORD_LIMIT = 4 * MiB  # helpers.json_copy.MAX_RECORD_BYTES: Redshift's largest JSON record
UTF8_BOM = b"\xef\xbb\xbf"
INVALID_BYTE = b"\xff"  # never in UTF-8
EVENT_KEY = ("userid", "sessionid", "iteminsession", "ts")
LOADED, DUPLICATE, CONFLICT = "loaded", "staged once, counted as a duplicate", "both rejected (same key, other values)"


def _edited(change):
    """The line as JSON, changed by ``change`` (an event -> the event delivered)."""
    return lambda line: [json.dumps(change(json.loads(line))).encode()]


def _cut(before: bytes, keep: int = 0):
    """The line cut off ``keep`` bytes after the start of ``before``."""
    return lambda line: [line[:line.index(before) + keep]]


BAD_LINES = {
    # kind: (which line of the day, what is delivered instead of it, the outcome: LOADED, DUPLICATE, CONFLICT,
    #        or the (column, reason) of its reject: a part of the reason, or the whole of it from the delivered line)
    "a UTF-8 byte order mark opening the file": ("first", lambda line: [UTF8_BOM + line], LOADED),
    "a line cut off inside a value": ("any", _cut(b'"auth":"', 9), (None, "invalid JSON: ")),
    "a line cut off after a comma (as if its object went on at the next line)":
        ("any", _cut(b',"auth":', 1), (None, "invalid JSON: Expecting property name enclosed in double quotes")),
    "a ts that is not a time": ("any", _edited(lambda event: {**event, "ts": "yesterday"}),
                                ("ts", "cannot load 'yesterday'")),
    "a sessionId that is not a number": ("any", _edited(lambda event: {**event, "sessionId": "x"}),
                                         ("sessionid", "cannot load 'x'")),
    "no ts (NOT NULL)": ("any", _edited(lambda event: {key: value for key, value in event.items() if key != "ts"}),
                         ("ts", "cannot load None: the column is NOT NULL")),
    "a userId that is not a whole number, on a NextSong event": (
        "NextSong", _edited(lambda event: {**event, "userId": "x" + event["userId"]}),
        ("userid", "the star schema's user_id is an INTEGER")),
    "an invalid UTF-8 byte in a value": (
        "any", lambda line: [line.replace(b'"level":"', b'"level":"' + INVALID_BYTE, 1)],
        (None, lambda line: f"not valid UTF-8 (invalid start byte at byte {line.index(INVALID_BYTE)})")),
    # 9 MiB: over the record limit, and it makes the day's object big enough to be read in chunks (s3_objects)
    "a record over 4 MB": (
        "any", _edited(lambda event: {**event, "notes": "x" * (9 * MiB)}),
        (None, lambda line: f"the record's {len(line):,} bytes exceed the {RECORD_LIMIT:,} COPY loads")),
    "keys the JSONPaths file does not name": (
        "any", _edited(lambda event: {**event, "device": {"os": "BeOS", "beta": True}, "experiments": [1, None]}),
        LOADED),
    "a CRLF line end": ("any", lambda line: [line + b"\r"], LOADED),
    "a CRLF line end on the last line, then the file's end": ("last", lambda line: [line + b"\r", b""], LOADED),
    "an event delivered twice": ("any", lambda line: [line, line], DUPLICATE),
    "an event's key delivered again with other values": (
        "any", lambda line: [line, json.dumps({**json.loads(line), "level": "platinum"}).encode()], CONFLICT),
}


def _corrupted_day(lines: list[bytes]):
    """The day file with every kind of BAD_LINES applied to a line of its own (lines 20 apart, where the kind does
    not need a particular one): the file, and per kind (its original line's event, its first delivered line number,
    what was delivered instead of it)."""
    events = [json.loads(line) for line in lines]
    spare = iter(range(10, len(lines) - 1, 20))
    chosen = {}
    for kind, (where, _, _) in BAD_LINES.items():
        if where == "first":
            chosen[0] = kind
        elif where == "last":
            chosen[len(lines) - 1] = kind
        else:
            number = next(spare)
            while where == "NextSong" and events[number]["page"] != "NextSong":
                number += 1
            chosen[number] = kind
    assert len(chosen) == len(BAD_LINES), "two kinds on one line"
    delivered, corrupted = [], {}
    for number, line in enumerate(lines):
        if number not in chosen:
            delivered.append(line)
            continue
        kind = chosen[number]
        instead = BAD_LINES[kind][1](line)
        corrupted[kind] = (events[number], len(delivered) + 1, instead)
        delivered += instead
    return b"\n".join(delivered), corrupted


def _time(event) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"])


def _event_key(event) -> tuple:
    return event["userId"], event["sessionId"], event["itemInSession"], _time(event)


def _day_rows(warehouse, day: str, table: str = "staging_events") -> Counter:
    """The day's rows of a staging table as text, by their key (userid, sessionid, iteminsession, ts)."""
    return Counter(query(warehouse, f"SELECT {', '.join(EVENT_KEY)}, CAST(t.* AS TEXT) FROM {table} t "
                                    f"WHERE ts >= '{day}' AND ts < DATE '{day}' + 1"))


def _load_counts(warehouse, schema: str, table: str, day: str | None = None) -> dict[str, float]:
    """The counts ``table``'s staging recorded in ``schema``.quality_metrics (``load:read``, ``load:staged``, ...)."""
    on_day = f" AND day = '{day}'" if day else ""
    return dict(query(warehouse, f"SELECT metric, value FROM {schema}.quality_metrics WHERE table_name = '{table}' "
                                 f"AND metric LIKE 'load:%'{on_day}"))


def _counts(read: int, staged: int, rejected: int, duplicates: int, allowed: int) -> dict[str, float]:
    return {"load:read": read, "load:staged": staged, "load:rejected": rejected, "load:duplicates": duplicates,
            "load:rejects_allowed": allowed}


def _assert_rejects(rows, expected) -> None:
    """``rows`` (source, line, column, reason, raw text), from the table, against ``expected`` (source, line, column,
    a substring of the reason, the raw text): the same records, in the order of the source."""
    def order(row):
        return row[0], row[1] is None, row[1] or 0, row[3]
    rows, expected = sorted(rows, key=order), sorted(expected, key=order)
    assert [row[:3] for row in rows] == [row[:3] for row in expected]
    for row, (source, line, column, reason, raw) in zip(rows, expected):
        assert reason in row[3], f"{source}, line {line}: {row[3]!r} does not say {reason!r}"
        assert (json.loads(row[4]) if column else row[4]) == raw, f"{source}, line {line}: raw text {row[4][:200]!r}"


GZIP_REASON = ("the object is gzip-compressed: load it with COPY's GZIP option (add \"GZIP\" to the table spec's "
               "copy_options)")
SONG_PREFIX = "song_data/Z/Z/Z/"  # after every real song file: their keys start with song_data/A/


def _new_song(song, number: int, **changes) -> dict:
    """A song that is not in the catalog, by a catalog artist."""
    return {**song, "song_id": f"SOZZZZZ{number:011d}", "title": f"Corpus song {number}", **changes}


def _one_a_line(records) -> bytes:
    return b"\n".join(json.dumps(record).encode() for record in records)


def _on_one_line(records) -> bytes:
    return b" ".join(json.dumps(record).encode() for record in records)


def _as_array(records) -> bytes:
    return json.dumps(records).encode()


def _gzipped(records) -> bytes:
    return gzip.compress(_one_a_line(records))


BAD_SONG_FILES = {
    # kind: (its records, from a real catalog song; how the file holds them; each record's outcome: LOADED,
    #        CONFLICT, or the (column, reason) of its reject)
    "two songs, one a line": (lambda song: [_new_song(song, 1), _new_song(song, 2)], _one_a_line, [LOADED, LOADED]),
    "two songs on one line": (lambda song: [_new_song(song, 3), _new_song(song, 4)], _on_one_line, [LOADED, LOADED]),
    "a duration that is not a number": (lambda song: [_new_song(song, 5, duration="long")], _one_a_line,
                                        [("duration", "cannot load 'long'")]),
    "a JSON array of a song": (lambda song: [_new_song(song, 6)], _as_array,
                               [(None, "expected a JSON object, found list")]),
    "a gzip-compressed song file": (lambda song: [_new_song(song, 7)], _gzipped, [(None, GZIP_REASON)]),
    "a catalog song's song_id with other values": (lambda song: [{**song, "title": song["title"] + " (live)"}],
                                                    _one_a_line, [CONFLICT]),
}


def test_a_gzip_day_file_fails_the_run_at_staging_saying_to_add_gzip_while_bad_song_files_are_rejected_alone(
        pipeline, alerted_env, mailbox, sample_s3, s3_client_for, shared_sample):
    """Whole objects, in one run: the day file gzip-compressed (rejected, saying to add GZIP: the run fails at
    staging and publishes nothing) and BAD_SONG_FILES added to the catalog (its staging goes on: a few rejects among
    its thousands of records). The rejects and the staged rows are in the run's audit area."""
    warehouse, s3, bucket = pipeline["warehouse"], s3_client_for(sample_s3.endpoint_url), sample_s3.bucket
    before = snapshot(warehouse)
    catalog = {song_id for (song_id,) in query(warehouse, "SELECT song_id FROM staging_songs")}
    song = json.loads(min((shared_sample / "song_data").rglob("*.json")).read_text(encoding="utf-8"))
    original = (shared_sample / FAULT_KEY).read_bytes()
    files = {f"{SONG_PREFIX}TRZZZ{number:02d}.json": kind for number, kind in enumerate(BAD_SONG_FILES, 1)}
    bodies = {}
    s3.put_object(Bucket=bucket, Key=FAULT_KEY, Body=gzip.compress(original))
    try:
        for key, kind in files.items():
            make, write, _ = BAD_SONG_FILES[kind]
            bodies[key] = write(make(song))
            s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])
        result = run_dag(FAULT_DAY, alerted_env, pipeline["homes"] / "whole_objects")
    finally:
        s3.put_object(Bucket=bucket, Key=FAULT_KEY, Body=original)
        for key in files:
            s3.delete_object(Bucket=bucket, Key=key)  # the catalog is the published one again
    assert result.returncode != 0, result.stdout[-3000:]
    assert snapshot(warehouse) == before
    (area,) = audit_areas(warehouse, FAULT_DAY)

    def area_rejects(table):
        return query(warehouse, f"SELECT source, line_number, column_name, reason, raw_text "
                                f"FROM {area}.staging_rejects WHERE table_name = '{table}'")

    events_source = f"s3://{bucket}/{FAULT_KEY}"
    _assert_rejects(area_rejects("staging_events"), [(events_source, 1, None, GZIP_REASON, "")])
    assert query(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(0,)]
    assert _load_counts(warehouse, area, "staging_events") == _counts(1, 0, 1, 0, 0)  # the whole object, one record

    expected_rejects, loaded, conflicted, read = [], set(), set(), len(catalog)
    for key, kind in files.items():
        make, write, outcomes = BAD_SONG_FILES[kind]
        records = make(song)
        read += len(records)
        for number, (record, outcome) in enumerate(zip(records, outcomes), 1):
            if outcome == LOADED:
                loaded.add(record["song_id"])
            elif outcome == CONFLICT:
                conflicted.add(record["song_id"])
                key = f"a record with the same key (song_id) = ({record['song_id']}) and other values"
                expected_rejects += [(f"s3://{bucket}/song_data/", None, None, key, None)] * 2
            else:
                column, reason = outcome
                line = number if write is _one_a_line else 1
                raw = record if column else "" if write is _gzipped else bodies[key].decode()
                expected_rejects.append((f"s3://{bucket}/{key}", line, column, reason, raw))
    _assert_rejects(area_rejects("staging_songs"), expected_rejects)
    staged = catalog - conflicted | loaded
    area_songs = Counter(song_id for (song_id,) in query(warehouse, f"SELECT song_id FROM {area}.staging_songs"))
    assert area_songs == Counter(staged)  # one row each
    assert read == len(staged) + len(expected_rejects)  # nothing lost, nothing counted twice
    assert _load_counts(warehouse, area, "staging_songs") == _counts(read, len(staged), len(expected_rejects), 0,
                                                                     min(100, int(0.01 * read)))  # the default limit

    (mail,) = mailbox.messages()
    text = mail.text()
    assert mail.subject == f"[sparkify] sparkify_etl FAILED for {FAULT_DAY}: stage.stage_events"
    assert "1. stage.stage_events (try 1 of 4)" in text
    assert f"Too many rejects staging staging_events: {events_source}: 1 record(s) read, 0 staged into " in text
    assert f"{events_source}, line 1: {GZIP_REASON}" in text
    assert f"Nothing was published: the published tables are as before this run. Its rows are kept in audit area " \
           f"{area} until the next run of {FAULT_DAY}" in text
    assert "Warning from stage.stage_songs (the run went on)" in text  # within its limit: staged, the rejects aside
    assert f"s3://{bucket}/song_data/: {read} record(s) read, {len(staged)} staged into " in text
    assert (f", {len(expected_rejects)} rejected (within the limit: at most 100 and at most 1.00% of the records "
            "read)") in text


def test_every_kind_of_bad_line_in_one_day_rejects_exactly_those_lines_and_publishes_every_good_row_once(
        pipeline, alerted_env, mailbox, sample_s3, s3_client_for, shared_sample):
    """Every kind of BAD_LINES on a line of its own in one re-delivered day, run with the reject limit raised: each
    bad line is a reject naming its line, column and reason, every other event is staged as the clean file stages it,
    and the clean file afterwards restores every published table."""
    warehouse, s3 = pipeline["warehouse"], s3_client_for(sample_s3.endpoint_url)
    clean, clean_rows = snapshot(warehouse), _day_rows(warehouse, FAULT_DAY)
    original = (shared_sample / FAULT_KEY).read_bytes()
    lines = original.split(b"\n")
    delivered, corrupted = _corrupted_day(lines)
    limit = {"max_rejects": 50, "max_reject_fraction": 0.2}  # the default (1% of ~400 records) would fail the run
    s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=delivered)
    try:
        result = run_dag(FAULT_DAY, alerted_env, pipeline["homes"] / "corpus", "-c", json.dumps(limit))
    finally:
        s3.put_object(Bucket=sample_s3.bucket, Key=FAULT_KEY, Body=original)
    assert_succeeded(result, FAULT_DAY)

    source = f"s3://{sample_s3.bucket}/{FAULT_KEY}"
    expected_rejects, lost = [], set()
    for kind, (event, line_number, instead) in corrupted.items():
        outcome = BAD_LINES[kind][2]
        if outcome == CONFLICT:
            key = (f"a record with the same key ({', '.join(EVENT_KEY)}) = ({event['userId']}, {event['sessionId']}, "
                   f"{event['itemInSession']}, {_time(event):%Y-%m-%d %H:%M:%S}")
            expected_rejects += [(source, None, None, key, None)] * 2
        elif outcome not in (LOADED, DUPLICATE):
            column, reason = outcome
            raw = json.loads(instead[0]) if column else instead[0].decode("utf-8", errors="replace")[:4096]
            reason = reason(instead[0]) if callable(reason) else reason
            expected_rejects.append((source, line_number, column, reason, raw))
        if outcome not in (LOADED, DUPLICATE):
            lost.add(_event_key(event))
    rejects = query(warehouse, "SELECT source, line_number, column_name, reason, raw_text FROM staging_rejects "
                               f"WHERE table_name = 'staging_events' AND day = '{FAULT_DAY}'")
    _assert_rejects(rejects, expected_rejects)
    assert query(warehouse, "SELECT COUNT(*) FROM staging_rejects") == [(len(expected_rejects),)]  # that day's only

    # The staged rows are exactly the clean day's rows of the events not rejected: every loaded kind staged as if clean.
    good = {_event_key(json.loads(line)) for line in lines} - lost
    assert _day_rows(warehouse, FAULT_DAY) == Counter({row: n for row, n in clean_rows.items() if row[:4] in good})
    plays = sum(1 for line in lines if (event := json.loads(line))["page"] == "NextSong" and event["userId"]
                and _event_key(event) in good)
    assert query(warehouse, f"SELECT COUNT(*) FROM songplays WHERE start_time >= '{FAULT_DAY}' "
                            f"AND start_time < DATE '{FAULT_DAY}' + 1") == [(plays,)]

    read = sum(1 for line in delivered.split(b"\n") if line.strip())  # one record a line
    duplicates = sum(1 for kind in corrupted if BAD_LINES[kind][2] == DUPLICATE)
    assert read == len(good) + len(expected_rejects) + duplicates  # nothing lost, nothing counted twice
    allowed = min(limit["max_rejects"], int(limit["max_reject_fraction"] * read))
    assert _load_counts(warehouse, "public", "staging_events", FAULT_DAY) == _counts(
        read, len(good), len(expected_rejects), duplicates, allowed)
    (mail,) = mailbox.messages()
    assert mail.subject == (f"[sparkify] sparkify_etl succeeded with warnings for {FAULT_DAY}: stage.stage_events, "
                            "validate.validate_staging_events")
    assert f"{source}: {read} record(s) read, {len(good)} staged into " in mail.text()
    assert (f", {len(expected_rejects)} rejected, {duplicates} exact duplicate(s) of staged records (staged once) "
            "(within the limit: at most 50 and at most 20.00% of the records read)") in mail.text()

    assert_succeeded(run_dag(FAULT_DAY, pipeline["env"], pipeline["homes"] / "corpus"), FAULT_DAY)  # re-delivered
    assert snapshot(warehouse) == clean
    assert query(warehouse, "SELECT COUNT(*) FROM staging_rejects") == [(0,)]
    assert audit_areas(warehouse, FAULT_DAY) == set()


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
    load = _load_counts(pipeline["warehouse"], "public", "staging_events", FAULT_DAY)
    assert load == _counts(3 * events, events, 0, 2 * events, min(100, int(0.01 * 3 * events)))  # the default limit
    (mail,) = mailbox.messages()
    assert mail.subject == f"[sparkify] sparkify_etl succeeded with warnings for {FAULT_DAY}: stage.stage_events"
    assert f"{3 * events} record(s) read, {events} staged" in mail.text()
    assert f"{2 * events} exact duplicate(s) of staged records (staged once)" in mail.text()

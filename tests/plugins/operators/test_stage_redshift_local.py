"""StageToRedshiftOperator on the local stack: real PostgreSQL, real S3 endpoint (moto), into an audit area
opened by OpenAuditAreaOperator and, for the catalog, published by PublishOperator."""

import gzip
import json
from datetime import datetime, timedelta

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from helpers.audit_area import area_name
from helpers.tables import TABLES
from operators import OpenAuditAreaOperator, PublishOperator
from operators.stage_redshift import StageToRedshiftOperator

SAMPLE_DAY = "2018-11-05"
EVENTS_KEY = f"log_data/2018/11/{SAMPLE_DAY}-events.json"


def open_area(day=SAMPLE_DAY, run_id="run"):
    area = area_name(run_id, day)
    OpenAuditAreaOperator(task_id="open_audit_area", audit_area=area).execute(context={})
    return area


@pytest.fixture
def area(warehouse, airflow_connections):
    """The audit area of a run of SAMPLE_DAY, opened."""
    return open_area()


@pytest.fixture
def bucket(s3_bucket, s3_client, shared_sample):
    """A bucket holding one real day of events and the real JSONPaths file."""
    for key in (EVENTS_KEY, "log_json_path.json"):
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=(shared_sample / key).read_bytes())
    return s3_bucket


def stage_events(bucket, area, day=SAMPLE_DAY, key=EVENTS_KEY, **overrides):
    start = datetime.fromisoformat(day)
    arguments = dict(
        task_id="stage_events", table="staging_events", audit_area=area, s3_bucket=bucket, s3_key=key,
        json_paths="log_json_path.json", timeformat="epochmillisecs", slice_column="ts",
        slice_start=day, slice_end=(start + timedelta(days=1)).date().isoformat(),
    )
    arguments.update(overrides)
    StageToRedshiftOperator(**arguments).execute(context={})


def fetch(warehouse, sql):
    with psycopg.connect(warehouse) as conn:
        return conn.execute(sql).fetchall()


def expected_event_row(event):
    """The row Redshift's COPY makes of one event, written out independently of the operator."""
    return (
        event["artist"], event["auth"], event["firstName"], event["gender"], event["itemInSession"],
        event["lastName"], event["length"], event["level"], event["location"], event["method"], event["page"],
        event["registration"], event["sessionId"], event["song"], event["status"],
        datetime(1970, 1, 1) + timedelta(milliseconds=event["ts"]), event["userAgent"], event["userId"],
    )


def test_stages_every_event_of_the_day_exactly_as_in_the_json_into_the_area_only(warehouse, bucket, area,
                                                                                   shared_sample):
    stage_events(bucket, area)
    lines = (shared_sample / EVENTS_KEY).read_text(encoding="utf-8").split("\n")
    expected = sorted((expected_event_row(json.loads(line)) for line in lines), key=repr)
    staged = sorted(fetch(warehouse, f"SELECT * FROM {area}.staging_events"), key=repr)
    assert len(staged) == 408
    assert staged == expected
    assert fetch(warehouse, "SELECT COUNT(*) FROM public.staging_events") == [(0,)]


def test_staging_again_replaces_the_areas_rows(warehouse, bucket, area):
    stage_events(bucket, area)
    stage_events(bucket, area)  # a retry, or the task cleared
    assert fetch(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(408,)]


def test_opening_an_area_drops_the_earlier_areas_of_its_day_only(warehouse, bucket, area):
    other_day = open_area(day="2018-11-06")
    stage_events(bucket, area)
    rerun = open_area(run_id="rerun")
    schemas = {name for (name,) in fetch(warehouse, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'audit%'")}
    assert schemas == {other_day, rerun}


def rejects_of(warehouse, area):
    return fetch(warehouse, f"SELECT table_name, day, run_id, source, line_number, column_name, reason, raw_text "
                            f"FROM {area}.staging_rejects ORDER BY line_number")


def test_a_few_bad_records_are_rejected_with_where_and_why_and_the_good_ones_stage(warehouse, bucket, area, s3_client,
                                                                                   shared_sample):
    lines = (shared_sample / EVENTS_KEY).read_bytes().split(b"\n")
    truncated, wrong_type = lines[9][:40], lines[99].replace(b'"sessionId":', b'"sessionId":"x",  "was":')
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body=b"\n".join([*lines[:9], truncated, *lines[10:99],
                                                                         wrong_type, *lines[100:]]))
    stage_events(bucket, area)
    assert fetch(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(406,)]
    source = f"s3://{bucket}/{EVENTS_KEY}"
    day = datetime.fromisoformat(SAMPLE_DAY).date()
    (first, second) = rejects_of(warehouse, area)
    assert first[:6] == ("staging_events", day, "manual", source, 10, None)
    assert first[6].startswith("invalid JSON: ") and first[7] == truncated.decode()
    assert second[:6] == ("staging_events", day, "manual", source, 100, "sessionid")
    assert second[6].startswith("cannot load 'x': ") and json.loads(second[7])["sessionId"] == "x"


def test_a_user_id_the_star_schema_cannot_take_is_rejected_at_staging(warehouse, bucket, area, s3_client, shared_sample):
    from helpers.tables import TABLES as SPECS

    (events,) = [spec for spec in SPECS if spec.name == "staging_events"]
    lines = (shared_sample / EVENTS_KEY).read_text(encoding="utf-8").split("\n")
    lines[3] = json.dumps({**json.loads(lines[3]), "page": "NextSong", "userId": "26x"})
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body="\n".join(lines))
    stage_events(bucket, area, column_rules=events.column_rules)
    assert fetch(warehouse, f"SELECT COUNT(*), COUNT(*) FILTER (WHERE userid = '') FROM {area}.staging_events")[0] == (
        407, sum(1 for line in lines if json.loads(line)["userId"] == ""))  # logged-out events keep their ""
    ((line, column, reason),) = [row[4:7] for row in rejects_of(warehouse, area)]
    assert (line, column) == (4, "userid") and reason.startswith("cannot load '26x': the star schema's user_id is an INTEGER")


EVENT_KEY = ("userid", "sessionid", "iteminsession", "ts")


def test_exact_duplicates_stage_once_and_a_key_with_other_values_is_rejected(warehouse, bucket, area, s3_client,
                                                                             shared_sample, capsys):
    lines = (shared_sample / EVENTS_KEY).read_text(encoding="utf-8").split("\n")
    changed = json.dumps({**json.loads(lines[7]), "level": "platinum"})
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body="\n".join([*lines, *lines, *lines[:5], changed]))
    stage_events(bucket, area, record_key=EVENT_KEY)
    assert fetch(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(407,)]
    event = json.loads(lines[7])
    rejected = rejects_of(warehouse, area)
    assert len(rejected) == 2  # both: which of them is right cannot be told
    for line, column, reason in (row[4:7] for row in rejected):
        assert (line, column) == (None, None) and reason.startswith(
            f"a record with the same key (userid, sessionid, iteminsession, ts) = ({event['userId']}, "
            f"{event['sessionId']}, {event['itemInSession']}, ")
    assert "413 exact duplicate(s) of staged records (staged once)" in capsys.readouterr().out


def test_a_mostly_bad_file_fails_naming_its_first_rejects_and_keeps_them_in_the_area(warehouse, bucket, area, s3_client):
    good = '{"ts": 1541376000000, "userId": "1", "page": "Home"}'
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY,
                         Body=f'{good}\n{good}\n{{"ts": 15413760, "userId": }}\n{good}\n{{"userId": "2"}}')
    with pytest.raises(AirflowFailException) as failed:
        stage_events(bucket, area)
    message = str(failed.value)
    assert f"Too many rejects staging staging_events: s3://{bucket}/{EVENTS_KEY}: 5 record(s) read, 3 staged" in message
    assert f"{EVENTS_KEY}, line 3: invalid JSON" in message
    assert f"{EVENTS_KEY}, line 5: column ts: cannot load None: the column is NOT NULL" in message
    assert f"SELECT * FROM {area}.staging_rejects WHERE table_name = 'staging_events'" in message
    assert fetch(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(3,)]
    assert [row[4] for row in rejects_of(warehouse, area)] == [3, 5]


def test_reading_stops_once_rejects_pass_max_rejects(warehouse, bucket, area, s3_client):
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body="\n".join(["[1]"] * 50))
    with pytest.raises(AirflowFailException, match=r"11 record\(s\) read, 0 staged .*, 11 rejected \(reading stopped"):
        stage_events(bucket, area, max_rejects=10, max_reject_fraction=1)
    assert len(rejects_of(warehouse, area)) == 11


def test_a_gzip_file_loads_with_the_gzip_option_and_is_rejected_saying_so_without(warehouse, bucket, area, s3_client,
                                                                                    shared_sample):
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body=gzip.compress((shared_sample / EVENTS_KEY).read_bytes()))
    with pytest.raises(AirflowFailException, match=r"line 1: the object is gzip-compressed: load it with COPY's GZIP option"):
        stage_events(bucket, area)
    stage_events(bucket, area, copy_options=["GZIP"])
    assert fetch(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(408,)]


def test_a_byte_order_mark_and_crlf_line_ends_load_like_plain_lines(warehouse, bucket, area, s3_client, shared_sample):
    lines = (shared_sample / EVENTS_KEY).read_bytes().split(b"\n")
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body=b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n")
    stage_events(bucket, area)
    assert fetch(warehouse, f"SELECT COUNT(*) FROM {area}.staging_events") == [(408,)]
    assert rejects_of(warehouse, area) == []


def test_a_value_of_the_wrong_type_names_the_column(warehouse, bucket, area, s3_client):
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body='{"ts": 1541376000000, "sessionId": "forty"}')
    with pytest.raises(AirflowFailException, match=r"line 1: column sessionid: cannot load 'forty'"):
        stage_events(bucket, area)


def test_events_outside_the_runs_day_fail_the_load(warehouse, bucket, airflow_connections):
    area = open_area(day="2018-11-04")
    with pytest.raises(AirflowFailException, match=r"408 row\(s\) have ts outside this run's slice"):
        stage_events(bucket, area, day="2018-11-04", key=EVENTS_KEY)
    assert fetch(warehouse, "SELECT COUNT(*) FROM information_schema.tables "
                            f"WHERE table_schema = '{area}' AND table_name = 'staging_events'") == [(0,)]


def test_a_missing_day_file_fails_naming_the_uri(warehouse, bucket, airflow_connections):
    area = open_area(day="2018-11-07")
    with pytest.raises(AirflowFailException, match=r"No object under s3://.*/log_data/2018/11/2018-11-07-events.json"):
        stage_events(bucket, area, day="2018-11-07", key="log_data/2018/11/2018-11-07-events.json")


def test_a_missing_jsonpaths_file_fails_at_once_naming_it(warehouse, bucket, area):
    with pytest.raises(AirflowFailException, match=rf"The JSONPaths file s3://{bucket}/paths/none.json does not exist"):
        stage_events(bucket, area, json_paths="paths/none.json")


SONG = {
    "artist_id": "ARJIE2Y1187B994AB7", "artist_latitude": None, "artist_location": 108,
    "artist_longitude": None, "artist_name": 112, "duration": 152.92036, "num_songs": 1,
    "song_id": "SOUPIRU12A6D4FA1E1", "title": 4.6, "year": 0,
}


def stage_songs(bucket, area):
    StageToRedshiftOperator(
        task_id="stage_songs", table="staging_songs", audit_area=area, s3_bucket=bucket, s3_key="song_data/",
        skip_unchanged=True,
    ).execute(context={})


def publish_catalog(area):
    """The publish task, for the catalog only."""
    (catalog,) = [spec for spec in TABLES if spec.name == "staging_songs"]
    PublishOperator(task_id="publish", audit_area=area, tables=[catalog], slice_start=SAMPLE_DAY,
                    slice_end="2018-11-06").execute(context={})


def test_songs_load_with_auto_and_numbers_become_strings(warehouse, s3_bucket, s3_client, area):
    s3_client.put_object(Bucket=s3_bucket, Key="song_data/A/B/C/TRABC1.json", Body=json.dumps(SONG))
    s3_client.put_object(  # an object spread over several lines, as Redshift accepts too
        Bucket=s3_bucket, Key="song_data/A/B/C/TRABC2.json",
        Body=json.dumps({**SONG, "song_id": "SO2", "title": "Can\x19t Stop\u00a0", "artist_name": "Beyonc\u00e9"}, indent=2),
    )
    stage_songs(s3_bucket, area)
    rows = fetch(warehouse, f"SELECT song_id, title, artist_name, artist_location, year FROM {area}.staging_songs ORDER BY song_id")
    assert rows == [("SO2", "Can\x19t Stop\u00a0", "Beyonc\u00e9", "108", 0), ("SOUPIRU12A6D4FA1E1", "4.6", "112", "108", 0)]


def test_a_published_catalog_is_not_copied_again_until_it_changes(warehouse, s3_bucket, s3_client, airflow_connections,
                                                                   capsys):
    s3_client.put_object(Bucket=s3_bucket, Key="song_data/A/B/C/TRABC1.json", Body=json.dumps(SONG))
    stage_songs(s3_bucket, area := open_area(run_id="first"))
    publish_catalog(area)
    assert fetch(warehouse, "SELECT table_name, objects, row_count FROM staging_manifest") == [("staging_songs", 1, 1)]
    capsys.readouterr()
    stage_songs(s3_bucket, area := open_area(run_id="second"))
    assert "nothing to copy; the audit area reads the published table" in capsys.readouterr().out
    assert fetch(warehouse, f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{area}' "
                            "ORDER BY table_name") == [("quality_metrics",), ("staging_rejects",)]
    publish_catalog(area)  # nothing of the catalog in the area: the published one stays
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_songs") == [(1,)]

    with psycopg.connect(warehouse) as conn:  # rows lost since: the next run copies again
        conn.execute("DELETE FROM staging_songs")
    stage_songs(s3_bucket, area := open_area(run_id="third"))
    assert "nothing to copy" not in capsys.readouterr().out
    publish_catalog(area)
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_songs") == [(1,)]

    s3_client.put_object(Bucket=s3_bucket, Key="song_data/A/B/C/TRABC2.json", Body=json.dumps({**SONG, "song_id": "SO2"}))
    stage_songs(s3_bucket, area := open_area(run_id="fourth"))
    assert "nothing to copy" not in capsys.readouterr().out
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_songs") == [(1,)]  # not published yet
    publish_catalog(area)
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_songs") == [(2,)]
    assert fetch(warehouse, "SELECT objects, row_count FROM staging_manifest") == [(2, 2)]

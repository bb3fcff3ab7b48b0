"""StageToRedshiftOperator on the local stack: real PostgreSQL, real S3 endpoint (moto)."""

import json
from datetime import datetime, timedelta

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from operators.stage_redshift import StageToRedshiftOperator

SAMPLE_DAY = "2018-11-05"
EVENTS_KEY = f"log_data/2018/11/{SAMPLE_DAY}-events.json"


@pytest.fixture
def bucket(s3_bucket, s3_client, shared_sample):
    """A bucket holding one real day of events and the real JSONPaths file."""
    for key in (EVENTS_KEY, "log_json_path.json"):
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=(shared_sample / key).read_bytes())
    return s3_bucket


def stage_events(bucket, day=SAMPLE_DAY, key=EVENTS_KEY, **overrides):
    start = datetime.fromisoformat(day)
    arguments = dict(
        task_id="stage_events", table="staging_events", s3_bucket=bucket, s3_key=key,
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


def test_stages_every_event_of_the_day_exactly_as_in_the_json(warehouse, bucket, shared_sample, airflow_connections):
    stage_events(bucket)
    lines = (shared_sample / EVENTS_KEY).read_text(encoding="utf-8").split("\n")
    expected = sorted((expected_event_row(json.loads(line)) for line in lines), key=repr)
    staged = sorted(fetch(warehouse, "SELECT * FROM staging_events"), key=repr)
    assert len(staged) == 408
    assert staged == expected


def test_restaging_a_day_replaces_it_and_keeps_other_days(warehouse, bucket, s3_client, shared_sample, airflow_connections):
    other_key = "log_data/2018/11/2018-11-06-events.json"
    s3_client.put_object(Bucket=bucket, Key=other_key, Body=(shared_sample / other_key).read_bytes())
    stage_events(bucket)
    stage_events(bucket, day="2018-11-06", key=other_key)
    stage_events(bucket)
    counts = fetch(warehouse, "SELECT CAST(ts AS DATE), COUNT(*) FROM staging_events GROUP BY 1 ORDER BY 1")
    assert [(str(day), n) for day, n in counts] == [("2018-11-05", 408), ("2018-11-06", 184)]


def test_a_malformed_line_fails_naming_object_and_line_and_stages_nothing(warehouse, bucket, s3_client, airflow_connections):
    stage_events(bucket)
    good = '{"ts": 1541376000000, "userId": "1", "page": "Home"}'
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body=f'{good}\n{good}\n{{"ts": 15413760, "userId": }}\n{good}')
    with pytest.raises(AirflowFailException, match=rf"s3://{bucket}/{EVENTS_KEY}, line 3: invalid JSON"):
        stage_events(bucket)
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_events") == [(408,)]


def test_a_value_of_the_wrong_type_names_the_column(warehouse, bucket, s3_client, airflow_connections):
    s3_client.put_object(Bucket=bucket, Key=EVENTS_KEY, Body='{"ts": 1541376000000, "sessionId": "forty"}')
    with pytest.raises(AirflowFailException, match=r"line 1: column sessionid \(integer\): cannot load 'forty'"):
        stage_events(bucket)


def test_events_outside_the_runs_day_fail_the_load(warehouse, bucket, airflow_connections):
    with pytest.raises(AirflowFailException, match=r"408 row\(s\) have ts outside this run's slice"):
        stage_events(bucket, day="2018-11-04", key=EVENTS_KEY)
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_events") == [(0,)]


def test_a_missing_day_file_fails_naming_the_uri(warehouse, bucket, airflow_connections):
    with pytest.raises(AirflowFailException, match=r"No object under s3://.*/log_data/2018/11/2018-11-07-events.json"):
        stage_events(bucket, day="2018-11-07", key="log_data/2018/11/2018-11-07-events.json")


SONG = {
    "artist_id": "ARJIE2Y1187B994AB7", "artist_latitude": None, "artist_location": 108,
    "artist_longitude": None, "artist_name": 112, "duration": 152.92036, "num_songs": 1,
    "song_id": "SOUPIRU12A6D4FA1E1", "title": 4.6, "year": 0,
}


def stage_songs(bucket):
    StageToRedshiftOperator(
        task_id="stage_songs", table="staging_songs", s3_bucket=bucket, s3_key="song_data/", skip_unchanged=True
    ).execute(context={})


def test_songs_load_with_auto_and_numbers_become_strings(warehouse, s3_bucket, s3_client, airflow_connections):
    s3_client.put_object(Bucket=s3_bucket, Key="song_data/A/B/C/TRABC1.json", Body=json.dumps(SONG))
    s3_client.put_object(  # an object spread over several lines, as Redshift accepts too
        Bucket=s3_bucket, Key="song_data/A/B/C/TRABC2.json",
        Body=json.dumps({**SONG, "song_id": "SO2", "title": "Can\x19t Stop\u00a0", "artist_name": "Beyonc\u00e9"}, indent=2),
    )
    stage_songs(s3_bucket)
    rows = fetch(warehouse, "SELECT song_id, title, artist_name, artist_location, year FROM staging_songs ORDER BY song_id")
    assert rows == [("SO2", "Can\x19t Stop\u00a0", "Beyonc\u00e9", "108", 0), ("SOUPIRU12A6D4FA1E1", "4.6", "112", "108", 0)]


def test_unchanged_catalog_is_not_copied_again_until_it_changes(warehouse, s3_bucket, s3_client, airflow_connections, capsys):
    s3_client.put_object(Bucket=s3_bucket, Key="song_data/A/B/C/TRABC1.json", Body=json.dumps(SONG))
    stage_songs(s3_bucket)
    capsys.readouterr()
    stage_songs(s3_bucket)
    assert "nothing to copy" in capsys.readouterr().out

    with psycopg.connect(warehouse) as conn:  # rows lost since: the next run copies again
        conn.execute("DELETE FROM staging_songs")
    stage_songs(s3_bucket)
    assert "nothing to copy" not in capsys.readouterr().out
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_songs") == [(1,)]

    s3_client.put_object(Bucket=s3_bucket, Key="song_data/A/B/C/TRABC2.json", Body=json.dumps({**SONG, "song_id": "SO2"}))
    stage_songs(s3_bucket)
    assert "nothing to copy" not in capsys.readouterr().out
    assert fetch(warehouse, "SELECT COUNT(*) FROM staging_songs") == [(2,)]

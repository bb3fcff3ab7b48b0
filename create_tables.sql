-- Sparkify warehouse schema. Runs unchanged on Amazon Redshift and on PostgreSQL (the local stack),
-- and is idempotent. Redshift-only distribution and sort keys: create_tables_redshift.sql.
--
-- Staging tables hold the raw JSON fields, one column per JSONPath of log_json_path.json (events) or
-- per key (songs, loaded with JSON 'auto'), in that order. Values are kept as delivered: userid stays
-- a string because logged-out events carry "" there; the loads turn "" into NULL.

CREATE TABLE IF NOT EXISTS staging_events (
    artist          VARCHAR(512),
    auth            VARCHAR(32),
    firstname       VARCHAR(256),
    gender          VARCHAR(16),
    iteminsession   INTEGER,
    lastname        VARCHAR(256),
    length          DOUBLE PRECISION,
    level           VARCHAR(16),
    location        VARCHAR(512),
    method          VARCHAR(16),
    page            VARCHAR(64),
    registration    DOUBLE PRECISION,
    sessionid       INTEGER,
    song            VARCHAR(512),
    status          INTEGER,
    ts              TIMESTAMP NOT NULL,
    useragent       VARCHAR(512),
    userid          VARCHAR(64)
);

CREATE TABLE IF NOT EXISTS staging_songs (
    artist_id        VARCHAR(32),
    artist_latitude  DOUBLE PRECISION,
    artist_location  VARCHAR(512),
    artist_longitude DOUBLE PRECISION,
    artist_name      VARCHAR(512),
    duration         DOUBLE PRECISION,
    num_songs        INTEGER,
    song_id          VARCHAR(32),
    title            VARCHAR(512),
    year             INTEGER
);

-- One row per NextSong event. songplay_id is md5 of the event's (user, session, item, time), so a
-- re-run of a day produces the same ids.
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id VARCHAR(32) NOT NULL PRIMARY KEY,
    start_time  TIMESTAMP   NOT NULL,
    user_id     INTEGER     NOT NULL,
    level       VARCHAR(16),
    song_id     VARCHAR(32),
    artist_id   VARCHAR(32),
    session_id  INTEGER,
    location    VARCHAR(512),
    user_agent  VARCHAR(512)
);

-- One row per user; level is the one of the user's latest event (last_seen_at) over all loaded days.
CREATE TABLE IF NOT EXISTS users (
    user_id      INTEGER   NOT NULL PRIMARY KEY,
    first_name   VARCHAR(256),
    last_name    VARCHAR(256),
    gender       VARCHAR(16),
    level        VARCHAR(16),
    last_seen_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS songs (
    song_id   VARCHAR(32) NOT NULL PRIMARY KEY,
    title     VARCHAR(512),
    artist_id VARCHAR(32),
    year      INTEGER,
    duration  DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(32) NOT NULL PRIMARY KEY,
    name      VARCHAR(512),
    location  VARCHAR(512),
    latitude  DOUBLE PRECISION,
    longitude DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS "time" (
    start_time TIMESTAMP NOT NULL PRIMARY KEY,
    hour       INTEGER,
    day        INTEGER,
    week       INTEGER,
    month      INTEGER,
    year       INTEGER,
    weekday    INTEGER
);

-- What a whole-table staging load last copied (StageToRedshiftOperator, skip_unchanged=True): a
-- fingerprint of the source objects' keys, ETags and sizes, and the rows it staged. A source that is
-- unchanged, into a table that still holds those rows, is not copied again.
CREATE TABLE IF NOT EXISTS staging_manifest (
    table_name  VARCHAR(256)  NOT NULL PRIMARY KEY,
    source      VARCHAR(1024) NOT NULL,
    fingerprint VARCHAR(32)   NOT NULL,
    objects     INTEGER       NOT NULL,
    row_count   BIGINT        NOT NULL,
    loaded_at   TIMESTAMP     NOT NULL
);

-- The quality gate's history (plugins/quality_gate/history.py): each published day's metrics per
-- day-partitioned table (row count, shares of set values, distinct counts, means, spreads), which the
-- gate judges the next days by. Written by the run that published the day.
CREATE TABLE IF NOT EXISTS quality_metrics (
    day         DATE             NOT NULL,
    table_name  VARCHAR(128)     NOT NULL,
    metric      VARCHAR(256)     NOT NULL,
    value       DOUBLE PRECISION,
    run_id      VARCHAR(256)     NOT NULL,
    recorded_at TIMESTAMP        NOT NULL,
    PRIMARY KEY (day, table_name, metric)
);

-- The source records staging set aside (plugins/helpers/rejects.py): where each is (object, line,
-- column) and why, with its text cut to 4 KB. Written in the run's audit area and published with
-- the run, replacing the rejects of the same table and day (day is NULL for a table loaded whole).
CREATE TABLE IF NOT EXISTS staging_rejects (
    table_name  VARCHAR(128)  NOT NULL,
    day         DATE,
    run_id      VARCHAR(256)  NOT NULL,
    source      VARCHAR(1024) NOT NULL,
    line_number BIGINT,
    column_name VARCHAR(128),
    reason      VARCHAR(1024) NOT NULL,
    raw_text    VARCHAR(4096),
    rejected_at TIMESTAMP     NOT NULL
);

-- PostgreSQL-only physical design (the local stack's warehouse), applied after create_tables.sql;
-- create_tables_redshift.sql is its Redshift counterpart (sort keys; Redshift has no indexes).
-- A run reads and replaces one day of each day-partitioned table (WHERE slice >= day AND < next
-- day): these indexes keep that a range scan of the day, whatever the history behind it.
-- ("time" is indexed on start_time by its primary key, quality_metrics on day by its own.)
CREATE INDEX IF NOT EXISTS songplays_start_time ON songplays (start_time);
CREATE INDEX IF NOT EXISTS staging_events_ts ON staging_events (ts);
CREATE INDEX IF NOT EXISTS staging_rejects_table_day ON staging_rejects (table_name, day);

-- Redshift-only physical design, applied after create_tables.sql on a fresh Redshift cluster
-- (PostgreSQL has no distribution or sort keys). Small dimensions go to every node; the fact
-- table is distributed on its biggest join key and sorted on the time slice it is loaded by.
ALTER TABLE songplays ALTER DISTSTYLE KEY DISTKEY song_id;
ALTER TABLE songplays ALTER SORTKEY (start_time);
ALTER TABLE staging_events ALTER SORTKEY (ts);
ALTER TABLE users ALTER DISTSTYLE ALL;
ALTER TABLE artists ALTER DISTSTYLE ALL;
ALTER TABLE "time" ALTER DISTSTYLE ALL;
ALTER TABLE "time" ALTER SORTKEY (start_time);
ALTER TABLE songs ALTER DISTSTYLE KEY DISTKEY song_id;
ALTER TABLE quality_metrics ALTER SORTKEY (table_name, day);
ALTER TABLE staging_rejects ALTER SORTKEY (table_name, day);

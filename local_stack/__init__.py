"""Embedded local stack for sparkify-pipelines: PostgreSQL (Redshift stand-in), moto S3, Airflow.

Modules: `postgres` (PostgresServer), `s3` (S3Server, upload_tree), `airflow` (env, processes,
health), `stack` (up/down/status/env over one state folder), `process` (detached processes).
"""

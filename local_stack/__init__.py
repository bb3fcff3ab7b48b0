"""Embedded local stack for sparkify-pipelines: PostgreSQL (Redshift stand-in), moto S3, Airflow.

Modules: `postgres` (PostgresServer), `s3` (S3Server, upload_tree), `airflow` (env, processes,
health), `stack` (up/down/status/env over one state folder), `process` (detached processes).
The CLIs use the pipeline's own helpers (plugins/helpers), so the plugins folder goes on sys.path.
"""

import sys
from pathlib import Path

_PLUGINS = str(Path(__file__).resolve().parents[1] / "plugins")
if _PLUGINS not in sys.path:
    sys.path.insert(0, _PLUGINS)  # helpers.*, as Airflow puts the plugins folder on sys.path

"""Links into the Airflow UI, for alerts and operator extra links."""

from __future__ import annotations


def base_url() -> str:
    """The UI's address, ``[api] base_url`` (set it to the address users open, e.g. behind a proxy)."""
    from airflow.sdk import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/")


def ui_url(path: str) -> str:
    """Absolute URL of ``path`` ("/dags/...") in the Airflow UI."""
    return base_url().rstrip("/") + path

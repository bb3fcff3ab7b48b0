"""The production deployment: the image installs what ./sparkify installs, the way it does, and carries
the code where Airflow and the gate look for it; the Helm values name real Airflow settings and the
settings the pipeline relies on."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml
from airflow.configuration import retrieve_configuration_description

from quality_gate import gx_context
from tests.test_requirements import pins

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
AIRFLOW_HOME = "/opt/airflow"
EXECUTORS = {"values-celery.yaml": "CeleryExecutor", "values-kubernetes.yaml": "KubernetesExecutor"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def values(*names: str) -> dict:
    """The chart values of ``names`` merged as `helm -f a -f b` merges them (maps deeply, the last wins)."""
    def merge(base: dict, top: dict) -> dict:
        return {**base, **{key: merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict)
                           else value for key, value in top.items()}}

    merged: dict = {}
    for name in names:
        merged = merge(merged, yaml.safe_load((DEPLOY / "helm" / name).read_text()))
    return merged


def test_the_image_is_the_official_airflow_image_of_the_pinned_release():
    airflow = pins("requirements.txt")["apache-airflow"]
    instructions = dockerfile_instructions()
    assert ("ARG", f"AIRFLOW_VERSION={airflow}") in instructions
    assert ("FROM", "apache/airflow:${AIRFLOW_VERSION}-python3.11") in instructions


def test_the_image_installs_the_requirements_in_the_two_steps_sparkify_takes():
    runs = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "RUN"]
    install = next(run for run in runs if "pip install" in run)
    steps = [step.strip() for step in install.split("&&")]
    assert steps == [
        "pip install --no-cache-dir -r /opt/sparkify/requirements.txt -c /opt/sparkify/constraints.txt",
        "pip install --no-cache-dir --no-deps -r /opt/sparkify/requirements-no-deps.txt -c /opt/sparkify/constraints.txt",
    ]
    sparkify = (REPO / "sparkify").read_text()
    assert '-r "$repo/requirements-dev.txt" -c "$repo/constraints.txt"' in sparkify
    assert '--no-deps -r "$repo/requirements-no-deps.txt" -c "$repo/constraints.txt"' in sparkify


def test_the_image_carries_dags_plugins_and_the_suites_where_airflow_and_the_gate_look():
    copies = {arguments.split()[-2]: arguments.split()[-1]
              for instruction, arguments in dockerfile_instructions() if instruction == "COPY"}
    assert copies["dags/"] == f"{AIRFLOW_HOME}/dags/" and copies["plugins/"] == f"{AIRFLOW_HOME}/plugins/"
    # The gate finds gx/ beside plugins/, as in the repository.
    assert gx_context.GX_DIR.relative_to(REPO).as_posix() == "gx" and copies["gx/"] == f"{AIRFLOW_HOME}/gx/"
    assert any("data_docs_assets.fetch()" in arguments for instruction, arguments in dockerfile_instructions()
               if instruction == "RUN")
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {"gx/uncommitted", ".venv", ".sparkify", ".git"} <= set(ignored)


@pytest.mark.parametrize("executor_file", sorted(EXECUTORS))
def test_the_helm_values_name_only_settings_airflow_and_its_installed_providers_have(executor_file):
    known = retrieve_configuration_description(include_providers=True)
    config = values("values.yaml", executor_file)["config"]
    unknown = [f"[{section}] {option}" for section, options in config.items() for option in options
               if option not in known.get(section, {}).get("options", {})]
    assert not unknown, f"{executor_file} + values.yaml set options Airflow does not have: {unknown}"


@pytest.mark.parametrize("executor_file", sorted(EXECUTORS))
def test_the_helm_values_run_the_pinned_airflow_from_the_image_with_the_pipelines_settings(executor_file):
    chart = values("values.yaml", executor_file)
    airflow = pins("requirements.txt")["apache-airflow"]
    assert chart["executor"] == EXECUTORS[executor_file]
    assert chart["airflowVersion"] == chart["defaultAirflowTag"] == airflow
    assert chart["images"]["airflow"]["tag"].startswith(f"{airflow}-")
    # The code comes from the image only: no git-sync, no shared DAGs volume.
    assert chart["dags"]["gitSync"]["enabled"] is False and chart["dags"]["persistence"]["enabled"] is False
    config = chart["config"]
    assert config["logging"]["remote_logging"] == "True"
    assert config["logging"]["remote_base_log_folder"].startswith("s3://")
    assert config["logging"]["remote_log_conn_id"] == "aws_credentials"  # the pipeline's AWS connection
    assert config["api"]["base_url"].startswith("https://")  # alerts and Data Docs links
    # GX results and Data Docs shared in S3 by every component (the chart's env is set on all of them).
    stores = {item["name"]: item["value"] for item in chart["env"]}[gx_context.STORES_ENV]
    assert gx_context.stores_location(stores)[1]  # a bucket and a prefix
    module, _, name = config["secrets"]["backend"].rpartition(".")
    assert hasattr(importlib.import_module(module), name)
    assert set(json.loads(config["secrets"]["backend_kwargs"])) == {"connections_prefix", "variables_prefix"}
    # No secret in the values: the chart reads them from Kubernetes secrets.
    assert {"metadataSecretName"} <= set(chart["data"]) and not {"fernetKey", "jwtSecret", "apiSecretKey"} & set(chart)
    assert chart["redis"]["enabled"] is (EXECUTORS[executor_file] == "CeleryExecutor")
    if EXECUTORS[executor_file] == "CeleryExecutor":
        assert chart["workers"]["replicas"] >= 2

"""The quality gate: what a run's rows must satisfy before they are published.

Follow a row from the audit area to ``publish``:

- ``gx_context``: the Great Expectations File Data Context in <repo>/gx (suites per table, built from
  the table spec), running a table's checkpoint and reporting its failures;
- ``sql_checks``: the SQL checks DataQualityOperator runs beside the suites.

The operators that run them are ``operators.gx_validate.GXValidateTableOperator`` and
``operators.data_quality.DataQualityOperator``; in the DAG they form the ``validate`` TaskGroup, on
the run's audit area (helpers.audit_area).
"""

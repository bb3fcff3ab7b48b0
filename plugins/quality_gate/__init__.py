"""The quality gate: what a run's rows must satisfy before they are published, and the warehouse audit.

Follow a row from the audit area to ``publish``:

- ``gx_context``: the Great Expectations File Data Context in <repo>/gx (a suite per table; the
  datasource, batches, checkpoints and generated expectations built from the table spec), running a
  table's checkpoint with its history's bounds, and reporting failures and warnings;
- ``reconciliation``: the expectations that check each loaded table against what its load computes
  from the staged rows (generated, critical);
- ``history``: each day's metrics, recorded with the run, and the bounds the days before set
  (generated expectations, warnings);
- ``sql_checks``: the SQL checks DataQualityOperator runs beside the suites;
- ``warehouse_audit``: every published table in full, every day, the missing days (``./sparkify gx
  validate``, the ``sparkify_audit`` DAG).

The operators that run them are ``operators.gx_validate.GXValidateTableOperator``,
``operators.data_quality.DataQualityOperator`` and ``operators.warehouse_audit.WarehouseAuditOperator``;
in ``sparkify_etl`` the first two form the ``validate`` TaskGroup, on the run's audit area
(helpers.audit_area).
"""

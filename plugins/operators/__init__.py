"""The Sparkify operators (the plugins folder is on Airflow's sys.path)."""

from operators.audit_area import OpenAuditAreaOperator
from operators.data_quality import DataQualityOperator, SqlCheck
from operators.load_dimension import LoadDimensionOperator
from operators.load_fact import LoadFactOperator
from operators.publish import PublishOperator
from operators.stage_redshift import StageToRedshiftOperator
from operators.warehouse_audit import WarehouseAuditOperator

__all__ = [
    "DataQualityOperator",
    "LoadDimensionOperator",
    "LoadFactOperator",
    "OpenAuditAreaOperator",
    "PublishOperator",
    "SqlCheck",
    "StageToRedshiftOperator",
    "WarehouseAuditOperator",
]

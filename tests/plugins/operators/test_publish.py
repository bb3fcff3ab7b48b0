"""PublishOperator and OpenAuditAreaOperator: one transaction each, on what the area holds."""

import pytest
from airflow.sdk.exceptions import AirflowFailException

from helpers.tables import TABLES
from operators import audit_area, publish
from operators.audit_area import OpenAuditAreaOperator
from operators.publish import PublishOperator

AREA = "audit_20181105_1a2b3c4d"
LOADED = ["staging_events", "songplays", "time", "users", "users__changes", "songs", "songs__changes", "artists",
          "artists__changes", "quality_metrics"]


def publisher():
    return PublishOperator(task_id="publish", audit_area=AREA, tables=TABLES, slice_start="2018-11-05",
                           slice_end="2018-11-06")


def test_publish_reads_what_the_area_holds_then_swaps_it_in_one_transaction(fake_warehouse):
    hook = fake_warehouse(publish)
    hook.records = [(name, "BASE TABLE") for name in LOADED]
    publisher().execute(context={})
    executed = [sql.split("\n")[0] for sql, _ in hook.conn.executed]
    assert executed[0] == "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s"
    assert hook.conn.executed[0][1] == (AREA,)
    assert executed[1] == 'LOCK "public"."staging_events"' and executed[-1] == f'DROP SCHEMA "{AREA}" CASCADE'
    assert not any("staging_songs\"" in sql and sql.startswith("DELETE") for sql in executed)  # catalog unchanged
    assert hook.conn.committed and not hook.conn.rolled_back


def test_an_area_missing_a_load_fails_at_once_publishing_nothing(fake_warehouse):
    hook = fake_warehouse(publish)
    hook.records = [(name, "BASE TABLE") for name in LOADED if name != "songplays"]
    with pytest.raises(AirflowFailException, match=f"Audit area {AREA} has no songplays"):
        publisher().execute(context={})
    assert len(hook.conn.executed) == 1 and not hook.conn.committed


def test_a_failed_statement_rolls_the_whole_publish_back(fake_warehouse):
    hook = fake_warehouse(publish)
    hook.records = [(name, "BASE TABLE") for name in LOADED]
    hook.conn.fail_on = 'INSERT INTO "public"."time"'
    with pytest.raises(RuntimeError):
        publisher().execute(context={})
    assert hook.conn.rolled_back and not hook.conn.committed


def test_opening_the_area_returns_its_name(fake_warehouse):
    hook = fake_warehouse(audit_area)
    assert OpenAuditAreaOperator(task_id="open_audit_area", audit_area=AREA).execute(context={}) == AREA
    assert [sql for sql, _ in hook.conn.executed] == [
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'audit%'", f'CREATE SCHEMA "{AREA}"',
        f'CREATE TABLE "{AREA}"."quality_metrics" (LIKE "public"."quality_metrics")',
        f'CREATE TABLE "{AREA}"."staging_rejects" (LIKE "public"."staging_rejects")']
    assert hook.conn.committed


@pytest.mark.parametrize("operator", [
    lambda: OpenAuditAreaOperator(task_id="o", audit_area="public"),
    lambda: PublishOperator(task_id="p", audit_area="public", tables=TABLES, slice_start="2018-11-05", slice_end="2018-11-06"),
])
def test_a_name_that_is_not_an_audit_area_is_refused(fake_warehouse, operator):
    fake_warehouse(audit_area)
    fake_warehouse(publish)
    with pytest.raises(ValueError, match="is not an audit area name"):
        operator().execute(context={})

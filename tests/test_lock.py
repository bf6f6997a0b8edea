"""One writer at a time: the warehouse lock, the CLI's refusal, and dagster-duckdb's backoff."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.jobs import WAREHOUSE_TAG, knooppunt_job
from pipelines.lock import WarehouseBusy, holder, warehouse_lock
from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
KNOOPPUNT = Path(sys.executable).parent / "knooppunt"


def _hold_in_another_process(root: Path, holder_id: str, seconds: float) -> subprocess.Popen:
    """A process that takes the lock, says so on stdout, and keeps it ``seconds`` (then exits)."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pipelines.lock import warehouse_lock
        with warehouse_lock({str(root)!r}, {holder_id!r}):
            print("held", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_naming_the_holder_and_since_when(tmp_path):
    proc = _hold_in_another_process(tmp_path, "run-nightly-1", 30)
    try:
        with pytest.raises(WarehouseBusy) as refused, warehouse_lock(tmp_path, "run-manual-2"):
            pass
        message = str(refused.value)
        assert message.startswith("another run (run-nightly-1, since 20")
        assert message.endswith(f"holds the warehouse in {tmp_path.resolve()}")
        assert holder(tmp_path)["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_waits_a_bounded_time_for_the_first(tmp_path):
    proc = _hold_in_another_process(tmp_path, "first", 1.5)
    with pytest.raises(WarehouseBusy), warehouse_lock(tmp_path, "second", wait=0.3):  # too short
        pass
    started = time.monotonic()
    with warehouse_lock(tmp_path, "second", wait=30):
        waited = time.monotonic() - started
        assert holder(tmp_path)["id"] == "second"
    proc.wait(timeout=10)
    assert 0 < waited < 30


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    proc = _hold_in_another_process(tmp_path, "killed-run", 300)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with warehouse_lock(tmp_path, "next-run"):
        assert holder(tmp_path)["id"] == "next-run"


def test_the_same_run_re_enters_its_lock_and_another_id_in_the_process_is_refused(tmp_path):
    with warehouse_lock(tmp_path, "run-a"):
        with warehouse_lock(tmp_path, "run-a"):  # knooppunt run, then the run's resource
            pass
        with pytest.raises(WarehouseBusy, match=r"another run \(run-a, since"), warehouse_lock(tmp_path, "b"):
            pass
    with warehouse_lock(tmp_path, "b"):  # released when the outer one ends
        pass


def test_knooppunt_ingest_and_run_refuse_while_another_run_holds_the_warehouse(tmp_path):
    warehouse = tmp_path / "wh"
    proc = _hold_in_another_process(warehouse, "d2f1c0de-nightly", 60)
    try:
        for args in (
            ["ingest", "kvk", tmp_path, "--warehouse", warehouse],
            ["run", "--data", tmp_path, "--warehouse", warehouse],
        ):
            result = subprocess.run(
                [str(KNOOPPUNT), *map(str, args)], cwd=tmp_path, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 3, result.stderr
            assert "another run (d2f1c0de-nightly, since" in result.stderr
            assert "holds the warehouse" in result.stderr
        assert not (warehouse / "knooppunt.duckdb").exists()  # nothing was written
    finally:
        proc.kill()
        proc.wait()


@dg.asset
def _probe(warehouse: WarehouseResource) -> None:
    with warehouse.get_connection() as con:
        con.execute("CREATE OR REPLACE TABLE probe AS SELECT 1 AS x")


def test_a_dagster_run_holds_the_lock_for_its_duration_and_a_concurrent_one_fails(tmp_path):
    resource = WarehouseResource(root=str(tmp_path))
    proc = _hold_in_another_process(tmp_path, "other-run", 60)
    try:
        result = dg.materialize([_probe], resources={"warehouse": resource}, raise_on_error=False)
        assert not result.success
        refusal = "another run (other-run, since"
        assert any(refusal in str(event.event_specific_data) for event in result.all_events)
        assert not (tmp_path / "knooppunt.duckdb").exists()
    finally:
        proc.kill()
        proc.wait()
    result = dg.materialize([_probe], resources={"warehouse": resource})
    assert result.success
    assert holder(tmp_path)["id"] == result.run_id  # the run itself took it
    with warehouse_lock(tmp_path, "after"):  # and released it at the end
        pass


def test_connections_keep_dagster_duckdbs_backoff_on_a_locked_file(tmp_path):
    """Another process holds the DuckDB file for a moment: a plain connect fails at once, the
    resource's connection (dagster-duckdb's backoff) waits and then gets it."""
    Warehouse(tmp_path).connect().close()
    db = tmp_path / "knooppunt.duckdb"
    code = f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('open', flush=True); time.sleep(2)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(db))
        started = time.monotonic()
        with WarehouseResource(root=str(tmp_path)).get_connection() as con:
            waited = time.monotonic() - started
            assert con.execute("SELECT ST_AsText(ST_Point(1, 2))").fetchone()[0] == "POINT (1 2)"
        assert waited > 0.2
    finally:
        proc.wait(timeout=30)


def test_a_resource_connection_and_a_warehouse_connection_coexist_in_one_process(tmp_path):
    """Both use the one connection configuration, which DuckDB requires for one file."""
    warehouse = Warehouse(tmp_path)
    with WarehouseResource(root=str(tmp_path)).transaction() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        other = warehouse.connect()
        try:
            assert other.execute("SELECT count(*) FROM information_schema.tables").fetchone()
        finally:
            other.close()


def test_the_shipped_instance_queues_one_run_per_warehouse(tmp_path):
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    (limit,) = config["run_queue"]["tag_concurrency_limits"]
    assert limit == {"key": WAREHOUSE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    warehouse = Path(os.environ.get("KNOOPPUNT_WAREHOUSE", "warehouse"))
    assert knooppunt_job.tags[WAREHOUSE_TAG] == str(warehouse.resolve())
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:  # valid instance config
        queue = instance.get_concurrency_config().run_queue_config
        assert list(queue.tag_concurrency_limits) == [limit]

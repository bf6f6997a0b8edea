"""The brancheanalyse notebook runs top to bottom on a published warehouse, through the gate."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from assets.signals.evaluation import ingest_delivery
from pipelines.warehouse import Warehouse, publish
from privacy.log import ProcessingLog
from sources.synthetic import generate

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "brancheanalyse.ipynb"


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Warehouse:
    generate(tmp_path / "data", 3000, 20201)
    warehouse = Warehouse(tmp_path / "warehouse")
    ingest_delivery(tmp_path / "data", warehouse)
    publish(warehouse)
    monkeypatch.setenv("KNOOPPUNT_WAREHOUSE", str(warehouse.root))
    return warehouse


def _outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text.append(output.get("text", ""))
            text.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


def test_brancheanalyse_notebook_executes_with_aggregated_counts_only(warehouse):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit it clean"
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    out = _outputs(nb)
    assert "minimum cell size 5" in out
    assert "0-meting" in out and "1-meting" in out
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    # the planted street of five barbers is the only street cell large enough to show
    assert "9602" in out
    reads = [e for e in ProcessingLog(warehouse).entries() if e.action == "aggregated_read"]
    assert len(reads) == 4 and {e.purpose for e in reads} == {"brancheanalyse"}
    assert all(e.details["min_cell_size"] == 5 for e in reads)

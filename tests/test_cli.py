"""The command-line contract, through the installed `knooppunt` entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
BAG_EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
KNOOPPUNT = Path(sys.executable).parent / "knooppunt"


def knooppunt(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KNOOPPUNT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_ingest_bag_json_reports_current_objects_per_type(tmp_path):
    result = knooppunt("ingest", "bag", BAG_EXTRACT, "--warehouse", tmp_path / "wh", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {"objects", "rejects", "seconds", "bytes"}
    assert set(report["objects"]) == {"WPL", "OPR", "NUM", "VBO", "PND", "LIG", "STA"}
    assert report["objects"]["VBO"] > 0 and report["objects"]["PND"] > 0
    assert report["bytes"] > 0


def test_ingest_of_a_missing_file_fails_with_the_reason(tmp_path):
    result = knooppunt("ingest", "bag", tmp_path / "nope.zip", cwd=tmp_path)
    assert result.returncode != 0
    assert "nope.zip" in result.stderr


def test_ingest_of_an_extract_without_its_parts_names_the_file(tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("Leveringsdocument-BAG-Extract.xml", "<x/>")
    result = knooppunt("ingest", "bag", broken, "--warehouse", tmp_path / "wh", cwd=tmp_path)
    assert result.returncode == 1
    assert "broken.zip" in result.stderr
    assert "Traceback" not in result.stderr

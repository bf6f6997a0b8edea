"""The architecture's import rules, declared as import-linter contracts in pyproject.toml, hold; and
without their documented exceptions they name today's wrong-way arrows (so they can fail)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_the_contracts_are_kept():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_without_the_exceptions_the_wrong_way_arrows_are_named(tmp_path):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in config["root_packages"])]
    lines.append("include_external_packages = True")
    for n, contract in enumerate(config["contracts"]):
        lines += [f"[importlinter:contract:{n}]", f"name = {contract['name']}", f"type = {contract['type']}"]
        for key in ("source_modules", "forbidden_modules"):
            lines += [f"{key} =", *(f"    {m}" for m in contract[key])]
        lines.append(f"allow_indirect_imports = {contract['allow_indirect_imports']}")
    ini = tmp_path / "contracts.ini"
    ini.write_text("\n".join(lines) + "\n")
    result = lint("--config", str(ini))
    assert result.returncode != 0
    ignored = [i for c in config["contracts"] for i in c.get("ignore_imports", [])]
    assert ignored, "no exceptions left: this test has done its job; drop it"
    for arrow in ignored:
        assert arrow.split(" -> ")[0] in result.stdout, arrow

"""No way into the data outside the gate: a scan of assets/, web/, pipelines/ and notebooks/.

The rule (privacy/README.md, "The boundary"): only ``privacy/`` (the gate, the lookups, the log),
``assets/ingest/`` (which writes the staging tables from the deliveries) and the warehouse
plumbing (``pipelines/warehouse.py``, ``pipelines/resources.py``) may open the warehouse, the
release or the identity store. Everything else reaches data through ``privacy.gate.gated_asset``
(assets), ``privacy.lookup.Lookup`` (the web interface and CLI lookups) or
``privacy.gate.aggregated_reader`` (notebooks).

Which modules may import duckdb, ``pipelines.warehouse`` or ``privacy.identity`` is declared as
import-linter contracts (pyproject.toml, tests/test_import_contracts.py), which see aliases,
re-exports and every import, and a runtime guard (tests/test_boundary_runtime.py) checks who opens
connections; so this scan no longer looks at imports in Python modules. It stays for what
contracts cannot see: notebooks (all rules), and in modules calls on objects handed in, private
attributes and SQL text that reads or writes files. It works on the syntax tree, so comments and
docstrings do not count, and flags:

* calls of ``.connect``, ``.get_connection``, ``.transaction``, ``.cursor`` and of DuckDB's
  module-level readers (``duckdb.sql``, ``duckdb.read_parquet``, ...);
* in notebooks only: imports of ``connect``, ``current_release``, ``load_spatial`` from
  ``pipelines.warehouse``, of ``open_sandbox`` from ``privacy.gate`` and of ``privacy.identity``;
* access to private attributes of the gate's objects (``._con``, ``._shared``, ``._gated``);
* string literals with file-reading or -writing SQL (``ATTACH '...'``, ``read_parquet(``,
  ``read_csv(``, ``read_json(``, ``parquet_scan(``, ``COPY ... TO '...'``).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("assets", "web", "pipelines", "notebooks")
ALLOWED = (
    "assets/ingest/",
    "pipelines/warehouse.py",
    "pipelines/resources.py",
    "pipelines/generation.py",  # copies, checkpoints and promotes a run's database files
    "pipelines/plausibility.py",  # counts only (rows, matches, rejects, flags per code)
)

CALLS = {"connect", "get_connection", "transaction", "cursor"}
DUCKDB_MODULE_CALLS = re.compile(r"^(sql|query|execute|read_\w+|from_\w+|table|view|values)$")
FORBIDDEN_IMPORTS = {
    ("pipelines.warehouse", "connect"),
    ("pipelines.warehouse", "current_release"),
    ("pipelines.warehouse", "load_spatial"),
    ("privacy.gate", "open_sandbox"),
}
FORBIDDEN_MODULES = {"privacy.identity"}
PRIVATE_ATTRIBUTES = {"_con", "_shared", "_gated"}
STRINGS = re.compile(
    r"\battach\s+(database\s+)?(if\s+not\s+exists\s+)?'|read_parquet\s*\(|read_csv\w*\s*\(|read_json\w*\s*\("
    r"|parquet_scan\s*\(|\bcopy\b.+\bto\s+'",
    re.IGNORECASE,
)


def violations_in_source(source: str, name: str, *, imports: bool = True) -> list[str]:
    """Every way into the data in ``source`` (a module's text), as "name:line: reason".

    ``imports=False`` (Python modules) leaves imports and DuckDB's module functions to the
    import-linter contracts.
    """
    tree = ast.parse(source, filename=name)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []

    def add(node: ast.AST, reason: str) -> None:
        found.append(f"{name}:{getattr(node, 'lineno', 0)}: {reason}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            owner = node.func.value
            if attr in CALLS:
                add(node, f"calls .{attr}()")
            elif (
                imports
                and isinstance(owner, ast.Name)
                and owner.id == "duckdb"
                and DUCKDB_MODULE_CALLS.match(attr)
            ):
                add(node, f"calls duckdb.{attr}()")
        elif imports and isinstance(node, ast.ImportFrom) and node.module:
            if node.module in FORBIDDEN_MODULES:
                add(node, f"imports {node.module}")
            for alias in node.names:
                if (node.module, alias.name) in FORBIDDEN_IMPORTS:
                    add(node, f"imports {alias.name} from {node.module}")
        elif imports and isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in FORBIDDEN_MODULES:
                    add(node, f"imports {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            add(node, f"reaches into .{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr == "identity_path":
            add(node, "uses the identity store's path")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (m := STRINGS.search(node.value))
        ):
            add(node, f"string literal with {m.group(0).strip()!r}")
    return found


def notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    lines = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell.get("source", []))
        # IPython magics and shell escapes are not Python; a shell escape is still a way in.
        for line in text.splitlines():
            stripped = line.lstrip()
            if stripped.startswith("!"):
                lines.append(f"__shell__({stripped[1:]!r})")
            elif stripped.startswith("%"):
                lines.append("")
            else:
                lines.append(line)
    return "\n".join(lines)


def scan(root: Path = ROOT) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for top in SCANNED:
        folder = root / top
        if not folder.exists():
            continue
        for path in sorted([*folder.rglob("*.py"), *folder.rglob("*.ipynb")]):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(ALLOWED) or "/.ipynb_checkpoints/" in rel:
                continue
            source = notebook_source(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
            found = violations_in_source(source, rel, imports=path.suffix == ".ipynb")
            if path.suffix == ".ipynb":
                found += [
                    f"{rel}: runs a shell command" for line in source.splitlines() if "__shell__(" in line
                ]
            if found:
                result[rel] = found
    return result


def test_nothing_outside_the_gate_reaches_the_data():
    found = scan()
    assert not found, "ways into the data outside privacy/ (see privacy/README.md):\n" + "\n".join(
        line for lines in found.values() for line in lines
    )


def test_the_scan_catches_each_way_in():
    cases = {
        "import duckdb\ncon = duckdb.connect('warehouse/knooppunt.duckdb')": ["calls .connect()"],
        "import duckdb\nduckdb.sql('SELECT 1')": ["calls duckdb.sql()"],
        "import duckdb\nduckdb.read_parquet('x.parquet')": ["calls duckdb.read_parquet()"],
        "def f(warehouse):\n    with warehouse.get_connection() as con:\n        pass": [
            "calls .get_connection()"
        ],
        "def f(w):\n    with w.transaction() as con:\n        pass": ["calls .transaction()"],
        "from pipelines.warehouse import Warehouse, current_release": ["imports current_release"],
        "from pipelines.warehouse import connect as c": ["imports connect"],
        "from privacy.gate import open_sandbox": ["imports open_sandbox"],
        "from privacy.identity import IdentityStore": ["imports privacy.identity"],
        "def f(gated):\n    return gated._con.execute('SELECT 1')": ["reaches into ._con"],
        "def f(gated):\n    gated.execute(\"ATTACH 'x' AS y\")": ['string literal with "ATTACH \'"'],
        "def f(gated):\n    gated.execute(\"COPY t TO '/tmp/t.csv'\")": ["string literal with"],
        "def f(gated):\n    return \"SELECT * FROM read_csv('/x.csv')\"": ["string literal with 'read_csv('"],
        "def f(w):\n    return w.identity_path": ["uses the identity store's path"],
    }
    for source, expected in cases.items():
        found = violations_in_source(source, "m.py")
        assert found, f"not caught: {source!r}"
        for reason in expected:
            assert any(reason in f for f in found), (source, found)


def test_what_is_allowed_stays_allowed():
    allowed = '''
"""Docstrings may mention ATTACH 'x', read_parquet(...) and knooppunt.duckdb."""
from privacy.gate import gated_asset, aggregated_reader
from privacy.lookup import Lookup
from pipelines.warehouse import Warehouse, publish

# a comment about duckdb.connect() is fine
SQL = "SELECT pand_id, count(*) AS n FROM bag.verblijfsobject_pand GROUP BY pand_id"
DESCRIPTION = "Copies the warehouse to releases/<timestamp>.duckdb; readers attach to nothing."
'''
    assert violations_in_source(allowed, "ok.py") == []


def test_notebooks_are_scanned(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["duckdb.connect is mentioned here"]},
            {
                "cell_type": "code",
                "source": ["%matplotlib inline\n", "import duckdb\n", "duckdb.connect('x')\n"],
            },
            {"cell_type": "code", "source": ["!cp warehouse/knooppunt.duckdb /tmp\n"]},
        ]
    }
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "analyse.ipynb").write_text(json.dumps(nb))
    found = scan(tmp_path)["notebooks/analyse.ipynb"]
    assert any("calls .connect()" in f for f in found)
    assert any("runs a shell command" in f for f in found)

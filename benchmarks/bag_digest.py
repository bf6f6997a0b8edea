"""Load an LVBAG extract into a fresh warehouse and print one digest per ``bag`` and ``rejects``
table, over its rows in sorted order (so row order does not count).

    python benchmarks/bag_digest.py path/to/extract.zip > after.txt

Run it with two versions of the loader (e.g. a ``git worktree`` of the older commit, started from
that worktree) and ``diff`` the outputs: equal lines mean equal tables. ``bag.levering.loaded_at``
and the rejects' load time are left out (they differ per run).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SKIP = {"loaded_at", "rejected_at"}


def main() -> None:
    from assets.ingest.bag import load_bag
    from pipelines.warehouse import Warehouse
    from privacy.sqltext import column_names

    with tempfile.TemporaryDirectory(prefix="bag-digest-") as tmp:
        warehouse = Warehouse(Path(tmp) / "warehouse")
        load_bag(warehouse, Path(sys.argv[1]), processes=2)
        with warehouse.transaction() as con:
            tables = con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('bag', 'rejects') ORDER BY 1"
            ).fetchall()
            for (table,) in tables:
                columns = [c for c in column_names(con, table) if c not in SKIP]
                select = ", ".join(f"CAST({c} AS VARCHAR)" for c in columns)
                rows = con.execute(f"SELECT {select} FROM {table} ORDER BY ALL").fetchall()
                digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
                print(table, len(rows), digest, ",".join(columns))


if __name__ == "__main__":
    main()

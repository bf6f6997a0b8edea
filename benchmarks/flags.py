"""Flag quality and speed: precision/recall per flag on a generated municipality, and flag time.

    .venv/bin/python benchmarks/flags.py --addresses 20000
    .venv/bin/python benchmarks/flags.py --addresses 20000 --shape dense --no-timing   # 2nd shape
    .venv/bin/python benchmarks/flags.py --addresses 100000 --replicate 100   # ~10M addresses

Steps: generate a municipality (``sources.synthetic.generate``), ingest it with the real loaders,
materialise every signal asset through the privacy gate with Dagster (as ``knooppunt run`` does),
and compare ``signals.flags`` with ``ground_truth.csv`` at each flag's level.

``--replicate K`` then measures speed at a larger size: the staging tables are copied K times
into a new DuckDB file (every identifier suffixed with the copy number, coordinates shifted so
copies never touch) and each flag's SQL is timed on it, directly in DuckDB and through the gate
(column copy into the sandbox included). Generating and parsing 10M addresses of XML is not
feasible on a 2-core machine in a benchmark run, so replication stands in for a national extract:
the row counts and the join shapes are national, the data distribution is the municipality's
repeated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from assets.signals.config import load_config
from assets.signals.evaluation import found_keys, ingest_delivery, materialise_signals, score, truth_keys
from assets.signals.sql import FLAG_SQL, READS
from pipelines.warehouse import Warehouse, connect
from sources.synthetic import generate
from sources.synthetic.shapes import SHAPES

ID_COLUMNS = {
    "verblijfsobject_id",
    "hoofdadres_id",
    "nummeraanduiding_id",
    "openbare_ruimte_id",
    "pand_id",
    "object_id",
    "ligplaats_id",
    "standplaats_id",
    "vestigingsnummer",
    "persoon_id",
    "gerelateerde_id",
    "zaak_id",
}
SHIFT_M = 30_000.0  # copies are laid out on a grid of this spacing (RD metres)


def replicate(source: Path, target: Path, copies: int) -> dict[str, int]:
    """Copy every staging table the flags read ``copies`` times into ``target``."""
    tables = sorted({t for reads in READS.values() for t in reads})
    con = connect(target)
    try:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        con.execute(f"CREATE TABLE copies AS SELECT range AS k FROM range({copies})")
        counts = {}
        for table in tables:
            schema, name = table.split(".")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            columns = con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_catalog = 'src' AND table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
            exprs = []
            for (c,) in columns:
                if c in ID_COLUMNS:
                    exprs.append(f"{c} || '-' || k AS {c}")
                elif c == "x":
                    exprs.append(f"x + (k % 40) * {SHIFT_M} AS x")
                elif c == "y":
                    exprs.append(f"y + (k // 40) * {SHIFT_M} AS y")
                elif c == "geometry":
                    exprs.append(
                        f"ST_Translate(geometry, (k % 40) * {SHIFT_M}, (k // 40) * {SHIFT_M}) AS geometry"
                    )
                else:
                    exprs.append(c)
            source_rows = f"src.{schema}.{name}"
            if table == "bag.levering":
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM {source_rows}")
            else:
                con.execute(f"CREATE TABLE {table} AS SELECT {', '.join(exprs)} FROM {source_rows}, copies")
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        con.execute("DROP TABLE copies")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts


def _same_municipality(data: Path, addresses: int, seed: int, shape: str) -> bool:
    manifest = data / "manifest.json"
    if not manifest.exists():
        return False
    found = json.loads(manifest.read_text(encoding="utf-8"))
    return (
        found.get("addresses") == addresses
        and found.get("seed") == seed
        and found.get("shape", "standard") == shape
    )


def time_sql(database: Path) -> dict[str, float]:
    """Seconds per flag, the flag's SQL materialised into a table (DuckDB, all cores)."""
    cfg = load_config()
    con = connect(database)
    con.execute("SET enable_progress_bar = false")
    times = {}
    try:
        for code, sql in FLAG_SQL.items():
            started = time.perf_counter()
            con.execute(f"CREATE OR REPLACE TEMP TABLE t AS {sql(cfg)}")
            times[code] = time.perf_counter() - started
    finally:
        con.close()
    return times


def time_gate(database: Path) -> dict[str, float]:
    """Seconds per flag through the gate's sandbox: copy the declared columns, then the SQL."""
    from assets.signals.assets import FLAG_PURPOSE
    from privacy.gate import open_sandbox
    from privacy.register import load_register

    cfg = load_config()
    register = load_register()
    times = {}
    for code, sql in FLAG_SQL.items():
        started = time.perf_counter()
        gated = open_sandbox(database, READS[code], register.get(FLAG_PURPOSE[code]))
        try:
            gated.execute(f"CREATE TEMP TABLE t AS {sql(cfg)}")
        finally:
            gated.close()
        times[code] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--addresses", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), default="standard", help="shape of the synthetic municipality"
    )
    parser.add_argument("--no-timing", action="store_true", help="precision/recall only, no flag timing")
    parser.add_argument("--replicate", type=int, default=0, help="copies of the staging tables for timing")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="work folder, kept afterwards; a municipality of the same size and seed in it is reused "
        "(default: a temporary folder, removed)",
    )
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="knooppunt-flags-"))
    data, warehouse = work / "data", Warehouse(work / "warehouse")
    reuse = (
        args.work is not None
        and _same_municipality(data, args.addresses, args.seed, args.shape)
        and warehouse.path.exists()
    )
    try:
        if reuse:
            print(f"reusing the municipality and warehouse in {work} ({args.addresses} addresses)")
        else:
            shutil.rmtree(warehouse.root, ignore_errors=True)
            started = time.perf_counter()
            generate(data, args.addresses, args.seed, shape=args.shape)
            seconds = time.perf_counter() - started
            print(
                f"generated {args.addresses} addresses (seed {args.seed}, shape {args.shape}) "
                f"in {seconds:.1f} s"
            )
            loads = ingest_delivery(data, warehouse)
            print("ingest: " + ", ".join(f"{k} {v:.1f} s" for k, v in loads.items()))
        started = time.perf_counter()
        materialise_signals(warehouse)
        seconds = time.perf_counter() - started
        print(f"materialised {len(FLAG_SQL) + 1} signal assets through the gate in {seconds:.1f} s")

        con = duckdb.connect(str(warehouse.path), read_only=True)
        try:
            found = found_keys(con)
        finally:
            con.close()
        print(f"\n{'flag':32} {'planted':>7} {'found':>6} {'TP':>4} {'precision':>9} {'recall':>6}")
        for s in score(truth_keys(data / "ground_truth.csv"), found, list(FLAG_SQL)):
            counts = f"{s.planted:7d} {s.found:6d} {s.true_positives:4d}"
            print(f"{s.flag:32} {counts} {s.precision:9.3f} {s.recall:6.3f}")

        if args.no_timing:
            return
        database = warehouse.path
        if args.replicate:
            database = work / "replicated.duckdb"
            database.unlink(missing_ok=True)
            started = time.perf_counter()
            counts = replicate(warehouse.path, database, args.replicate)
            print(
                f"\nreplicated x{args.replicate} in {time.perf_counter() - started:.1f} s: "
                + ", ".join(
                    f"{t} {n:,}"
                    for t, n in counts.items()
                    if t.split(".")[1] in ("nummeraanduiding", "verblijfsobject", "persoon", "vestiging")
                )
            )
        sql_times = time_sql(database)
        print(f"SQL timed on {database.name}", flush=True)
        gate_times = time_gate(database)
        print(f"\n{'flag':32} {'SQL s':>7} {'gate s':>7}   ({database.name})")
        for code in FLAG_SQL:
            print(f"{code:32} {sql_times[code]:7.2f} {gate_times[code]:7.2f}")
        print(f"{'total':32} {sum(sql_times.values()):7.2f} {sum(gate_times.values()):7.2f}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

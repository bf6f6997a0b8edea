"""Address-lookup latency on a national-size release (10M addresses), in process.

    .venv/bin/python benchmarks/lookup_latency.py --addresses 100000        # builds the 100k warehouse
    .venv/bin/python benchmarks/lookup_national.py --copies 100            # then this

Generating and ingesting 10M synthetic addresses does not fit a benchmark run on a 2-core
machine, so this copies the 100,000-address warehouse of ``lookup_latency.py`` and replicates
the tables a lookup reads (nummeraanduiding, verblijfsobject, verblijfsobject_pand, the flags)
``--copies`` times, giving each copy its own ids (the copy number in positions 7-8 of every BAG
id) and house numbers (+ copy x 1000). Row counts and search selectivity are national; the
data is the same town repeated. It then publishes a release the way the pipeline does (tables
sorted on their search keys) and times ``LookupService.hit`` for random addresses, logging each
lookup as in production.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import duckdb

from pipelines.warehouse import Warehouse, connect, current_release, publish
from privacy.lookup import RELEASE_ORDER
from privacy.sqltext import column_names, relation_type
from web.lookups import LookupService
from web.validation import TargetInput

OUT = Path(__file__).resolve().parent / "out"
PURPOSE = "bibob_screening"
ID_COLUMNS = {"nummeraanduiding_id", "verblijfsobject_id", "pand_id", "openbare_ruimte_id", "hoofdadres_id"}


def replicate(con: duckdb.DuckDBPyConnection, table: str, copies: int) -> int:
    """Replicate ``table`` ``copies`` times; a view (BAG's current tables) through the history
    table it reads, so that the view shows every copy."""
    schema, name = table.split(".")
    stored = f"{schema}.history_{name}" if relation_type(con, table) == "VIEW" else table
    columns = column_names(con, stored)

    def renamed(column: str) -> str:
        if column in ID_COLUMNS:
            return f"substr({column}, 1, 6) || lpad(CAST(k AS VARCHAR), 2, '0') || substr({column}, 9)"
        return "huisnummer + k * 1000" if column == "huisnummer" else column

    con.execute(f"CREATE TEMP TABLE original AS SELECT * FROM {stored}")
    select = ", ".join(f"{renamed(c)} AS {c}" for c in columns)
    con.execute(f"INSERT INTO {stored} SELECT {select} FROM original, range(1, {copies}) r(k)")
    con.execute("DROP TABLE original")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--lookups", type=int, default=300)
    args = parser.parse_args()
    source = OUT / "lookup-100000" / "warehouse"
    if not (source / "knooppunt.duckdb").exists():
        raise SystemExit(f"{source} missing: run benchmarks/lookup_latency.py --addresses 100000 first")
    target = OUT / f"lookup-national-{args.copies}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    warehouse = Warehouse(target)

    started = time.perf_counter()
    con = connect(warehouse.path)
    try:
        for table in RELEASE_ORDER:
            print(f"{table}: {replicate(con, table, args.copies):,} rows", flush=True)
    finally:
        con.close()
    publish(warehouse, order=RELEASE_ORDER)
    print(f"replicated and published in {time.perf_counter() - started:.0f} s")

    release = duckdb.connect(str(current_release(warehouse)), read_only=True)
    sample = release.execute(
        "SELECT postcode, huisnummer, coalesce(huisletter, ''), coalesce(huisnummertoevoeging, '') "
        f"FROM bag.nummeraanduiding USING SAMPLE {args.lookups} ROWS"
    ).fetchall()
    release.close()
    service = LookupService(target)
    times = []
    for row in sample:
        value = "|".join(str(v) for v in row)
        t = time.perf_counter()
        service.hit(
            "bench0", "bibob_officer", "bibob_screening", "BENCH-0", TargetInput("address", value, "")
        )
        times.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(times, n=100)
    print(
        f"address hit/no-hit, in process, {args.copies * 100_000:,} addresses: n={len(times)} "
        f"p50={q[49]:.1f} ms  p95={q[94]:.1f} ms  p99={q[98]:.1f} ms"
    )


if __name__ == "__main__":
    main()

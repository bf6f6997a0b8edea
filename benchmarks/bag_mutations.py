"""BAG daily mutations benchmark: applying a day's mutation file versus loading the stand again.

    python benchmarks/bag_mutations.py --addresses 2000 --days 5

Generates a municipality with ``sources.synthetic.bag_mutations.MutationSeries`` (``--addresses``
houses, ``--days`` days of changes), loads the stand of day 0, applies the daily files one by one
(``assets.ingest.bag_mutations.apply_bag_mutations``, one transaction each) and loads the stand of
the last day, and prints for each: seconds and records, and whether the tables are identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from assets.ingest.bag import BAG_TABLES, load_bag
    from assets.ingest.bag_mutations import apply_bag_mutations
    from pipelines.warehouse import Warehouse
    from sources.synthetic.bag_mutations import MutationSeries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bag-mut-bench-") as tmp:
        root = Path(tmp)
        series = MutationSeries(addresses=args.addresses, seed=args.seed)
        series.advance(args.days)
        start = series.start
        stand0 = series.write_stand(root / "stand", start)
        standn = series.write_stand(root / "stand", start + dt.timedelta(days=args.days))
        files = [series.write_mutations(root / "mut", start + dt.timedelta(days=i)) for i in range(args.days)]

        mutated = Warehouse(root / "mutated")
        t = time.perf_counter()
        load_bag(mutated, stand0, processes=1)
        stand_seconds = time.perf_counter() - t
        per_file = []
        records = 0
        for path in files:
            t = time.perf_counter()
            report = apply_bag_mutations(mutated, path)
            per_file.append(time.perf_counter() - t)
            records += sum(int(report.extra[k]) for k in ("toevoeging", "wijziging", "verwijdering"))
        fresh = Warehouse(root / "fresh")
        t = time.perf_counter()
        load_bag(fresh, standn, processes=1)
        stand_n_seconds = time.perf_counter() - t

        a, b = mutated.connect(read_only=True), fresh.connect(read_only=True)
        same = all(
            sorted(map(repr, a.execute(f"SELECT * FROM {tbl}").fetchall()))
            == sorted(map(repr, b.execute(f"SELECT * FROM {tbl}").fetchall()))
            for tbl in BAG_TABLES
            if tbl != "bag.levering"
        )
        voorkomens = sum(
            a.execute(f"SELECT count(*) FROM {tbl}").fetchone()[0] for tbl in BAG_TABLES if ".history_" in tbl
        )
        a.close()
        b.close()

    print(f"municipality: {args.addresses} addresses, {voorkomens} voorkomens after {args.days} days")
    print(f"stand load (day 0):          {stand_seconds:6.2f} s")
    print(f"stand load (day {args.days}):          {stand_n_seconds:6.2f} s")
    print(
        f"apply one day's mutations:   {statistics.median(per_file):6.2f} s median "
        f"(min {min(per_file):.2f}, max {max(per_file):.2f}; {records / args.days:.0f} records per day)"
    )
    print(f"tables identical to the stand of day {args.days}: {same}")


if __name__ == "__main__":
    main()

"""What the atomic run generation costs: copy, plausibility and promotion, against the run itself.

    python benchmarks/generation.py --addresses 100000

Generates a municipality into ``benchmarks/out/generation-<N>/data`` (kept between invocations),
runs the main job once into a fresh warehouse (the good load), then times, on that warehouse:

* ``create``: copying ``knooppunt.duckdb`` and ``identity.duckdb`` into a generation;
* ``plausibility``: measuring both files and comparing them;
* ``finish``: building the release, checkpointing and the ``os.replace`` promotion (the release
  copy was built before generations existed too; it is shown separately);
* a second full run (all sources unchanged, so skipped; signals recomputed), for scale.

Prints seconds and bytes; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from pipelines.generation import create, discard, finish
from pipelines.plausibility import check_generation
from pipelines.runner import run_pipeline
from pipelines.warehouse import Warehouse, build_release
from privacy.lookup import RELEASE_ORDER
from sources.synthetic import generate


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"{label:<34} {time.perf_counter() - started:8.2f} s")
    return result


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20201)
    args = parser.parse_args()
    base = Path("benchmarks/out") / f"generation-{args.addresses}"
    data, root = base / "data", base / "warehouse"
    if not (data / "manifest.json").exists():
        timed("generate", lambda: generate(data, args.addresses, args.seed))
    shutil.rmtree(root, ignore_errors=True)
    first = timed("first run (everything loaded)", lambda: run_pipeline(data, root))
    if not first.success:
        raise SystemExit(f"first run failed: {first.failures}")
    wh = Warehouse(root)
    size = wh.path.stat().st_size + wh.identity_path.stat().st_size
    print(f"{'warehouse files':<34} {size / 1e6:8.1f} MB")
    generation = timed("create (copy both files)", lambda: create(root, "bench"))
    timed("plausibility (measure + compare)", lambda: check_generation(generation))
    built = timed("  of finish: build release copy", lambda: build_release(generation, order=RELEASE_ORDER))
    built.unlink()
    timed("finish (release + promote)", lambda: finish(generation, order=RELEASE_ORDER))
    discard(generation)
    second = timed("second run (sources unchanged)", lambda: run_pipeline(data, root))
    if not second.success:
        raise SystemExit(f"second run failed: {second.failures}")


if __name__ == "__main__":
    main()

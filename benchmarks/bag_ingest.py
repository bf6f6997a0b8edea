"""BAG ingest benchmark: full ingest throughput and memory versus a bare streaming expat pass.

    python benchmarks/bag_ingest.py --addresses 200000 1000000 [--processes 2]
    python benchmarks/bag_ingest.py --extract path/to/BAGNLDL-xxxx.zip [--processes 2]

Prints, for the same XML deelbestanden and the same number of processes:

* the full ingest (``assets.ingest.bag.load_bag``: unzip, parse, current-voorkomen selection,
  load into DuckDB in one transaction): XML MB, seconds, MB/s, objects/s;
* peak memory and CPU seconds of this process and all its descendants (workers, fork server),
  sampled by a process of its own: the sum of RSS every 100 ms (counts pages shared between the
  fork server and its workers once per process) and the sum of PSS every second (shared pages
  divided among their sharers: the tree's real footprint);
* a bare expat pass (``xml.parsers.expat`` ParserCreate + Parse in 1 MB chunks, no handlers)
  over the same files, fanned out the same way, and the ratio ingest / bare.

``--addresses N [N ...]`` builds the input with the synthetic municipality generator
(``sources.synthetic.generate``), one size after another, and ends with a summary table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import xml.parsers.expat
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Worker processes (the expat pool's spawn, the ingest's fork server) import this module again: its
# top level stays light (no Dagster, no sources.bag), so no pool pays for imports it does not need.


def _sample_tree(root: int, interval: float, stop, out) -> None:
    """Sampler process of :class:`ProcessTree`: until ``stop`` is set, sum RSS over ``root`` and
    its descendants (but this process) every ``interval`` seconds, and PSS every
    ``PSS_EVERY`` samples; keep the peaks and each process's last CPU seconds, then send them
    over ``out``.

    RSS and CPU come from ``/proc/<pid>/statm`` and ``stat`` (counters, cheap). PSS needs
    ``smaps_rollup``, which walks the process's page tables under its memory-map lock: read every
    100 ms it stalled the workers' and DuckDB's own allocations and made the ingest at 1,000,000
    addresses about 4 s slower, so it is read once a second."""
    import psutil

    me = psutil.Process()
    tree = psutil.Process(root)
    peak = peak_pss = 0
    cpu: dict[int, float] = {}
    first: dict[int, float] | None = None
    sample = 0
    while True:
        with_pss = sample % PSS_EVERY == 0
        total = pss = 0
        for proc in [tree, *tree.children(recursive=True)]:
            if proc.pid == me.pid:
                continue
            try:
                with proc.oneshot():
                    total += proc.memory_info().rss
                    times = proc.cpu_times()
                    pss += proc.memory_full_info().pss if with_pss else 0
            except Exception:  # noqa: S112 - a child may exit between listing and reading
                continue
            cpu[proc.pid] = times.user + times.system
        peak = max(peak, total)
        peak_pss = max(peak_pss, pss)
        if first is None:
            first = dict(cpu)
            out.send("started")
        sample += 1
        if stop.wait(interval):
            break
    out.send((peak, peak_pss, first, cpu))


PSS_EVERY = 10  # samples: PSS once a second


class ProcessTree:
    """Peak RSS and CPU seconds of this process plus all its descendants, sampled every 100 ms
    (PSS every second).

    The sampling runs in a process of its own: in a thread of this process it held the GIL and
    spent its CPU inside the measured writer. CPU is summed per process (user + system) from its
    last sample, so it also counts workers that are not children of this process (a fork
    server's) and processes still running at the end, which ``getrusage(RUSAGE_CHILDREN)``
    misses; a process that lives shorter than one interval may be missed. The sampler's own CPU
    is not counted.
    """

    def __init__(self, interval: float = 0.1):
        import os

        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._result, sender = ctx.Pipe(duplex=False)
        self._sampler = ctx.Process(target=_sample_tree, args=(os.getpid(), interval, self._stop, sender))
        self.peak = self.peak_pss = 0
        self._start: dict[int, float] = {}
        self._cpu: dict[int, float] = {}
        self._own = os.getpid()

    def __enter__(self) -> ProcessTree:
        self._sampler.start()
        self._result.recv()  # the first sample is taken: start measuring
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.peak, self.peak_pss, self._start, self._cpu = self._result.recv()
        self._sampler.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._cpu.items())

    @property
    def cpu_by_process(self) -> tuple[float, float]:
        """(CPU seconds of this process, of all its descendants)."""
        own = self._cpu.get(self._own, 0.0) - self._start.get(self._own, 0.0)
        return own, self.cpu_seconds - own


def build_input(out: Path, addresses: int, seed: int) -> Path:
    """A synthetic municipality's LVBAG extract (``sources.synthetic``), about ``addresses`` big."""
    from sources.synthetic import generate

    generate(out, addresses, seed)
    zips = sorted((out / "bag").glob("*.zip"))
    return zips[0] if len(zips) == 1 else out / "bag"


def _expat_part(location: tuple[str, str | None]) -> int:
    path, member = location
    parser = xml.parsers.expat.ParserCreate()
    with zipfile.ZipFile(path) if member else open(path, "rb") as handle:
        stream = handle.open(member) if member else handle
        total = 0
        while chunk := stream.read(1 << 20):
            parser.Parse(chunk, False)
            total += len(chunk)
        parser.Parse(b"", True)
    return total


def bare_expat(source: Path, processes: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as scratch:
        from sources.bag.delivery import find_parts

        parts = [(p.path, p.member) for p in find_parts(source, Path(scratch)).parts]
        start = time.perf_counter()
        if processes == 1:
            total = sum(_expat_part(p) for p in parts)
        else:
            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                total = sum(pool.imap_unordered(_expat_part, parts, chunksize=1))
        return total, time.perf_counter() - start


def measure(source: Path, processes: int, workdir: Path) -> dict[str, float]:
    """Load ``source`` into a fresh warehouse, then a bare expat pass over it; print and return
    the figures."""
    from assets.ingest.bag import load_bag
    from pipelines.warehouse import Warehouse

    print(f"source: {source}")
    with ProcessTree() as tree:
        report = load_bag(Warehouse(workdir / "warehouse"), source, processes=processes)
    ingest_cpu = tree.cpu_seconds
    mb = report.bytes / 1e6
    current = sum(report.objects.values())
    voorkomens = int(report.extra.get("voorkomens", 0))
    print(f"processes: {processes}")
    print(f"current objects: {report.objects}  voorkomens: {voorkomens}  rejects: {report.rejects}")
    print(
        f"full ingest : {mb:9.1f} MB XML in {report.seconds:7.2f} s = {mb / report.seconds:7.1f} MB/s, "
        f"{voorkomens / report.seconds:9.0f} voorkomens/s, "
        f"{current / report.seconds:9.0f} current objects/s"
    )
    print(
        f"  of which  : read (unzip, parse, append) {report.extra['read_seconds']} s, "
        f"current selection and derived tables {report.extra['select_seconds']} s"
    )
    writer_cpu, worker_cpu = tree.cpu_by_process
    print(
        f"CPU         : {ingest_cpu:.1f} s, of which the writer (this process) {writer_cpu:.1f} s, "
        f"the fork server and its workers {worker_cpu:.1f} s"
    )
    print(
        f"peak memory : {tree.peak / 1e6:9.1f} MB RSS, {tree.peak_pss / 1e6:9.1f} MB PSS "
        "(sum over this process and its descendants)"
    )
    with ProcessTree() as bare:
        total, seconds = bare_expat(source, processes)
    bare_cpu = bare.cpu_seconds
    ratio = (mb / report.seconds) / (total / 1e6 / seconds)
    print(f"bare expat  : {total / 1e6:9.1f} MB XML in {seconds:7.2f} s = {total / 1e6 / seconds:7.1f} MB/s")
    print(f"ratio ingest / bare expat (wall clock): {ratio:.2f}")
    print(
        f"CPU (all processes): ingest {ingest_cpu:.1f} s = {mb / ingest_cpu:.1f} MB per CPU-s, "
        f"bare expat {bare_cpu:.1f} s = {total / 1e6 / bare_cpu:.1f} MB per CPU-s, "
        f"ratio {bare_cpu / ingest_cpu:.2f}"
    )
    return {
        "xml_mb": mb,
        "voorkomens": voorkomens,
        "seconds": report.seconds,
        "mb_s": mb / report.seconds,
        "voorkomens_s": voorkomens / report.seconds,
        "expat_mb_s": total / 1e6 / seconds,
        "ratio": ratio,
        "ratio_cpu": bare_cpu / ingest_cpu,
        "rss_mb": tree.peak / 1e6,
        "pss_mb": tree.peak_pss / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--addresses", type=int, nargs="+", help="generate extracts of about N addresses")
    group.add_argument("--extract", type=Path, help="an LVBAG extract (zip, folder or XML)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rows = []
    for size in args.addresses or [None]:
        with tempfile.TemporaryDirectory(prefix="bag-bench-") as tmp:
            tmpdir = Path(tmp)
            if size is None:
                source = args.extract
            else:
                t = time.perf_counter()
                source = build_input(tmpdir / "data", size, args.seed)
                print(f"input: sources.synthetic, {size} addresses; built in {time.perf_counter() - t:.1f} s")
            rows.append((size, measure(source, args.processes, tmpdir)))
    print()
    print("| addresses | XML MB | voorkomens | ingest s | MB/s | voorkomens/s | expat MB/s | ratio (wall) "
          "| ratio (CPU) | peak RSS MB | peak PSS MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, r in rows:
        print(
            f"| {size or 'extract'} | {r['xml_mb']:.0f} | {r['voorkomens']} | {r['seconds']:.1f} "
            f"| {r['mb_s']:.0f} | {r['voorkomens_s']:.0f} | {r['expat_mb_s']:.0f} "
            f"| {r['ratio']:.2f} | {r['ratio_cpu']:.2f} "
            f"| {r['rss_mb']:.0f} | {r['pss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()

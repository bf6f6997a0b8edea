"""Peak memory and temporary disk of `knooppunt ingest` on the worst bad inputs we know.

    .venv/bin/python benchmarks/bad_input_bounds.py                 # 512 MB cases
    .venv/bin/python benchmarks/bad_input_bounds.py --size-mb 2048  # the 2 GB cases of issue 9

Cases (each built in a scratch folder, then loaded by the real CLI in a child process):

* ``padded-record``: the real BAG extract's OPR deelbestand with ONE record padded to
  ``--size-mb`` MB (the padding inside the street name), zipped: a few MB on disk. The scanner
  skips the over-long record (one reject) and loads the rest.
* ``inflating-inner-zip``: an extract whose inner VBO zip inflates to ``--size-mb`` MB (honestly
  declared). Refused before anything is extracted: the declared size exceeds the temporary disk
  limit (2 x the delivery size + 64 MB).
* ``long-csv-line``: a KvK bulk CSV whose second line is ``--size-mb`` MB long. Refused at 1 MB of
  that line, without reading it whole.
* ``baseline``: the real extract as delivered, for comparison.

Printed per case: exit code, seconds, peak resident memory of the process tree (sampled every
20 ms from /proc), peak size of the temporary folder (TMPDIR, where the reader extracts inner
zips), the delivery's size and the last line of output. Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
KNOOPPUNT = Path(sys.executable).parent / "knooppunt"
MB = 1 << 20


def _opr_xml() -> bytes:
    with zipfile.ZipFile(EXTRACT) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("9999OPR15092020.zip")))
        name = next(n for n in inner.namelist() if n.endswith(".xml") and not n.startswith("__MACOSX"))
        return inner.read(name)


def padded_record(folder: Path, size_mb: int) -> Path:
    """A zip holding the OPR deelbestand with its first street name padded to ``size_mb`` MB,
    written through a streaming deflater so building it never holds the padding in memory."""
    xml = _opr_xml()
    cut = xml.index(b">Rietmaat<") + 1
    path = folder / "0221OPR15092020.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("0221OPR15092020-000001.xml", "w", force_zip64=True) as dst,
    ):
        dst.write(xml[:cut])
        chunk = b"Riet" * (MB // 4)
        for _ in range(size_mb):
            dst.write(chunk)
        dst.write(xml[cut:])
    return path


def inflating_inner_zip(folder: Path, size_mb: int) -> Path:
    """The real extract with its VBO zip replaced by a member that inflates to ``size_mb`` MB."""
    path = folder / "BAGNLDL-15092020-bomb.zip"
    with zipfile.ZipFile(EXTRACT) as real, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in real.infolist():
            if info.filename == "9999VBO15092020.zip":
                with zf.open(info.filename, "w", force_zip64=True) as dst:
                    zeros = bytes(MB)
                    for _ in range(size_mb):
                        dst.write(zeros)
            else:
                zf.writestr(info.filename, real.read(info))
    return path


def long_csv_line(folder: Path, size_mb: int) -> Path:
    path = folder / "vestigingen.csv"
    header = (
        "kvk_nummer,vestigingsnummer,naam,rechtsvorm,eerste_handelsnaam,is_hoofdvestiging,is_commercieel,"
        "datum_aanvang,datum_einde,straatnaam,huisnummer,huisletter,huisnummertoevoeging,postcode,plaats,"
        "bag_nummeraanduiding_id,bag_verblijfsobject_id,sbi_codes,sbi_versie\n"
    )
    with path.open("wb") as fh:
        fh.write(header.encode())
        fh.write(b"90000001,000300000001,")
        chunk = b"A" * MB
        for _ in range(size_mb):
            fh.write(chunk)
        fh.write(b",,,,,,,,,,,,,,,,,\n")
    return path


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _dir_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def measure(name: str, source: str, path: Path, work: Path) -> None:
    tmp = work / f"tmp-{name}"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    cmd = [str(KNOOPPUNT), "ingest", source, str(path), "--warehouse", str(work / f"wh-{name}"), "--json"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    peak_rss = peak_tmp = 0
    while proc.poll() is None:
        peak_rss = max(peak_rss, _tree_rss(proc.pid))
        peak_tmp = max(peak_tmp, _dir_size(tmp))
        time.sleep(0.02)
    out = proc.stdout.read().decode("utf-8", "replace").strip() if proc.stdout else ""
    seconds = time.perf_counter() - started
    last = " ".join(out.split())[-160:]
    print(
        f"{name:22} exit {proc.returncode}  {seconds:7.1f} s  peak RSS {peak_rss / MB:7.0f} MB  "
        f"peak temp {peak_tmp / MB:6.0f} MB  delivery {path.stat().st_size / MB:7.1f} MB\n    {last}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=512, help="padding / inflated size in MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bounds-") as tmp:
        work = Path(tmp)
        print(f"size {args.size_mb} MB; python {sys.version.split()[0]}; zlib {zlib.ZLIB_VERSION}")
        measure("baseline", "bag", EXTRACT, work)
        measure("padded-record", "bag", padded_record(work, args.size_mb), work)
        measure("inflating-inner-zip", "bag", inflating_inner_zip(work, args.size_mb), work)
        measure("long-csv-line", "kvk", long_csv_line(work, args.size_mb), work)


if __name__ == "__main__":
    main()

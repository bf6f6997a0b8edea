"""Find the deelbestanden of an LVBAG 2.x delivery.

Accepted shapes (national and municipal extracts share the layout):

* the extract as delivered: an outer zip holding one zip per object type (``9999VBO15092020.zip``
  ...), ``9999InOnderzoek…zip`` (itself a zip of zips) and ``Leveringsdocument-BAG-Extract.xml``;
  all seven object-type zips must be present;
* a single object-type zip (``9999VBO15092020.zip``) holding XML deelbestanden;
* a plain deelbestand XML file, or a folder holding any of the above.

Inner zips are copied to a scratch folder so that worker processes can open them directly (a zip
inside a zip cannot be seeked without inflating it again). ``Inactief``, ``NietBag`` and
``GEM-WPL-RELATIE`` are not loaded: they are listed in :attr:`Delivery.skipped`.

Bounds (a zip bomb is refused, never extracted): every member's declared inflated size must stay
under :data:`MAX_MEMBER_BYTES`; the inner zips copied to the scratch folder together may take at
most :data:`TEMP_DISK_FACTOR` times the delivery's size on disk (plus 64 MB), checked on the
declared sizes before copying and on the bytes while copying (a member that inflates beyond its
declared size is refused). XML members are streamed, never copied, and the scanner stops at
their declared size too. A mutation delivery (``…MUT…`` inner zips) is named as such and refused
here: mutations are applied by :mod:`sources.bag.apply`.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from zlib import error as zlib_error

from sources.bag.objects import OBJECT_TYPES
from sources.bag.scanner import GEMEENTE, STAND_DATE
from sources.errors import SourceError

_OBJECT_ZIP = re.compile(r"^\d{4}(WPL|OPR|NUM|VBO|PND|LIG|STA)\d{8}\.zip$", re.IGNORECASE)
_SKIPPED = re.compile(r"(Inactief|NietBag|GEM-WPL-RELATIE|\d{4}(IA|NB)[A-Z]{3}\d{8})", re.IGNORECASE)
_TYPE_IN_NAME = re.compile(r"^\d{4}(IO)?(WPL|OPR|NUM|VBO|PND|LIG|STA)\d{8}", re.IGNORECASE)
_MUTATION_ZIP = re.compile(r"^\d{4}MUT\d{8}", re.IGNORECASE)
LEVERINGSDOCUMENT = "Leveringsdocument-BAG-Extract.xml"
MAX_MEMBER_BYTES = 16 << 30  # a national deelbestand or object zip is far below this
TEMP_DISK_FACTOR = 2
TEMP_DISK_SLACK = 64 << 20


@dataclass(frozen=True, slots=True)
class Part:
    """One XML deelbestand: a file on disk, or a member of a zip on disk."""

    name: str  # shown in errors and rejects: outer file / inner zip / member
    path: str
    member: str | None = None
    size: int = 0

    @property
    def type_hint(self) -> str | None:
        """Object type from the Kadaster file name (``0221VBO…``), if it follows the convention."""
        m = _TYPE_IN_NAME.match(Path(self.member or self.path).name)
        return m.group(2).upper() if m else None


@dataclass
class Delivery:
    source: Path
    parts: list[Part] = field(default_factory=list)
    stand_technische_datum: str | None = None
    gemeenten: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    temp_budget: int = 0  # bytes the inner zips may still take in the scratch folder

    @property
    def xml_bytes(self) -> int:
        return sum(p.size for p in self.parts)


def _ignored(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return (
        name.startswith("__MACOSX/")
        or "/__MACOSX/" in name
        or base == ".DS_Store"
        or base.startswith("._")
        or name.endswith("/")
    )


def _read_leveringsdocument(delivery: Delivery, name: str, data: bytes) -> None:
    if b"BAG-Extract-Levering" not in data[:4096]:
        raise SourceError(name, "not a BAG-Extract-Levering document")
    if m := STAND_DATE.search(data):
        delivery.stand_technische_datum = m.group(1).decode()
    delivery.gemeenten.extend(g.decode() for g in GEMEENTE.findall(data))


def _open_zip(path: Path, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(name, f"not a readable zip file: {exc}") from exc


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str, budget: int) -> None:
    """Extract one member to ``target``, never writing more than its declared size or ``budget``."""
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > info.file_size or written > budget:
                    raise SourceError(
                        name, f"inflates beyond its declared size of {info.file_size:,} bytes (refused)"
                    )
                dst.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SourceError(name, f"cannot extract: {exc}") from exc


def _check_declared(delivery: Delivery, info: zipfile.ZipInfo, name: str, copied: bool) -> None:
    if info.file_size > MAX_MEMBER_BYTES:
        raise SourceError(
            name,
            f"declares {info.file_size:,} bytes inflated, more than the limit of "
            f"{MAX_MEMBER_BYTES:,} (refused)",
        )
    if copied and info.file_size > delivery.temp_budget:
        raise SourceError(
            name,
            f"declares {info.file_size:,} bytes inflated: extracting it would exceed the temporary disk "
            f"limit ({TEMP_DISK_FACTOR} x the delivery's size) (refused)",
        )


def _collect_zip(delivery: Delivery, path: Path, name: str, scratch: Path, *, outer: bool) -> None:
    with _open_zip(path, name) as zf:
        members = [i for i in zf.infolist() if not _ignored(i.filename)]
        zips = [i for i in members if i.filename.lower().endswith(".zip")]
        if any(_MUTATION_ZIP.match(Path(i.filename).name) for i in zips):
            raise SourceError(
                name,
                "this is an LVBAG mutation delivery (mutatie zips), not a stand extract (BAGNLDL / BAGGEM): "
                "apply it on the loaded stand with `knooppunt ingest bag-mutaties`",
            )
        if outer and zips:
            found = {m.group(1).upper() for i in zips if (m := _OBJECT_ZIP.match(Path(i.filename).name))}
            missing = [t for t in OBJECT_TYPES if t not in found]
            if missing:
                raise SourceError(
                    name,
                    f"LVBAG extract without the expected inner object zips: missing {', '.join(missing)} "
                    f"(expected one <gemeente/9999><TYPE><date>.zip per type {', '.join(OBJECT_TYPES)})",
                )
        for info in members:
            inner_name = f"{name}/{info.filename}"
            base = Path(info.filename).name
            lower = base.lower()
            if _SKIPPED.search(base):
                delivery.skipped.append(inner_name)
            elif lower == LEVERINGSDOCUMENT.lower():
                if info.file_size > 1 << 20:
                    raise SourceError(inner_name, "a Leveringsdocument larger than 1 MB (refused)")
                _read_leveringsdocument(delivery, inner_name, zf.read(info))
            elif lower.endswith(".zip"):
                _check_declared(delivery, info, inner_name, copied=True)
                target = scratch / f"{len(list(scratch.iterdir()))}-{base}"
                _copy_member(zf, info, target, inner_name, delivery.temp_budget)
                delivery.temp_budget -= target.stat().st_size
                _collect_zip(delivery, target, inner_name, scratch, outer=False)
            elif lower.endswith(".xml"):
                _check_declared(delivery, info, inner_name, copied=False)
                delivery.parts.append(Part(inner_name, str(path), info.filename, info.file_size))
            else:
                delivery.skipped.append(inner_name)


def _collect_file(delivery: Delivery, path: Path, scratch: Path) -> None:
    lower = path.name.lower()
    if lower.endswith(".zip"):
        _collect_zip(delivery, path, path.name, scratch, outer=True)
    elif lower == LEVERINGSDOCUMENT.lower():
        _read_leveringsdocument(delivery, path.name, path.read_bytes())
    elif lower.endswith(".xml"):
        if _SKIPPED.search(path.name):
            delivery.skipped.append(path.name)
        else:
            delivery.parts.append(Part(path.name, str(path), None, path.stat().st_size))
    else:
        raise SourceError(path.name, "not an LVBAG delivery file (expected .zip or .xml)")


def find_parts(source: Path, scratch: Path) -> Delivery:
    """All deelbestanden of a delivery at ``source`` (file or folder); inner zips go to ``scratch``."""
    delivery = Delivery(source=source)
    if source.is_dir():
        size = sum(p.stat().st_size for p in source.iterdir() if p.is_file())
    else:
        size = source.stat().st_size if source.is_file() else 0
    delivery.temp_budget = TEMP_DISK_FACTOR * size + TEMP_DISK_SLACK
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and not _ignored(p.name))
        if not files:
            raise SourceError(str(source), "empty delivery folder")
        for path in files:
            _collect_file(delivery, path, scratch)
    elif source.is_file():
        _collect_file(delivery, source, scratch)
    else:
        raise SourceError(str(source), "no such file or folder")
    if not delivery.parts:
        raise SourceError(str(source), "no LVBAG deelbestanden (XML) found")
    # Largest first: keeps both workers busy until the end.
    delivery.parts.sort(key=lambda p: -p.size)
    return delivery


# -- completeness of an extract as delivered (before anything is loaded) -------------------------

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


@dataclass(frozen=True)
class ExtractCheck:
    """What :func:`check_extract` established about a complete LVBAG extract zip."""

    stand_technische_datum: str  # from the Leveringsdocument
    gemeenten: tuple[str, ...]
    members: int
    checksum: str | None  # "sha256" / "md5" when a sidecar checksum file was verified


def _central_directory_end(path: Path, size: int) -> None:
    """The end-of-central-directory record must end the file and describe a directory just before it.

    A transfer cut short loses the outer zip's EOCD; as the outer zip stores its inner zips
    uncompressed, the cut file may still end in an inner zip's EOCD, which zipfile would happily
    open. That inner record's directory offset is relative to the inner zip, so it does not point
    at the bytes right before it: refused here.
    """
    with open(path, "rb") as fh:
        tail_len = min(size, _EOCD_SIZE + 0xFFFF)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    pos = tail.rfind(_EOCD)
    while pos >= 0:
        comment_len = int.from_bytes(tail[pos + 20 : pos + 22], "little")
        if pos + _EOCD_SIZE + comment_len == len(tail):
            break
        pos = tail.rfind(_EOCD, 0, pos)
    if pos < 0:
        raise SourceError(
            path.name,
            "incomplete zip: no end-of-central-directory record at the end of the file (cut short?)",
        )
    eocd_at = size - tail_len + pos
    cd_size = int.from_bytes(tail[pos + 12 : pos + 16], "little")
    cd_offset = int.from_bytes(tail[pos + 16 : pos + 20], "little")
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:  # ZIP64: the real values sit before
        loc = pos - 20
        if loc < 0 or tail[loc : loc + 4] != _ZIP64_LOCATOR:
            raise SourceError(path.name, "incomplete zip: ZIP64 end-of-central-directory locator missing")
        z64_at = int.from_bytes(tail[loc + 8 : loc + 16], "little")
        with open(path, "rb") as fh:
            fh.seek(z64_at)
            rec = fh.read(56)
        if rec[:4] != _ZIP64_EOCD:
            raise SourceError(path.name, "incomplete zip: ZIP64 end-of-central-directory record missing")
        cd_size = int.from_bytes(rec[40:48], "little")
        cd_offset = int.from_bytes(rec[48:56], "little")
        eocd_at = z64_at
    if cd_offset + cd_size != eocd_at:
        raise SourceError(
            path.name,
            "incomplete zip: the end-of-central-directory record at the end of the file does not belong "
            "to this file's central directory (cut short inside an inner zip?)",
        )


def _sidecar_checksum(path: Path) -> str | None:
    """Verify ``<zip>.sha256`` / ``<zip>.md5`` (``sha256sum`` / ``md5sum`` format) when present."""
    import hashlib

    for algorithm in ("sha256", "md5"):
        sidecar = path.with_name(f"{path.name}.{algorithm}")
        if not sidecar.exists():
            continue
        expected = sidecar.read_text(encoding="ascii", errors="replace").split()
        if not expected:
            raise SourceError(sidecar.name, "empty checksum file")
        digest = hashlib.new(algorithm)
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest().lower() != expected[0].lower():
            raise SourceError(path.name, f"{algorithm} does not match {sidecar.name} (damaged in transfer?)")
        return algorithm
    return None


def check_extract(path: Path) -> ExtractCheck:
    """Check that ``path`` is a complete LVBAG extract before any of it is loaded.

    Complete means: the end-of-central-directory record ends the file and belongs to it; every
    member's CRC-32 is right; one object zip for each of the seven object types is present; the
    Leveringsdocument is present and names the StandTechnischeDatum; and a sidecar checksum file
    (``<zip>.sha256`` or ``<zip>.md5``), when delivered, matches. Raises ``SourceError`` naming the
    file and the reason. A single object-type zip or loose XML is not a complete extract.
    """
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".zip":
        raise SourceError(path.name, "not an LVBAG extract zip (a complete extract is one .zip of zips)")
    _central_directory_end(path, path.stat().st_size)
    zf = _open_zip(path, path.name)
    with zf:
        names = [i.filename for i in zf.infolist() if not _ignored(i.filename)]
        found = {m.group(1).upper() for n in names if (m := _OBJECT_ZIP.match(Path(n).name))}
        missing = [t for t in OBJECT_TYPES if t not in found]
        if missing:
            raise SourceError(
                path.name,
                f"not a complete LVBAG extract: object zips missing for {', '.join(missing)} "
                "(a partial delivery can only be loaded by an operator: knooppunt ingest bag PATH --partial)",
            )
        try:
            bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, zlib_error) as exc:
            raise SourceError(path.name, f"incomplete zip: {exc}") from exc
        if bad is not None:
            raise SourceError(f"{path.name}/{bad}", "CRC-32 does not match (damaged zip member)")
        docs = [n for n in names if Path(n).name.lower() == LEVERINGSDOCUMENT.lower()]
        if not docs:
            raise SourceError(path.name, f"not a complete LVBAG extract: no {LEVERINGSDOCUMENT}")
        delivery = Delivery(source=path)
        _read_leveringsdocument(delivery, f"{path.name}/{docs[0]}", zf.read(docs[0]))
    if not delivery.stand_technische_datum:
        raise SourceError(f"{path.name}/{docs[0]}", "Leveringsdocument without StandTechnischeDatum")
    return ExtractCheck(
        stand_technische_datum=delivery.stand_technische_datum,
        gemeenten=tuple(delivery.gemeenten),
        members=len(names),
        checksum=_sidecar_checksum(path),
    )

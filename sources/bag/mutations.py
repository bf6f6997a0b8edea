"""Read an LVBAG 2.x mutatielevering: ``bagMutaties`` deelbestanden of ``ml:mutatieGroep``\\ s.

A mutatielevering covers a period (``MutatiedatumVanaf`` up to ``MutatiedatumTot``, one day for a
daily delivery). Every ``mutatieGroep`` holds ``toevoeging`` (``wordt``), ``wijziging`` (``was``
and ``wordt``) and ``verwijdering`` (``was``) records, each about one voorkomen of one object;
their order is the order in which the registry made them. :func:`read_mutations` reduces them to
their net effect per voorkomen (object type, identificatie, voorkomenidentificatie):

* the state the voorkomen must have before the delivery (the ``was`` of its first record; none
  when the first record is a toevoeging), and
* the state after it (the ``wordt`` of its last record; none when it was deleted),

(a ``kenmerkInOnderzoek``, which has no voorkomenidentificatie, is identified by its object,
kenmerk and tijdstipRegistratie and returned under the kind ``IO``),

checking that each record's ``was`` is the previous record's ``wordt`` for the same voorkomen.
Both are returned as the same Arrow tables the stand reader builds (:class:`ObjectBatch`), so a
mutation goes through exactly the record checks, casts and geometry code of a stand extract;
invalid ``wordt`` records become rejects.

Accepted input: the delivery zip (a zip of zips of XML), an inner zip, or a plain XML
deelbestand. The parser is lxml's ``iterparse`` (a daily delivery is megabytes, not gigabytes),
which also checks well-formedness; each object element is handed to :class:`ObjectBatch` as bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
from lxml import etree

from sources.bag.delivery import MAX_MEMBER_BYTES
from sources.bag.objects import InOnderzoekBatch, ObjectBatch, leaves
from sources.bag.scanner import strip_comments
from sources.errors import Reject, SourceError

IN_ONDERZOEK = "IO"  # the kind of a kenmerkInOnderzoek record (in ``was``/``wordt`` tables)
ML = "http://www.kadaster.nl/schemas/mutatielevering-generiek/1.0"
MLM = "http://www.kadaster.nl/schemas/lvbag/extract-deelbestand-mutaties-lvc/v20200601"
SELECTIES = "http://www.kadaster.nl/schemas/lvbag/extract-selecties/v20200601"

# Local name of the object element inside ``mlm:bagObject`` -> object type.
ELEMENT_TYPES = {
    "Woonplaats": "WPL",
    "OpenbareRuimte": "OPR",
    "Nummeraanduiding": "NUM",
    "Verblijfsobject": "VBO",
    "Pand": "PND",
    "Ligplaats": "LIG",
    "Standplaats": "STA",
}
KINDS = ("toevoeging", "wijziging", "verwijdering")
LEVERINGSDOCUMENT = "LEVERINGSDOCUMENT"


@dataclass
class MutationDelivery:
    """The net effect of one mutatielevering (one file: zip or XML)."""

    name: str
    sha256: str
    vanaf: dt.date
    tot: dt.date
    stand_technische_datum: dt.date | None
    gemeenten: list[str]
    counts: dict[str, int]  # toevoeging / wijziging / verwijdering -> records
    was: dict[str, pa.Table]  # object type -> voorkomens as they must be before
    wordt: dict[str, pa.Table]  # object type -> voorkomens as they are after
    rejects: list[Reject] = field(default_factory=list)
    xml_bytes: int = 0


@dataclass
class _Header:
    vanaf: dt.date | None = None
    tot: dt.date | None = None
    stand: dt.date | None = None
    gemeenten: list[str] = field(default_factory=list)


@dataclass
class _State:
    """One voorkomen's chain of records within a delivery."""

    object_type: str
    first_was: bytes | None
    current: bytes | None
    source: str


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _date(name: str, element: etree._Element) -> dt.date:
    try:
        return dt.date.fromisoformat((element.text or "").strip())
    except ValueError as exc:
        raise SourceError(name, f"{_local(element.tag)} is not a date: {element.text!r}") from exc


def _object(name: str, toestand: etree._Element, seq: int) -> tuple[str, str, str, bytes]:
    """(object type, identificatie, voorkomenidentificatie, object element bytes) of a was/wordt."""
    model = next(iter(toestand), None)
    obj = next(iter(model), None) if model is not None else None
    where = f"mutatie {seq}"
    if obj is None:
        raise SourceError(name, f"an empty {_local(toestand.tag)}", where)
    if _local(model.tag) == "kenmerkInOnderzoek":
        # No voorkomenidentificatie: a kenmerk is one per object, attribute and registration time.
        found = dict(leaves(etree.tostring(obj)))
        ident = next((v for k, v in found.items() if k.startswith(b"identificatieVan")), b"")
        kenmerk = found.get(b"kenmerk", b"").decode("utf-8", "replace")
        registratie = found.get(b"tijdstipRegistratie", b"").decode("utf-8", "replace")
        key = f"{ident.decode('utf-8', 'replace').strip()} {kenmerk}"
        return IN_ONDERZOEK, key, registratie, strip_comments(etree.tostring(obj, with_tail=False))
    object_type = ELEMENT_TYPES.get(_local(obj.tag))
    if object_type is None:
        raise SourceError(name, f"unknown object element {_local(obj.tag)!r}", where)
    ident = (obj.findtext("{*}identificatie") or "").strip()
    vid = (obj.findtext(".//{*}voorkomenidentificatie") or "").strip()
    return object_type, ident, vid, strip_comments(etree.tostring(obj, with_tail=False))


def _members(path: Path) -> Iterator[tuple[str, BinaryIO, int]]:
    """(name, stream, size) of every XML deelbestand in a mutation file, in name order."""
    if path.suffix.lower() == ".xml":
        with open(path, "rb") as stream:
            yield path.name, stream, path.stat().st_size
        return
    yield from _zip_members(path.name, path)


def _zip_members(name: str, source: Path | BinaryIO) -> Iterator[tuple[str, BinaryIO, int]]:
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(name, f"not a readable zip file: {exc}") from exc
    with zf:
        infos = sorted(
            (i for i in zf.infolist() if not i.is_dir() and "__MACOSX/" not in i.filename),
            key=lambda i: i.filename,
        )
        for info in infos:
            inner = f"{name}/{info.filename}"
            base = Path(info.filename).name
            if base.startswith(".") or base.upper().startswith(LEVERINGSDOCUMENT):
                continue  # hidden files; the delivery's metadata document (no mutations)
            if info.file_size > MAX_MEMBER_BYTES:
                raise SourceError(
                    inner, f"declared size {info.file_size:,} bytes is above {MAX_MEMBER_BYTES:,} (refused)"
                )
            try:
                if base.lower().endswith(".zip"):
                    # An inner zip cannot be read in place; spooled (memory up to 64 MB, then disk).
                    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as copy:
                        with zf.open(info) as src:
                            shutil.copyfileobj(src, copy, 1 << 20)
                        copy.seek(0)
                        yield from _zip_members(inner, copy)
                elif base.lower().endswith(".xml"):
                    with zf.open(info) as stream:
                        yield inner, stream, info.file_size
                else:
                    raise SourceError(inner, "not part of an LVBAG mutatielevering (expected .zip or .xml)")
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise SourceError(inner, f"cannot extract: {exc}") from exc


def _records(name: str, stream: BinaryIO, header: _Header) -> Iterator[tuple[str, etree._Element]]:
    """(kind, record element) in document order; fills ``header`` from ``bagInfo``."""
    root_seen = False
    try:
        for event, element in etree.iterparse(stream, events=("start", "end"), remove_comments=True):
            tag = _local(element.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if tag != "bagMutaties" or etree.QName(element.tag).namespace != MLM:
                        raise SourceError(
                            name,
                            f"not an LVBAG mutatie deelbestand (root {tag!r}; expected bagMutaties of "
                            "extract-deelbestand-mutaties-lvc)",
                        )
                continue
            if tag == "MutatiedatumVanaf":
                header.vanaf = _date(name, element)
            elif tag == "MutatiedatumTot":
                header.tot = _date(name, element)
            elif tag == "StandTechnischeDatum":
                header.stand = _date(name, element)
            elif tag == "GemeenteIdentificatie" and element.text:
                if element.text.strip() not in header.gemeenten:
                    header.gemeenten.append(element.text.strip())
            elif tag == "mutatieGroep":
                for record in element:
                    kind = _local(record.tag)
                    if kind not in KINDS:
                        raise SourceError(name, f"unknown mutation {kind!r} in a mutatieGroep")
                    yield kind, record
                element.clear()
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise SourceError(name, f"malformed XML: {exc}") from exc


def _same(a: bytes, b: bytes) -> bool:
    return leaves(a) == leaves(b)


def mutation_period(path: Path) -> tuple[dt.date, dt.date]:
    """(MutatiedatumVanaf, MutatiedatumTot) of a mutation file, read from its first deelbestand's
    header only (to order a folder of files without reading them all)."""
    path = Path(path)
    for name, stream, _size in _members(path):
        header = _Header()
        for _record in _records(name, stream, header):
            break
        if header.vanaf is not None and header.tot is not None:
            return header.vanaf, header.tot
    raise SourceError(path.name, "no Mutatieperiode (MutatiedatumVanaf/MutatiedatumTot) in bagInfo")


def read_mutations(path: Path) -> MutationDelivery:
    """Read the mutation file at ``path`` (zip or XML) into its net effect per voorkomen."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(str(path), "no such file")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    header = _Header()
    counts = dict.fromkeys(KINDS, 0)
    states: dict[tuple[str, str, str], _State] = {}
    xml_bytes = 0
    seq = 0
    parts = 0
    for name, stream, size in _members(path):
        parts += 1
        xml_bytes += size
        part_header = _Header()
        for kind, record in _records(name, stream, part_header):
            seq += 1
            counts[kind] += 1
            states_of = {_local(t.tag): t for t in record}
            was = _object(name, states_of["was"], seq) if "was" in states_of else None
            wordt = _object(name, states_of["wordt"], seq) if "wordt" in states_of else None
            needed = {"toevoeging": ("wordt",), "wijziging": ("was", "wordt"), "verwijdering": ("was",)}[kind]
            if sorted(states_of) != sorted(needed):
                raise SourceError(name, f"a {kind} has {' and '.join(needed)} only", f"mutatie {seq}")
            key = (was or wordt)[:3]
            ref = f"{key[0]} {key[1]} voorkomen {key[2]}"
            if was and wordt and was[:3] != wordt[:3]:
                raise SourceError(name, "was and wordt of a wijziging are different voorkomens", ref)
            state = states.get(key)
            if state is None:
                states[key] = _State(key[0], was[3] if was else None, wordt[3] if wordt else None, name)
                continue
            if was is None and state.current is not None:
                raise SourceError(name, "toevoeging of a voorkomen added earlier in this delivery", ref)
            if was is not None and (state.current is None or not _same(was[3], state.current)):
                raise SourceError(
                    name, f"the was of this {kind} is not the voorkomen as an earlier mutation left it", ref
                )
            state.current = wordt[3] if wordt else None
            state.source = name
        _merge_header(header, part_header, name)
    if parts == 0:
        raise SourceError(path.name, "no mutatie deelbestanden (XML) found")
    if header.vanaf is None or header.tot is None:
        raise SourceError(path.name, "no Mutatieperiode (MutatiedatumVanaf/MutatiedatumTot) in bagInfo")
    if header.tot <= header.vanaf:
        raise SourceError(
            path.name, f"MutatiedatumTot {header.tot} is not after MutatiedatumVanaf {header.vanaf}"
        )
    was_tables, wordt_tables, rejects = _tables(states)
    return MutationDelivery(
        name=path.name,
        sha256=digest.hexdigest(),
        vanaf=header.vanaf,
        tot=header.tot,
        stand_technische_datum=header.stand,
        gemeenten=header.gemeenten,
        counts=counts,
        was=was_tables,
        wordt=wordt_tables,
        rejects=rejects,
        xml_bytes=xml_bytes,
    )


def _merge_header(header: _Header, part: _Header, name: str) -> None:
    if header.vanaf is None:
        header.vanaf, header.tot, header.stand = part.vanaf, part.tot, part.stand
    elif (part.vanaf, part.tot) != (header.vanaf, header.tot):
        raise SourceError(
            name,
            f"Mutatieperiode {part.vanaf} – {part.tot} differs from the delivery's other deelbestanden "
            f"({header.vanaf} – {header.tot})",
        )
    header.gemeenten.extend(g for g in part.gemeenten if g not in header.gemeenten)


def _batch(kind: str, source: str) -> ObjectBatch | InOnderzoekBatch:
    return InOnderzoekBatch(source) if kind == IN_ONDERZOEK else ObjectBatch(kind, source)


def _tables(states: dict[tuple[str, str, str], _State]) -> tuple[dict, dict, list[Reject]]:
    """Arrow tables of the first ``was`` and last ``wordt`` per voorkomen, per object type."""
    was: dict[str, ObjectBatch | InOnderzoekBatch] = {}
    wordt: dict[str, ObjectBatch | InOnderzoekBatch] = {}
    for state in states.values():
        t = state.object_type
        if state.first_was is not None:
            was.setdefault(t, _batch(t, state.source)).add(state.first_was)
        if state.current is not None:
            batch = wordt.setdefault(t, _batch(t, state.source))
            batch.source_file = state.source
            batch.add(state.current)
    rejects = [r for b in wordt.values() for r in b.rejects]
    return (
        {t: b.to_arrow() for t, b in was.items() if len(b)},
        {t: b.to_arrow() for t, b in wordt.items() if len(b)},
        rejects,
    )

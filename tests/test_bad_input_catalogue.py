"""The bad-input catalogue: one malformed record in a real or generated delivery, through `knooppunt ingest`.

Every case builds its delivery in the test, from the real fixtures (``../shared/fixtures``) or
from the generator, changes ONE record (or the file, for deliveries that cannot be read), runs the
real CLI command in process and asserts:

* the exit code (0 when a record is bad, 1 when the delivery cannot be read) and the message;
* the reject's reason in ``rejects.<source>`` (naming the field and the rule; never a personal
  value: the test checks the value is not in the reason);
* that every valid record of the delivery was kept: the counts of the same delivery without the
  bad record, minus that one record.

The export cases check that every CSV the project writes neutralises formula cells (OWASP) and
that GeoJSON keeps the raw value.
"""

from __future__ import annotations

import copy
import csv as csvmod
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import geopandas as gpd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.warehouse import Warehouse
from privacy.exportfiles import csv_bytes, to_csv, to_geojson
from sources.synthetic import generate

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
LO3 = FIXTURES / "brp" / "gba-v-testset-20220502.csv"
KVK = sorted((FIXTURES / "kvk").glob("*.json"))
VESTIGINGSPROFIEL = FIXTURES / "kvk" / "vestigingsprofiel-000038509504.json"


@pytest.fixture(scope="module", autouse=True)
def demo_keys():
    mp = pytest.MonkeyPatch()
    for var in ("KNOOPPUNT_PSEUDONYM_KEY", "KNOOPPUNT_PSEUDONYM_KEY_FILE", "KNOOPPUNT_IDENTITY_KEY"):
        mp.delenv(var, raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "gemeente"
    generate(out, 300, 7)
    return out


# --- building deliveries ---------------------------------------------------------------------


def bag_xml(object_type: str) -> bytes:
    """The deelbestand of one object type from the real extract."""
    with zipfile.ZipFile(EXTRACT) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read(f"9999{object_type}15092020.zip")))
        name = next(n for n in inner.namelist() if n.endswith(".xml") and not n.startswith("__MACOSX"))
        return inner.read(name)


def bag_first_block(
    object_type: str, change: Callable[[bytes], bytes], *, must_change: bool = True
) -> Callable[[Path, Path], Path]:
    """A plain deelbestand of the real extract with its first ``stand`` block changed."""

    def build(tmp: Path, _gen: Path) -> Path:
        xml = bag_xml(object_type)
        start = xml.index(b"<sl:stand>")
        end = xml.index(b"</sl:stand>", start)
        block = change(xml[start:end])
        assert block != xml[start:end] or not must_change, "the case must change the record"
        path = tmp / f"0221{object_type}15092020-000001.xml"
        path.write_bytes(xml[:start] + block + xml[end:])
        return path

    return build


def bag_plain(object_type: str) -> Callable[[Path, Path], Path]:
    return bag_first_block(object_type, lambda b: b, must_change=False)  # the baseline


def replace_once(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def change(block: bytes) -> bytes:
        assert old in block, old
        return block.replace(old, new, 1)

    return change


def unclose_ring(block: bytes) -> bytes:
    head, _, tail = block.rpartition(b"206341.621 447531.645 0.0")
    return head + b"206341.000 447531.645 0.0" + tail


def lo3_case(element: str, value: str) -> Callable[[Path, Path], Path]:
    """The first 80 lines of RvIG's test set with ``element`` of the first persoonslijst set."""

    def build(tmp: Path, _gen: Path) -> Path:
        lines = LO3.read_text(encoding="utf-8-sig").splitlines(keepends=True)[:81]
        rows = list(csvmod.reader(lines, delimiter=";"))
        first = next(i for i, row in enumerate(rows[1:], start=1) if row[0])
        rows[first][rows[0].index(element)] = value
        path = tmp / "brp.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csvmod.writer(fh, delimiter=";", lineterminator="\r\n").writerows(rows)
        return path

    return build


def lo3_base(tmp: Path, _gen: Path) -> Path:
    lines = LO3.read_text(encoding="utf-8-sig").splitlines(keepends=True)[:81]
    path = tmp / "brp.csv"
    path.write_text("\ufeff" + "".join(lines), encoding="utf-8")
    return path


def hc_case(change: Callable[[dict], None]) -> Callable[[Path, Path], Path]:
    """The generator's Haal Centraal response with its first person changed."""

    def build(tmp: Path, gen: Path) -> Path:
        body = json.loads((gen / "brp" / "personen-haalcentraal.json").read_text(encoding="utf-8"))
        before = copy.deepcopy(body["personen"][0])
        change(body["personen"][0])
        assert body["personen"][0] != before
        path = tmp / "personen.json"
        path.write_text(json.dumps(body), encoding="utf-8")
        return path

    return build


def hc_base(tmp: Path, gen: Path) -> Path:
    path = tmp / "personen.json"
    path.write_bytes((gen / "brp" / "personen-haalcentraal.json").read_bytes())
    return path


def kvk_case(change: Callable[[dict], object] | None) -> Callable[[Path, Path], Path]:
    """The three real KvK responses plus one more vestigingsprofiel (a new number), changed."""

    def build(tmp: Path, _gen: Path) -> Path:
        folder = tmp / "kvk"
        folder.mkdir()
        for path in KVK:
            (folder / path.name).write_bytes(path.read_bytes())
        if change is not None:
            extra = json.loads(VESTIGINGSPROFIEL.read_text(encoding="utf-8"))
            extra["vestigingsnummer"] = "000099999999"
            body = change(extra)
            (folder / "extra.json").write_text(json.dumps(extra if body is None else body), encoding="utf-8")
        return folder

    return build


def csv_case(kind: str, column: str, value: str, row: int = 0) -> Callable[[Path, Path], Path]:
    """The generator's KvK bulk file or case file with one cell of data row ``row`` set."""

    def build(tmp: Path, gen: Path) -> Path:
        source = gen / ("kvk/vestigingen.csv" if kind == "kvk" else "handhaving/zaken.csv")
        rows = list(csvmod.reader(source.open(encoding="utf-8", newline="")))
        rows[row + 1][rows[0].index(column)] = value
        path = tmp / source.name
        with path.open("w", encoding="utf-8", newline="") as fh:
            csvmod.writer(fh).writerows(rows)
        return path

    return build


def csv_base(kind: str) -> Callable[[Path, Path], Path]:
    def build(tmp: Path, gen: Path) -> Path:
        source = gen / ("kvk/vestigingen.csv" if kind == "kvk" else "handhaving/zaken.csv")
        path = tmp / source.name
        path.write_bytes(source.read_bytes())
        return path

    return build


def file_case(kind: str, transform: Callable[[bytes], bytes]) -> Callable[[Path, Path], Path]:
    """A whole delivery file transformed (encoding, delimiter, empty)."""
    sources = {
        "lo3": lambda gen: LO3,
        "kvk": lambda gen: gen / "kvk" / "vestigingen.csv",
        "enforcement": lambda gen: gen / "handhaving" / "zaken.csv",
    }

    def build(tmp: Path, gen: Path) -> Path:
        source = sources[kind](gen)
        path = tmp / source.name
        path.write_bytes(transform(source.read_bytes()))
        return path

    return build


def latin1_at_line(n: int) -> Callable[[bytes], bytes]:
    def transform(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[n - 1] = lines[n - 1].replace(b"a", b"\xe4", 1)
        assert b"\xe4" in lines[n - 1]
        return b"\n".join(lines)

    return transform


def mutation_zip(tmp: Path, _gen: Path) -> Path:
    path = tmp / "BAGNLDM-15092020-16092020.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("9999MUT15092020-16092020.zip", b"PK\x05\x06" + b"\0" * 18)
        zf.writestr("Leveringsdocument-BAG-Extract.xml", "<BAG-Extract-Levering/>")
    return path


def mutation_xml(tmp: Path, _gen: Path) -> Path:
    path = tmp / "9999MUT15092020-000001.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><ml:bagMutaties '
        'xmlns:ml="http://www.kadaster.nl/schemas/mutatielevering-generiek/1.0"></ml:bagMutaties>',
        encoding="utf-8",
    )
    return path


def inflating_inner_zip(tmp: Path, _gen: Path) -> Path:
    """The real extract with its inner VBO zip declaring 2 GB inflated in the central directory
    (the declared size is checked before anything is extracted, so no real 2 GB member is needed)."""
    path = tmp / "bomb.zip"
    with zipfile.ZipFile(EXTRACT) as real, zipfile.ZipFile(path, "w") as zf:
        for info in real.infolist():
            zf.writestr(info.filename, real.read(info))
    data = bytearray(path.read_bytes())
    name = b"9999VBO15092020.zip"
    # The central directory entry of the VBO zip: uncompressed size at offset 24 of the record.
    central = data.rindex(name) - 46
    assert data[central : central + 4] == b"PK\x01\x02"
    data[central + 24 : central + 28] = (2 << 30).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    source: str  # bag, brp, kvk, enforcement
    build: Callable[[Path, Path], Path]
    base: Callable[[Path, Path], Path] | None  # the same delivery without the bad record
    reason: str | None  # expected reject reason (prefix); None: the record is valid, nothing rejected
    exit_code: int = 0
    message: str = ""  # in the output when exit_code != 0
    personal: str | None = None  # a personal value that must not appear in the reason
    lost: dict[str, int] | None = None  # rows of the bad record per counted object (default: 1 record)


BAG_BASES = {t: bag_plain(t) for t in ("OPR", "PND")}
KVK_BASE = kvk_case(None)
KVK_CSV_BASE = csv_base("kvk")
ZAAK_BASE = csv_base("enforcement")


def bag(case_id, object_type, change, reason, lost=1):
    return Case(
        case_id,
        "bag",
        bag_first_block(object_type, change),
        BAG_BASES[object_type],
        reason,
        lost={"voorkomens": lost},
    )


BAG = [
    bag(
        "bag-date-impossible",
        "OPR",
        replace_once(b">2009-01-20</Historie:beginGeldigheid>", b">2009-13-45</Historie:beginGeldigheid>"),
        "begin_geldigheid: not a date YYYY-MM-DD",
    ),
    bag(
        "bag-date-text",
        "OPR",
        replace_once(
            b">2009-01-20</Historie:beginGeldigheid>", b">twintig januari</Historie:beginGeldigheid>"
        ),
        "begin_geldigheid: not a date YYYY-MM-DD",
    ),
    bag(
        "bag-timestamp",
        "OPR",
        replace_once(
            b">2010-12-15T10:57:31.000</Historie:tijdstipRegistratie>",
            b">2010-12-15T25:61:00</Historie:tijdstipRegistratie>",
        ),
        "tijdstip_registratie: not a timestamp",
    ),
    bag(
        "bag-documentdatum",
        "OPR",
        replace_once(b">2009-01-20</Objecten:documentdatum>", b">2009-02-30</Objecten:documentdatum>"),
        "documentdatum: not a date YYYY-MM-DD",
    ),
    bag(
        "bag-bouwjaar-not-number",
        "PND",
        replace_once(b">9999</Objecten:oorspronkelijkBouwjaar>", b">19x0</Objecten:oorspronkelijkBouwjaar>"),
        "oorspronkelijk_bouwjaar: not a whole number",
    ),
    bag("bag-ring-not-closed", "PND", unclose_ring, "unparsable geometry: a ring is not closed"),
    bag(
        "bag-coordinates-nan",
        "PND",
        replace_once(b"206354.422 447533.177", b"nan 447533.177"),
        "unparsable geometry: coordinates are not finite numbers",
    ),
    bag(
        "bag-coordinates-text",
        "PND",
        replace_once(b"206354.422 447533.177", b"x 447533.177"),
        "unparsable geometry: coordinates are not numbers",
    ),
    bag(
        "bag-charref-surrogate",
        "OPR",
        replace_once(b">Rietmaat<", b">Riet&#xD800;maat<"),
        "implausible text: character reference to a character XML text cannot hold",
    ),
    bag(
        "bag-charref-beyond-unicode",
        "OPR",
        replace_once(b">Rietmaat<", b">Riet&#1114112;maat<"),
        "implausible text: character reference to a character XML text cannot hold",
    ),
    bag(
        "bag-charref-control",
        "OPR",
        replace_once(b">Rietmaat<", b">Riet&#0;maat<"),
        "implausible text: character reference to a character XML text cannot hold",
    ),
    bag(
        "bag-unresolved-entity",
        "OPR",
        replace_once(b">Rietmaat<", b">&xxe;<"),
        "implausible text: unresolved entity reference",
    ),
    bag(
        "bag-nul-in-street",
        "OPR",
        replace_once(b">Rietmaat<", b">Riet\x00maat<"),
        "implausible text: control character",
    ),
    bag(
        "bag-escape-in-street",
        "OPR",
        replace_once(b">Rietmaat<", b">Riet\x1bmaat<"),
        "implausible text: control character",
    ),
    bag(
        "bag-id-malformed",
        "OPR",
        replace_once(b">0221300000311192<", b">02213000003111<"),
        "invalid OPR identificatie",
    ),
    bag(
        "bag-voorkomen-id-text",
        "OPR",
        replace_once(b">1</Historie:voorkomenidentificatie>", b">een</Historie:voorkomenidentificatie>"),
        "missing or non-numeric voorkomenidentificatie",
    ),
    bag(
        "bag-record-over-1mb",
        "OPR",
        replace_once(b">Rietmaat<", b">" + b"Riet" * 600_000 + b"<"),
        "record of ",
    ),
    Case(
        "bag-entity-ok",
        "bag",
        bag_first_block("OPR", replace_once(b">Rietmaat<", b">Riet&amp;maat<")),
        BAG_BASES["OPR"],
        None,
        lost={"voorkomens": 0},
    ),
    Case(
        "bag-mutation-zip",
        "bag",
        mutation_zip,
        None,
        None,
        1,
        "mutation delivery (mutatie zips), not a stand extract",
    ),
    Case(
        "bag-mutation-xml",
        "bag",
        mutation_xml,
        None,
        None,
        1,
        "mutation deelbestand (mutatielevering), not a stand",
    ),
    Case(
        "bag-inner-zip-inflates-2gb",
        "bag",
        inflating_inner_zip,
        None,
        None,
        1,
        "would exceed the temporary disk limit",
    ),
]


def hc(case_id, change, reason, personal=None, lost=None):
    return Case(
        case_id,
        "brp",
        hc_case(change),
        hc_base,
        reason,
        personal=personal,
        lost=lost if lost is not None else {"brp.persoon": 1},
    )


def _set(path: str, value):
    def change(p: dict) -> None:
        *parents, last = path.split(".")
        target = p
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return change


HAAL_CENTRAAL = [
    hc("hc-kinderen-string", _set("kinderen", "geen"), "kinderen: expected an array, found string"),
    hc("hc-kinderen-null-item", _set("kinderen", [None]), "kinderen[0]: expected an object, found null"),
    hc("hc-ouders-object", _set("ouders", {"a": 1}), "ouders: expected an array, found object"),
    hc(
        "hc-geboorte-datum-string",
        _set("geboorte.datum", "1980-01-05"),
        "geboorte.datum: expected a date object, found string",
        personal="1980-01-05",
    ),
    hc(
        "hc-geboorte-datum-null-value",
        _set("geboorte.datum", {"type": "Datum", "datum": None}),
        "geboorte.datum.datum: not a date YYYY-MM-DD",
    ),
    hc(
        "hc-geboorte-datum-unpadded",
        _set("geboorte.datum", {"type": "Datum", "datum": "1980-1-5"}),
        "geboorte.datum.datum: not a date YYYY-MM-DD",
        personal="1980-1-5",
    ),
    hc(
        "hc-geboorte-no-such-day",
        _set("geboorte.datum", {"type": "Datum", "datum": "1980-02-30"}),
        "geboorte.datum.datum: no such date",
        personal="1980-02-30",
    ),
    hc(
        "hc-geboorte-future",
        _set("geboorte.datum", {"type": "Datum", "datum": "2099-06-21"}),
        "implausible geboorte.datum: in the future",
        personal="2099-06-21",
    ),
    hc(
        "hc-geboorte-over-120",
        _set("geboorte.datum", {"type": "JaarDatum", "jaar": 1850}),
        "implausible geboorte.datum: a living person over 120 years old",
        personal="1850",
    ),
    hc(
        "hc-geboorte-jaar-string",
        _set("geboorte.datum", {"type": "JaarDatum", "jaar": "1980"}),
        "geboorte.datum.jaar: expected a whole number, found string",
    ),
    hc("hc-naam-string", _set("naam", "Tjeerd"), "naam: expected an object, found string", personal="Tjeerd"),
    hc(
        "hc-geslachtsnaam-number",
        _set("naam.geslachtsnaam", 5),
        "naam.geslachtsnaam: expected a string, found number",
    ),
    hc(
        "hc-name-nul",
        _set("naam.geslachtsnaam", "Mir\x00dijk"),
        "implausible naam.geslachtsnaam: control character U+0000",
        personal="Mir",
    ),
    hc(
        "hc-name-entity",
        _set("naam.geslachtsnaam", "&xxe;"),
        "implausible naam.geslachtsnaam: unresolved entity or character reference",
        personal="xxe",
    ),
    hc(
        "hc-bsn-number",
        _set("burgerservicenummer", 999583803),
        "malformed BSN (expected 9 digits)",
        personal="999583803",
    ),
    hc(
        "hc-bsn-letters",
        _set("burgerservicenummer", "99958380X"),
        "malformed BSN (expected 9 digits)",
        personal="99958380X",
    ),
    hc(
        "hc-bsn-elfproef",
        _set("burgerservicenummer", "999583804"),
        "invalid BSN (elfproef fails)",
        personal="999583804",
    ),
    hc(
        "hc-datumvan-future",
        _set("verblijfplaats.datumVan", {"type": "Datum", "datum": "2099-01-01"}),
        "implausible verblijfplaats.datumVan: in the future",
    ),
    hc(
        "hc-postcode-malformed",
        _set("verblijfplaats.verblijfadres.postcode", "99AB00"),
        "malformed verblijfadres.postcode (expected 4 digits and 2 letters)",
        personal="99AB00",
    ),
    hc("hc-leeftijd-text", _set("leeftijd", "87"), "leeftijd: expected a whole number, found string"),
    hc(
        "hc-verblijfplaats-list",
        _set("verblijfplaats", []),
        "verblijfplaats: expected an object, found array",
    ),
    Case(
        "hc-kinderen-null-is-valid",
        "brp",
        hc_case(_set("kinderen", None)),
        hc_base,
        None,
        lost={"brp.persoon": 0},
    ),
]


def lo3(case_id, element, value, reason, personal=None, lost=None):
    return Case(
        case_id,
        "brp",
        lo3_case(element, value),
        lo3_base,
        reason,
        personal=personal,
        lost=lost if lost is not None else {"brp.persoon": 1},
    )


LO3_CASES = [
    lo3(
        "lo3-bsn-letters", "01.01.20", "99999A999", "malformed BSN (expected 9 digits)", personal="99999A999"
    ),
    lo3("lo3-bsn-elfproef", "01.01.20", "123456789", "invalid BSN (elfproef fails)", personal="123456789"),
    lo3(
        "lo3-birth-future",
        "01.03.10",
        "20990101",
        "implausible geboortedatum (01.03.10): in the future",
        personal="20990101",
    ),
    lo3(
        "lo3-birth-over-120",
        "01.03.10",
        "18800101",
        "implausible geboortedatum (01.03.10): a living person over 120 years old",
        personal="18800101",
    ),
    lo3("lo3-birth-impossible", "01.03.10", "19661301", "bad date in element 01.03.10", personal="19661301"),
    lo3(
        "lo3-aanvang-future",
        "08.10.30",
        "20990101",
        "implausible datum aanvang adreshouding (08.10.30): in the future",
    ),
    lo3(
        "lo3-postcode",
        "08.11.60",
        "12345",
        "malformed postcode (08.11.60) (expected 4 digits, 2 letters)",
        personal="12345",
    ),
    lo3(
        "lo3-huisnummer",
        "08.11.20",
        "twaalf",
        "malformed huisnummer (08.11.20) (expected 1-99999)",
        personal="twaalf",
    ),
    lo3(
        "lo3-bag-id",
        "08.11.80",
        "059901000020857",
        "malformed adresseerbaar object id (08.11.80)",
        personal="059901000020857",
    ),
    lo3(
        "lo3-name-nul",
        "01.02.40",
        "Bur\x01ck",
        "implausible element 01.02.40: control character U+0001",
        personal="Bur",
    ),
    lo3(
        "lo3-name-entity",
        "01.02.40",
        "&lt;script&gt;",
        "implausible element 01.02.40: unresolved entity",
        personal="script",
    ),
    Case(
        "lo3-empty-file",
        "brp",
        file_case("lo3", lambda d: b""),
        None,
        None,
        1,
        "empty file: no header row and no persoonslijsten",
    ),
    Case(
        "lo3-latin1-line-5",
        "brp",
        file_case("lo3", latin1_at_line(5)),
        None,
        None,
        1,
        "record line 5: not valid UTF-8",
    ),
]


def kvk(case_id, change, reason, lost=0):
    return Case(case_id, "kvk", kvk_case(change), KVK_BASE, reason, lost={"kvk.vestiging": lost})


KVK_CASES = [
    kvk("kvk-adressen-string", _set("adressen", "Damrak 1"), "adressen: expected an array, found string"),
    kvk("kvk-adressen-null-item", _set("adressen", [None]), "adressen[0]: expected an object, found null"),
    kvk(
        "kvk-sbi-string", _set("sbiActiviteiten", "4690"), "sbiActiviteiten: expected an array, found string"
    ),
    kvk(
        "kvk-sbi-item-number",
        _set("sbiActiviteiten", [5]),
        "sbiActiviteiten[0]: expected an object, found number",
    ),
    kvk(
        "kvk-sbicode-number",
        _set("sbiActiviteiten", [{"sbiCode": 4690, "indHoofdactiviteit": "Ja"}]),
        "sbiActiviteiten[0].sbiCode: expected a string, found number",
    ),
    kvk(
        "kvk-registratie-string",
        _set("materieleRegistratie", "20200101"),
        "materieleRegistratie: expected an object, found string",
    ),
    kvk(
        "kvk-handelsnaam-nul",
        _set("eersteHandelsnaam", "Test\x00BV"),
        "implausible eersteHandelsnaam: control character U+0000",
    ),
    kvk(
        "kvk-handelsnaam-entity",
        _set("eersteHandelsnaam", "&xxe;"),
        "implausible eersteHandelsnaam: unresolved entity or character reference",
    ),
    kvk("kvk-kvknummer-number", _set("kvkNummer", 69599084), "malformed kvkNummer of type number"),
    kvk(
        "kvk-naamgeving",
        lambda b: {
            "kvkNummer": "69599084",
            "rsin": "",
            "statutaireNaam": "Test BV",
            "naam": "Test BV",
            "ookGenoemd": "",
            "startdatum": "20120101",
        },
        "implausible response: a naamgeving",
    ),
    kvk(
        "kvk-vestigingenlijst",
        lambda b: {"kvkNummer": "69599084", "totaalAantalVestigingen": 1, "vestigingen": []},
        "implausible response: a vestigingenlijst",
    ),
    kvk(
        "kvk-error-body",
        lambda b: {"fout": [{"code": "IPD0004", "omschrijving": "niet gevonden"}]},
        "implausible response: an error response",
    ),
    kvk(
        "kvk-problem-json",
        lambda b: {"type": "about:blank", "title": "Not Found", "status": 404},
        "implausible response: an error response",
    ),
    kvk("kvk-json-array", lambda b: [b], "implausible response: a JSON array"),
    Case(
        "kvk-adressen-null-is-valid",
        "kvk",
        kvk_case(_set("adressen", None)),
        KVK_BASE,
        None,
        lost={"kvk.vestiging": -1},
    ),
    Case(
        "kvk-csv-nul",
        "kvk",
        csv_case("kvk", "naam", "Kreef\x00burg"),
        KVK_CSV_BASE,
        "implausible naam: control character U+0000",
        lost={"kvk.vestiging": 1},
    ),
    Case(
        "kvk-csv-entity",
        "kvk",
        csv_case("kvk", "straatnaam", "&xxe;"),
        KVK_CSV_BASE,
        "implausible straatnaam: unresolved entity",
        lost={"kvk.vestiging": 1},
    ),
    Case(
        "kvk-csv-date",
        "kvk",
        csv_case("kvk", "datum_aanvang", "20231345"),
        KVK_CSV_BASE,
        "bad datum_aanvang",
        lost={"kvk.vestiging": 1},
    ),
    Case(
        "kvk-csv-semicolon",
        "kvk",
        file_case("kvk", lambda d: d.replace(b",", b";")),
        None,
        None,
        1,
        "the header is separated by ';' but this format is ','-separated",
    ),
    Case("kvk-csv-empty", "kvk", file_case("kvk", lambda d: b""), None, None, 1, "empty file: no header row"),
]


def zaak(case_id, column, value, reason):
    return Case(
        case_id,
        "enforcement",
        csv_case("enforcement", column, value),
        ZAAK_BASE,
        reason,
        lost={"handhaving.zaak": 1},
    )


ENFORCEMENT = [
    zaak("zaak-start-future", "datum_start", "2099-01-01", "implausible datum_start: in the future"),
    zaak("zaak-start-impossible", "datum_start", "2020-13-01", "bad datum_start"),
    zaak("zaak-team-control", "team", "Team\x07Ondermijning", "implausible team: control character U+0007"),
    zaak(
        "zaak-adres-entity",
        "adres",
        "Dorpsstraat &#49;, 9900AA Zwalmerhaven",
        "implausible adres: unresolved entity or character reference",
    ),
    zaak("zaak-instrument", "instrument", "=cmd", "unknown instrument"),
    Case(
        "zaak-csv-semicolon",
        "enforcement",
        file_case("enforcement", lambda d: d.replace(b",", b";")),
        None,
        None,
        1,
        "the header is separated by ';'",
    ),
    Case(
        "zaak-latin1-line-3",
        "enforcement",
        file_case("enforcement", latin1_at_line(3)),
        None,
        None,
        1,
        "record line 3: not valid UTF-8",
    ),
]

CASES = BAG + HAAL_CENTRAAL + LO3_CASES + KVK_CASES + ENFORCEMENT
REJECTS = {
    "bag": "rejects.bag",
    "brp": "rejects.brp",
    "kvk": "rejects.kvk",
    "enforcement": "rejects.handhaving",
}


def ingest(source: str, path: Path, warehouse: Path):
    """(exit code, everything printed, the JSON report line or "")."""
    # BAG cases are parts of an extract (deelbestanden): an operator loads those with --partial.
    partial = ["--partial"] if source == "bag" else []
    result = CliRunner().invoke(
        app, ["ingest", source, str(path), "--warehouse", str(warehouse), "--json", *partial]
    )
    return result.exit_code, result.output, result.stdout


def counts(stdout: str) -> dict[str, int]:
    report = json.loads(stdout.strip().splitlines()[-1])
    return {**report["objects"], "voorkomens": report.get("voorkomens", 0), "rejects": report["rejects"]}


def reject_reasons(warehouse: Path, source: str) -> list[str]:
    con = duckdb.connect(str(Warehouse(warehouse).path), read_only=True)
    try:
        return [r for (r,) in con.execute(f"SELECT reason FROM {REJECTS[source]}").fetchall()]
    finally:
        con.close()


_BASELINES: dict[int, tuple[dict[str, int], list[str]]] = {}


def baseline(case: Case, generated: Path, tmp_path: Path) -> tuple[dict[str, int], list[str]]:
    """Counts and reject reasons of the case's delivery without the bad record (once per base)."""
    assert case.base is not None
    if id(case.base) not in _BASELINES:
        (tmp_path / "base").mkdir()
        code, output, stdout = ingest(
            case.source, case.base(tmp_path / "base", generated), tmp_path / "wh-base"
        )
        assert code == 0, output
        _BASELINES[id(case.base)] = counts(stdout), reject_reasons(tmp_path / "wh-base", case.source)
    return _BASELINES[id(case.base)]


def test_the_catalogue_has_60_cases_across_the_sources():
    assert len(CASES) + len(EXPORT_CASES) >= 60
    assert {c.source for c in CASES} == {"bag", "brp", "kvk", "enforcement"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_record(case: Case, tmp_path, generated):
    (tmp_path / "bad").mkdir()
    path = case.build(tmp_path / "bad", generated)
    code, output, stdout = ingest(case.source, path, tmp_path / "wh")
    assert "Traceback" not in output
    assert code == case.exit_code, output
    if case.exit_code:
        assert case.message in " ".join(output.split())  # rich wraps long lines
        return
    base, base_reasons = baseline(case, generated, tmp_path)
    got = counts(stdout)
    for key, lost in (case.lost or {}).items():
        assert got[key] == base[key] - lost, (key, base, got)
    reasons = reject_reasons(tmp_path / "wh", case.source)
    new = list(reasons)
    for reason in base_reasons:
        new.remove(reason)
    if case.reason is None:
        assert new == []
        return
    assert len(new) == 1, new
    assert new[0].startswith(case.reason), new[0]
    if case.personal:
        assert case.personal not in new[0]


# --- exports ---------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","klik")', "+31 6 1234", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]
EXPORT_CASES = [(writer, value) for writer in ("flags_csv", "privacy_log_csv") for value in FORMULAS]


def _flag_row(straat: str) -> dict:
    return {
        "flag": "many_companies_at_address",
        "nummeraanduiding_id": "0221200000000001",
        "straat": straat,
        "huisnummer": 1,
        "x": 200000.0,
        "y": 450000.0,
        "reference_date": "2020-09-15",
    }


@pytest.mark.parametrize(("writer", "value"), EXPORT_CASES)
def test_csv_cells_are_never_live_formulas(writer, value):
    body = to_csv([_flag_row(value)]) if writer == "flags_csv" else csv_bytes(["seq", "reden"], [(1, value)])
    rows = list(csvmod.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + value in cells  # what a human reads is kept, behind a leading quote
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_numbers_and_plain_text_are_unchanged_in_csv():
    body = to_csv([_flag_row("Rietmaat")]).decode("utf-8-sig")
    assert ";Rietmaat;1;" in body and "'" not in body


def test_geojson_keeps_the_raw_value(tmp_path):
    path = tmp_path / "flags.geojson"
    path.write_bytes(to_geojson([_flag_row(FORMULAS[0])]))
    assert gpd.read_file(path)["straat"].tolist() == [FORMULAS[0]]

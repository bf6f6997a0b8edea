"""The synthetic municipality: real formats, internal consistency, planted patterns, determinism."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import zipfile
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from assets.signals.config import load_config
from sources.bsn import is_valid_bsn
from sources.synthetic import generate
from sources.synthetic.generator import FLAGS, KVK_COLUMNS, VULNERABLE, ZAAK_COLUMNS
from sources.synthetic.identifiers import is_valid_a_nummer
from sources.synthetic.model import WATER_BOX

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
XSD = FIXTURES / "bag" / "lvbag-xsd" / "lvbag"
ADDRESSES = 2500
SEED = 7
STAND = date(2026, 11, 1)
NS = {
    "Objecten": "www.kadaster.nl/schemas/lvbag/imbag/objecten/v20200601",
    "Objecten-ref": "www.kadaster.nl/schemas/lvbag/imbag/objecten-ref/v20200601",
    "Historie": "www.kadaster.nl/schemas/lvbag/imbag/historie/v20200601",
    "gml": "http://www.opengis.net/gml/3.2",
}


@pytest.fixture(scope="module")
def municipality(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "gemeente"
    generate(out, ADDRESSES, SEED, stand_date=STAND, max_objects_per_file=400)
    return out


def _deelbestanden(out: Path) -> dict[str, list[tuple[str, bytes]]]:
    """object type -> [(deelbestand name, XML bytes)], read straight from the zip of zips."""
    (extract,) = (out / "bag").glob("*.zip")
    files: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    with zipfile.ZipFile(extract) as outer:
        for name in outer.namelist():
            if not name.endswith(".zip"):
                continue
            with zipfile.ZipFile(io.BytesIO(outer.read(name))) as inner:
                for member in inner.namelist():
                    files[member[4:7]].append((member, inner.read(member)))
    return files


@pytest.fixture(scope="module")
def bag(municipality: Path) -> dict[str, list[etree._Element]]:
    """object type -> every current-or-ended Objecten:* element of that type."""
    objects: dict[str, list[etree._Element]] = defaultdict(list)
    for object_type, files in _deelbestanden(municipality).items():
        for _, data in files:
            for obj in etree.fromstring(data).iterfind(".//{*}bagObject/*"):
                objects[object_type].append(obj)
    return objects


def _current(objects: list[etree._Element]) -> dict[str, etree._Element]:
    """id -> the voorkomen without eindGeldigheid."""
    out = {}
    for obj in objects:
        if obj.find(".//Historie:eindGeldigheid", NS) is None:
            out[obj.findtext("Objecten:identificatie", namespaces=NS)] = obj
    return out


def _csv(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def _lo3(out: Path) -> tuple[list[str], list[list[str]]]:
    with (out / "brp" / "personen.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return rows[0], rows[1:]


def _haal_centraal(out: Path) -> list[dict]:
    body = json.loads((out / "brp" / "personen-haalcentraal.json").read_text(encoding="utf-8"))
    assert body["type"] == "RaadpleegMetBurgerservicenummer"
    return body["personen"]


def _persons(out: Path) -> list[dict[str, str]]:
    """Every person as LO3 element code -> value: the first rows of the persoonslijsten (label in
    the first column) and the Haal Centraal persons mapped onto the same codes."""
    header, rows = _lo3(out)
    persons = [{h: v for h, v in zip(header, row, strict=True) if h and v} for row in rows if row[0]]
    for p in _haal_centraal(out):
        plaats, adres = p["verblijfplaats"], p["verblijfplaats"]["verblijfadres"]
        person = {
            "01.01.10": p["aNummer"],
            "01.01.20": p["burgerservicenummer"],
            "01.03.10": p["geboorte"]["datum"]["datum"].replace("-", ""),
            "08.11.80": plaats["adresseerbaarObjectIdentificatie"],
            "08.11.90": plaats["nummeraanduidingIdentificatie"],
            "08.11.20": str(adres["huisnummer"]),
            "08.11.60": adres["postcode"],
        }
        for code, key in (("08.11.30", "huisletter"), ("08.11.40", "huisnummertoevoeging")):
            if key in adres:
                person[code] = adres[key]
        persons.append(person)
    return persons


def _ground_truth(out: Path) -> list[dict[str, str]]:
    return _csv(out / "ground_truth.csv")


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    def digest(out: Path) -> dict[str, str]:
        return {
            str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file()
        }

    first = generate(tmp_path / "a", 600, 3, stand_date=STAND)
    second = generate(tmp_path / "b", 600, 3, stand_date=STAND)
    other = generate(tmp_path / "c", 600, 4, stand_date=STAND)
    assert digest(first.out) == digest(second.out)
    assert digest(first.out) != digest(other.out)
    assert first.counts == second.counts


def test_regenerating_replaces_a_generated_folder_but_refuses_a_foreign_one(tmp_path: Path) -> None:
    out = tmp_path / "gemeente"
    generate(out, 300, 1)
    summary = generate(out, 400, 2)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert summary.counts["nummeraanduiding"] == 400
    foreign = tmp_path / "other"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a generated municipality"):
        generate(foreign, 300, 1)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_bag_extract_layout_matches_kadaster(municipality: Path) -> None:
    (extract,) = (municipality / "bag").glob("*.zip")
    with zipfile.ZipFile(extract) as outer:
        names = set(outer.namelist())
    assert "Leveringsdocument-BAG-Extract.xml" in names
    assert {f"9999{t}01112026.zip" for t in ("WPL", "OPR", "NUM", "VBO", "PND", "LIG", "STA")} <= names
    files = _deelbestanden(municipality)
    # Split into several deelbestanden of at most 400 objects, numbered from 000001.
    assert [n for n, _ in files["NUM"]][:2] == ["9901NUM01112026-000001.xml", "9901NUM01112026-000002.xml"]
    for _, data in files["VBO"]:
        assert len(etree.fromstring(data).findall(".//{*}bagObject")) <= 400


def test_every_deelbestand_type_validates_against_the_lvbag_xsd(municipality: Path) -> None:
    schema = etree.XMLSchema(
        etree.parse(
            str(XSD / "extract-deelbestand-lvc/v20200601/BagvsExtractDeelbestandExtractLvc-2.1.0.xsd")
        )
    )
    files = _deelbestanden(municipality)
    assert set(files) == {"WPL", "OPR", "NUM", "VBO", "PND", "LIG", "STA"}
    for object_type, deelbestanden in files.items():
        for name, data in deelbestanden[:2] + deelbestanden[-1:]:
            doc = etree.fromstring(data)
            assert schema.validate(doc), f"{object_type} {name}: {schema.error_log.last_error}"
    levering = etree.XMLSchema(
        etree.parse(str(XSD / "extract-levering/v20200601/BagvsExtractLeveringsdocument-2.1.0.xsd"))
    )
    (extract,) = (municipality / "bag").glob("*.zip")
    with zipfile.ZipFile(extract) as outer:
        doc = etree.fromstring(outer.read("Leveringsdocument-BAG-Extract.xml"))
    assert levering.validate(doc), levering.error_log.last_error
    assert doc.findtext(".//{*}StandTechnischeDatum") == "2026-11-01"


def test_bag_objects_are_consistent_and_some_have_history(bag: dict[str, list[etree._Element]]) -> None:
    nums, vbos, panden = _current(bag["NUM"]), _current(bag["VBO"]), _current(bag["PND"])
    oprs = _current(bag["OPR"])
    assert len(nums) == ADDRESSES
    for num in nums.values():
        assert num.findtext("Objecten:ligtAan/Objecten-ref:OpenbareRuimteRef", namespaces=NS) in oprs
    for vbo in vbos.values():
        assert (
            vbo.findtext("Objecten:heeftAlsHoofdadres/Objecten-ref:NummeraanduidingRef", namespaces=NS)
            in nums
        )
        for ref in vbo.iterfind("Objecten:heeftAlsNevenadres/Objecten-ref:NummeraanduidingRef", NS):
            assert ref.text in nums
        for ref in vbo.iterfind("Objecten:maaktDeelUitVan/Objecten-ref:PandRef", NS):
            assert ref.text in panden
    for object_type in ("VBO", "PND", "NUM"):
        ids = Counter(o.findtext("Objecten:identificatie", namespaces=NS) for o in bag[object_type])
        assert any(n > 1 for n in ids.values()), f"no {object_type} with an ended voorkomen"
    ids = [
        o.findtext("Objecten:identificatie", namespaces=NS)
        for t in ("VBO", "PND", "NUM", "OPR")
        for o in bag[t]
    ]
    codes = {"VBO": "01", "PND": "10", "NUM": "20", "OPR": "30"}
    for object_type, code in codes.items():
        assert all(i.startswith("9901" + code) and len(i) == 16 for i in _current(bag[object_type]))
    assert any(len(v.findall("Objecten:maaktDeelUitVan/Objecten-ref:PandRef", NS)) > 1 for v in vbos.values())
    assert any(len(v.findall("Objecten:gebruiksdoel", NS)) > 1 for v in vbos.values())
    assert len(ids) > len(set(ids))


def test_coordinates_lie_in_the_markermeer_box(bag: dict[str, list[etree._Element]]) -> None:
    x0, y0, x1, y1 = WATER_BOX
    # The box is open water in the Markermeer, between Marken/Edam and Lelystad.
    assert x0 > 135_000 and x1 < 150_000 and y0 > 495_000 and y1 < 515_000
    seen = 0
    for object_type in ("VBO", "PND", "LIG", "STA", "WPL"):
        for obj in bag[object_type]:
            for el in obj.iter(
                "{http://www.opengis.net/gml/3.2}pos", "{http://www.opengis.net/gml/3.2}posList"
            ):
                values = [float(v) for v in el.text.split()]
                step = 3 if el.getparent().get("srsDimension") == "3" or "Point" in el.getparent().tag else 2
                if el.tag.endswith("posList"):
                    step = int(el.getparent().getparent().getparent().get("srsDimension") or 2)
                for x, y in zip(values[0::step], values[1::step], strict=True):
                    assert x0 <= x <= x1 and y0 <= y <= y1, (object_type, x, y)
                    seen += 1
    assert seen > ADDRESSES


def test_lo3_header_is_the_gba_v_test_set_header(municipality: Path) -> None:
    fixture = FIXTURES / "brp" / "gba-v-testset-20220502.csv"
    raw = (municipality / "brp" / "personen.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.split(b"\n", 1)[0] == fixture.read_bytes().split(b"\n", 1)[0]
    header, rows = _lo3(municipality)
    assert all(len(r) == len(header) for r in rows)


def test_bsns_are_valid_test_numbers_and_a_nummers_are_valid(municipality: Path) -> None:
    persons = _persons(municipality)
    assert len(persons) > ADDRESSES
    bsns = [p["01.01.20"] for p in persons]
    assert all(b.startswith("999") and is_valid_bsn(b) for b in bsns)
    assert len(set(bsns)) == len(bsns)
    assert all(is_valid_a_nummer(p["01.01.10"]) for p in persons)
    related = [p[c] for p in persons for c in ("02.01.20", "03.01.20", "05.01.20", "09.01.20") if c in p]
    assert related and all(is_valid_bsn(b) and b.startswith("999") for b in related)


def test_every_resident_lives_at_a_generated_address(
    municipality: Path, bag: dict[str, list[etree._Element]]
) -> None:
    nums, vbos = _current(bag["NUM"]), _current(bag["VBO"])
    planted_missing = {
        r["nummeraanduiding_id"] for r in _ground_truth(municipality) if "source=brp" in r["note"]
    }
    for p in _persons(municipality):
        if p["08.11.90"] in planted_missing and p["08.11.90"] not in nums:
            continue
        vbo = vbos[p["08.11.80"]]
        num = nums[p["08.11.90"]]
        assert (
            vbo.findtext("Objecten:heeftAlsHoofdadres/Objecten-ref:NummeraanduidingRef", namespaces=NS)
            == p["08.11.90"]
        )
        assert num.findtext("Objecten:huisnummer", namespaces=NS) == p["08.11.20"]
        assert num.findtext("Objecten:postcode", namespaces=NS) == p["08.11.60"]
        assert num.findtext("Objecten:huisletter", namespaces=NS) == p.get("08.11.30")


def _links(out: Path) -> dict[str, dict[str, set[str]]]:
    """BSN -> relation (ouder, partner, kind) -> BSNs of the related persons, from LO3 and Haal Centraal."""
    header, rows = _lo3(out)
    links: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    current = None
    for row in rows:
        values = {h: v for h, v in zip(header, row, strict=True) if h and v}
        if row[0]:
            current = values["01.01.20"]
        for cat, kind in (("02", "ouder"), ("03", "ouder"), ("05", "partner"), ("09", "kind")):
            if f"{cat}.01.20" in values:
                links[current][kind].add(values[f"{cat}.01.20"])
    for p in _haal_centraal(out):
        for key, kind in (("ouders", "ouder"), ("partners", "partner"), ("kinderen", "kind")):
            links[p["burgerservicenummer"]][kind].update(
                r["burgerservicenummer"] for r in p.get(key, []) if "burgerservicenummer" in r
            )
    return links


def test_families_are_linked_both_ways(municipality: Path) -> None:
    links = _links(municipality)
    inverse = {"ouder": "kind", "kind": "ouder", "partner": "partner"}
    checked = Counter()
    for person, kinds in links.items():
        for kind, others in kinds.items():
            for other in others:
                assert person in links[other][inverse[kind]], (kind, "link is one-way")
                checked[kind] += 1
    assert checked["ouder"] and checked["partner"] and checked["kind"]
    assert sum(1 for kinds in links.values() if len(kinds["kind"]) > 1) > 0  # continuation rows for children


def test_kvk_and_handhaving_files_follow_formats(
    municipality: Path, bag: dict[str, list[etree._Element]]
) -> None:
    nums = _current(bag["NUM"])
    with (municipality / "kvk" / "vestigingen.csv").open(encoding="utf-8", newline="") as fh:
        assert tuple(next(csv.reader(fh))) == KVK_COLUMNS
    vestigingen = _csv(municipality / "kvk" / "vestigingen.csv")
    assert len({v["vestigingsnummer"] for v in vestigingen}) == len(vestigingen)
    assert ADDRESSES / 20 < len(vestigingen) < ADDRESSES / 4
    assert any(v["bag_nummeraanduiding_id"] for v in vestigingen)
    assert any(not v["bag_nummeraanduiding_id"] for v in vestigingen)
    assert {v["sbi_versie"] for v in vestigingen} >= {"2008", "2025"}
    assert {v["sbi_codes"][:4] for v in vestigingen} & set(VULNERABLE)
    planted = {
        r["nummeraanduiding_id"] for r in _ground_truth(municipality) if r["flag"] == "address_not_in_bag"
    }
    for v in vestigingen:
        assert len(v["kvk_nummer"]) == 8 and len(v["vestigingsnummer"]) == 12
        if v["bag_nummeraanduiding_id"] and v["bag_nummeraanduiding_id"] not in planted:
            assert v["bag_nummeraanduiding_id"] in nums
    with (municipality / "handhaving" / "zaken.csv").open(encoding="utf-8", newline="") as fh:
        assert tuple(next(csv.reader(fh))) == ZAAK_COLUMNS
    zaken = _csv(municipality / "handhaving" / "zaken.csv")
    assert all(z["bag_nummeraanduiding_id"] or z["bag_verblijfsobject_id"] or z["adres"] for z in zaken)
    assert any(z["adres"] and not z["bag_nummeraanduiding_id"] for z in zaken)


def test_ground_truth_has_every_flag_and_matches_the_data(municipality: Path) -> None:
    truth = _ground_truth(municipality)
    assert {r["flag"] for r in truth} == set(FLAGS)
    manifest = json.loads((municipality / "manifest.json").read_text())
    assert manifest["seed"] == SEED and manifest["gemeentecode"] == "9901"
    for flag in FLAGS:
        assert manifest["counts"][f"flag_{flag}"] == sum(r["flag"] == flag for r in truth)


# --- An independent reading of docs/SIGNALS.md over the raw files --------------------------------
# Computes every flag from the generated files with the catalogue's default thresholds, so the
# test shows that planted patterns fire exactly and the background fires nothing.

SBI_2025_TO_2008 = load_config().identical_businesses.sbi2025_to_2008
FREE_TEXT = re.compile(
    r"^(?P<street>.+?) (?P<hn>\d+)(?:\s?[-/]?\s?(?P<suffix>[A-Za-z0-9]+))?, (?P<pc>\d{4} ?[A-Za-z]{2})"
)


def _ymd(value: str) -> date | None:
    value = value.replace("-", "")
    return date(int(value[:4]), int(value[4:6]), int(value[6:8])) if value else None


def _months_before(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return date(y, m + 1, d.day)


def _reference_flags(out: Path, bag: dict[str, list[etree._Element]]) -> Counter:
    nums, vbos = _current(bag["NUM"]), _current(bag["VBO"])
    address = {}
    for num_id, n in nums.items():
        key = tuple(n.findtext(f"Objecten:{f}", "", NS) for f in ("postcode", "huisnummer", "huisletter"))
        address[(*key, n.findtext("Objecten:huisnummertoevoeging", "", NS))] = num_id
    withdrawn = {
        i for i, n in nums.items() if n.findtext("Objecten:status", namespaces=NS) == "Naamgeving ingetrokken"
    }
    vbo_of, info = {}, {}
    for vbo_id, v in vbos.items():
        hoofd = v.findtext("Objecten:heeftAlsHoofdadres/Objecten-ref:NummeraanduidingRef", namespaces=NS)
        for ref in [
            hoofd,
            *(
                r.text
                for r in v.iterfind("Objecten:heeftAlsNevenadres//Objecten-ref:NummeraanduidingRef", NS)
            ),
        ]:
            vbo_of[ref] = vbo_id
        x, y, _ = map(float, v.findtext(".//gml:pos", namespaces=NS).split())
        info[vbo_id] = {
            "hoofd": hoofd,
            "doelen": {d.text for d in v.iterfind("Objecten:gebruiksdoel", NS)},
            "opp": int(v.findtext("Objecten:oppervlakte", namespaces=NS)),
            "xy": (x, y),
            "panden": {r.text for r in v.iterfind("Objecten:maaktDeelUitVan/Objecten-ref:PandRef", NS)},
        }
    opr_of = {
        i: n.findtext("Objecten:ligtAan/Objecten-ref:OpenbareRuimteRef", namespaces=NS)
        for i, n in nums.items()
    }

    def locate(num: str, vbo: str, pc: str, hn: str, hl: str, ht: str) -> tuple[str | None, str | None]:
        if num:
            return num, vbo or vbo_of.get(num)
        if vbo:
            return (info[vbo]["hoofd"] if vbo in info else None), vbo
        found = address.get((pc.replace(" ", "").upper(), hn, hl.upper(), ht.upper()))
        return found, vbo_of.get(found) if found else None

    flags: Counter = Counter()
    # KvK
    active, ended, short_lived = [], Counter(), Counter()
    window = _months_before(STAND, 24)
    for v in _csv(out / "kvk" / "vestigingen.csv"):
        start, end = _ymd(v["datum_aanvang"]), _ymd(v["datum_einde"])
        num, vbo = locate(*(v[k] for k in KVK_COLUMNS[15:17] + KVK_COLUMNS[13:14] + KVK_COLUMNS[10:13]))
        if num and end and window < end <= STAND:
            ended[num] += 1
            short_lived[num] += window < start <= STAND
        if start <= STAND and (end is None or end > STAND):
            if num is None or num not in nums or num in withdrawn:
                flags["address_not_in_bag", num or ""] += 1
            code = v["sbi_codes"].split("|")[0]
            versie = v["sbi_versie"] or ("2008" if len(code) == 4 or code[:2] == "45" else "2025")
            sector = SBI_2025_TO_2008.get(code[:4], code[:4]) if versie == "2025" else code[:4]
            active.append((v["vestigingsnummer"], num, vbo, sector))
    per_pand = defaultdict(set)
    for nr, _, vbo, _ in active:
        for pand in info.get(vbo, {}).get("panden", ()):
            per_pand[pand].add(nr)
    flags.update(("many_companies_in_building", p) for p, s in per_pand.items() if len(s) >= 10)
    per_vbo = Counter(vbo for _, _, vbo, _ in active if vbo in info)
    flags.update(("many_companies_at_address", info[v]["hoofd"]) for v, k in per_vbo.items() if k >= 5)
    flags.update(("company_churn", n) for n in ended if ended[n] >= 4 or short_lived[n] >= 3)
    vulnerable = [(num, vbo, s) for _, num, vbo, s in active if s in VULNERABLE and num]
    flags.update(("identical_businesses_in_street", o) for (o, s), k in Counter(
        (opr_of[num], s) for num, _, s in vulnerable).items() if k >= 5)  # fmt: skip
    pts = Counter((num, vbo, s) for num, vbo, s in vulnerable)
    counts = {}
    for num, vbo, s in pts:
        (x, y) = info[vbo]["xy"]
        near = [(m, k) for (m, w, t), k in pts.items() if t == s and math.dist((x, y), info[w]["xy"]) <= 100]
        counts[num] = (sum(k for _, k in near), [m for m, _ in near])
    for num, (k, near) in counts.items():
        if k >= 5 and not any(counts[m][0] > k or (counts[m][0] == k and m < num) for m in near if m != num):
            flags["identical_businesses_nearby", num] += 1
    # BRP
    residents: dict[str, list[int]] = defaultdict(list)
    home: dict[str, tuple[str | None, str | None]] = {}
    for p in _persons(out):
        num, vbo = locate(*(p.get(f"08.11.{e}", "") for e in ("90", "80", "60", "20", "30", "40")))
        home[p["01.01.20"]] = (num, vbo)
        if num is None or num not in nums or num in withdrawn:
            flags["address_not_in_bag", num or ""] += 1
        if vbo in info:
            born = _ymd(p["01.03.10"])
            residents[vbo].append(
                STAND.year - born.year - ((STAND.month, STAND.day) < (born.month, born.day))
            )
    for vbo, ages in residents.items():
        adults = sum(a >= 18 for a in ages)
        if "woonfunctie" not in info[vbo]["doelen"]:
            flags["residents_at_non_residential", info[vbo]["hoofd"]] += 1
        elif adults >= 4 and info[vbo]["opp"] < 12 * adults:
            flags["overcrowding", info[vbo]["hoofd"]] += 1
    # Cases, and the addresses of the first-degree relatives of the residents of a closed address
    links = _links(out)
    seen_cases = set()
    for z in _csv(out / "handhaving" / "zaken.csv"):
        num, vbo, pc, hn, hl, ht = z["bag_nummeraanduiding_id"], z["bag_verblijfsobject_id"], "", "", "", ""
        if z["adres"] and not (num or vbo):
            match = FREE_TEXT.match(z["adres"])
            assert match, z["adres"]
            pc, hn, suffix = match["pc"], match["hn"], match["suffix"] or ""
            hl, ht = (suffix, "") if len(suffix) == 1 and suffix.isalpha() else ("", suffix)
        num, vbo = locate(num, vbo, pc, hn, hl, ht)
        start = _ymd(z["datum_start"])
        if num and z["instrument"] in ("opiumwet_13b", "wet_victor") and start > date(STAND.year - 5, 11, 1):
            seen_cases.add(("enforcement_history", num))
            for bsn in [b for b, (_, at) in home.items() if at and at == vbo]:  # residents
                for relatives in links[bsn].values():
                    for other in relatives:
                        other_num, other_vbo = home.get(other, (None, None))
                        if other_vbo and other_vbo != vbo:
                            seen_cases.add(("enforcement_history", other_num))
        if num and z["instrument"] == "agressie_incident" and start > _months_before(STAND, 12):
            seen_cases.add(("staff_safety", num))
    flags.update(seen_cases)
    return flags


def test_planted_patterns_fire_exactly_and_background_fires_nothing(
    municipality: Path, bag: dict[str, list[etree._Element]]
) -> None:
    expected = Counter()
    for r in _ground_truth(municipality):
        expected[r["flag"], r["nummeraanduiding_id"] or r["pand_id"] or r["openbare_ruimte_id"]] += 1
    assert _reference_flags(municipality, bag) == expected


def test_the_dense_shape_differs_and_still_fires_only_planted_patterns(tmp_path: Path) -> None:
    """The second shape: other proportions, KvK history, vestigingen without a main activity, SBI
    codes without a version or in SBI 2025, house numbers with letters and additions."""
    out = tmp_path / "dense-shape"
    summary = generate(out, 2000, 5, stand_date=STAND, shape="dense")
    assert json.loads((out / "manifest.json").read_text())["shape"] == "dense"
    vestigingen = _csv(out / "kvk" / "vestigingen.csv")
    per_num = Counter(v["bag_nummeraanduiding_id"] for v in vestigingen if v["bag_nummeraanduiding_id"])
    assert sum(v["datum_einde"] != "" for v in vestigingen) > 0.2 * len(vestigingen)  # history
    assert max(per_num.values()) >= 3
    assert sum(v["sbi_codes"] == "" for v in vestigingen) > 0.1 * len(vestigingen)  # no activity
    assert any(v["sbi_versie"] == "" and len(v["sbi_codes"]) == 5 for v in vestigingen)
    assert any(v["sbi_codes"] == "45201" and v["sbi_versie"] == "" for v in vestigingen)
    assert any(v["huisletter"] and v["huisnummertoevoeging"] for v in vestigingen)
    assert summary.counts["flag_company_churn"] == 2  # one occurrence per 1,000 addresses
    objects: dict[str, list[etree._Element]] = defaultdict(list)
    for object_type, files in _deelbestanden(out).items():
        for _, data in files:
            objects[object_type].extend(etree.fromstring(data).iterfind(".//{*}bagObject/*"))
    expected = Counter()
    for r in _ground_truth(out):
        expected[r["flag"], r["nummeraanduiding_id"] or r["pand_id"] or r["openbare_ruimte_id"]] += 1
    assert _reference_flags(out, objects) == expected


def test_free_text_case_addresses_parse_with_the_project_normaliser(municipality: Path) -> None:
    """The spellings in zaken.csv read the same with sources.addresses as with the test's reading."""
    from sources.addresses import parse_address

    texts = [z["adres"] for z in _csv(municipality / "handhaving" / "zaken.csv") if z["adres"]]
    assert texts
    for text in texts:
        ours = FREE_TEXT.match(text)
        parsed = parse_address(text)
        suffix = (ours["suffix"] or "").upper()
        assert parsed.postcode == ours["pc"].replace(" ", "").upper()
        assert parsed.huisnummer == int(ours["hn"])
        assert (parsed.huisletter or "") + (parsed.huisnummertoevoeging or "") == suffix


def test_dense_municipality_stacks_units_and_still_fires_only_planted_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond the street grid's capacity, streets get apartment blocks with many units."""
    from sources.synthetic import generator

    monkeypatch.setattr(generator, "MAX_STREETS", 4)
    out = tmp_path / "dense"
    summary = generate(out, 1200, 11)
    assert summary.counts["openbare_ruimte"] == 4 and summary.counts["nummeraanduiding"] == 1200
    bag = defaultdict(list)
    schema = etree.XMLSchema(
        etree.parse(
            str(XSD / "extract-deelbestand-lvc/v20200601/BagvsExtractDeelbestandExtractLvc-2.1.0.xsd")
        )
    )
    for object_type, files in _deelbestanden(out).items():
        for name, data in files:
            doc = etree.fromstring(data)
            assert schema.validate(doc), f"{name}: {schema.error_log.last_error}"
            bag[object_type].extend(doc.iterfind(".//{*}bagObject/*"))
    units_per_pand = Counter(
        r.text for v in _current(bag["VBO"]).values() for r in v.iterfind(".//Objecten-ref:PandRef", NS)
    )
    assert sum(units_per_pand.values()) / len(units_per_pand) > 4  # about 2 in an ordinary street
    expected = Counter()
    for r in _ground_truth(out):
        expected[r["flag"], r["nummeraanduiding_id"] or r["pand_id"] or r["openbare_ruimte_id"]] += 1
    assert expected and _reference_flags(out, bag) == expected


def test_haal_centraal_persons_follow_the_openapi_spec_and_are_not_in_lo3(municipality: Path) -> None:
    import yaml
    from openapi_schema_validator import OAS30Validator

    spec = yaml.safe_load(
        (FIXTURES / "brp" / "haal-centraal-brp-personen-openapi.yaml").read_text(encoding="utf-8")
    )
    schema = {
        "$ref": "#/components/schemas/RaadpleegMetBurgerservicenummerResponse",
        "components": spec["components"],
    }
    body = json.loads((municipality / "brp" / "personen-haalcentraal.json").read_text(encoding="utf-8"))
    OAS30Validator(schema).validate(body)
    hc = {p["burgerservicenummer"] for p in body["personen"]}
    header, rows = _lo3(municipality)
    lo3_bsns = {row[header.index("01.01.20")] for row in rows if row[0]}
    assert hc and not hc & lo3_bsns
    assert any(p.get("kinderen") or p.get("partners") for p in body["personen"])


def _load_bag(out: Path):
    from pipelines.warehouse import connect
    from sources.bag import load_into

    con = connect(":memory:")
    stats = load_into(con, out / "bag", processes=1)
    return con, stats


def test_round_trip_through_the_bag_reader(municipality: Path, bag: dict[str, list[etree._Element]]) -> None:
    con, stats = _load_bag(municipality)
    assert not stats.rejects
    assert stats.stand_technische_datum == STAND
    for object_type in ("NUM", "VBO", "PND", "OPR", "LIG", "STA", "WPL"):
        ids = {o.findtext("Objecten:identificatie", namespaces=NS) for o in bag[object_type]}
        assert stats.current[object_type] == len(ids), object_type
        assert stats.voorkomens[object_type] == len(bag[object_type]), object_type
    vbos = _current(bag["VBO"])
    doelen = {(i, d.text) for i, v in vbos.items() for d in v.iterfind("Objecten:gebruiksdoel", NS)}
    assert (
        set(
            con.execute(
                "SELECT verblijfsobject_id, gebruiksdoel FROM bag.verblijfsobject_gebruiksdoel"
            ).fetchall()
        )
        == doelen
    )
    withdrawn = {
        i
        for i, n in _current(bag["NUM"]).items()
        if n.findtext("Objecten:status", namespaces=NS) == "Naamgeving ingetrokken"
    }
    assert {
        r[0]
        for r in con.execute(
            "SELECT nummeraanduiding_id FROM bag.nummeraanduiding WHERE status = 'Naamgeving ingetrokken'"
        ).fetchall()
    } == withdrawn
    assert con.execute("SELECT count(*) FROM bag.adres").fetchone()[0] == ADDRESSES


def test_round_trip_keeps_every_pand_of_a_verblijfsobject(
    municipality: Path, bag: dict[str, list[etree._Element]]
) -> None:
    con, _ = _load_bag(municipality)
    links = {
        (i, r.text)
        for i, v in _current(bag["VBO"]).items()
        for r in v.iterfind(".//Objecten-ref:PandRef", NS)
    }
    assert (
        set(con.execute("SELECT verblijfsobject_id, pand_id FROM bag.verblijfsobject_pand").fetchall())
        == links
    )


def test_kvk_api_profiles_read_cleanly_and_describe_bulk_vestigingen(municipality: Path) -> None:
    from sources.errors import Reject
    from sources.kvk.api import read_api

    bulk = {v["vestigingsnummer"]: v for v in _csv(municipality / "kvk" / "vestigingen.csv")}
    profiles = sorted((municipality / "kvk").glob("basisprofiel-*.json"))
    assert len(profiles) == 3
    for path in profiles:
        records = list(read_api(path))
        assert records and not [r for r in records if isinstance(r, Reject)]
        body = json.loads(path.read_text(encoding="utf-8"))
        hoofd = body["_embedded"]["hoofdvestiging"]
        row = bulk[hoofd["vestigingsnummer"]]
        assert row["kvk_nummer"] == body["kvkNummer"] and row["naam"] == body["naam"]
        adres = hoofd["adressen"][0]
        assert (str(adres["huisnummer"]), adres["postcode"]) == (
            row["huisnummer"],
            row["postcode"].replace(" ", ""),
        )

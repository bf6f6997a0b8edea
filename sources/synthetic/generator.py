"""The synthetic municipality: one street at a time, written straight to the delivery files.

Background data is built so that no signal of docs/SIGNALS.md can fire on it; every planted
pattern fires exactly and is listed in ``ground_truth.csv``. The guarantees, per flag:

* many_companies_in_building: background vestigingen are capped at 3 active per pand and 1
  active per nummeraanduiding; planted buildings hold 12-16 active ones (4 units with 3-4 each)
  or 10-13 (a business centre: one per unit, all registered in the last 2 years).
* many_companies_at_address: background has at most 1 active vestiging per verblijfsobject;
  planted letterbox addresses hold 5-7 active ones in one office unit.
* identical_businesses_in_street / _nearby: background vulnerable-sector vestigingen exist only
  on rows with ``row % 10 < 7``, one sector per row (``BACKGROUND_CLASS``), at most 2 per street,
  and only on plots 10-18 (the middle 90 m of a 300 m street). Streets sharing a sector are
  >= 400 m apart vertically and >= 200 m horizontally, so no 100 m disc holds more than 2.
  Planted clusters sit on rows 8/9, whose neighbours within 100 m carry other sectors.
* overcrowding: background households have at most 3 adults and >= 15 m2 per adult.
* residents_at_non_residential: background persons live only in woonfunctie units.
* company_churn (turnover): background has one vestiging per nummeraanduiding plus, by shape
  (``shapes.predecessors``), at most 2 predecessors of a year or more: at most 2 ended and 1
  short-lived in any 24 months. Planted churn: 3 short-lived + 1 active, or 4 long-standing that
  ended in the window + 1 newcomer (``shapes.Shape.churn_variant``). Business centres are growth.
* address_not_in_bag: background KvK/BRP addresses are current, issued nummeraanduidingen.
* enforcement_history / staff_safety: background opiumwet_13b / wet_victor cases started more
  than 5 years, agressie_incident cases more than 12 months, before the stand date. A planted
  closure's family: parents and a minor at the case address, an adult child at another address
  of the street (flagged ``via: family``); other relatives live outside the municipality.

The shape of the background (proportions, KvK history, SBI habits, letters and additions) comes
from :mod:`sources.synthetic.shapes`.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sources.synthetic import bag_xml, lo3, names, schedule, shapes
from sources.synthetic.bag_xml import BagExtractWriter, Voorkomen
from sources.synthetic.identifiers import GEMEENTECODE, WOONPLAATS_ID, ANummers, BagIds, BsnPool, postcode
from sources.synthetic.model import (
    CELL_H,
    CELL_W,
    PLOTS_PER_SIDE,
    X0,
    Y0,
    Adres,
    Building,
    Pand,
    Plaats,
    Street,
    Unit,
    plot_box,
    rectangle,
)
from sources.synthetic.people import People, Person, haal_centraal, link_parents, lo3_rows, ymd

ADDRESSES_PER_STREET = 30
MAX_STREETS = 9_900

VULNERABLE = ("9602", "9609", "4742", "4711", "4511", "5229", "5610")
# The background vulnerable sector of a street on row r is BACKGROUND_CLASS[r % 10] (rows 7-9: none).
BACKGROUND_CLASS = ("4711", "4511", "9602", "9609", "4742", "5229", "5610")
# Planted street clusters use sectors absent from rows 6, 0 and 1 (the rows within 100 m of 8/9).
PLANTED_CLASSES = ("9602", "9609", "4742")
VULNERABLE_CODES = {
    "9602": ("9602", "96021"),
    "9609": ("9609", "96099"),
    "4742": ("4742",),
    "4711": ("4711", "47111"),
    "4511": ("4511", "45112"),
    "5229": ("5229",),
    "5610": ("5610", "56101", "56102"),
}
BACKGROUND_BAND = range(10, 19)  # plots that may hold background vulnerable businesses
# Planted units whose residents the pattern creates itself (no ordinary household on top).
# KvK API basisprofiel responses written next to the bulk file (for vestigingen also in it).
API_PROFILES = 3
SBI_OMSCHRIJVING = {
    "9602": "Haarverzorging en schoonheidsverzorging",
    "9609": "Overige dienstverlening",
    "4742": "Winkels in telecommunicatieapparatuur",
    "4711": "Supermarkten en warenhuizen",
    "4511": "Handel in en reparatie van personenauto's",
    "5229": "Expediteurs en overige vervoersdiensten",
    "5610": "Restaurants, cafetaria's en dergelijke",
    "4778": "Overige winkels in nieuwe artikelen",
    "4751": "Winkels in textiel",
    "4761": "Winkels in boeken",
    "4776": "Winkels in bloemen en planten",
    "4771": "Winkels in kleding",
    "4752": "Winkels in doe-het-zelfartikelen",
    "4765": "Winkels in speelgoed",
    "6201": "Ontwikkelen en uitgeven van software",
    "7022": "Organisatie-adviesbureaus",
    "6920": "Accountancy en belastingadvisering",
    "7111": "Architecten",
    "6619": "Overige financiele dienstverlening",
    "7311": "Reclamebureaus",
    "8211": "Administratieve dienstverlening",
    "6831": "Bemiddeling in onroerend goed",
    "4322": "Loodgieters- en installatiebedrijven",
    "9003": "Schrijven en overige scheppende kunst",
    "7410": "Industrieel ontwerp en vormgeving",
    "8690": "Overige zorg",
    "4120": "Algemene burgerlijke en utiliteitsbouw",
    "4321": "Elektrotechnische bouwinstallatie",
    "8559": "Overig onderwijs",
    "6420": "Financiele holdings",
    "8299": "Overige zakelijke dienstverlening",
    "4690": "Niet-gespecialiseerde groothandel",
    "6810": "Handel in eigen onroerend goed",
}
# Share of ordinary households delivered as Haal Centraal JSON instead of LO3 (never planted ones).
HAAL_CENTRAAL_SHARE = 0.05
OWN_RESIDENTS = (
    "overcrowding",
    "non_residential",
    "opiumwet_13b",
    "wet_victor",
    "brp_withdrawn",
    "kvk_withdrawn",
)

SBI_RETAIL_2008 = ("4778", "4751", "4761", "4776", "4771", "4752", "4765", "47781")
SBI_OFFICE_2008 = ("6201", "7022", "6920", "7111", "6619", "7311", "8211", "6831", "62020")
SBI_HOME_2008 = ("7022", "4322", "9003", "7410", "8690", "4120", "4321", "8559")
SBI_SHELL_2008 = ("6420", "7022", "8299", "6619", "4690", "7311", "8211", "6810")
SBI_2025 = ("62100", "69200", "43210", "70200", "10110", "10130")
RECHTSVORMEN = ("Eenmanszaak", "Besloten Vennootschap", "Vennootschap onder firma", "Eenmanszaak")
TEAMS = (
    "Wijkteam Noord",
    "Wijkteam Zuid",
    "Team Handhaving Openbare Ruimte",
    "Team Leerplicht",
    "Team Schulddienstverlening",
)
BACKGROUND_INSTRUMENTS = (
    "last_onder_dwangsom",
    "bestuurlijke_boete",
    "apv",
    "bibob_advies",
    "gemeentewet_174a",
)

KVK_COLUMNS = (
    "kvk_nummer", "vestigingsnummer", "naam", "rechtsvorm", "eerste_handelsnaam", "is_hoofdvestiging",
    "is_commercieel", "datum_aanvang", "datum_einde", "straatnaam", "huisnummer", "huisletter",
    "huisnummertoevoeging", "postcode", "plaats", "bag_nummeraanduiding_id", "bag_verblijfsobject_id",
    "sbi_codes", "sbi_versie",
)  # fmt: skip
ZAAK_COLUMNS = (
    "zaak_id", "instrument", "datum_start", "datum_einde", "status", "team",
    "bag_nummeraanduiding_id", "bag_verblijfsobject_id", "adres",
)  # fmt: skip
GROUND_TRUTH_COLUMNS = ("flag", "nummeraanduiding_id", "pand_id", "openbare_ruimte_id", "note")
FLAGS = (
    "many_companies_in_building",
    "many_companies_at_address",
    "identical_businesses_in_street",
    "identical_businesses_nearby",
    "overcrowding",
    "residents_at_non_residential",
    "company_churn",
    "address_not_in_bag",
    "enforcement_history",
    "staff_safety",
)


@dataclass(frozen=True)
class GenerationSummary:
    out: Path
    addresses: int
    seed: int
    stand_date: date
    counts: dict[str, int]
    files: dict[str, Path] = field(default_factory=dict)


def _days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


class _Municipality:
    """Generation state shared across streets: counters, open output files, totals."""

    def __init__(
        self, stage: Path, addresses: int, seed: int, stand: date, max_objects: int, shape: shapes.Shape
    ):
        self.shape = shape
        self.addresses = addresses
        self.seed = seed
        self.stand = stand
        self.n_streets = max(1, min(MAX_STREETS, round(addresses / ADDRESSES_PER_STREET)))
        self.cols, self.rows = schedule.grid(self.n_streets)
        self.plan = schedule.plan(addresses, self.n_streets, shape.addresses_per_occurrence)
        self.ids = BagIds()
        occurrences = schedule.occurrences(addresses, shape.addresses_per_occurrence)
        self.bsns = BsnPool(schedule.MAX_PLANTED_PERSONS * occurrences)
        self.people = People(stand, self.bsns, ANummers())
        self.used_addresses = 0
        self.counts: dict[str, int] = dict.fromkeys(
            ("nummeraanduiding", "verblijfsobject", "pand", "openbare_ruimte", "ligplaats", "standplaats",
             "personen", "personen_haal_centraal", "vestigingen", "zaken"), 0)  # fmt: skip
        self.flag_counts: dict[str, int] = dict.fromkeys(FLAGS, 0)
        self.kvk_counter = 0
        self.api_profiles = 0
        self.stage = stage
        self.zaak_counter = 0
        self.person_counter = 0

        for sub in ("bag", "brp", "kvk", "handhaving"):
            (stage / sub).mkdir(parents=True, exist_ok=True)
        self.bag = BagExtractWriter(
            stage / "bag" / f"BAGGEM{GEMEENTECODE}L-{stand.strftime('%d%m%Y')}.zip",
            stage / ".bag-work",
            GEMEENTECODE,
            names.GEMEENTENAAM,
            stand,
            max_objects=max_objects,
        )
        self.brp = (stage / "brp" / "personen.csv").open("w", encoding="utf-8-sig", newline="")
        self.brp.write(lo3.HEADER_LINE + "\n")
        self.hc = (stage / "brp" / "personen-haalcentraal.json").open("w", encoding="utf-8")
        self.hc.write('{"type": "RaadpleegMetBurgerservicenummer", "personen": [')
        self.hc_count = 0
        self.kvk_file = (stage / "kvk" / "vestigingen.csv").open("w", encoding="utf-8", newline="")
        self.kvk = csv.writer(self.kvk_file)
        self.kvk.writerow(KVK_COLUMNS)
        self.zaak_file = (stage / "handhaving" / "zaken.csv").open("w", encoding="utf-8", newline="")
        self.zaken = csv.writer(self.zaak_file)
        self.zaken.writerow(ZAAK_COLUMNS)
        self.truth_file = (stage / "ground_truth.csv").open("w", encoding="utf-8", newline="")
        self.truth = csv.writer(self.truth_file)
        self.truth.writerow(GROUND_TRUTH_COLUMNS)

    # ----------------------------------------------------------------------------- run
    def run(self) -> None:
        self._woonplaats()
        for s in range(self.n_streets):
            target = (s + 1) * self.addresses // self.n_streets
            _StreetBuilder(self, s, max(0, target - self.used_addresses)).build()

    def close(self) -> None:
        self.bag.close()
        self.hc.write("\n]}\n")
        for f in (self.hc, self.brp, self.kvk_file, self.zaak_file, self.truth_file):
            f.close()

    def _woonplaats(self) -> None:
        ring = rectangle(X0 - 50.0, Y0 - 50.0, X0 + self.cols * CELL_W + 50.0, Y0 + self.rows * CELL_H + 50.0)
        v = Voorkomen(1, date(2010, 1, 4))
        self.bag.add("WPL", bag_xml.woonplaats_xml(WOONPLAATS_ID, names.WOONPLAATSNAAM, [ring], v))

    # ----------------------------------------------------------------------------- outputs
    def ground_truth(self, flag: str, num: str = "", pand: str = "", opr: str = "", note: str = "") -> None:
        self.truth.writerow((flag, num, pand, opr, note))
        self.flag_counts[flag] += 1

    def new_kvk(self) -> tuple[str, str]:
        self.kvk_counter += 1
        return f"{90_000_000 + self.kvk_counter:08d}", f"{300_000_000 + self.kvk_counter:012d}"

    def new_zaak(self, start: date) -> str:
        self.zaak_counter += 1
        return f"Z-{start.year}-{self.zaak_counter:07d}"


@dataclass(slots=True)
class _Vestiging:
    unit: Unit | None
    sbi: list[str]
    start: date
    end: date | None
    sbi_versie: str = "2008"
    address_only: dict[str, str] | None = None  # planted: an address with no BAG object
    bag_ids: str = "random"  # "both", "num", "none" or "random"


class _StreetBuilder:
    def __init__(self, m: _Municipality, index: int, budget: int):
        self.m = m
        self.rng = random.Random(m.seed * 1_000_003 + index)
        self.index = index
        self.budget = budget
        self.row, self.col = divmod(index, m.cols)
        self.patterns = m.plan.get(index, [])
        south, north = postcode(2 * index), postcode(2 * index + 1)
        self.street = Street(
            index, self.row, self.col, m.ids.new("OPR"), names.street_name(index), (south, north)
        )
        self.persons: list[Person] = []
        self.vestigingen: list[_Vestiging] = []
        self.free_plots = [(side, i) for side in (0, 1) for i in range(PLOTS_PER_SIDE)]
        self.used = 0
        self.vulnerable_in_street = 0
        self.haal_centraal_units: set[int] = set()  # households delivered as Haal Centraal JSON

    # ----------------------------------------------------------------------------- plots & buildings
    def take_plot(self, side: int | None = None, i: int | None = None) -> tuple[int, int]:
        if side is not None and i is not None:
            self.free_plots.remove((side, i))
            return side, i
        candidates = [p for p in self.free_plots if p[1] not in BACKGROUND_BAND] or self.free_plots
        plot = self.rng.choice(candidates)
        self.free_plots.remove(plot)
        return plot

    def building(self, kind: str, plot: tuple[int, int], planted: str | None = None) -> Building:
        b = Building(kind, plot[0], plot[1], planted=planted)
        x0, y0, x1, y1 = plot_box(self.row, self.col, *plot)
        bouwjaar = self.rng.choice((self.rng.randint(1900, 1990), self.rng.randint(1960, 2024)))
        if kind == "shop_two_panden":
            b.panden = [Pand(self.m.ids.new("PND"), rectangle(x0, y0, x1, y0 + 6.0), bouwjaar)]
            b.panden.append(Pand(self.m.ids.new("PND"), rectangle(x0, y0 + 6.0, x1, y1), bouwjaar))
        else:
            b.panden = [Pand(self.m.ids.new("PND"), rectangle(x0, y0, x1, y1), bouwjaar)]
        for p in b.panden:
            p.history = self.rng.random() < 0.08 and bouwjaar >= 1990
        self.street.buildings.append(b)
        return b

    def unit(
        self, b: Building, doelen: list[str], area: int, letter: str | None = None, toev: str | None = None
    ) -> Unit:
        x0, y0, *_ = plot_box(self.row, self.col, b.side, b.plot)
        j = len(b.units)
        x, y = x0 + 1.0 + (j % 7), y0 + 1.0 + (j // 7) % 5
        huisnummer = 2 * b.plot + 1 + b.side
        adres = Adres(self.m.ids.new("NUM"), huisnummer, letter, toev, self.street.postcodes[b.side])
        pand_ids = (
            [p.pand_id for p in b.panden] if b.kind == "shop_two_panden" and j == 0 else [b.panden[0].pand_id]
        )
        u = Unit(self.m.ids.new("VBO"), adres, doelen, area, x, y, pand_ids, planted=b.planted)
        r = self.rng.random()
        if r < 0.04:
            adres.previous_postcode = self.street.postcodes[1 - b.side]
        r = self.rng.random()
        if r < 0.08:
            u.history = "gevormd"
        elif r < 0.11 and doelen == ["woonfunctie"]:
            u.history = "transformed"
            u.previous_doelen = ["kantoorfunctie"]
            u.previous_oppervlakte = max(1, area + self.rng.randint(-20, 40))
        b.units.append(u)
        self.used += 1
        return u

    def nevenadres(self, u: Unit, b: Building) -> None:
        u.nevenadressen.append(
            Adres(self.m.ids.new("NUM"), u.adres.huisnummer, "Z", None, self.street.postcodes[b.side])
        )
        self.used += 1

    def house(self, plot: tuple[int, int], planted: str | None = None) -> Unit:
        b = self.building("house", plot, planted)
        doelen = (
            ["woonfunctie", "kantoorfunctie"] if self.rng.random() < 0.05 and not planted else ["woonfunctie"]
        )
        return self.unit(b, doelen, self.rng.randint(70, 170), shapes.house_letter(self.rng, self.m.shape))

    def apartments(self, plot: tuple[int, int], count: int, planted: str | None = None) -> Building:
        b = self.building("apartment", plot, planted)
        letters = count <= 10 and self.rng.random() < 0.5
        for k in range(count):
            label = chr(ord("A") + k) if letters else None
            letter, toev = shapes.apartment_label(self.m.shape, k) or (label, None if letters else str(k + 1))
            self.unit(b, ["woonfunctie"], self.rng.randint(45, 110), letter, toev)
        return b

    def shop(
        self, plot: tuple[int, int], dwellings: int, planted: str | None = None, two_panden: bool = False
    ) -> Building:
        b = self.building("shop_two_panden" if two_panden else "shop", plot, planted)
        doelen = ["winkelfunctie"]
        if not planted and self.rng.random() < 0.1:
            doelen = ["winkelfunctie", "woonfunctie"]
        self.unit(b, doelen, self.rng.randint(30, 200))
        for k in range(dwellings):
            self.unit(b, ["woonfunctie"], self.rng.randint(50, 90), chr(ord("A") + k))
        return b

    def office(
        self, plot: tuple[int, int], count: int, planted: str | None = None, doel: str = "kantoorfunctie"
    ) -> Building:
        b = self.building("office", plot, planted)
        for k in range(count):
            self.unit(b, [doel], self.rng.randint(60, 400), None if k == 0 else chr(ord("A") + k - 1))
        return b

    def demolished(self, plot: tuple[int, int], planted: str) -> Unit:
        """A building demolished 1-3 years ago; its verblijfsobject and address are withdrawn."""
        b = self.building("demolished", plot, planted)
        u = self.unit(b, ["woonfunctie"], self.rng.randint(60, 120))
        on = self.m.stand - _days(self.rng, 365, 3 * 365)
        b.panden[0].demolished_on = on
        b.panden[0].bouwjaar = min(b.panden[0].bouwjaar, on.year - 5)
        b.panden[0].history = False
        u.history, u.adres.previous_postcode = None, None
        u.withdrawn_on = u.adres.withdrawn_on = on
        return u

    # ----------------------------------------------------------------------------- build
    def build(self) -> None:
        planted_units = self.plant()
        if self.index % 15 == 7 and self.budget - self.used >= 4:
            self.plaatsen()
        self.fill()
        self.households(planted_units)
        self.background_businesses()
        self.background_cases()
        self.people_links()
        self.write()

    def fill(self) -> None:
        rng = self.rng
        rng.shuffle(self.free_plots)
        while self.used < self.budget and self.free_plots:
            remaining = self.budget - self.used
            plot = self.free_plots.pop()
            per_plot = remaining / (len(self.free_plots) + 1)
            if not self.free_plots and remaining > 1:
                self.apartments(plot, remaining)
            elif per_plot > 2.5:
                self.apartments(plot, min(remaining, max(4, round(per_plot * rng.uniform(0.7, 1.3)))))
            else:
                r = rng.random()
                house, flats, shop = self.m.shape.building_mix
                if r < house or remaining < 2:
                    self.house(plot)
                elif r < flats and remaining >= 4:
                    self.apartments(plot, min(remaining, rng.randint(4, 10)))
                elif r < shop:
                    b = self.shop(plot, min(remaining - 1, rng.randint(0, 2)), two_panden=rng.random() < 0.08)
                    if rng.random() < 0.05 and self.used < self.budget:
                        self.nevenadres(b.units[0], b)
                else:
                    self.office(plot, min(remaining, rng.randint(1, 2)))

    def plaatsen(self) -> None:
        xb, yb = X0 + self.col * CELL_W, Y0 + self.row * CELL_H
        for kind, number, y0 in (("Ligplaats", 71, 15.0), ("Standplaats", 73, 22.0)):
            code = "LIG" if kind == "Ligplaats" else "STA"
            adres = Adres(self.m.ids.new("NUM"), number, None, None, self.street.postcodes[0], kind)
            ring = rectangle(xb + 296.0, yb + y0, xb + 299.0, yb + y0 + 3.0)
            self.street.plaatsen.append(Plaats(kind, self.m.ids.new(code), adres, ring))
            self.used += 1

    # ----------------------------------------------------------------------------- planted patterns
    def plant(self) -> list[tuple[str, list[Person]]]:
        """Create the planted patterns of this street; returns units whose residents are planted."""
        rng, m = self.rng, self.m
        stand = m.stand
        planted_people: list[tuple[str, list[Person]]] = []
        # Patterns on fixed plots first, before random plots are handed out.
        fixed = ("street_cluster", "nearby_a", "nearby_b")
        for pattern, occ in sorted(self.patterns, key=lambda p: p[0] not in fixed):
            if pattern == "many_companies":
                b = self.office(self.take_plot(), 4, planted=pattern)
                for u in b.units:
                    for _ in range(3 + (rng.random() < 0.3)):
                        start = stand - _days(rng, 900, 8 * 365)
                        self.vestigingen.append(_Vestiging(u, [rng.choice(SBI_SHELL_2008)], start, None))
                        u.vestigingen += 1
                count = sum(u.vestigingen for u in b.units)
                m.ground_truth(
                    "many_companies_in_building", pand=b.panden[0].pand_id, note=f"active_vestigingen={count}"
                )
            elif pattern == "street_cluster":
                cls = PLANTED_CLASSES[occ % len(PLANTED_CLASSES)]
                for i in (2, 8, 14, 20, 26):
                    b = self.shop(self.take_plot(0, i), 1, planted=pattern)
                    self.vulnerable(b.units[0], cls)
                m.ground_truth(
                    "identical_businesses_in_street",
                    opr=self.street.opr_id,
                    note=f"sbi_class={cls};active_vestigingen=5",
                )
            elif pattern in ("nearby_a", "nearby_b"):
                cls = PLANTED_CLASSES[(occ + 1) % len(PLANTED_CLASSES)]
                plots = (1, (13, 14, 15)) if pattern == "nearby_a" else (0, (13, 14))
                members = []
                for i in plots[1]:
                    b = self.shop(self.take_plot(plots[0], i), 1, planted="nearby")
                    self.vulnerable(b.units[0], cls)
                    members.append(b.units[0].adres.num_id)
                if pattern == "nearby_a":
                    # All 5 members see each other, so each is a candidate centre with the same
                    # count; the flag reports one centre per cluster, the lowest nummeraanduiding
                    # id, which is this street's first member (the northern street comes later).
                    m.ground_truth(
                        "identical_businesses_nearby",
                        num=min(members),
                        note=f"cluster={occ};sbi_class={cls};members=5",
                    )
            elif pattern == "overcrowding":
                b = self.apartments(self.take_plot(), 4, planted=None)
                u = b.units[0]
                u.planted, u.history, u.oppervlakte = pattern, None, rng.randint(40, 54)
                adults = [
                    m.people.person(rng, rng.randint(20, 45), planted=True) for _ in range(rng.randint(5, 6))
                ]
                m.people.move_in(rng, adults, u, stand - timedelta(days=540))
                planted_people.append((pattern, adults))
                m.ground_truth(
                    "overcrowding",
                    num=u.adres.num_id,
                    note=f"adults={len(adults)};oppervlakte={u.oppervlakte}",
                )
            elif pattern == "non_residential":
                doel = rng.choice(("kantoorfunctie", "industriefunctie", "winkelfunctie"))
                b = self.office(self.take_plot(), 1, planted=pattern, doel=doel)
                u = b.units[0]
                u.history = None
                residents = [
                    m.people.person(rng, rng.randint(20, 60), planted=True) for _ in range(rng.randint(1, 2))
                ]
                m.people.move_in(rng, residents, u)
                planted_people.append((pattern, residents))
                m.ground_truth(
                    "residents_at_non_residential", num=u.adres.num_id, note=f"gebruiksdoel={doel}"
                )
            elif pattern == "churn":
                self.plant_churn()
            elif pattern == "business_centre":
                self.plant_business_centre()
            elif pattern == "letterbox":
                self.plant_letterbox()
            elif pattern == "kvk_unknown":
                number = 901 + occ % 49
                address = self.delivered_address(number)
                self.vestigingen.append(
                    _Vestiging(
                        None,
                        [rng.choice(SBI_OFFICE_2008)],
                        stand - _days(rng, 200, 2000),
                        None,
                        address_only=address,
                    )
                )
                m.ground_truth(
                    "address_not_in_bag",
                    note=f"source=kvk;postcode={address['postcode']};huisnummer={number};reason=no_nummeraanduiding",
                )
            elif pattern == "kvk_withdrawn":
                u = self.demolished(self.take_plot(), pattern)
                self.vestigingen.append(
                    _Vestiging(
                        u, [rng.choice(SBI_OFFICE_2008)], stand - _days(rng, 1200, 3000), None, bag_ids="both"
                    )
                )
                u.vestigingen += 1
                m.ground_truth(
                    "address_not_in_bag", num=u.adres.num_id, note="source=kvk;reason=naamgeving_ingetrokken"
                )
            elif pattern == "brp_unknown":
                number = 951 + occ % 49
                p = m.people.person(rng, rng.randint(20, 70), planted=True)
                ghost_vbo, ghost_num = m.ids.new("VBO"), m.ids.new("NUM")  # ids that are never issued
                p.address_override = {
                    **self.delivered_address(number, lo3=True),
                    "08.11.80": ghost_vbo,
                    "08.11.90": ghost_num,
                }
                m.people.move_in(rng, [p], None)
                self.persons.append(p)
                planted_people.append((pattern, []))
                m.ground_truth(
                    "address_not_in_bag",
                    num=ghost_num,
                    note=f"source=brp;postcode={self.street.postcodes[0]};huisnummer={number};reason=no_nummeraanduiding",
                )
            elif pattern == "brp_withdrawn":
                u = self.demolished(self.take_plot(), pattern)
                p = m.people.person(rng, rng.randint(25, 80), planted=True)
                m.people.move_in(rng, [p], u, stand - timedelta(days=20 * 365))
                p.sinds = min(p.sinds or stand, (u.withdrawn_on or stand) - timedelta(days=30))
                planted_people.append((pattern, [p]))
                m.ground_truth(
                    "address_not_in_bag", num=u.adres.num_id, note="source=brp;reason=naamgeving_ingetrokken"
                )
            elif pattern in ("opiumwet_13b", "wet_victor"):
                home = self.house(self.take_plot(), planted=pattern)
                elsewhere = self.house(self.take_plot(), planted=pattern)
                parents = list(m.people.couple(rng, rng.randint(46, 60), planted=True))
                minor = m.people.children_of(rng, parents, 1, 16, planted=True)
                adult = m.people.person(
                    rng,
                    rng.randint(20, 26),
                    family=(parents[0].voorvoegsel, parents[0].geslachtsnaam),
                    planted=True,
                )
                link_parents(adult, parents)
                m.people.move_in(rng, parents + minor, home)
                m.people.move_in(rng, [adult], elsewhere)
                planted_people.append((pattern, [*parents, *minor, adult]))
                start = stand - _days(rng, 200, 4 * 365)
                self.case(pattern, home, start, rng.choice(("afgerond", "lopend")), team="Team Ondermijning")
                m.ground_truth(
                    "enforcement_history",
                    num=home.adres.num_id,
                    note=f"instrument={pattern};relatives_elsewhere=1",
                )
                m.ground_truth(
                    "enforcement_history", num=elsewhere.adres.num_id, note=f"instrument={pattern};via=family"
                )
            elif pattern == "agressie":
                u = self.house(self.take_plot(), planted=pattern)
                team = rng.choice(TEAMS)
                self.case("agressie_incident", u, stand - _days(rng, 20, 330), "afgerond", team=team)
                m.ground_truth("staff_safety", num=u.adres.num_id, note=f"team={team}")
        return planted_people

    # ----------------------------------------------------------------------------- company patterns
    def plant_churn(self) -> None:
        """Turnover at one shop: vestigingen that came and went (variant per shape)."""
        rng, m, stand = self.rng, self.m, self.m.stand
        u = self.shop(self.take_plot(), 0, planted="churn").units[0]
        sbi = [rng.choice(SBI_RETAIL_2008)]
        before = len(self.vestigingen)
        if m.shape.churn_variant == "closures":  # 4 long-standing ones closed in the window
            for months in (20, 14, 9, 3):
                start = stand - _days(rng, 4 * 365, 9 * 365)
                end = stand - timedelta(days=months * 30 + rng.randint(0, 20))
                self.vestigingen.append(_Vestiging(u, sbi, start, end))
            self.vestigingen.append(_Vestiging(u, sbi, stand - _days(rng, 20, 60), None))
            note = "ended=4;short_lived=0;window_months=24"
        else:  # 3 short-lived registrations, the fourth still active
            for k, months in enumerate((21, 16, 11, 6)):
                start = stand - timedelta(days=months * 30 + rng.randint(0, 20))
                end = None if k == 3 else start + timedelta(days=rng.randint(60, 120))
                self.vestigingen.append(_Vestiging(u, sbi, start, end))
            note = "ended=3;short_lived=3;window_months=24"
        u.vestigingen += len(self.vestigingen) - before
        m.ground_truth("company_churn", num=u.adres.num_id, note=note)

    def plant_business_centre(self) -> None:
        """A new business centre: 10-13 units, one company each, all registered in the last 2 years.

        Growth, not churn: many companies in the building, none at one address, none ended.
        """
        rng, m = self.rng, self.m
        b = self.office(self.take_plot(), rng.randint(10, 13), planted="business_centre")
        for u in b.units:
            start = m.stand - _days(rng, 20, 700)
            self.vestigingen.append(_Vestiging(u, [rng.choice(SBI_OFFICE_2008)], start, None))
            u.vestigingen += 1
        m.ground_truth(
            "many_companies_in_building", pand=b.panden[0].pand_id, note=f"active_vestigingen={len(b.units)}"
        )

    def plant_letterbox(self) -> None:
        """A letterbox address: 5-7 active companies registered at one office unit."""
        rng, m = self.rng, self.m
        u = self.office(self.take_plot(), 1, planted="letterbox").units[0]
        count = rng.randint(5, 7)
        for _ in range(count):
            start = m.stand - _days(rng, 30, 3 * 365)
            self.vestigingen.append(_Vestiging(u, [rng.choice(SBI_SHELL_2008)], start, None))
        u.vestigingen += count
        m.ground_truth("many_companies_at_address", num=u.adres.num_id, note=f"active_vestigingen={count}")

    def delivered_address(self, number: int, lo3: bool = False) -> dict[str, str]:
        if lo3:
            return {
                "08.11.20": str(number),
                "08.11.60": self.street.postcodes[0],
            }
        return {
            "straatnaam": self.street.name,
            "huisnummer": str(number),
            "postcode": self.street.postcodes[0],
        }

    def vulnerable(self, u: Unit, cls: str) -> None:
        start = self.m.stand - _days(self.rng, 200, 6 * 365)
        self.vestigingen.append(_Vestiging(u, [self.rng.choice(VULNERABLE_CODES[cls])], start, None))
        u.vestigingen += 1

    def history(self, u: Unit, start: date) -> None:
        """Predecessors of a background vestiging (shape-dependent KvK history): ended, not active."""
        pool = SBI_RETAIL_2008 if "winkelfunctie" in u.doelen else SBI_OFFICE_2008
        for begin, end in shapes.predecessors(self.rng, self.m.shape, start):
            self.vestigingen.append(_Vestiging(u, [self.rng.choice(pool)], begin, end))

    # ----------------------------------------------------------------------------- people
    def households(self, planted: list[tuple[str, list[Person]]]) -> None:
        rng, people = self.rng, self.m.people
        for _, persons in planted:
            self.persons.extend(persons)
        occupied = {id(p.unit) for _, persons in planted for p in persons if p.unit is not None}
        for b in self.street.buildings:
            for u in b.units:
                if (
                    u.residential
                    and u.withdrawn_on is None
                    and id(u) not in occupied
                    and u.planted not in OWN_RESIDENTS
                ):
                    household = people.household(rng, u)
                    self.persons.extend(household)
                    if household and rng.random() < HAAL_CENTRAAL_SHARE:
                        self.haal_centraal_units.add(id(u))

    def people_links(self) -> None:
        """Adult children living alone near their parents: family across two addresses."""
        rng, people = self.rng, self.m.people
        background = [p for p in self.persons if p.unit is not None and p.unit.planted is None and p.bsn]
        by_unit: dict[int, list[Person]] = {}
        for p in background:
            by_unit.setdefault(id(p.unit), []).append(p)
        singles = [ps[0] for ps in by_unit.values() if len(ps) == 1 and 19 <= people.age(ps[0]) <= 35]
        couples = [ps for ps in by_unit.values() if len(ps) >= 2 and all(people.age(p) >= 45 for p in ps[:2])]
        for single in singles:
            if not couples or rng.random() > 0.3:
                continue
            parents = couples.pop(rng.randrange(len(couples)))[:2]
            if min(people.age(p) for p in parents) < people.age(single) + 20:
                continue
            link_parents(single, parents)
        people.add_outside_parents(rng, self.persons)

    # ----------------------------------------------------------------------------- businesses
    def background_businesses(self) -> None:
        rng, shape = self.rng, self.m.shape
        share_business, share_other = shape.business_share
        cls = BACKGROUND_CLASS[self.row % 10] if self.row % 10 < 7 else None
        for b in self.street.buildings:
            if b.planted or b.kind == "demolished":
                continue
            pand_load = {p.pand_id: 0 for p in b.panden}
            for u in b.units:
                if u.planted or u.vestigingen:
                    continue
                business = "winkelfunctie" in u.doelen or "kantoorfunctie" in u.doelen
                if rng.random() >= (share_business if business else share_other):
                    continue
                if any(pand_load[p] >= 3 for p in u.pand_ids):
                    continue
                active = rng.random() < 0.85
                if active:
                    start, end = self.m.stand - _days(rng, 180, 15 * 365), None
                else:
                    start = self.m.stand - _days(rng, 3 * 365, 15 * 365)
                    end = start + _days(rng, 365, max(366, (self.m.stand - start).days - 30))
                if (
                    cls
                    and "winkelfunctie" in u.doelen
                    and b.plot in BACKGROUND_BAND
                    and self.vulnerable_in_street < 2
                    and rng.random() < 0.6
                ):
                    self.vulnerable_in_street += 1
                    code, versie = shapes.vulnerable_code(rng, shape, cls, VULNERABLE_CODES[cls])
                    v = _Vestiging(u, [code], start, end, sbi_versie=versie)
                elif rng.random() < 0.12:
                    v = _Vestiging(u, [rng.choice(SBI_2025)], start, end, sbi_versie="2025")
                else:
                    pool = SBI_RETAIL_2008 if "winkelfunctie" in u.doelen else (
                        SBI_OFFICE_2008 if "kantoorfunctie" in u.doelen else SBI_HOME_2008)  # fmt: skip
                    codes = [rng.choice(pool)]
                    if rng.random() < 0.2:
                        codes.append(rng.choice(SBI_HOME_2008))
                    codes, versie = shapes.sbi_codes(rng, shape, codes)
                    v = _Vestiging(u, codes, start, end, sbi_versie=versie)
                self.vestigingen.append(v)
                u.vestigingen += 1
                self.history(u, start)
                for p in u.pand_ids:
                    pand_load[p] += 1

    # ----------------------------------------------------------------------------- cases
    def case(self, instrument: str, u: Unit, start: date, status: str, team: str) -> None:
        rng = self.rng
        end = ""
        if status == "afgerond":
            end_date = min(start + _days(rng, 30, 365), self.m.stand - timedelta(days=1))
            end = end_date.isoformat() if end_date > start else ""
        num = vbo = text = ""
        r = rng.random()
        if r < 0.45:
            num = u.adres.num_id
            vbo = u.vbo_id if rng.random() < 0.5 else ""
        elif r < 0.55:
            vbo = u.vbo_id
        else:
            text = free_text(rng, self.street.name, u.adres)
        self.m.zaken.writerow(
            (self.m.new_zaak(start), instrument, start.isoformat(), end, status, team, num, vbo, text)
        )
        self.m.counts["zaken"] += 1

    def background_cases(self) -> None:
        rng, stand = self.rng, self.m.stand
        for b in self.street.buildings:
            for u in b.units:
                if u.withdrawn_on:
                    continue
                r = rng.random()
                if r < 0.004:
                    start = stand - _days(rng, 10, 8 * 365)
                    status = rng.choice(("open", "lopend", "afgerond", "afgerond", "ingetrokken"))
                    self.case(rng.choice(BACKGROUND_INSTRUMENTS), u, start, status, rng.choice(TEAMS))
                elif r < 0.0048:  # closures long ago: outside the 5-year window
                    start = stand - _days(rng, 6 * 365, 12 * 365)
                    self.case(
                        rng.choice(("opiumwet_13b", "wet_victor")), u, start, "afgerond", "Team Ondermijning"
                    )
                elif r < 0.0058:  # aggression incidents older than 12 months
                    start = stand - _days(rng, 400, 4 * 365)
                    self.case("agressie_incident", u, start, "afgerond", rng.choice(TEAMS))
        if rng.random() < 0.05:  # an address nobody can match: a street and postcode outside BAG
            start = stand - _days(rng, 30, 3 * 365)
            instrument = rng.choice(("opiumwet_13b", *BACKGROUND_INSTRUMENTS))
            text = f"Onvindbaarpad {rng.randint(1, 99)}, 9899 ZZ {names.WOONPLAATSNAAM}"
            self.m.zaken.writerow(
                (
                    self.m.new_zaak(start),
                    instrument,
                    start.isoformat(),
                    "",
                    "open",
                    rng.choice(TEAMS),
                    "",
                    "",
                    text,
                )
            )
            self.m.counts["zaken"] += 1

    # ----------------------------------------------------------------------------- writing
    def write(self) -> None:
        m, st = self.m, self.street
        v = Voorkomen(1, date(2010, 1, 4) + _days(self.rng, 0, 400))
        m.bag.add(
            "OPR", bag_xml.openbare_ruimte_xml(st.opr_id, st.name, WOONPLAATS_ID, v, "Naamgeving uitgegeven")
        )
        m.counts["openbare_ruimte"] += 1
        for b in st.buildings:
            for p in b.panden:
                self.write_pand(p)
            for u in b.units:
                self.write_unit(u, b.panden[0].bouwjaar)
        for pl in st.plaatsen:
            begin = date(2012, 1, 2) + _days(self.rng, 0, 2000)
            vk = Voorkomen(1, begin)
            m.bag.add(
                "LIG" if pl.kind == "Ligplaats" else "STA",
                bag_xml.plaats_xml(pl.kind, pl.obj_id, pl.adres.num_id, pl.ring, vk),
            )
            self.write_adres(pl.adres, begin)
            m.counts["ligplaats" if pl.kind == "Ligplaats" else "standplaats"] += 1
        self.write_vestigingen()
        self.write_persons()
        m.used_addresses += self.used

    def registered(self, bouwjaar: int) -> date:
        start = date(max(2009, bouwjaar), 1, 2) + _days(self.rng, 0, 330)
        return min(start, self.m.stand - timedelta(days=400))

    def write_pand(self, p: Pand) -> None:
        m = self.m
        begin = self.registered(p.bouwjaar)
        if p.demolished_on:
            m.bag.add(
                "PND",
                bag_xml.pand_xml(
                    p.pand_id, p.ring, p.bouwjaar, "Pand in gebruik", Voorkomen(1, begin, p.demolished_on)
                ),
            )
            m.bag.add(
                "PND",
                bag_xml.pand_xml(
                    p.pand_id, p.ring, p.bouwjaar, "Pand gesloopt", Voorkomen(2, p.demolished_on)
                ),
            )
        elif p.history:
            change = min(begin + _days(self.rng, 100, 500), m.stand - timedelta(days=30))
            m.bag.add(
                "PND",
                bag_xml.pand_xml(p.pand_id, p.ring, p.bouwjaar, "Bouw gestart", Voorkomen(1, begin, change)),
            )
            m.bag.add(
                "PND",
                bag_xml.pand_xml(p.pand_id, p.ring, p.bouwjaar, "Pand in gebruik", Voorkomen(2, change)),
            )
        else:
            m.bag.add("PND", bag_xml.pand_xml(p.pand_id, p.ring, p.bouwjaar, p.status, Voorkomen(1, begin)))
        m.counts["pand"] += 1

    def write_unit(self, u: Unit, bouwjaar: int) -> None:
        m = self.m
        begin = self.registered(bouwjaar) + _days(self.rng, 0, 30)
        neven = [a.num_id for a in u.nevenadressen]

        def vbo(doelen: list[str], area: int, status: str, vk: Voorkomen) -> None:
            m.bag.add("VBO", bag_xml.verblijfsobject_xml(
                u.vbo_id, u.adres.num_id, neven, u.x, u.y, doelen, area, status, u.pand_ids, vk))  # fmt: skip

        if u.withdrawn_on:
            vbo(u.doelen, u.oppervlakte, "Verblijfsobject in gebruik", Voorkomen(1, begin, u.withdrawn_on))
            vbo(u.doelen, u.oppervlakte, "Verblijfsobject ingetrokken", Voorkomen(2, u.withdrawn_on))
        elif u.history:
            change = begin + _days(self.rng, 60, 2500)
            change = min(change, m.stand - timedelta(days=30))
            if u.history == "gevormd":
                vbo(u.doelen, u.oppervlakte, "Verblijfsobject gevormd", Voorkomen(1, begin, change))
            else:
                vbo(
                    u.previous_doelen or u.doelen,
                    u.previous_oppervlakte or u.oppervlakte,
                    u.status,
                    Voorkomen(1, begin, change),
                )
            vbo(u.doelen, u.oppervlakte, u.status, Voorkomen(2, change))
        else:
            vbo(u.doelen, u.oppervlakte, u.status, Voorkomen(1, begin))
        m.counts["verblijfsobject"] += 1
        self.write_adres(u.adres, begin)
        for a in u.nevenadressen:
            self.write_adres(a, begin)

    def write_adres(self, a: Adres, begin: date) -> None:
        m, opr = self.m, self.street.opr_id

        def num(postcode_: str, status: str, vk: Voorkomen) -> None:
            fragment = bag_xml.nummeraanduiding_xml(
                a.num_id, a.huisnummer, a.huisletter, a.toevoeging, postcode_, a.object_type, status, opr, vk
            )
            m.bag.add("NUM", fragment)

        if a.withdrawn_on:
            num(a.postcode, "Naamgeving uitgegeven", Voorkomen(1, begin, a.withdrawn_on))
            num(a.postcode, "Naamgeving ingetrokken", Voorkomen(2, a.withdrawn_on))
        elif a.previous_postcode:
            change = min(begin + _days(self.rng, 100, 3000), m.stand - timedelta(days=30))
            num(a.previous_postcode, a.status, Voorkomen(1, begin, change))
            num(a.postcode, a.status, Voorkomen(2, change))
        else:
            num(a.postcode, a.status, Voorkomen(1, begin))
        m.counts["nummeraanduiding"] += 1

    def write_vestigingen(self) -> None:
        m, rng = self.m, self.rng
        for v in self.vestigingen:
            kvk, vestigingsnummer = m.new_kvk()
            cls = v.sbi[0][:4] if v.sbi else ""
            naam = names.company_name(rng, cls)
            rechtsvorm = rng.choice(RECHTSVORMEN)
            if rechtsvorm == "Besloten Vennootschap":
                naam += " B.V."
            num_id = vbo_id = ""
            if v.address_only is not None:
                street, nummer, letter, toev, pc = (
                    v.address_only["straatnaam"],
                    v.address_only["huisnummer"],
                    "",
                    "",
                    v.address_only["postcode"],
                )
            else:
                assert v.unit is not None
                a = v.unit.adres
                street, nummer, letter, toev, pc = (
                    self.street.name,
                    str(a.huisnummer),
                    a.huisletter or "",
                    a.toevoeging or "",
                    a.postcode,
                )
                mode = v.bag_ids
                if mode == "random":
                    r = rng.random()
                    mode = "both" if r < 0.65 else ("num" if r < 0.75 else "none")
                if mode in ("both", "num"):
                    num_id = a.num_id
                if mode == "both":
                    vbo_id = v.unit.vbo_id
                if mode == "none" and rng.random() < 0.3:
                    pc = f"{pc[:4]} {pc[4:]}"
            m.kvk.writerow((
                kvk, vestigingsnummer, naam, rechtsvorm, naam, "Ja", "Ja", ymd(v.start),
                ymd(v.end) if v.end else "", street, nummer, letter, toev, pc,
                names.WOONPLAATSNAAM, num_id, vbo_id, "|".join(v.sbi), v.sbi_versie,
            ))  # fmt: skip
            m.counts["vestigingen"] += 1
            if (
                m.api_profiles < API_PROFILES
                and v.unit is not None
                and v.unit.planted is None
                and v.end is None
                and v.sbi_versie == "2008"
                and not v.unit.adres.toevoeging
            ):
                self.write_basisprofiel(kvk, vestigingsnummer, naam, rechtsvorm, v)

    def write_basisprofiel(
        self, kvk: str, vestigingsnummer: str, naam: str, rechtsvorm: str, v: _Vestiging
    ) -> None:
        """A KvK API ``basisprofiel`` response for a vestiging also in the bulk file (the ingest
        keeps the bulk row and takes the onderneming from the profile)."""
        assert v.unit is not None
        a, m = v.unit.adres, self.m
        base = f"https://api.kvk.nl/api/v1/basisprofielen/{kvk}"
        nummer = f"{a.huisnummer}{' ' + a.huisletter if a.huisletter else ''}"
        adres = {
            "type": "bezoekadres",
            "indAfgeschermd": "Nee",
            "volledigAdres": f"{self.street.name} {nummer}".ljust(52)
            + f"{a.postcode} {names.WOONPLAATSNAAM}",
            "straatnaam": self.street.name,
            "huisnummer": a.huisnummer,
            "postcode": a.postcode,
            "plaats": names.WOONPLAATSNAAM,
            "land": "Nederland",
        }
        if a.huisletter:
            adres["huisletter"] = a.huisletter
        body = {
            "kvkNummer": kvk,
            "indNonMailing": "Nee",
            "naam": naam,
            "formeleRegistratiedatum": ymd(v.start),
            "materieleRegistratie": {"datumAanvang": ymd(v.start)},
            "totaalWerkzamePersonen": 1,
            "handelsnamen": [{"naam": naam, "volgorde": 0}],
            "sbiActiviteiten": [
                {
                    "sbiCode": code,
                    "sbiOmschrijving": SBI_OMSCHRIJVING.get(code[:4], ""),
                    "indHoofdactiviteit": "Ja" if i == 0 else "Nee",
                }
                for i, code in enumerate(v.sbi)
            ],
            "links": [{"rel": "self", "href": base}, {"rel": "vestigingen", "href": f"{base}/vestigingen"}],
            "_embedded": {
                "hoofdvestiging": {
                    "vestigingsnummer": vestigingsnummer,
                    "kvkNummer": kvk,
                    "eersteHandelsnaam": naam,
                    "indHoofdvestiging": "Ja",
                    "indCommercieleVestiging": "Ja",
                    "totaalWerkzamePersonen": 1,
                    "adressen": [adres],
                    "links": [{"rel": "basisprofiel", "href": base}],
                },
                "eigenaar": {
                    "rechtsvorm": rechtsvorm,
                    "uitgebreideRechtsvorm": rechtsvorm,
                    "links": [{"rel": "basisprofiel", "href": base}],
                },
            },
        }
        path = m.stage / "kvk" / f"basisprofiel-{kvk}.json"
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        m.api_profiles += 1

    def write_persons(self) -> None:
        m = self.m
        for p in self.persons:
            if p.bsn is None:
                continue
            if p.unit is not None and id(p.unit) in self.haal_centraal_units:
                person = haal_centraal(p, self.street.name, names.WOONPLAATSNAAM, m.stand)
                m.hc.write(("\n" if m.hc_count == 0 else ",\n") + json.dumps(person, ensure_ascii=False))
                m.hc_count += 1
                m.counts["personen"] += 1
                m.counts["personen_haal_centraal"] += 1
                continue
            m.person_counter += 1
            if p.address_override is not None:
                address = {"08.11.10": self.street.name[:24], **p.address_override}
            else:
                assert p.unit is not None
                a = p.unit.adres
                address = {
                    "08.11.20": str(a.huisnummer),
                    "08.11.60": a.postcode,
                    "08.11.80": p.unit.vbo_id,
                    "08.11.90": a.num_id,
                }
                if a.huisletter:
                    address["08.11.30"] = a.huisletter
                if a.toevoeging:
                    address["08.11.40"] = a.toevoeging
            for line in lo3_rows(
                f"Lg01_{m.person_counter}", p, self.street.name, names.WOONPLAATSNAAM, address
            ):
                m.brp.write(line + "\n")
            m.counts["personen"] += 1


def free_text(rng: random.Random, street: str, a: Adres) -> str:
    """A matchable free-text address in one of the spellings municipal case systems produce."""
    hn = str(a.huisnummer)
    if a.huisletter:
        letter = a.huisletter
        hn = rng.choice(
            (f"{hn}{letter}", f"{hn} {letter.lower()}", f"{hn}-{letter.lower()}", f"{hn} {letter}")
        )
    elif a.toevoeging:
        # Not "12 3": read as house number 3 of a street named "... 12" (sources.addresses).
        hn = rng.choice((f"{hn}-{a.toevoeging}", f"{hn} - {a.toevoeging}", f"{hn}/{a.toevoeging}"))
    pc = a.postcode
    pc = rng.choice((pc, f"{pc[:4]} {pc[4:]}", f"{pc[:4]} {pc[4:].lower()}"))
    return rng.choice((f"{street} {hn}, {pc} {names.WOONPLAATSNAAM}", f"{street} {hn}, {pc}"))


def generate(
    out: Path,
    addresses: int,
    seed: int,
    *,
    stand_date: date = date(2026, 11, 1),
    max_objects_per_file: int = 10_000,
    shape: str = "standard",
) -> GenerationSummary:
    """Write a synthetic municipality of ``addresses`` nummeraanduidingen to the folder ``out``.

    The folder is built next to ``out`` and swapped in at the end, so a failed run leaves a
    previous municipality intact. ``out`` must be absent, empty, or an earlier generated one.
    """
    if addresses < 1:
        raise ValueError("addresses must be at least 1")
    if shape not in shapes.SHAPES:
        raise ValueError(f"unknown shape {shape!r} (known: {', '.join(shapes.SHAPES)})")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is not a folder")
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise ValueError(f"{out} is not empty and not a generated municipality; refusing to overwrite it")
    stage = out.parent / f".{out.name}.generating"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    try:
        m = _Municipality(stage, addresses, seed, stand_date, max_objects_per_file, shapes.SHAPES[shape])
        try:
            m.run()
        finally:
            m.close()
        shutil.rmtree(stage / ".bag-work", ignore_errors=True)
        counts = {**m.counts, **{f"flag_{k}": v for k, v in m.flag_counts.items()}}
        manifest = {
            "generator": "knooppunt synthetic municipality",
            "seed": seed,
            "shape": shape,
            "addresses": addresses,
            "stand_date": stand_date.isoformat(),
            "gemeentecode": GEMEENTECODE,
            "gemeentenaam": names.GEMEENTENAAM,
            "woonplaats": {"id": WOONPLAATS_ID, "naam": names.WOONPLAATSNAAM},
            "streets": m.n_streets,
            "counts": counts,
            "bsn_unique": not m.bsns.background_wrapped,
        }
        (stage / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if out.exists():
        old = out.parent / f".{out.name}.previous"
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        stage.rename(out)
        shutil.rmtree(old)
    else:
        stage.rename(out)
    files = {
        "bag": out / "bag" / m.bag.path.name,
        "brp": out / "brp" / "personen.csv",
        "brp_haal_centraal": out / "brp" / "personen-haalcentraal.json",
        "kvk": out / "kvk" / "vestigingen.csv",
        "handhaving": out / "handhaving" / "zaken.csv",
        "ground_truth": out / "ground_truth.csv",
        "manifest": out / "manifest.json",
    }
    return GenerationSummary(out, addresses, seed, stand_date, counts, files)

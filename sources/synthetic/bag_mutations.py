"""A synthetic LVBAG registry that changes day by day: its stand extract on any day, and the daily
mutatieleveringen (LVBAG 2.x ``bagMutaties`` deelbestanden) between those days.

The registry is simulated one day at a time; every change is registered at 09:00 on its day
(``tijdstipRegistratie`` is the day of ``beginGeldigheid``, as everywhere in
:mod:`sources.synthetic.bag_xml`). The stand with StandTechnischeDatum D holds what was registered
before D; the mutation file of day E (MutatiedatumVanaf E, MutatiedatumTot and
StandTechnischeDatum E + 1) holds the changes of day E in the order they were made. So
stand(D) plus the mutation files of D … D + n - 1 describe the same registry as stand(D + n).

Changes: new construction (toevoeging of a pand, nummeraanduiding and verblijfsobject), status
progress and withdrawals (wijziging: the open voorkomen gets its eindGeldigheid and
eindRegistratie; toevoeging of the next voorkomen), area and postcode changes, a construction
registered and started on the same day (a chain of mutations of one voorkomen within one file),
and a construction registered by mistake and removed (verwijdering of each of its voorkomens).
Streets, numbers and geometry are invented (gemeente 9901 by default, RD New coordinates).
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count
from pathlib import Path

from sources.synthetic import bag_xml, names
from sources.synthetic.bag_xml import BagExtractWriter, Voorkomen, zip_info

_NS = (
    'xmlns:mlm="http://www.kadaster.nl/schemas/lvbag/extract-deelbestand-mutaties-lvc/v20200601" '
    'xmlns:ml="http://www.kadaster.nl/schemas/mutatielevering-generiek/1.0" '
    'xmlns:selecties-extract="http://www.kadaster.nl/schemas/lvbag/extract-selecties/v20200601" '
    'xmlns:Objecten="www.kadaster.nl/schemas/lvbag/imbag/objecten/v20200601" '
    'xmlns:Objecten-ref="www.kadaster.nl/schemas/lvbag/imbag/objecten-ref/v20200601" '
    'xmlns:Historie="www.kadaster.nl/schemas/lvbag/imbag/historie/v20200601" '
    'xmlns:DatatypenNEN3610="www.kadaster.nl/schemas/lvbag/imbag/datatypennen3610/v20200601" '
    'xmlns:nen5825="www.kadaster.nl/schemas/lvbag/imbag/nen5825/v20200601" '
    'xmlns:KenmerkInOnderzoek="www.kadaster.nl/schemas/lvbag/imbag/kenmerkinonderzoek/v20200601" '
    'xmlns:gml="http://www.opengis.net/gml/3.2" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)

_MUTATIE_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<mlm:bagMutaties {ns}>
    <mlm:bagInfo>
        <selecties-extract:Gebied-Registratief>
            <selecties-extract:Gebied-GEM>
                <selecties-extract:GemeenteCollectie>
                    <selecties-extract:Gemeente>
                        <selecties-extract:GemeenteIdentificatie>{gem}</selecties-extract:GemeenteIdentificatie>
                    </selecties-extract:Gemeente>
                </selecties-extract:GemeenteCollectie>
            </selecties-extract:Gebied-GEM>
        </selecties-extract:Gebied-Registratief>
        <selecties-extract:MUT-Extract>
            <selecties-extract:StandTechnischeDatum>{tot}</selecties-extract:StandTechnischeDatum>
            <selecties-extract:Mutatieperiode>
                <selecties-extract:MutatiedatumVanaf>{vanaf}</selecties-extract:MutatiedatumVanaf>
                <selecties-extract:MutatiedatumTot>{tot}</selecties-extract:MutatiedatumTot>
            </selecties-extract:Mutatieperiode>
        </selecties-extract:MUT-Extract>
    </mlm:bagInfo>
    <ml:mutatieBericht>
        <ml:dataset>LVBAG</ml:dataset>
        <ml:inhoud>
            <ml:gebied>GEMEENTE</ml:gebied>
            <ml:leveringsId>{levering}</ml:leveringsId>
            <ml:objectTypen>{types}</ml:objectTypen>
        </ml:inhoud>
"""
_MUTATIE_TAIL = """    </ml:mutatieBericht>
</mlm:bagMutaties>
"""

_GML_ID = 'gml:id="'
MUTATION_OBJECT_TYPES = ("WPL", "OPR", "NUM", "VBO", "PND", "LIG", "STA")


@dataclass(frozen=True, slots=True)
class Mutatie:
    """One toevoeging, wijziging or verwijdering; ``was``/``wordt`` are object elements."""

    kind: str
    object_type: str
    was: str | None = None
    wordt: str | None = None
    model: str = "bagObject"  # or "kenmerkInOnderzoek"

    def xml(self, seq: int) -> str:
        """The record as the ``seq``-th of its file: ``gml:id`` values (xs:ID) must be unique in a
        document, and a voorkomen can occur several times in one, so they get a record prefix."""
        states = [("was", self.was), ("wordt", self.wordt)]
        inner = "".join(
            f"<ml:{name}><mlm:{self.model}>{obj.replace(_GML_ID, f'{_GML_ID}m{seq}-{name}-')}"
            f"</mlm:{self.model}></ml:{name}>"
            for name, obj in states
            if obj
        )
        return f"<ml:{self.kind}>{inner}</ml:{self.kind}>"


def mutation_xml(gemeentecode: str, vanaf: date, tot: date, groups: list[list[Mutatie]]) -> str:
    """A ``bagMutaties`` deelbestand: one ``mutatieGroep`` per group, records in order."""
    types = sorted({m.object_type for g in groups for m in g}, key=MUTATION_OBJECT_TYPES.index)
    head = _MUTATIE_HEAD.format(
        ns=_NS,
        gem=gemeentecode,
        vanaf=vanaf.isoformat(),
        tot=tot.isoformat(),
        levering=f"MUT{vanaf.strftime('%Y%m%d')}",
        types="".join(f"<ml:objectType>{t}</ml:objectType>" for t in types),
    )
    seq = count(1)
    body = "".join(
        "        <ml:mutatieGroep>" + "".join(m.xml(next(seq)) for m in g) + "</ml:mutatieGroep>\n"
        for g in groups
    )
    return head + body + _MUTATIE_TAIL


@dataclass
class _Version:
    number: int
    begin: date
    render: Callable[[Voorkomen], str]  # the stand fragment of this voorkomen
    end: date | None = None
    removed: date | None = None  # the day it was deleted from the registry (verwijdering)

    def known(self, day: date) -> bool:
        """Registered before ``day`` and not deleted before it."""
        return self.begin < day and (self.removed is None or self.removed >= day)

    def fragment(self, day: date) -> str:
        """As the registry knew it at the start of ``day``."""
        end = self.end if self.end is not None and self.end < day else None
        return self.render(Voorkomen(self.number, self.begin, end))

    def element(self) -> str:
        """The object element as it is now (for a mutation)."""
        return bag_xml.unwrap(self.render(Voorkomen(self.number, self.begin, self.end)))


@dataclass
class _Object:
    object_type: str
    ident: str
    attrs: dict
    versions: list[_Version] = field(default_factory=list)


def _square(x: float, y: float, size: float) -> list[tuple[float, float]]:
    return [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]


def _render(object_type: str, ident: str, a: dict) -> Callable[[Voorkomen], str]:
    a = dict(a)  # a snapshot: later changes make a new voorkomen
    if object_type == "WPL":
        return lambda v: bag_xml.woonplaats_xml(ident, a["naam"], [a["ring"]], v)
    if object_type == "OPR":
        return lambda v: bag_xml.openbare_ruimte_xml(ident, a["naam"], a["wpl"], v, a["status"])
    if object_type == "NUM":
        return lambda v: bag_xml.nummeraanduiding_xml(
            ident, a["huisnummer"], None, None, a["postcode"], a["soort"], a["status"], a["opr"], v
        )
    if object_type == "VBO":
        return lambda v: bag_xml.verblijfsobject_xml(
            ident, a["num"], [], a["x"], a["y"], [a["doel"]], a["oppervlakte"], a["status"], [a["pand"]], v
        )
    if object_type == "PND":
        return lambda v: bag_xml.pand_xml(ident, a["ring"], a["bouwjaar"], a["status"], v)
    kind = "Ligplaats" if object_type == "LIG" else "Standplaats"
    return lambda v: bag_xml.plaats_xml(kind, ident, a["num"], a["ring"], v)


class MutationSeries:
    """A small municipality's BAG registry, simulated from ``start`` one day at a time."""

    def __init__(
        self,
        start: date = date(2026, 11, 1),
        addresses: int = 40,
        seed: int = 1,
        gemeentecode: str = "9901",
        woonplaats_id: str = "9901",
        woonplaats_naam: str = names.WOONPLAATSNAAM,
        gemeentenaam: str = names.GEMEENTENAAM,
        origin: tuple[float, float] = (150_000.0, 400_000.0),
    ):
        self.rng = random.Random(seed)
        self.gemeentecode = gemeentecode
        self.gemeentenaam = gemeentenaam
        self.woonplaats_id = woonplaats_id
        self.start = start
        self.today = start
        self.origin = origin
        self.objects: list[_Object] = []
        self.by_type: dict[str, list[_Object]] = {t: [] for t in MUTATION_OBJECT_TYPES}
        self.groups: dict[date, list[list[Mutatie]]] = {}
        self._counters = dict.fromkeys(("VBO", "LIG", "STA", "PND", "NUM", "OPR"), 0)
        self._codes = {"VBO": "01", "LIG": "02", "STA": "03", "PND": "10", "NUM": "20", "OPR": "30"}
        self._plots = 0
        self._history(addresses, woonplaats_naam)

    # -- identifiers and geometry ------------------------------------------------------------

    def _id(self, object_type: str) -> str:
        self._counters[object_type] += 1
        return f"{self.gemeentecode}{self._codes[object_type]}{self._counters[object_type]:010d}"

    def _plot(self) -> tuple[float, float]:
        self._plots += 1
        row, col = divmod(self._plots, 40)
        return self.origin[0] + 25.0 * col, self.origin[1] + 25.0 * row

    # -- the registry ------------------------------------------------------------------------

    def _new(self, object_type: str, attrs: dict, begin: date, ident: str | None = None) -> _Object:
        obj = _Object(object_type, ident or self._id(object_type), attrs)
        obj.versions.append(_Version(1, begin, _render(object_type, obj.ident, attrs)))
        self.objects.append(obj)
        self.by_type[object_type].append(obj)
        return obj

    def _next_version(self, obj: _Object, day: date, **changes) -> list[Mutatie]:
        """End the open voorkomen on ``day`` and register the next one with ``changes``."""
        last = obj.versions[-1]
        was = last.element()
        last.end = day
        obj.attrs = {**obj.attrs, **changes}
        new = _Version(last.number + 1, day, _render(obj.object_type, obj.ident, obj.attrs))
        obj.versions.append(new)
        return [
            Mutatie("wijziging", obj.object_type, was=was, wordt=last.element()),
            Mutatie("toevoeging", obj.object_type, wordt=new.element()),
        ]

    def _history(self, addresses: int, woonplaats_naam: str) -> None:
        """The registry before ``start``: a woonplaats, streets, houses, a ligplaats, a standplaats."""
        rng = self.rng
        x0, y0 = self.origin
        self._new(
            "WPL",
            {"naam": woonplaats_naam, "ring": _square(x0 - 100, y0 - 100, 2_200)},
            date(2010, 1, 4),
            ident=self.woonplaats_id,
        )
        self.streets = [
            self._new(
                "OPR",
                {"naam": names.street_name(i), "wpl": self.woonplaats_id, "status": "Naamgeving uitgegeven"},
                date(2010, 1, 4) + timedelta(days=rng.randint(0, 400)),
            )
            for i in range(max(2, addresses // 15))
        ]
        self.numbers = dict.fromkeys((s.ident for s in self.streets), 0)
        for _ in range(addresses):
            begin = date(2011, 1, 3) + timedelta(days=rng.randint(0, 4_000))
            pand, _num, vbo = self._construction(begin, "Pand in gebruik", "Verblijfsobject in gebruik")
            if rng.random() < 0.3:  # an older change: a second voorkomen
                later = begin + timedelta(days=rng.randint(30, 900))
                if later < self.start:
                    self._next_version(vbo, later, oppervlakte=vbo.attrs["oppervlakte"] + 10)
        for _ in range(2):  # panden without an address (sheds): in no verblijfsobject
            x, y = self._plot()
            shed = {"ring": _square(x, y, 6), "bouwjaar": 1990, "status": "Pand in gebruik"}
            self._new("PND", shed, date(1991, 5, 6))
        for object_type in ("LIG", "STA"):
            begin = date(2015, 3, 2)
            num = self._address(begin, "Ligplaats" if object_type == "LIG" else "Standplaats")
            x, y = self._plot()
            self._new(object_type, {"num": num.ident, "ring": _square(x, y, 12)}, begin)

    def _address(self, begin: date, soort: str = "Verblijfsobject") -> _Object:
        street = self.rng.choice(self.streets)
        self.numbers[street.ident] += 1
        postcode = f"99{self.rng.randint(10, 99)}{self.rng.choice('ABCDEFGH')}{self.rng.choice('KLMNPR')}"
        attrs = {
            "huisnummer": self.numbers[street.ident],
            "postcode": postcode,
            "soort": soort,
            "status": "Naamgeving uitgegeven",
            "opr": street.ident,
        }
        return self._new("NUM", attrs, begin)

    def _construction(self, begin: date, pand_status: str, vbo_status: str) -> tuple[_Object, ...]:
        x, y = self._plot()
        pand = self._new(
            "PND",
            {"ring": _square(x, y, 15), "bouwjaar": begin.year, "status": pand_status},
            begin,
        )
        num = self._address(begin)
        vbo = self._new(
            "VBO",
            {
                "num": num.ident,
                "x": x + 7.5,
                "y": y + 7.5,
                "doel": self.rng.choice(["woonfunctie", "woonfunctie", "kantoorfunctie", "winkelfunctie"]),
                "oppervlakte": self.rng.randint(40, 250),
                "status": vbo_status,
                "pand": pand.ident,
            },
            begin,
        )
        return pand, num, vbo

    # -- daily changes -----------------------------------------------------------------------

    def advance(self, days: int) -> None:
        """Simulate ``days`` days of registry changes from :attr:`today`."""
        for _ in range(days):
            self.groups[self.today] = self._day(self.today)
            self.today += timedelta(days=1)

    def _day(self, day: date) -> list[list[Mutatie]]:
        rng = self.rng
        groups: list[list[Mutatie]] = []
        for _ in range(rng.randint(0, 2)):
            built = self._construction(day, "Bouwvergunning verleend", "Verblijfsobject gevormd")
            groups.append(
                [Mutatie("toevoeging", o.object_type, wordt=o.versions[0].element()) for o in built]
            )
            if rng.random() < 0.2:  # started the same day: the new voorkomen changes again
                groups.append(self._next_version(built[0], day, status="Bouw gestart"))
        for pand in list(self.by_type["PND"]):
            status = pand.attrs["status"]
            if status in ("Bouwvergunning verleend", "Bouw gestart") and rng.random() < 0.3:
                if pand.versions[-1].begin == day or pand.versions[-1].removed:
                    continue
                if status == "Bouwvergunning verleend":
                    groups.append(self._next_version(pand, day, status="Bouw gestart"))
                else:
                    group = self._next_version(pand, day, status="Pand in gebruik")
                    for vbo in self._vbos_in(pand):
                        group += self._next_version(vbo, day, status="Verblijfsobject in gebruik")
                    groups.append(group)
        in_use = [
            v
            for v in self.by_type["VBO"]
            if v.attrs["status"] == "Verblijfsobject in gebruik" and self._open(v, day)
        ]
        if in_use and rng.random() < 0.5:
            vbo = rng.choice(in_use)
            groups.append(
                self._next_version(vbo, day, oppervlakte=vbo.attrs["oppervlakte"] + rng.randint(1, 30))
            )
        nums = [n for n in self.by_type["NUM"] if self._open(n, day)]
        if rng.random() < 0.3:
            num = rng.choice(nums)
            groups.append(self._next_version(num, day, postcode=num.attrs["postcode"][:4] + "ZZ"))
        if in_use and rng.random() < 0.15:
            vbo = rng.choice(in_use)
            if self._open(vbo, day):
                groups.append(self._next_version(vbo, day, status="Verblijfsobject ingetrokken"))
        mistakes = [
            p
            for p in self.by_type["PND"]
            if p.attrs["status"] == "Bouwvergunning verleend"
            and len(p.versions) == 1
            and not p.versions[0].removed
        ]
        if mistakes and rng.random() < 0.15:
            groups.append(self._remove_construction(rng.choice(mistakes), day))
        return groups

    def _open(self, obj: _Object, day: date) -> bool:
        """Its last voorkomen is open, was not registered today, and it was not removed."""
        last = obj.versions[-1]
        return last.end is None and last.begin < day and last.removed is None

    def _vbos_in(self, pand: _Object) -> list[_Object]:
        return [
            v for v in self.by_type["VBO"] if v.attrs["pand"] == pand.ident and v.versions[-1].removed is None
        ]

    def _remove_construction(self, pand: _Object, day: date) -> list[Mutatie]:
        """A pand registered by mistake: it, its verblijfsobjecten and their addresses are deleted."""
        vbos = self._vbos_in(pand)
        nums = [n for n in self.by_type["NUM"] if n.ident in {v.attrs["num"] for v in vbos}]
        group = []
        for obj in [*vbos, *nums, pand]:
            for version in obj.versions:
                group.append(Mutatie("verwijdering", obj.object_type, was=version.element()))
                version.removed = day
        return group

    # -- files -------------------------------------------------------------------------------

    def write_stand(self, folder: Path, day: date) -> Path:
        """The stand extract with StandTechnischeDatum ``day`` (everything registered before it)."""
        path = folder / f"BAGGEM{self.gemeentecode}L-{day.strftime('%d%m%Y')}.zip"
        return write_stand(path, day, [self], self.gemeentecode, self.gemeentenaam)

    def add_to(self, writer: BagExtractWriter, day: date) -> None:
        """Write every voorkomen known on ``day`` to a stand extract."""
        if day > self.today:
            raise ValueError(f"the series is simulated up to {self.today}; advance() first")
        for obj in self.objects:
            for version in obj.versions:
                if version.known(day):
                    writer.add(obj.object_type, version.fragment(day))

    def mutation_xml(self, day: date) -> str:
        """The mutation deelbestand of ``day``: its changes in the order they were registered."""
        return mutation_xml(self.gemeentecode, day, day + timedelta(days=1), self.groups[day])

    def write_mutations(self, folder: Path, day: date) -> Path:
        """The mutatielevering of ``day`` as delivered: a zip holding a zip of deelbestanden."""
        folder.mkdir(parents=True, exist_ok=True)
        tot = day + timedelta(days=1)
        period = f"{day.strftime('%d%m%Y')}-{tot.strftime('%d%m%Y')}"
        path = folder / f"BAGGEM{self.gemeentecode}M-{period}.zip"
        inner = folder / f".9999MUT{period}.zip"
        with zipfile.ZipFile(inner, "w") as zf:
            zf.writestr(zip_info(f"{self.gemeentecode}MUT{period}-000001.xml", tot), self.mutation_xml(day))
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(zip_info(f"9999MUT{period}.zip", tot, zipfile.ZIP_STORED), inner.read_bytes())
        inner.unlink()
        return path


_GWR = """<?xml version="1.0" encoding="UTF-8"?>
<gwr-bestand:BAG-GWR-Deelbestand-LVC \
xmlns:gwr-bestand="www.kadaster.nl/schemas/lvbag/gem-wpl-rel/gwr-deelbestand-lvc/v20200601" \
xmlns:selecties-extract="http://www.kadaster.nl/schemas/lvbag/extract-selecties/v20200601" \
xmlns:bagtypes="www.kadaster.nl/schemas/lvbag/gem-wpl-rel/bag-types/v20200601" \
xmlns:gwr-product="www.kadaster.nl/schemas/lvbag/gem-wpl-rel/gwr-producten-lvc/v20200601">
  <gwr-bestand:SelectieGegevens>
    <selecties-extract:StandTechnischeDatum>{stand}</selecties-extract:StandTechnischeDatum>
  </gwr-bestand:SelectieGegevens>
  <gwr-bestand:Product>
    <gwr-product:GemeenteWoonplaatsRelatieProduct>{relaties}</gwr-product:GemeenteWoonplaatsRelatieProduct>
  </gwr-bestand:Product>
</gwr-bestand:BAG-GWR-Deelbestand-LVC>
"""


def gem_wpl_relatie_xml(day: date, relaties: list[tuple[str, str, date]]) -> str:
    """Kadaster's woonplaats–gemeente relation file for (woonplaats, gemeente, since) triples."""
    return _GWR.format(
        stand=day.isoformat(),
        relaties="".join(
            "<gwr-product:GemeenteWoonplaatsRelatie><gwr-product:tijdvakgeldigheid>"
            f"<bagtypes:begindatumTijdvakGeldigheid>{since.isoformat()}</bagtypes:begindatumTijdvakGeldigheid>"
            "</gwr-product:tijdvakgeldigheid><gwr-product:gerelateerdeWoonplaats>"
            f"<gwr-product:identificatie>{wpl}</gwr-product:identificatie></gwr-product:gerelateerdeWoonplaats>"
            f"<gwr-product:gerelateerdeGemeente><gwr-product:identificatie>{gem}</gwr-product:identificatie>"
            "</gwr-product:gerelateerdeGemeente><gwr-product:status>definitief</gwr-product:status>"
            "</gwr-product:GemeenteWoonplaatsRelatie>"
            for wpl, gem, since in relaties
        ),
    )


def write_stand(
    path: Path,
    day: date,
    series: list[MutationSeries],
    gemeentecode: str = "9999",
    gemeentenaam: str = "Nederland",
) -> Path:
    """A stand extract of one or more series (several: a national-layout extract) on ``day``,
    with its ``GEM-WPL-RELATIE`` file, packaged as Kadaster does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = path.parent / f".stage-{path.stem}"
    writer = BagExtractWriter(path, stage, gemeentecode, gemeentenaam, day)
    for s in series:
        s.add_to(writer, day)
    writer.close()
    stage.rmdir()
    stamp = day.strftime("%d%m%Y")
    relation = gem_wpl_relatie_xml(day, [(s.woonplaats_id, s.gemeentecode, date(2010, 1, 4)) for s in series])
    inner = path.parent / f".GEM-WPL-RELATIE-{stamp}.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr(zip_info(f"GEM-WPL-RELATIE-{stamp}-000001.xml", day), relation)
    with zipfile.ZipFile(path, "a") as outer:
        outer.writestr(zip_info(f"GEM-WPL-RELATIE-{stamp}.zip", day, zipfile.ZIP_STORED), inner.read_bytes())
    inner.unlink()
    return path

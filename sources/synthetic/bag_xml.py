"""Streaming writer for an LVBAG 2.x stand extract: a zip of zips of XML deelbestanden.

The layout, namespaces and element order follow Kadaster's extract (see the fixture
``BAGNLDL-15092020-small.zip``) and validate against the IMBAGLV 2.1.0 XSDs:

    BAGGEM9901L-01112026.zip
      Leveringsdocument-BAG-Extract.xml
      9999WPL01112026.zip -> 9901WPL01112026-000001.xml, -000002.xml, ...
      9999OPR01112026.zip, 9999NUM..., 9999VBO..., 9999PND..., 9999LIG..., 9999STA...

Objects are appended one at a time; a deelbestand is closed after ``max_objects`` objects and the
next one opened, so memory stays bounded whatever the size of the municipality.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

OBJECT_TYPES = ("WPL", "OPR", "NUM", "VBO", "PND", "LIG", "STA")

_NS = (
    'xmlns:DatatypenNEN3610="www.kadaster.nl/schemas/lvbag/imbag/datatypennen3610/v20200601" '
    'xmlns:Objecten="www.kadaster.nl/schemas/lvbag/imbag/objecten/v20200601" '
    'xmlns:gml="http://www.opengis.net/gml/3.2" '
    'xmlns:Historie="www.kadaster.nl/schemas/lvbag/imbag/historie/v20200601" '
    'xmlns:Objecten-ref="www.kadaster.nl/schemas/lvbag/imbag/objecten-ref/v20200601" '
    'xmlns:nen5825="www.kadaster.nl/schemas/lvbag/imbag/nen5825/v20200601" '
    'xmlns:KenmerkInOnderzoek="www.kadaster.nl/schemas/lvbag/imbag/kenmerkinonderzoek/v20200601" '
    'xmlns:selecties-extract="http://www.kadaster.nl/schemas/lvbag/extract-selecties/v20200601" '
    'xmlns:sl-bag-extract="http://www.kadaster.nl/schemas/lvbag/extract-deelbestand-lvc/v20200601" '
    'xmlns:sl="http://www.kadaster.nl/schemas/standlevering-generiek/1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xsi:schemaLocation="http://www.kadaster.nl/schemas/lvbag/extract-deelbestand-lvc/v20200601 '
    "http://www.kadaster.nl/schemas/bag-verstrekkingen/extract-deelbestand-lvc/v20200601/"
    'BagvsExtractDeelbestandExtractLvc-2.1.0.xsd"'
)

_DEELBESTAND_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sl-bag-extract:bagStand {ns}>
    <sl-bag-extract:bagInfo>
        <selecties-extract:Gebied-Registratief>
            <selecties-extract:Gebied-GEM>
                <selecties-extract:GemeenteCollectie>
                    <selecties-extract:Gemeente>
                        <selecties-extract:GemeenteIdentificatie>{gem}</selecties-extract:GemeenteIdentificatie>
                    </selecties-extract:Gemeente>
                </selecties-extract:GemeenteCollectie>
            </selecties-extract:Gebied-GEM>
        </selecties-extract:Gebied-Registratief>
        <selecties-extract:LVC-Extract>
            <selecties-extract:StandTechnischeDatum>{stand}</selecties-extract:StandTechnischeDatum>
        </selecties-extract:LVC-Extract>
    </sl-bag-extract:bagInfo>
    <sl:standBestand>
        <sl:dataset>LVBAG</sl:dataset>
        <sl:inhoud>
            <sl:gebied>GEMEENTE</sl:gebied>
            <sl:leveringsId>{levering}</sl:leveringsId>
            <sl:objectTypen>
                <sl:objectType>{type}</sl:objectType>
            </sl:objectTypen>
        </sl:inhoud>
"""
_DEELBESTAND_TAIL = """    </sl:standBestand>
</sl-bag-extract:bagStand>
"""

_LEVERINGSDOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<xb:BAG-Extract-Levering {ns}>
    <xb:SelectieGegevens>
        <selecties-extract:LVC-Extract>
            <selecties-extract:StandTechnischeDatum>{stand}</selecties-extract:StandTechnischeDatum>
        </selecties-extract:LVC-Extract>
        <selecties-extract:Gebied-Registratief>
            <selecties-extract:Gebied-GEM>
                <selecties-extract:GemeenteCollectie>
                    <selecties-extract:Gemeente>
                        <selecties-extract:GemeenteIdentificatie>{gem}</selecties-extract:GemeenteIdentificatie>
                        <selecties-extract:GemeenteNaam>{naam}</selecties-extract:GemeenteNaam>
                    </selecties-extract:Gemeente>
                </selecties-extract:GemeenteCollectie>
            </selecties-extract:Gebied-GEM>
        </selecties-extract:Gebied-Registratief>
    </xb:SelectieGegevens>
    <xb:SchemaInfo>
        <xb:naam>BagvsExtractDeelbestandExtractLvc-2.1.0.xsd</xb:naam>
        <xb:versie>20200601</xb:versie>
    </xb:SchemaInfo>
</xb:BAG-Extract-Levering>
"""

_SRS = 'srsName="urn:ogc:def:crs:EPSG::28992"'
_LEVERING_NS = (
    'xsi:schemaLocation="http://www.kadaster.nl/schemas/bag-verstrekkingen/extract-levering/v20200601 '
    "http://www.kadaster.nl/schemas/bag-verstrekkingen/extract-levering/v20200601/"
    'BagvsExtractLeveringsdocument-2.1.0.xsd" '
    'xmlns:xb="http://www.kadaster.nl/schemas/lvbag/extract-levering/v20200601" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:selecties-extract="http://www.kadaster.nl/schemas/lvbag/extract-selecties/v20200601"'
)


@dataclass(frozen=True, slots=True)
class Voorkomen:
    """One voorkomen (version) of an object; ``end`` None means it is still current."""

    number: int
    begin: date
    end: date | None = None

    def xml(self) -> str:
        begin = self.begin.isoformat()
        parts = [
            "<Objecten:voorkomen><Historie:Voorkomen>",
            f"<Historie:voorkomenidentificatie>{self.number}</Historie:voorkomenidentificatie>",
            f"<Historie:beginGeldigheid>{begin}</Historie:beginGeldigheid>",
        ]
        if self.end:
            parts.append(f"<Historie:eindGeldigheid>{self.end.isoformat()}</Historie:eindGeldigheid>")
        parts.append(f"<Historie:tijdstipRegistratie>{begin}T09:00:00.000</Historie:tijdstipRegistratie>")
        if self.end:
            parts.append(
                f"<Historie:eindRegistratie>{self.end.isoformat()}T09:00:00.000</Historie:eindRegistratie>"
            )
        parts.append(
            "<Historie:BeschikbaarLV>"
            f"<Historie:tijdstipRegistratieLV>{begin}T09:15:00.000</Historie:tijdstipRegistratieLV>"
        )
        if self.end:
            parts.append(
                f"<Historie:tijdstipEindRegistratieLV>{self.end.isoformat()}T09:15:00.000"
                "</Historie:tijdstipEindRegistratieLV>"
            )
        parts.append("</Historie:BeschikbaarLV></Historie:Voorkomen></Objecten:voorkomen>")
        return "".join(parts)


def _coords(ring: list[tuple[float, float]], dim3: bool) -> str:
    if dim3:
        return " ".join(f"{x:.3f} {y:.3f} 0.0" for x, y in ring)
    return " ".join(f"{x:.3f} {y:.3f}" for x, y in ring)


def polygon(gml_id: str, ring: list[tuple[float, float]], dim3: bool = True) -> str:
    dim = 3 if dim3 else 2
    return (
        f'<gml:Polygon {_SRS} srsDimension="{dim}" gml:id="{gml_id}"><gml:exterior><gml:LinearRing>'
        f'<gml:posList count="{len(ring)}">{_coords(ring, dim3)}</gml:posList>'
        "</gml:LinearRing></gml:exterior></gml:Polygon>"
    )


def _ref(kind: str, domein: str, value: str) -> str:
    return f'<Objecten-ref:{kind} domein="NL.IMBAG.{domein}">{value}</Objecten-ref:{kind}>'


def _common(status: str, v: Voorkomen, docnr: str) -> str:
    return (
        f"<Objecten:status>{status}</Objecten:status><Objecten:geconstateerd>N</Objecten:geconstateerd>"
        f"<Objecten:documentdatum>{v.begin.isoformat()}</Objecten:documentdatum>"
        f"<Objecten:documentnummer>{docnr}</Objecten:documentnummer>"
    )


_STAND_OPEN = "        <sl:stand><sl-bag-extract:bagObject>"
_STAND_CLOSE = "</sl-bag-extract:bagObject></sl:stand>\n"


def _wrap(inner: str) -> str:
    return f"{_STAND_OPEN}{inner}{_STAND_CLOSE}"


def unwrap(fragment: str) -> str:
    """The object element (``<Objecten:Pand>…``) of a stand fragment, e.g. for a mutation."""
    if not (fragment.startswith(_STAND_OPEN) and fragment.endswith(_STAND_CLOSE)):
        raise ValueError("not a stand fragment of this writer")
    return fragment[len(_STAND_OPEN) : -len(_STAND_CLOSE)]


def woonplaats_xml(wpl_id: str, naam: str, rings: list[list[tuple[float, float]]], v: Voorkomen) -> str:
    members = "".join(
        f"<gml:surfaceMember>{polygon(f'WPL_{wpl_id}_{v.number}_{i}', ring, dim3=False)}</gml:surfaceMember>"
        for i, ring in enumerate(rings, 1)
    )
    geom = (
        f'<Objecten:multivlak><gml:MultiSurface {_SRS} srsDimension="2" gml:id="WPL_{wpl_id}_{v.number}">'
        f"{members}</gml:MultiSurface></Objecten:multivlak>"
    )
    return _wrap(
        "<Objecten:Woonplaats>"
        f'<Objecten:identificatie domein="NL.IMBAG.Woonplaats">{wpl_id}</Objecten:identificatie>'
        f"<Objecten:naam>{naam}</Objecten:naam><Objecten:geometrie>{geom}</Objecten:geometrie>"
        f"{_common('Woonplaats aangewezen', v, f'WPL{v.begin.year}-{wpl_id}')}{v.xml()}"
        "</Objecten:Woonplaats>"
    )


def openbare_ruimte_xml(opr_id: str, naam: str, wpl_id: str, v: Voorkomen, status: str) -> str:
    return _wrap(
        "<Objecten:OpenbareRuimte>"
        f'<Objecten:identificatie domein="NL.IMBAG.Openbareruimte">{opr_id}</Objecten:identificatie>'
        f"<Objecten:naam>{naam}</Objecten:naam><Objecten:type>Weg</Objecten:type>"
        f"{_common(status, v, f'OPR{v.begin.year}-{opr_id[-6:]}')}"
        f"<Objecten:ligtIn>{_ref('WoonplaatsRef', 'Woonplaats', wpl_id)}</Objecten:ligtIn>{v.xml()}"
        "</Objecten:OpenbareRuimte>"
    )


def nummeraanduiding_xml(
    num_id: str,
    huisnummer: int,
    huisletter: str | None,
    toevoeging: str | None,
    postcode: str,
    object_type: str,
    status: str,
    opr_id: str,
    v: Voorkomen,
) -> str:
    letter = f"<Objecten:huisletter>{huisletter}</Objecten:huisletter>" if huisletter else ""
    toev = (
        f"<Objecten:huisnummertoevoeging>{toevoeging}</Objecten:huisnummertoevoeging>" if toevoeging else ""
    )
    return _wrap(
        "<Objecten:Nummeraanduiding>"
        f'<Objecten:identificatie domein="NL.IMBAG.Nummeraanduiding">{num_id}</Objecten:identificatie>'
        f"<Objecten:huisnummer>{huisnummer}</Objecten:huisnummer>{letter}{toev}"
        f"<Objecten:postcode>{postcode}</Objecten:postcode>"
        f"<Objecten:typeAdresseerbaarObject>{object_type}</Objecten:typeAdresseerbaarObject>"
        f"{_common(status, v, f'NUM{v.begin.year}-{num_id[-6:]}')}{v.xml()}"
        f"<Objecten:ligtAan>{_ref('OpenbareRuimteRef', 'Openbareruimte', opr_id)}</Objecten:ligtAan>"
        "</Objecten:Nummeraanduiding>"
    )


def _adressen(hoofdadres: str, v: Voorkomen, nevenadressen: list[str]) -> str:
    neven = ""
    if nevenadressen:
        refs = "".join(_ref("NummeraanduidingRef", "Nummeraanduiding", n) for n in nevenadressen)
        neven = f"<Objecten:heeftAlsNevenadres>{refs}</Objecten:heeftAlsNevenadres>"
    return (
        f"<Objecten:heeftAlsHoofdadres>{_ref('NummeraanduidingRef', 'Nummeraanduiding', hoofdadres)}"
        f"</Objecten:heeftAlsHoofdadres>{v.xml()}{neven}"
    )


def verblijfsobject_xml(
    vbo_id: str,
    hoofdadres: str,
    nevenadressen: list[str],
    x: float,
    y: float,
    gebruiksdoelen: list[str],
    oppervlakte: int,
    status: str,
    pand_ids: list[str],
    v: Voorkomen,
) -> str:
    doelen = "".join(f"<Objecten:gebruiksdoel>{d}</Objecten:gebruiksdoel>" for d in gebruiksdoelen)
    panden = "".join(_ref("PandRef", "Pand", p) for p in pand_ids)
    return _wrap(
        f"<Objecten:Verblijfsobject>{_adressen(hoofdadres, v, nevenadressen)}"
        f'<Objecten:identificatie domein="NL.IMBAG.Verblijfsobject">{vbo_id}</Objecten:identificatie>'
        f'<Objecten:geometrie><Objecten:punt><gml:Point {_SRS} srsDimension="3" '
        f'gml:id="VBO_{vbo_id}_{v.number}"><gml:pos>{x:.3f} {y:.3f} 0.0</gml:pos></gml:Point>'
        f"</Objecten:punt></Objecten:geometrie>{doelen}<Objecten:oppervlakte>{oppervlakte}</Objecten:oppervlakte>"
        f"{_common(status, v, f'VBO{v.begin.year}-{vbo_id[-6:]}')}"
        f"<Objecten:maaktDeelUitVan>{panden}</Objecten:maaktDeelUitVan></Objecten:Verblijfsobject>"
    )


def pand_xml(pand_id: str, ring: list[tuple[float, float]], bouwjaar: int, status: str, v: Voorkomen) -> str:
    return _wrap(
        "<Objecten:Pand>"
        f'<Objecten:identificatie domein="NL.IMBAG.Pand">{pand_id}</Objecten:identificatie>'
        f"<Objecten:geometrie>{polygon(f'PND_{pand_id}_{v.number}', ring)}</Objecten:geometrie>"
        f"<Objecten:oorspronkelijkBouwjaar>{bouwjaar}</Objecten:oorspronkelijkBouwjaar>"
        f"{_common(status, v, f'PND{v.begin.year}-{pand_id[-6:]}')}{v.xml()}</Objecten:Pand>"
    )


def plaats_xml(kind: str, obj_id: str, hoofdadres: str, ring: list[tuple[float, float]], v: Voorkomen) -> str:
    """A Ligplaats (``kind`` = "Ligplaats") or Standplaats."""
    prefix = "LIG" if kind == "Ligplaats" else "STA"
    return _wrap(
        f"<Objecten:{kind}>{_adressen(hoofdadres, v, [])}"
        f'<Objecten:identificatie domein="NL.IMBAG.{kind}">{obj_id}</Objecten:identificatie>'
        "<Objecten:status>Plaats aangewezen</Objecten:status>"
        f"<Objecten:geometrie>{polygon(f'{prefix}_{obj_id}_{v.number}', ring, dim3=False)}"
        "</Objecten:geometrie>"
        "<Objecten:geconstateerd>N</Objecten:geconstateerd>"
        f"<Objecten:documentdatum>{v.begin.isoformat()}</Objecten:documentdatum>"
        f"<Objecten:documentnummer>{prefix}{v.begin.year}-{obj_id[-6:]}</Objecten:documentnummer>"
        f"</Objecten:{kind}>"
    )


def zip_info(name: str, stamp: date, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A ZipInfo with a fixed timestamp so that the same input gives byte-identical archives."""
    info = zipfile.ZipInfo(name, date_time=(stamp.year, stamp.month, stamp.day, 6, 0, 0))
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


class _InnerZip:
    """One object type's inner zip, with the currently open deelbestand."""

    def __init__(self, path: Path, object_type: str, writer: BagExtractWriter):
        self.path = path
        self.type = object_type
        self.writer = writer
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=writer.compresslevel)
        self.stream = None
        self.in_file = 0
        self.files = 0
        self.objects = 0

    def add(self, fragment: str) -> None:
        if self.stream is None or self.in_file >= self.writer.max_objects:
            self._close_file()
            self.files += 1
            w = self.writer
            name = f"{w.gemeentecode}{self.type}{w.stamp}-{self.files:06d}.xml"
            self.stream = self.zip.open(zip_info(name, w.stand_date), "w", force_zip64=True)
            head = _DEELBESTAND_HEAD.format(
                ns=_NS,
                gem=w.gemeentecode,
                stand=w.stand_date.isoformat(),
                levering="0000000001",
                type=self.type,
            )
            self.stream.write(head.encode())
            self.in_file = 0
        self.stream.write(fragment.encode())
        self.in_file += 1
        self.objects += 1

    def _close_file(self) -> None:
        if self.stream is not None:
            self.stream.write(_DEELBESTAND_TAIL.encode())
            self.stream.close()
            self.stream = None

    def close(self) -> None:
        self._close_file()
        self.zip.close()


class BagExtractWriter:
    """Writes the outer extract zip at ``path``; inner zips are staged next to it in ``work_dir``."""

    def __init__(
        self,
        path: Path,
        work_dir: Path,
        gemeentecode: str,
        gemeentenaam: str,
        stand_date: date,
        max_objects: int = 10_000,
        compresslevel: int = 1,
    ):
        self.path = path
        self.work_dir = work_dir
        self.gemeentecode = gemeentecode
        self.gemeentenaam = gemeentenaam
        self.stand_date = stand_date
        self.stamp = stand_date.strftime("%d%m%Y")
        self.max_objects = max_objects
        self.compresslevel = compresslevel
        work_dir.mkdir(parents=True, exist_ok=True)
        self.inner = {t: _InnerZip(work_dir / f"9999{t}{self.stamp}.zip", t, self) for t in OBJECT_TYPES}

    def add(self, object_type: str, fragment: str) -> None:
        self.inner[object_type].add(fragment)

    def counts(self) -> dict[str, int]:
        return {t: z.objects for t, z in self.inner.items()}

    def close(self) -> None:
        for z in self.inner.values():
            z.close()
        with zipfile.ZipFile(self.path, "w") as outer:
            doc = _LEVERINGSDOCUMENT.format(
                ns=_LEVERING_NS,
                stand=self.stand_date.isoformat(),
                gem=self.gemeentecode,
                naam=self.gemeentenaam,
            )
            outer.writestr(zip_info("Leveringsdocument-BAG-Extract.xml", self.stand_date), doc)
            for z in self.inner.values():
                info = zip_info(z.path.name, self.stand_date, zipfile.ZIP_STORED)
                with z.path.open("rb") as src, outer.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                z.path.unlink()

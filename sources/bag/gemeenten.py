"""Keep only chosen gemeenten of a national LVBAG extract, by the woonplaats–gemeente relation.

The BAG registers woonplaatsen, not gemeenten. Every extract carries Kadaster's
``GEM-WPL-RELATIE-<date>.zip`` (``GemeenteWoonplaatsRelatie``: woonplaats, gemeente, tijdvak
geldigheid, status). :func:`woonplaatsen` takes the woonplaatsen of the chosen gemeenten whose
relation is valid on the load's date (begin <= date < end; definitief and voorlopig alike), and
:func:`keep_gemeenten` removes every other object, with all its voorkomens, from the history
tables before the current selection:

* woonplaatsen: the chosen ones; openbare ruimten that lie in one (``ligtIn``, any voorkomen);
* nummeraanduidingen whose own woonplaats (``ligtIn``) is chosen, or, without one, whose
  openbare ruimte is kept;
* verblijfsobjecten, ligplaatsen, standplaatsen whose hoofdadres is kept;
* panden that a kept verblijfsobject is part of, or whose point on surface lies in a chosen
  woonplaats (panden without an address: sheds, garages);
* ``in_onderzoek`` rows of kept objects.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
from lxml import etree

from sources.errors import SourceError

RELATIE_PREFIX = "GEM-WPL-RELATIE"


@dataclass(frozen=True, slots=True)
class Relatie:
    woonplaats_id: str
    gemeente: str
    begin: dt.date | None
    end: dt.date | None
    status: str


def _relatie_xml(source: Path) -> tuple[str, bytes]:
    """(name, XML bytes) of the GEM-WPL-RELATIE deelbestand of the delivery at ``source``."""
    candidates = sorted(source.iterdir()) if source.is_dir() else [source]
    for path in candidates:
        upper = path.name.upper()
        if upper.startswith(RELATIE_PREFIX) and upper.endswith(".XML"):
            return path.name, path.read_bytes()
        if upper.endswith(".ZIP"):
            found = _from_zip(path.name, path)
            if found:
                return found
    raise SourceError(
        str(source), f"no {RELATIE_PREFIX} file in the delivery: cannot select gemeenten from it"
    )


def _from_zip(name: str, source) -> tuple[str, bytes] | None:
    try:
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                base = Path(info.filename).name
                if not base.upper().startswith(RELATIE_PREFIX):
                    continue
                data = zf.read(info)
                if base.upper().endswith(".XML"):
                    return f"{name}/{info.filename}", data
                if base.upper().endswith(".ZIP"):
                    return _from_zip(f"{name}/{info.filename}", io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(name, f"not a readable zip file: {exc}") from exc
    return None


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text.strip()) if text and text.strip() else None


def read_relatie(source: Path) -> list[Relatie]:
    """Every woonplaats–gemeente relation in the delivery at ``source`` (file or folder)."""
    name, data = _relatie_xml(Path(source))
    out: list[Relatie] = []
    try:
        for _, el in etree.iterparse(io.BytesIO(data), tag="{*}GemeenteWoonplaatsRelatie"):
            wpl = el.findtext("{*}gerelateerdeWoonplaats/{*}identificatie")
            gem = el.findtext("{*}gerelateerdeGemeente/{*}identificatie")
            if not (wpl and gem):
                raise SourceError(name, "a GemeenteWoonplaatsRelatie without woonplaats or gemeente")
            try:
                begin = _date(el.findtext(".//{*}begindatumTijdvakGeldigheid"))
                end = _date(el.findtext(".//{*}einddatumTijdvakGeldigheid"))
            except ValueError as exc:
                raise SourceError(
                    name, f"a tijdvakgeldigheid that is not a date: {exc}", f"woonplaats {wpl}"
                ) from exc
            out.append(
                Relatie(wpl.strip(), gem.strip(), begin, end, (el.findtext("{*}status") or "").strip())
            )
            el.clear()
    except etree.XMLSyntaxError as exc:
        raise SourceError(name, f"malformed XML: {exc}") from exc
    return out


def woonplaatsen(relaties: list[Relatie], gemeenten: list[str], as_of: dt.date) -> list[str]:
    """The woonplaatsen of ``gemeenten`` on ``as_of``; a gemeente without any is an error."""
    chosen: dict[str, list[str]] = {g: [] for g in gemeenten}
    for r in relaties:
        if (
            r.gemeente in chosen
            and (r.begin is None or r.begin <= as_of)
            and (r.end is None or as_of < r.end)
            and r.woonplaats_id not in chosen[r.gemeente]
        ):
            chosen[r.gemeente].append(r.woonplaats_id)
    empty = [g for g, w in chosen.items() if not w]
    if empty:
        raise SourceError(
            RELATIE_PREFIX,
            f"gemeente {', '.join(empty)} has no woonplaats in the woonplaats–gemeente relation on {as_of}",
        )
    return sorted({w for ws in chosen.values() for w in ws})


def selected_woonplaatsen(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """The woonplaatsen the loaded stand was selected on (None: the whole delivery was loaded)."""
    try:
        rows = con.execute("SELECT woonplaats_id FROM bag.selectie ORDER BY 1").fetchall()
    except duckdb.CatalogException:
        return None
    return [r[0] for r in rows]


def keep_gemeenten(
    con: duckdb.DuckDBPyConnection, woonplaats_ids: list[str], gemeenten: list[str] | None = None
) -> dict[str, int]:
    """Remove every object outside ``woonplaats_ids`` from the history tables (see module doc).

    With ``gemeenten`` (at a stand load) the selection is recorded in ``bag.selectie``, so that
    mutations applied later keep to it. Returns the voorkomens removed per history table."""
    if gemeenten is not None:
        con.execute("CREATE OR REPLACE TABLE bag.selectie (gemeenten VARCHAR, woonplaats_id VARCHAR)")
        con.executemany(
            "INSERT INTO bag.selectie VALUES (?, ?)", [(",".join(gemeenten), w) for w in woonplaats_ids]
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _keep_wpl AS SELECT unnest(?::VARCHAR[]) AS id", [woonplaats_ids]
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _keep_opr AS SELECT DISTINCT openbare_ruimte_id AS id "
        "FROM bag.history_openbare_ruimte WHERE woonplaats_id IN (SELECT id FROM _keep_wpl)"
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _keep_num AS SELECT DISTINCT nummeraanduiding_id AS id
        FROM bag.history_nummeraanduiding
        WHERE woonplaats_id IN (SELECT id FROM _keep_wpl)
           OR (woonplaats_id IS NULL AND openbare_ruimte_id IN (SELECT id FROM _keep_opr))"""
    )
    for table, ident in (
        ("verblijfsobject", "verblijfsobject_id"),
        ("ligplaats", "ligplaats_id"),
        ("standplaats", "standplaats_id"),
    ):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _keep_{table} AS SELECT DISTINCT {ident} AS id "
            f"FROM bag.history_{table} WHERE hoofdadres_id IN (SELECT id FROM _keep_num)"
        )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _keep_pand AS
        SELECT DISTINCT unnest(pand_ids) AS id FROM bag.history_verblijfsobject
        WHERE verblijfsobject_id IN (SELECT id FROM _keep_verblijfsobject)
        UNION
        SELECT p.pand_id FROM bag.history_pand p
        JOIN (SELECT geometry FROM bag.history_woonplaats WHERE woonplaats_id IN (SELECT id FROM _keep_wpl)) w
          ON ST_Intersects(w.geometry, ST_PointOnSurface(p.geometry))"""
    )
    removed = {}
    keep = {
        "woonplaats": ("woonplaats_id", "_keep_wpl"),
        "openbare_ruimte": ("openbare_ruimte_id", "_keep_opr"),
        "nummeraanduiding": ("nummeraanduiding_id", "_keep_num"),
        "verblijfsobject": ("verblijfsobject_id", "_keep_verblijfsobject"),
        "ligplaats": ("ligplaats_id", "_keep_ligplaats"),
        "standplaats": ("standplaats_id", "_keep_standplaats"),
        "pand": ("pand_id", "_keep_pand"),
    }
    for table, (ident, kept) in keep.items():
        removed[f"history_{table}"] = con.execute(
            f"DELETE FROM bag.history_{table} "
            f"WHERE {ident} NOT IN (SELECT id FROM {kept} WHERE id IS NOT NULL)"
        ).fetchone()[0]
    removed["in_onderzoek"] = con.execute(
        """DELETE FROM bag.in_onderzoek WHERE object_id NOT IN (SELECT id FROM (
            SELECT id FROM _keep_wpl UNION ALL SELECT id FROM _keep_opr UNION ALL SELECT id FROM _keep_num
            UNION ALL SELECT id FROM _keep_verblijfsobject UNION ALL SELECT id FROM _keep_ligplaats
            UNION ALL SELECT id FROM _keep_standplaats UNION ALL SELECT id FROM _keep_pand)
        WHERE id IS NOT NULL)"""
    ).fetchone()[0]
    for kept in {k for _, k in keep.values()}:
        con.execute(f"DROP TABLE {kept}")
    return removed

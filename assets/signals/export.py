"""Export the flags a purpose may see from the published release to CSV, GeoJSON or GeoPackage.

One row per flag occurrence with ``flag, nummeraanduiding_id, verblijfsobject_id, pand_id,
openbare_ruimte_id`` (empty where not applicable), ``evidence`` (JSON text), ``x``, ``y`` and
``reference_date``. Only the flags listed under the purpose in ``privacy/register.yaml`` are
written; aggregated-only, unapproved and expired purposes are refused. Every export, and every
refusal, is appended to the processing log with the objects exported.

Geometry: GeoJSON and GeoPackage get a point per row in RD New (EPSG:28992, the CRS is written in
the file), never converted to WGS84; rows without a point (an address that is not in BAG) have an
empty geometry. The file is written next to ``out`` and renamed into place, so a failed export
never leaves a partial file.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pipelines.warehouse import Warehouse, connect, current_release
from privacy.log import LogEntry, ProcessingLog
from privacy.register import Purpose, load_register

FORMATS = ("csv", "geojson", "gpkg")
COLUMNS = (
    "flag",
    "nummeraanduiding_id",
    "verblijfsobject_id",
    "pand_id",
    "openbare_ruimte_id",
    "evidence",
    "x",
    "y",
    "reference_date",
)


class ExportRefused(Exception):
    """The register does not allow this export; the message says why."""


def _check(purpose: Purpose | None, key: str, today: dt.date) -> Purpose:
    if purpose is None:
        raise ExportRefused(f"purpose {key!r} is not in the processing register")
    if reason := purpose.refusal(today):
        raise ExportRefused(reason)
    if purpose.aggregated_only:
        raise ExportRefused(f"purpose {key!r} is aggregated-only: it may not export flags per address")
    if not purpose.flags:
        raise ExportRefused(f"purpose {key!r} lists no flags")
    return purpose


def export_flags(
    warehouse: Warehouse,
    purpose: str,
    fmt: str,
    out: Path,
    *,
    user: str,
    register_path: str | Path | None = None,
) -> int:
    """Write the flags ``purpose`` may see to ``out`` in ``fmt``; the number of rows written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    register = load_register(register_path)
    log = ProcessingLog(warehouse)
    try:
        p = _check(register.get(purpose), purpose, dt.date.today())
    except ExportRefused as exc:
        log.append(
            LogEntry.under(
                register,
                register.get(purpose),
                "refusal",
                user,
                role="cli",
                inputs={"signals.flags": list(COLUMNS)},
                outcome="geweigerd",
                reason=str(exc),
                details={"export": fmt},
            )
        )
        raise
    con = connect(current_release(warehouse), read_only=True)
    try:
        marks = ", ".join("?" for _ in p.flags)
        frame = con.execute(
            f"""SELECT flag, nummeraanduiding_id, verblijfsobject_id, pand_id, openbare_ruimte_id,
                       CAST(evidence AS VARCHAR) AS evidence, x, y, reference_date
                FROM signals.flags WHERE flag IN ({marks})
                ORDER BY flag, nummeraanduiding_id, pand_id, openbare_ruimte_id""",
            list(p.flags),
        ).df()
    finally:
        con.close()

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")  # the suffix tells GDAL the format
    tmp.unlink(missing_ok=True)
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            import geopandas as gpd
            from shapely.geometry import Point

            geometry = [
                Point(x, y) if x == x and y == y else None  # NaN: no point (address not in BAG)
                for x, y in zip(frame["x"], frame["y"], strict=True)
            ]
            frame["reference_date"] = frame["reference_date"].astype(str)
            gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:28992")
            if fmt == "geojson":
                gdf.to_file(tmp, driver="GeoJSON", layer="flags")
            else:
                gdf.to_file(tmp, driver="GPKG", layer="flags")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)

    log.append(
        LogEntry.under(
            register,
            p,
            "export",
            user,
            role="cli",
            objects=[
                {"soortObjectId": "BAG nummeraanduiding", "objectId": n, "betrokkenheid": "geëxporteerd"}
                for n in sorted({n for n in frame["nummeraanduiding_id"] if isinstance(n, str)})
            ],
            inputs={"signals.flags": list(COLUMNS)},
            output=out.name,
            row_counts={"flags": len(frame)},
            details={"export": fmt, "flags": list(p.flags)},
        )
    )
    return len(frame)

"""The SVG map's geometry and escaping, and the anomaly rules on hand-made processing-log entries."""

from __future__ import annotations

import datetime as dt
import re

from privacy.log import LogEntry
from web.anomalies import Case, Inspection, find_anomalies
from web.svgmap import MapBuilding, MapPoint, render_map

SQUARE = "POLYGON ((155000 463000, 155010 463000, 155010 463010, 155000 463010, 155000 463000))"
NORTH = "POLYGON ((155000 463050, 155010 463050, 155010 463060, 155000 463060, 155000 463050))"


def test_map_is_north_up_and_escapes_labels():
    svg = str(
        render_map(
            [MapBuilding("A", SQUARE, True, "<b>pand</b>"), MapBuilding("B", NORTH)],
            [MapPoint(155005, 463005, "punt & co")],
        )
    )
    paths = re.findall(r'<path class="([^"]+)"[^>]* d="M([\d.]+),([\d.]+)', svg)
    y = {cls: float(y0) for cls, _, y0 in paths}
    assert y["pand"] < y["pand pand-focus"]  # the northern building is drawn higher up
    assert "&lt;b&gt;pand&lt;/b&gt;" in svg and "<b>" not in svg and "punt &amp; co" in svg
    assert re.search(r"<text[^>]*>\d+ m</text>", svg)  # scale bar
    assert str(render_map([MapBuilding("C", "not wkt")])) == ""


def test_background_template_is_filled_with_the_rd_bbox():
    svg = str(
        render_map(
            [MapBuilding("A", SQUARE, True)],
            background_template="https://x/wms?BBOX={minx},{miny},{maxx},{maxy}&W={width}",
        )
    )
    minx, miny, maxx, maxy = map(float, re.search(r"BBOX=([\d.]+),([\d.]+),([\d.]+),([\d.]+)", svg).groups())
    assert minx < 155000 < 155010 < maxx and miny < 463000 < 463010 < maxy


def entry(
    action: str, user: str, case: str, when: dt.datetime, value: str = "1234AB|9||", **details
) -> LogEntry:
    d = {"case_number": case, **details}
    if action == "hit":
        d |= {"target_kind": "address", "target_value": value}
    return LogEntry(
        action=action,
        gebruiker=user,
        bewaartermijn="P1Y",
        uitvoerder="0" * 20,
        tijdstip=when.isoformat(),
        details=d,
        objects=[{"soortObjectId": "BAG nummeraanduiding", "objectId": "9999200000000090"}],
    )


def test_anomaly_rules():
    now = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    cases = {
        "BIB-1": Case("BIB-1", frozenset({"anna"}), (Inspection("1234AB|9||", dt.date(2026, 11, 25)),)),
        "BIB-2": Case("BIB-2", frozenset({"bert"})),
    }
    anna = entry("hit", "anna", "BIB-1", now - dt.timedelta(days=2))
    bert = entry("hit", "bert", "BIB-2", now)
    bert_detail = entry("detail", "bert", "BIB-2", now, request_id=bert.actie_id)
    carl = entry("hit", "carl", "BIB-2", now, value="1234AB|3||")  # another address, not on BIB-2
    old = entry("hit", "dirk", "X-9", now - dt.timedelta(days=60))  # long before: outside the window
    found = find_anomalies([old, anna, bert, bert_detail, carl], cases, window_days=14)
    rules = {(a.rule, a.access.user, a.access.action) for a in found}
    assert ("voor_inspectie", "bert", "hit") in rules and ("voor_inspectie", "bert", "detail") in rules
    assert ("andere_zaak", "bert", "hit") in rules
    assert ("geen_lid", "carl", "hit") in rules
    assert not any(a.access.user in ("anna", "dirk") for a in found)  # on the case; too long ago
    assert found[0].severity == "hoog"
    assert "9999200000000090" in found[0].access.shown and "1234AB" not in found[0].access.shown

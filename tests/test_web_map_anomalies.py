"""The map component's data (reprojection, escaping) and the anomaly rules on hand-made log entries."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from privacy.log import LogEntry
from privacy.lookup import FlagView
from web.anomalies import Case, Inspection, find_anomalies
from web.kaart import from_views, map_data


def test_map_flags_are_reprojected_for_display_and_safe_in_a_script_element():
    # The RD New origin of Amersfoort (155000, 463000) is 52.1551744 N, 5.3872062 E.
    flags = from_views([FlagView("overcrowding", x=155000.0, y=463000.0, pand_id="0363100012345678")])
    assert flags[0]["lon"] == pytest.approx(5.3872062, abs=1e-5)
    assert flags[0]["lat"] == pytest.approx(52.1551744, abs=1e-5)
    assert flags[0]["titel"] == "Mogelijke overbewoning" and flags[0]["pand_id"] == "0363100012345678"
    assert from_views([FlagView("address_not_in_bag")])[0]["lon"] is None  # no point, no marker
    text = str(map_data([{"titel": "</script><b>"}], [5.0, 52.0, 5.1, 52.1]))
    assert "</script>" not in text and json.loads(text)["signalen"][0]["titel"] == "</script><b>"


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

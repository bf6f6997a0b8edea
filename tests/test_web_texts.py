"""What officers read: the evidence of each flag as one Dutch sentence with its numbers."""

from __future__ import annotations

import pytest

from web.lookups import _caution, _dutch_description, _summary, evidence_view

EVIDENCE = {
    "many_companies_in_building": (
        {"establishments": 13, "min_establishments": 10, "vestigingsnummers": ["000300000001"]},
        "In dit pand zijn 13 actieve vestigingen ingeschreven; het signaal geldt vanaf 10.",
    ),
    "identical_businesses_in_street": (
        {
            "sector": "9602",
            "omschrijving": "kappers (barbers and hairdressers)",
            "establishments": 5,
            "min_establishments": 5,
        },
        "In deze straat zitten 5 vestigingen in dezelfde branche (kappers, SBI 9602); "
        "het signaal geldt vanaf 5.",
    ),
    "identical_businesses_nearby": (
        {
            "sector": "9609",
            "omschrijving": "nagelstudio's",
            "establishments": 6,
            "min_establishments": 5,
            "radius_m": 100.0,
        },
        "Binnen 100 meter zitten 6 vestigingen in dezelfde branche (nagelstudio's, SBI 9609); "
        "het signaal geldt vanaf 5.",
    ),
    "overcrowding": (
        {"adults": 6, "oppervlakte_m2": 45, "m2_per_adult": 7.5, "min_adults": 4, "max_m2_per_adult": 12.0},
        "Op dit adres staan 6 volwassenen ingeschreven op 45 m², dat is 7,50 m² per volwassene. "
        "Het signaal geldt vanaf 4 volwassenen met minder dan 12 m² per persoon.",
    ),
    "residents_at_non_residential": (
        {"persons": 1, "gebruiksdoelen": ["industriefunctie"], "min_persons": 1},
        "Er staan 1 personen ingeschreven op een object zonder woonfunctie (gebruiksdoel: industriefunctie).",
    ),
    "company_churn": (
        {
            "events": 7,
            "registrations": 4,
            "deregistrations": 3,
            "min_events": 6,
            "window_start": "2024-11-01",
            "window_end": "2026-11-01",
        },
        "Van 2024-11-01 tot en met 2026-11-01 waren er op dit adres 4 inschrijvingen en 3 "
        "uitschrijvingen van vestigingen (7 in totaal); het signaal geldt vanaf 6.",
    ),
    "address_not_in_bag": (
        {
            "reason": "withdrawn",
            "bag_status": "Naamgeving ingetrokken",
            "kvk_vestigingsnummers": ["1", "2"],
            "brp_persons": 0,
        },
        "Dit adres is ingetrokken in de BAG (Naamgeving ingetrokken), maar 2 KvK-vestigingen "
        "en 0 ingeschreven personen gebruiken het nog.",
    ),
    "many_companies_at_address": (
        {
            "establishments": 11,
            "min_establishments": 8,
            "vestigingen": [],
            "gebruiksdoelen": ["kantoorfunctie"],
        },
        "Op dit adres zijn 11 actieve vestigingen ingeschreven; het signaal geldt vanaf 8.",
    ),
    "enforcement_history": (
        {
            "zaken": [{"instrument": "opiumwet_13b"}],
            "window_years": 5,
            "residents": 3,
            "family_elsewhere": [{"persoon_id": "P0", "relatie": "kind"}],
        },
        "In de afgelopen 5 jaar 1 handhavingszaak op dit adres of pand (Opiumwet art. 13b). "
        "Er wonen 3 personen; 1 familielid woont elders in de gemeente.",
    ),
}


@pytest.mark.parametrize("flag", sorted(EVIDENCE))
def test_each_flag_reads_as_a_dutch_sentence_with_its_numbers(flag):
    evidence, sentence = EVIDENCE[flag]
    assert _summary(flag, evidence) == sentence


def test_evidence_of_issue_12():
    """Churn as turnover, the business-centre view of a pand, enforcement at relatives' addresses."""
    churn = {
        "registrations": 5,
        "deregistrations": 4,
        "short_lived": 3,
        "min_ended": 4,
        "min_short_lived": 3,
        "window_months": 24,
        "window_start": "2024-11-01",
        "window_end": "2026-11-01",
    }
    assert _summary("company_churn", churn) == (
        "Van 2024-11-01 tot en met 2026-11-01 begonnen op dit adres 5 vestigingen en eindigden er 4, van wie "
        "3 binnen die periode begonnen én eindigden. Het signaal geldt vanaf 4 beëindigde of 3 kortstondige "
        "vestigingen."
    )
    pand = {
        "establishments": 12,
        "min_establishments": 10,
        "verblijfsobjecten_in_pand": 14,
        "gebruiksdoelen_in_pand": [{"gebruiksdoel": "kantoorfunctie", "verblijfsobjecten": 14}],
    }
    assert _summary("many_companies_in_building", pand).endswith(
        "Het pand heeft 14 verblijfsobjecten (14 × kantoorfunctie)."
    )
    family = {
        "via": "family",
        "window_years": 5,
        "family": [
            {
                "relatie": "kind",
                "case_nummeraanduiding_id": "0363200000000001",
                "zaak_ids": ["Z-1"],
                "instruments": ["opiumwet_13b"],
            }
        ],
    }
    assert _summary("enforcement_history", family) == (
        "Op 1 adres van familieleden van bewoners liep in de afgelopen 5 jaar handhaving (Opiumwet art. 13b)."
    )


def test_evidence_of_another_shape_gives_no_sentence_rather_than_a_wrong_one():
    assert _summary("many_companies_in_building", {"vestigingen": 12}) == ""


def test_english_in_deliveries_is_not_shown():
    assert _dutch_description("kappers (barbers and hairdressers)") == "kappers"
    assert _caution("caution, contact Team Wijkzaken") == "Let op: neem contact op met Team Wijkzaken"
    facts, _ = evidence_view({"omschrijving": "kappers (barbers and hairdressers)"})
    assert facts == [("Omschrijving branche", "kappers")]


def test_ids_are_named_and_listed_with_their_names():
    names = {"000300000001": "Fictief B.V., Kerkstraat 3, 1234 AB Voorbeeldstad"}
    _, tables = evidence_view({"vestigingsnummers": ["000300000001", "000300000002"]}, names)
    assert tables == [
        (
            "Vestigingsnummers (2)",
            ["Vestigingsnummer", "Handelsnaam en adres"],
            [["000300000001", names["000300000001"]], ["000300000002", "niet gevonden"]],
        )
    ]

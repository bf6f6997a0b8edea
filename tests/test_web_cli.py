"""`knooppunt lookup`, `serve` and `accounts`, on a Typer app that mounts them like the main CLI."""

from __future__ import annotations

import secrets

import pytest
import typer
from test_web_warehouse import build_warehouse
from typer.testing import CliRunner

from privacy.log import ProcessingLog
from web.accounts import AccountStore
from web.cli import register

PASSWORD = secrets.token_urlsafe(16)
runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    build_warehouse(root)
    AccountStore(root).add("bibob", "bibob_officer", PASSWORD, "Bea")
    AccountStore(root).add("balie", "frontline", PASSWORD, "Bas")
    return root


def lookup(app, root, *args: str, user: str = "bibob", password: str = PASSWORD):
    return runner.invoke(
        app,
        ["lookup", "--warehouse", str(root), "--user", user, *args],
        input=password + "\n",
        catch_exceptions=False,
    )


def answer(result) -> str:
    """The answer line: the first line on stdout (the password prompt goes to stderr, so scripts
    can read the first word). Click's test runner echoes the hidden input's blank to stdout,
    which getpass writes to the terminal in real use: blank lines are skipped."""
    assert "Wachtwoord" not in result.stdout
    return next(line for line in result.stdout.splitlines() if line.strip())


def test_lookup_hit_then_details_in_the_terminal_is_logged_like_the_web(app, root):
    r = lookup(
        app,
        root,
        "--postcode",
        "1234AB",
        "--huisnummer",
        "3",
        "--purpose",
        "bibob_screening",
        "--case",
        "BIB-2026-0042",
    )
    assert r.exit_code == 0, r.output
    assert answer(r) == "TREFFER  Kerkstraat 3, 1234 AB Voorbeeldstad" and "--details" in r.output
    assert "Veel bedrijven" not in r.output
    hit = list(ProcessingLog(root).entries())[-1]
    assert (hit.action, hit.gebruiker, hit.role) == ("hit", "bibob", "bibob_officer")
    assert hit.details["case_number"] == "BIB-2026-0042" and hit.details["target_value"] == "1234AB|3||"
    r = lookup(
        app,
        root,
        "--postcode",
        "1234AB",
        "--huisnummer",
        "3",
        "--purpose",
        "bibob_screening",
        "--case",
        "BIB-2026-0042",
        "--details",
    )
    assert "Veel bedrijven in één pand" in r.output and "Actieve vestigingen: 12" in r.output
    assert "In dit pand zijn 12 actieve vestigingen ingeschreven; het signaal geldt vanaf 10." in r.output
    assert "Pand: Kerkstraat 3, 1234 AB Voorbeeldstad" in r.output
    assert "000000000000 | Fictieve Holding 0, Kerkstraat 3, 1234 AB Voorbeeldstad" in r.output
    assert "herkomst: Bronnen: Handelsregister (KvK). Stand van de gegevens: 01-10-2026." in r.output
    assert "(technisch: tabel signals.many_companies_in_building" in r.output
    assert [e.action for e in ProcessingLog(root).entries()][-2:] == ["hit", "detail"]


def test_no_hit_and_other_kinds(app, root):
    r = lookup(
        app,
        root,
        "--postcode",
        "1234 ab",
        "--huisnummer",
        "1",
        "--purpose",
        "bibob_screening",
        "--case",
        "Z-1",
    )
    assert r.exit_code == 0 and answer(r).startswith("GEEN TREFFER  Kerkstraat 1, 1234 AB")
    r = lookup(app, root, "--kvk", "90000001", "--purpose", "bibob_screening", "--case", "Z-1")
    assert r.exit_code == 0 and answer(r).startswith("TREFFER ")


@pytest.mark.parametrize(
    ("target", "suggestion"),
    [
        (["--postcode", "1234AB", "--huisnummer", "40"], "bedoelt u: Kerkstraat 12, 1234 AB Voorbeeldstad"),
        (["--postcode", "1234AC", "--huisnummer", "3"], "bedoelt u: Kerkstraat 3, 1234 AB Voorbeeldstad"),
        (["--street", "Kerkstrat"], "bedoelt u: Kerkstraat"),
        (["--street", "kerkstrat 3"], "bedoelt u: Kerkstraat 3, 1234 AB Voorbeeldstad"),
        (["--street", "Kerkstraat 30"], "bedoelt u: Kerkstraat 12, 1234 AB Voorbeeldstad"),
        (["--kvk", "90000021"], "bedoelt u: KvK-nummer 90000001"),
        (["--vestiging", "000000000099"], "bedoelt u: vestigingsnummer 000000000009"),
        (["--pand", "9999100000000099"], "bedoelt u: pand 9999100000000009"),
    ],
)
def test_unknown_is_not_a_no_hit(app, root, target, suggestion):
    """Not in the BAG or KvK: ONBEKEND with near matches and exit status 3, logged as unknown."""
    r = lookup(app, root, *target, "--purpose", "bibob_screening", "--case", "Z-1")
    assert r.exit_code == 3, r.output
    assert answer(r).startswith("ONBEKEND ") and "GEEN TREFFER" not in r.output
    assert "Onbekend: komt niet voor in de BAG (of KvK)" in r.output and suggestion in r.output
    entry = list(ProcessingLog(root).entries())[-1]
    assert entry.action == "hit" and entry.details["outcome"] == "onbekend"


def test_street_and_number_typed_in_the_street_box(app, root):
    r = lookup(app, root, "--street", "kerkstraat 3", "--purpose", "bibob_screening", "--case", "Z-1")
    assert r.exit_code == 0 and answer(r) == "TREFFER  Kerkstraat 3, 1234 AB Voorbeeldstad"
    r = lookup(app, root, "--street", "Kerkstraat 5b", "--purpose", "bibob_screening", "--case", "Z-1")
    assert r.exit_code == 0 and answer(r).startswith("GEEN TREFFER  Kerkstraat 5B, 1234 AB")


def test_frontline_gets_only_the_caution(app, root):
    r = lookup(
        app,
        root,
        "--postcode",
        "1234AB",
        "--huisnummer",
        "7",
        "--purpose",
        "veiligheid_medewerkers",
        "--case",
        "VPD-1",
        "--details",
        user="balie",
    )
    assert "Let op: neem contact op met Team Handhaving Centrum" in r.output
    assert "Volwassenen" not in r.output and "herkomst" not in r.output


def test_refusals_and_bad_input(app, root):
    r = lookup(app, root, "--postcode", "1234AB", "--huisnummer", "3", "--case", "Z-1")
    assert r.exit_code == 1 and "Kies een doel" in r.output
    assert list(ProcessingLog(root).entries())[-1].action == "refusal"
    r = lookup(
        app, root, "--postcode", "12345", "--huisnummer", "3", "--purpose", "bibob_screening", "--case", "Z"
    )
    assert r.exit_code == 2 and "De postcode is ongeldig" in r.output
    r = lookup(app, root, "--purpose", "bibob_screening", "--case", "Z-1")
    assert r.exit_code == 2 and "precies één zoekvraag" in r.output
    r = lookup(
        app,
        root,
        "--kvk",
        "90000001",
        "--purpose",
        "bibob_screening",
        "--case",
        "Z-1",
        password=secrets.token_urlsafe(8),
    )
    assert r.exit_code == 2 and "wachtwoord onjuist" in r.output
    r = lookup(
        app, root, "--kvk", "90000001", "--purpose", "bibob_screening", "--case", "Z-1", user="niemand"
    )
    assert r.exit_code == 2 and "onbekend of geblokkeerd account" in r.output
    assert "Traceback" not in r.output


def test_accounts_commands(app, tmp_path):
    w = ["--warehouse", str(tmp_path)]
    r = runner.invoke(app, ["accounts", "demo", *w])  # the first accounts need no sign-in
    assert r.exit_code == 0 and "bibob" in r.output and "Privacy officer" in r.output
    passwords = {line.split()[0]: line.split()[-1] for line in r.output.splitlines() if line.startswith("  ")}
    assert AccountStore(tmp_path).authenticate("privacy", passwords["privacy"]) is not None
    admin = runner.invoke  # the accounts are an administrator's from now on
    add = ["accounts", "add", "nieuw", "--role", "analyst", *w]
    assert admin(app, add, input="\n").exit_code == 2  # not signed in
    as_bibob = admin(app, [*add, "--user", "bibob"], env={"KNOOPPUNT_PASSWORD": passwords["bibob"]})
    assert as_bibob.exit_code == 1 and "Beheerder" in as_bibob.output
    beheer = {"env": {"KNOOPPUNT_PASSWORD": passwords["beheer"]}}
    r = admin(app, [*add, "--user", "beheer"], **beheer)
    assert r.exit_code == 0 and "wachtwoord" in r.output
    assert AccountStore(tmp_path).get("nieuw").must_change_password  # a one-time password
    r = admin(app, ["accounts", "add", "fout", "--role", "koning", *w, "--user", "beheer"], **beheer)
    assert r.exit_code == 2 and "Onbekende rol" in r.output
    r = admin(app, ["accounts", "list", *w, "--user", "beheer"], **beheer)
    assert "nieuw" in r.output and "$argon2" not in r.output
    assert admin(app, ["accounts", "list", *w], input="\n").exit_code == 2


def test_a_scheduled_job_signs_in_with_a_private_token_file(app, tmp_path):
    store = AccountStore(tmp_path)
    store.add("beheer", "admin", PASSWORD)
    store.add("job", "bibob_officer", PASSWORD)
    token_file = tmp_path / "job.token"
    env = {"env": {"KNOOPPUNT_PASSWORD": PASSWORD}}
    r = runner.invoke(
        app,
        [
            "accounts",
            "token",
            "job",
            "--out",
            str(token_file),
            "--warehouse",
            str(tmp_path),
            "--user",
            "beheer",
        ],
        **env,
    )
    assert r.exit_code == 0, r.output
    assert token_file.stat().st_mode & 0o777 == 0o600
    cases = ["cases", "list", "--warehouse", str(tmp_path), "--token-file", str(token_file)]
    assert runner.invoke(app, cases).exit_code == 0
    token_file.chmod(0o644)
    r = runner.invoke(app, cases)
    assert r.exit_code == 2 and "leesbaar voor anderen" in r.output
    token_file.chmod(0o600)
    store.set_active("job", False)
    assert runner.invoke(app, cases).exit_code == 2  # a blocked account's token no longer works


def test_serve_refuses_to_start_without_any_way_to_sign_in(app, tmp_path, monkeypatch):
    monkeypatch.setenv("KNOOPPUNT_ENV", "production")
    monkeypatch.setenv("KNOOPPUNT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("KNOOPPUNT_WAREHOUSE", str(tmp_path))
    r = runner.invoke(app, ["serve", "--warehouse", str(tmp_path)])
    assert r.exit_code == 2 and "KNOOPPUNT_TRUSTED_HOSTS" in r.output
    monkeypatch.setenv("KNOOPPUNT_TRUSTED_HOSTS", "knooppunt.gemeente.example")
    r = runner.invoke(app, ["serve", "--warehouse", str(tmp_path)])
    assert r.exit_code == 2 and "geen accounts" in r.output
    assert not AccountStore(tmp_path).exists()  # production never gets demo accounts


def test_cases_commands_feed_the_anomaly_report(app, tmp_path):
    from web.anomalies import CaseRegistry

    AccountStore(tmp_path).add("bibob", "bibob_officer", PASSWORD)
    AccountStore(tmp_path).add("ana", "analyst", PASSWORD)

    r = runner.invoke(
        app,
        [
            "cases",
            "add",
            "BIB-2026-0100",
            "--member",
            "bibob",
            "--member",
            "analist",
            "--inspection-address",
            "1234ab|9",
            "--inspection-date",
            "2026-12-03",
            "--warehouse",
            str(tmp_path),
            "--user",
            "bibob",
        ],
        env={"KNOOPPUNT_PASSWORD": PASSWORD},
    )
    assert r.exit_code == 0, r.output
    case = CaseRegistry(tmp_path).load()["BIB-2026-0100"]
    assert case.members == {"bibob", "analist"} and case.inspections[0].address == "1234AB|9||"
    r = runner.invoke(
        app,
        [
            "cases",
            "add",
            "BIB-1",
            "--inspection-address",
            "12345|9",
            "--inspection-date",
            "2026-12-03",
            "--warehouse",
            str(tmp_path),
            "--user",
            "bibob",
        ],
        env={"KNOOPPUNT_PASSWORD": PASSWORD},
    )
    assert r.exit_code == 2 and "De postcode is ongeldig" in r.output
    listed = runner.invoke(
        app,
        ["cases", "list", "--warehouse", str(tmp_path), "--user", "bibob"],
        env={"KNOOPPUNT_PASSWORD": PASSWORD},
    )
    assert "BIB-2026-0100" in listed.output
    refused = runner.invoke(
        app,
        ["cases", "list", "--warehouse", str(tmp_path), "--user", "ana"],
        env={"KNOOPPUNT_PASSWORD": PASSWORD},
    )
    assert refused.exit_code == 1 and "BIB-2026-0100" not in refused.output


@pytest.mark.parametrize(
    "kind", [["--street", "Fictieve Dwarsstraat"], ["--pand", "0363100000000001"], ["--kvk", "90000001"]]
)
def test_frontline_may_search_only_by_address_on_the_command_line_too(app, root, kind):
    r = lookup(app, root, *kind, "--purpose", "veiligheid_medewerkers", "--case", "VPD-2", user="balie")
    assert r.exit_code == 1 and "alleen op adres" in r.output
    last = list(ProcessingLog(root).entries())[-1]
    assert (last.action, last.gebruiker, last.role) == ("refusal", "balie", "frontline")
    assert "may not search by" in last.reason


def test_lookup_needs_a_sign_in(app, root):
    r = runner.invoke(
        app,
        [
            "lookup",
            "--warehouse",
            str(root),
            "--kvk",
            "90000001",
            "--purpose",
            "bibob_screening",
            "--case",
            "Z-1",
        ],
        input="\n",
    )
    assert r.exit_code == 2 and "--user" in r.output

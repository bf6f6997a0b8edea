"""Unattended nightly operation (issue 8, items 1-4): a run publishes complete, plausible data or
changes nothing. Generated municipalities (a few hundred addresses) and the real LVBAG fixture.

Pipeline runs are slow on a shared machine, so one good warehouse (tonight's delivery, loaded from
scratch) is built once and copied for every scenario.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from pipelines.deliveries import Delivery, DeliveryFile, Loaded, decide
from pipelines.generation import GenerationError, create, discard, finish, pending
from pipelines.plausibility import Metrics, compare, load_thresholds, measure
from pipelines.runner import Outcome, run_pipeline
from pipelines.warehouse import Warehouse, current_release
from sources.bag.delivery import check_extract
from sources.errors import SourceError
from sources.synthetic import generate

FIXTURE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "bag" / "BAGNLDL-15092020-small.zip"
)
ADDRESSES = 250
SEED = 11
LAST_MONTH = dt.date(2026, 10, 1)
TONIGHT = dt.date(2026, 11, 1)
NEXT_MONTH = dt.date(2026, 12, 1)
KNOOPPUNT = str(Path(sys.executable).parent / "knooppunt")


def fingerprint(root: Path) -> dict[str, str]:
    """sha256 of every table file, the identity store and every release file (the processing log
    is append-only by design and not part of the promise)."""
    files = [root / "knooppunt.duckdb", root / "identity.duckdb", *sorted((root / "releases").iterdir())]
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()
    }


def release_flags(root: Path) -> dict[str, int]:
    con = duckdb.connect(str(current_release(Warehouse(root))), read_only=True)
    try:
        return dict(con.execute("SELECT flag, count(*) FROM signals.flags GROUP BY flag").fetchall())
    finally:
        con.close()


def counts(path: Path, tables: list[str]) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        con.close()


TABLES = ["bag.nummeraanduiding", "bag.history_verblijfsobject", "bag.pand", "brp.persoon", "kvk.vestiging"]


def age(folder: Path, seconds: int = 3600) -> None:
    """Make the files look delivered an hour ago (the landing folder ignores files still settling)."""
    past = dt.datetime.now().timestamp() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    base = tmp_path_factory.mktemp("deliveries")
    generate(base / "tonight", ADDRESSES, SEED, stand_date=TONIGHT)
    generate(base / "last_month", ADDRESSES, SEED, stand_date=LAST_MONTH)
    generate(base / "next_month", ADDRESSES, SEED, stand_date=NEXT_MONTH)
    return base


@pytest.fixture(scope="module")
def good(deliveries, tmp_path_factory):
    """A good warehouse: tonight's deliveries loaded from scratch (also the reference result)."""
    root = tmp_path_factory.mktemp("good") / "warehouse"
    outcome = run_pipeline(deliveries / "tonight", root)
    assert outcome.success, outcome.failures
    return root


@pytest.fixture
def warehouse(good, tmp_path):
    root = tmp_path / "warehouse"
    shutil.copytree(good, root)
    return root


def copy_data(deliveries: Path, tmp_path: Path, name: str = "tonight") -> Path:
    data = tmp_path / "data"
    shutil.copytree(deliveries / name, data)
    return data


# -- item 2: complete deliveries only ---------------------------------------------------------


def test_the_real_extract_is_complete_and_names_its_stand_date():
    check = check_extract(FIXTURE)
    assert check.stand_technische_datum == "2020-09-15"
    assert check.gemeenten == ("0221",)


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.98, 0.999])
def test_a_cut_extract_is_refused_before_loading(tmp_path, fraction):
    data = FIXTURE.read_bytes()
    cut = tmp_path / FIXTURE.name
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(SourceError) as err:
        check_extract(cut)
    assert FIXTURE.name in str(err.value)


def data_start(data: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header (whose extra field may differ)."""
    at = info.header_offset
    return (
        at
        + 30
        + int.from_bytes(data[at + 26 : at + 28], "little")
        + int.from_bytes(data[at + 28 : at + 30], "little")
    )


def test_a_cut_right_after_an_inner_zip_is_refused_although_it_opens_as_that_zip(tmp_path):
    data = FIXTURE.read_bytes()
    with zipfile.ZipFile(FIXTURE) as zf:
        inner = next(i for i in zf.infolist() if i.filename.startswith("9999WPL"))
    start = data_start(data, inner)
    cut = tmp_path / FIXTURE.name
    cut.write_bytes(data[: start + inner.compress_size])
    zipfile.ZipFile(cut).close()  # Python opens it: it ends in the inner zip's directory
    with pytest.raises(SourceError, match="does not belong"):
        check_extract(cut)


def test_a_damaged_member_fails_its_crc(tmp_path):
    data = bytearray(FIXTURE.read_bytes())
    with zipfile.ZipFile(FIXTURE) as zf:
        inner = next(i for i in zf.infolist() if i.filename.startswith("9999OPR"))
    data[data_start(data, inner) + 100] ^= 0xFF
    damaged = tmp_path / FIXTURE.name
    damaged.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="CRC"):
        check_extract(damaged)


def test_a_sidecar_checksum_is_verified(tmp_path):
    copy = tmp_path / FIXTURE.name
    shutil.copyfile(FIXTURE, copy)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    (tmp_path / f"{FIXTURE.name}.sha256").write_text(f"{digest}  {FIXTURE.name}\n")
    assert check_extract(copy).checksum == "sha256"
    (tmp_path / f"{FIXTURE.name}.sha256").write_text("0" * 64 + "\n")
    with pytest.raises(SourceError, match="sha256 does not match"):
        check_extract(copy)


def test_a_single_object_zip_is_not_an_extract_and_the_nightly_run_refuses_it(tmp_path):
    with zipfile.ZipFile(FIXTURE) as zf:
        (tmp_path / "bag").mkdir()
        (tmp_path / "bag" / "9999VBO15092020.zip").write_bytes(zf.read("9999VBO15092020.zip"))
    with pytest.raises(SourceError, match="missing for WPL"):
        check_extract(tmp_path / "bag" / "9999VBO15092020.zip")
    # The nightly run's choice: a partial delivery is refused even when it is the newest.
    previous = Loaded(dt.date(2020, 9, 1), ("x",), "run-1", "old.zip")
    decision = decide("bag", tmp_path / "bag", previous)
    assert decision.action == "refuse" and "--partial" in decision.reason


def test_ingest_of_a_partial_extract_needs_the_operators_partial_flag(tmp_path):
    with zipfile.ZipFile(FIXTURE) as zf:
        (tmp_path / "9999VBO15092020.zip").write_bytes(zf.read("9999VBO15092020.zip"))
    cmd = [KNOOPPUNT, "ingest", "bag", str(tmp_path / "9999VBO15092020.zip")]
    cmd += ["--warehouse", str(tmp_path / "wh")]
    refused = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 1 and "--partial" in refused.stderr
    assert not (tmp_path / "wh" / "knooppunt.duckdb").exists()
    loaded = subprocess.run([*cmd, "--partial"], capture_output=True, text=True, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    con = duckdb.connect(str(tmp_path / "wh" / "knooppunt.duckdb"), read_only=True)
    assert con.execute("SELECT note FROM meta.delivery").fetchall() == [("knooppunt ingest --partial",)]


# -- item 1: delivery lifecycle (the choice, without a pipeline) -------------------------------


def test_newest_is_chosen_unchanged_is_skipped_older_is_refused_unless_forced(deliveries, tmp_path):
    bag = tmp_path / "bag"
    bag.mkdir()
    for name in ("last_month", "tonight"):
        for zip_ in (deliveries / name / "bag").glob("*.zip"):
            shutil.copy(zip_, bag)
    decision = decide("bag", bag, None)
    assert decision.action == "load" and decision.delivery.stand_date == TONIGHT
    assert [f.name for f in decision.files] == ["BAGGEM9901L-01112026.zip"]
    assert len(decision.processed) == 2  # last month's is archived too: superseded
    loaded = Loaded(TONIGHT, decision.delivery.fingerprint, "run-1", "BAGGEM9901L-01112026.zip")
    assert decide("bag", bag, loaded).action == "skip"
    (bag / "BAGGEM9901L-01112026.zip").unlink()
    older = decide("bag", bag, loaded)
    assert older.action == "refuse" and "older than the loaded delivery" in older.reason
    forced = decide("bag", bag, loaded, force=True)
    assert forced.action == "load" and forced.note.startswith("forced:")
    (bag / "BAGGEM9901L-01102026.zip").unlink()
    assert decide("bag", bag, loaded).action == "skip"  # no new delivery: tables stay


def test_files_share_a_delivery_by_the_date_in_their_name_and_fresh_files_wait(tmp_path):
    brp = tmp_path / "brp"
    brp.mkdir()
    for name in ("personen-20261001.csv", "personen-20261101.csv", "personen-20261101.json"):
        (brp / name).write_text(name)
    age(brp)
    decision = decide("brp", brp, None)
    assert sorted(p.name for p in decision.files) == ["personen-20261101.csv", "personen-20261101.json"]
    (brp / "personen-20261201.csv").write_text("still being copied")
    waiting = decide("brp", brp, None, settle_seconds=120)
    assert waiting.delivery.stand_date == TONIGHT and "still being written" in waiting.reason
    assert decide("brp", brp, None).delivery.stand_date == dt.date(2026, 12, 1)
    # A date-like number in one file's name (a KvK number) does not split a delivery.
    kvk = tmp_path / "kvk"
    kvk.mkdir()
    for name in ("vestigingen.csv", "basisprofiel-20150312.json"):
        (kvk / name).write_text(name)
    assert len(decide("kvk", kvk, None).files) == 2


# -- item 4: thresholds ------------------------------------------------------------------------


def test_default_thresholds_block_what_the_issue_names():
    t = load_thresholds()
    before = Metrics(
        rows={"bag.nummeraanduiding": 10_000, "brp.persoon": 10_000}, flags={"address_not_in_bag": 4}
    )
    ok = Metrics(rows={"bag.nummeraanduiding": 9_801, "brp.persoon": 9_501}, flags={"address_not_in_bag": 11})
    assert compare(before, ok, t) == []
    bad = Metrics(
        rows={"bag.nummeraanduiding": 9_799, "brp.persoon": 9_499}, flags={"address_not_in_bag": 1_900}
    )
    assert {(f.check, f.subject) for f in compare(before, bad, t)} == {
        ("rows", "bag.nummeraanduiding"),
        ("rows", "brp.persoon"),
        ("flags", "address_not_in_bag"),
    }


def test_rows_are_counted_in_views_but_not_in_the_resolved_duplicates():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA bag")
    con.execute("CREATE TABLE bag.history_pand AS SELECT i AS pand_id FROM range(5) r(i)")
    con.execute("CREATE VIEW bag.pand AS SELECT * FROM bag.history_pand WHERE pand_id < 3")
    con.execute("CREATE TABLE bag.resolved_pand AS SELECT 1 AS pand_id")
    assert measure(con).rows == {"bag.history_pand": 5, "bag.pand": 3}


def test_thresholds_can_be_overridden(tmp_path, monkeypatch):
    override = tmp_path / "p.yaml"
    override.write_text("flag_factor: 10\nrow_drop:\n  brp.persoon: 0.5\n")
    monkeypatch.setenv("KNOOPPUNT_PLAUSIBILITY", str(override))
    t = load_thresholds()
    assert t.flag_factor == 10 and t.drop_for("brp.persoon") == 0.5 and t.drop_for("bag.adres") == 0.02


# -- items 1-4 through the real job ------------------------------------------------------------


def test_a_run_on_a_cut_extract_exits_non_zero_and_changes_nothing(deliveries, warehouse, tmp_path):
    data = copy_data(deliveries, tmp_path)
    extract = next((data / "bag").glob("*.zip"))
    whole = extract.read_bytes()
    before = fingerprint(warehouse)
    for fraction in (0.05, 0.3, 0.55, 0.8, 0.97):
        extract.write_bytes(whole[: int(len(whole) * fraction)])
        outcome = run_pipeline(data, warehouse)
        assert not outcome.success
        assert any("bag" in f and "zip" in f for f in outcome.failures), outcome.failures
        assert fingerprint(warehouse) == before, fraction
        assert pending(warehouse) == []
    cli = subprocess.run(
        [KNOOPPUNT, "run", "--data", str(data), "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert cli.returncode == 1
    assert "unchanged" in cli.stdout
    assert fingerprint(warehouse) == before


@pytest.mark.parametrize("source", ["brp", "kvk", "enforcement"])
def test_a_run_that_fails_on_one_source_changes_nothing(deliveries, warehouse, tmp_path, source):
    # Next month's BAG (loaded into the generation first) and a broken delivery of one source.
    data = copy_data(deliveries, tmp_path)
    shutil.rmtree(data / "bag")
    shutil.copytree(deliveries / "next_month" / "bag", data / "bag")
    broken = {
        "brp": data / "brp" / "personen-haalcentraal.json",
        "kvk": sorted((data / "kvk").glob("*.json"))[0],  # a KvK API response
        "enforcement": data / "handhaving" / "zaken.csv",
    }[source]
    content = broken.read_bytes()
    broken.write_bytes(content[: len(content) // 2] if broken.suffix == ".json" else b"\xff\xfe not a csv")
    before = fingerprint(warehouse)

    outcome = run_pipeline(data, warehouse)

    assert not outcome.success
    assert any(broken.name in f for f in outcome.failures), outcome.failures
    assert "bag_tables" not in " ".join(outcome.failures)  # BAG itself loaded fine, in the generation
    assert fingerprint(warehouse) == before
    assert pending(warehouse) == []


def test_last_months_and_tonights_extract_give_exactly_tonights_result(deliveries, good, tmp_path):
    landing = copy_data(deliveries, tmp_path)
    shutil.copy(next((deliveries / "last_month" / "bag").glob("*.zip")), landing / "bag")
    age(landing)
    root = tmp_path / "warehouse"

    outcome = run_pipeline(landing, root, landing=True)

    assert outcome.success, outcome.failures
    assert counts(Warehouse(root).path, [*TABLES, "rejects.bag"]) == counts(
        Warehouse(good).path, [*TABLES, "rejects.bag"]
    )
    assert release_flags(root) == release_flags(good)
    con = duckdb.connect(str(Warehouse(root).path), read_only=True)
    loaded = con.execute("SELECT file, stand_date FROM meta.delivery WHERE source = 'bag'").fetchall()
    assert loaded == [("BAGGEM9901L-01112026.zip", TONIGHT)]
    con.close()
    # The landing folder's processed deliveries moved to the archive, both extracts included.
    assert not list((landing / "bag").iterdir())
    archived = {p.name for p in (landing / "archive" / outcome.run_id / "bag").iterdir()}
    assert archived == {"BAGGEM9901L-01112026.zip", "BAGGEM9901L-01102026.zip"}
    assert pending(root) == []

    # Tonight again, nothing new in the landing folder: every source is skipped, flags recomputed.
    again = run_pipeline(landing, root, landing=True)
    assert again.success, again.failures
    assert release_flags(root) == release_flags(good)


def test_an_older_extract_is_refused_and_changes_nothing_unless_forced(deliveries, warehouse, tmp_path):
    data = copy_data(deliveries, tmp_path, "last_month")
    before = fingerprint(warehouse)
    outcome = run_pipeline(data, warehouse)
    assert not outcome.success
    assert any("older than the loaded delivery" in f and "--force" in f for f in outcome.failures)
    assert fingerprint(warehouse) == before
    assert (data / "bag" / "BAGGEM9901L-01102026.zip").exists()  # --data is left as it is

    forced = run_pipeline(data, warehouse, force=True)

    assert forced.success, forced.failures
    con = duckdb.connect(str(Warehouse(warehouse).path), read_only=True)
    assert con.execute("SELECT stand_technische_datum FROM bag.levering").fetchone()[0] == LAST_MONTH
    notes = con.execute(
        "SELECT note FROM meta.delivery WHERE run_id = ? AND source = 'bag'", [forced.run_id]
    ).fetchall()
    con.close()
    assert notes == [
        (
            "forced: BAGGEM9901L-01102026.zip (2026-10-01) is older than the loaded delivery "
            "BAGGEM9901L-01112026.zip (2026-11-01)",
        )
    ]


def add_opium_cases(data: Path, warehouse: Path, n: int) -> None:
    """n new Opiumwet 13b closures at existing addresses: a real jump of enforcement_history."""
    con = duckdb.connect(str(current_release(Warehouse(warehouse))), read_only=True)
    ids = [
        r[0]
        for r in con.execute(f"SELECT nummeraanduiding_id FROM bag.adres ORDER BY 1 LIMIT {n}").fetchall()
    ]
    con.close()
    with open(data / "handhaving" / "zaken.csv", "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for i, num in enumerate(ids):
            writer.writerow(
                [f"Z-JUMP-{i:04d}", "opiumwet_13b", "2026-09-01", "", "lopend", "Team X", num, "", ""]
            )


def test_a_run_whose_flags_jump_is_blocked_until_approved(deliveries, warehouse, tmp_path):
    data = copy_data(deliveries, tmp_path)
    add_opium_cases(data, warehouse, 60)
    before = fingerprint(warehouse)
    flags_before = release_flags(warehouse)

    outcome = run_pipeline(data, warehouse)

    assert not outcome.success and outcome.blocked, outcome.failures
    assert any("enforcement_history" in b for b in outcome.blocked)
    assert fingerprint(warehouse) == before
    assert pending(warehouse) == [outcome.run_id]  # kept for inspection

    # A copy of the blocked generation, to show discard as well.
    twin = warehouse / "generations" / "twin"
    shutil.copytree(warehouse / "generations" / outcome.run_id, twin)

    def cli(*args):
        return subprocess.run(
            [KNOOPPUNT, "release", *args, "--warehouse", str(warehouse)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    assert outcome.run_id in cli("list").stdout
    assert cli("discard", "twin", "--operator", "A. de Vries").returncode == 0
    assert fingerprint(warehouse) == before and pending(warehouse) == [outcome.run_id]
    assert cli("approve", outcome.run_id, "--operator", "A. de Vries", "--reason", "").returncode == 2

    approved = cli(
        "approve", outcome.run_id, "--operator", "A. de Vries", "--reason", "Actie Zwalm: 60 sluitingen"
    )
    assert approved.returncode == 0, approved.stderr
    flags_after = release_flags(warehouse)
    assert flags_after["enforcement_history"] >= flags_before["enforcement_history"] + 50
    assert pending(warehouse) == []
    con = duckdb.connect(str(Warehouse(warehouse).path), read_only=True)
    row = con.execute("SELECT run_id, operator, reason, findings FROM meta.approval").fetchone()
    con.close()
    assert row[:3] == (outcome.run_id, "A. de Vries", "Actie Zwalm: 60 sluitingen")
    assert "enforcement_history" in row[3]
    decisions = (warehouse / "generations" / "decisions.jsonl").read_text()
    assert '"decision": "discarded"' in decisions and '"decision": "approved"' in decisions


# -- item 3: the generation itself --------------------------------------------------------------


def test_a_generation_is_a_copy_and_is_not_promoted_over_a_warehouse_that_changed(tmp_path):
    root = tmp_path / "warehouse"
    with Warehouse(root).transaction() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS v")
    generation = create(root, "run-1")
    with generation.transaction() as con:
        con.execute("INSERT INTO t VALUES (2)")
    assert counts(Warehouse(root).path, ["t"]) == {"t": 1}  # the warehouse itself is untouched
    with Warehouse(root).transaction() as con:  # e.g. `knooppunt ingest` while the run was going on
        con.execute("INSERT INTO t VALUES (3)")
    with pytest.raises(GenerationError, match="changed after run run-1"):
        finish(generation)
    assert counts(Warehouse(root).path, ["t"]) == {"t": 2}
    assert not (root / "releases").exists()  # nothing published
    discard(generation)
    second = create(root, "run-2")
    with second.transaction() as con:
        con.execute("INSERT INTO t VALUES (4)")
    release, problems = finish(second)
    assert problems == []
    assert counts(Warehouse(root).path, ["t"]) == {"t": 3} and counts(release, ["t"]) == {"t": 3}
    assert pending(root) == [] and current_release(Warehouse(root)) == release


def test_a_delivery_of_many_files_is_named_in_one_short_line_and_the_run_says_what_it_did():
    files = tuple(DeliveryFile(Path(f"basisprofiel-{n}.json"), 10, f"{n:064x}") for n in range(40))
    many = Delivery("kvk", dt.date(2026, 11, 1), files, "file name")
    assert many.names == "basisprofiel-0.json, basisprofiel-1.json, basisprofiel-2.json and 37 more files"
    assert Delivery("kvk", dt.date(2026, 11, 1), files[:2], "file name").names == (
        "basisprofiel-0.json, basisprofiel-1.json"
    )
    outcome = Outcome(success=True, run_id="r1", release="20261129T020000Z.duckdb")
    outcome.deliveries = {"kvk": f"{many.names} is the delivery already loaded (run r0); tables kept"}
    console = Console(record=True, width=200)
    outcome.print(console)
    text = console.export_text()
    assert "kvk: basisprofiel-0.json" in text and "37 more files" in text
    assert "release 20261129T020000Z.duckdb published" in text

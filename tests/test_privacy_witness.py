"""A log that proves it is complete: genesis entry, witnessed head, verify fails on wipe, rollback
and truncation; purges only by a privacy officer, never for a future date."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from typer.testing import CliRunner

from pipelines.warehouse import Warehouse
from privacy import witness
from privacy.cli import audit_app, privacy_app
from privacy.log import LogEntry, LogError, ProcessingLog
from privacy.lookup import Actor
from privacy.purge import purge
from privacy.register import load_register
from web.accounts import AccountStore

REGISTER = load_register()
PASSWORD = "correct-horse-battery"  # noqa: S105 - test accounts only
runner = CliRunner()


def entry(n: int) -> LogEntry:
    return LogEntry.under(
        REGISTER, REGISTER.purposes["bibob_screening"], "hit", f"user{n}", details={"case_number": f"Z-{n}"}
    )


@pytest.fixture
def log(tmp_path) -> ProcessingLog:
    log = ProcessingLog(Warehouse(tmp_path))
    for n in range(1, 6):
        log.append(entry(n))
    return log


def snapshot(log: ProcessingLog, *extra) -> dict:
    paths = [log.path, log.head_path, *extra]
    return {p: p.read_bytes() for p in paths}


def restore(saved: dict) -> None:
    for path, data in saved.items():
        path.write_bytes(data)


def test_the_log_starts_with_a_genesis_entry(log):
    first = json.loads(log.path.read_text().splitlines()[0])
    assert (first["seq"], first["action"], first["prev"]) == (0, "genesis", "0" * 64)
    assert [e.seq for e in log.entries()] == [1, 2, 3, 4, 5]  # genesis is no processing action
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(lines[1:]))
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "removed", 0)
    assert "genesis" in result.problem


def test_wiping_the_log_is_detected(log):
    log.path.write_text("")
    log.head_path.unlink()
    result = log.verify()
    assert (result.ok, result.kind) == (False, "wiped")
    assert "saw entry 5" in result.problem

    shutil.rmtree(log.dir)  # the whole log folder
    assert log.verify().kind == "wiped"


def test_putting_back_an_earlier_copy_is_detected(log):
    earlier = snapshot(log)
    log.append(entry(6))
    log.append(entry(7))
    restore(earlier)
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "rollback", 6)
    assert "the witness file saw entry 7" in result.problem


def test_rolling_back_the_witness_file_too_is_caught_by_a_release_witness(log, tmp_path):
    earlier = snapshot(log, witness.witness_path(log.warehouse))
    log.append(entry(6))
    releases = tmp_path / "releases"
    releases.mkdir()
    log.witness_release(releases / "20261129T000000Z.duckdb")
    restore(earlier)
    result = log.verify()
    assert (result.ok, result.kind) == (False, "rollback")
    assert "release witness" in result.problem


def test_truncation_is_detected(log):
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(lines[:-2]))  # drop entries 4 and 5
    log.head_path.unlink()  # and the head that would give it away
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "rollback", 4)


def test_an_edited_or_missing_witness_fails(log):
    path = witness.witness_path(log.warehouse)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "seq": 2}))
    assert log.verify().kind == "witness"
    path.unlink()
    result = log.verify()
    assert (result.ok, result.kind) == (False, "witness")


def test_a_head_recorded_elsewhere_is_checked(log):
    seq, last = log.head()
    assert log.verify((seq, last)).ok
    result = log.verify((seq, "f" * 64))
    assert (result.ok, result.kind) == (False, "rollback")
    assert log.verify((seq + 3, last)).kind == "rollback"


def test_a_verifier_needs_only_the_public_key(log, monkeypatch):
    public = witness.public_key_hex(log.warehouse)
    (log.warehouse.secrets_dir / "witness.key").unlink()
    monkeypatch.setenv(witness.ENV_PUBLIC_KEY, public)
    assert log.verify().ok


def test_witness_signed_with_another_key_fails(log, monkeypatch):
    monkeypatch.setenv(witness.ENV_KEY, "another key of at least thirty-two characters")
    witness.write_file(log.warehouse, *log.head())
    monkeypatch.delenv(witness.ENV_KEY)
    assert log.verify().kind == "witness"


# -- purges -----------------------------------------------------------------------------------------
OFFICER = Actor("pia", "privacy_officer")


def old_log(tmp_path) -> Warehouse:
    w = Warehouse(tmp_path / "wh")
    log = ProcessingLog(w)
    for day in ("2020-01-10", "2020-02-10", "2026-11-01"):
        e = LogEntry.under(REGISTER, REGISTER.purposes["veiligheid_medewerkers"], "hit", "tester")
        e.tijdstip = f"{day}T10:00:00+00:00"
        log.append(e)
    return w


def test_purge_abuse_is_refused(tmp_path):
    w = old_log(tmp_path)
    before = ProcessingLog(w).path.read_bytes()
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(LogError, match="in the future"):
        purge(w, OFFICER, dt.date(2099, 1, 1))
    with pytest.raises(LogError, match="in the future"):
        purge(w, OFFICER, tomorrow)
    with pytest.raises(LogError, match="only a privacy officer"):
        purge(w, Actor("ana", "analyst"))
    with pytest.raises(LogError, match="named privacy officer"):
        ProcessingLog(w).purge(dt.date.today(), "pipeline")
    assert ProcessingLog(w).path.read_bytes() == before


def test_a_purge_names_the_officer_and_keeps_the_removed_hashes_in_the_chain(tmp_path):
    w = old_log(tmp_path)
    log = ProcessingLog(w)
    hashes = [json.loads(line)["hash"] for line in log.path.read_text().splitlines()]
    result = purge(w, OFFICER)
    assert result.log_entries_removed == 2
    entry_ = result.entry
    assert (entry_.gebruiker, entry_.role) == ("pia", "privacy_officer")
    assert entry_.register_version == REGISTER.versie
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [line["hash"] for line in lines[:4]] == hashes  # genesis, two tombstones, the kept entry
    assert [bool(line.get("tombstone")) for line in lines] == [False, True, True, False, False]
    assert log.verify().ok


def test_purge_command_needs_a_signed_in_privacy_officer(tmp_path, monkeypatch):
    w = old_log(tmp_path)
    store = AccountStore(w.root)
    store.add("pia", "privacy_officer", PASSWORD)
    store.add("ana", "analyst", PASSWORD)
    monkeypatch.setenv("KNOOPPUNT_PASSWORD", PASSWORD)
    base = ["purge", "--warehouse", str(w.root)]
    unsigned = runner.invoke(privacy_app, base, input="\n")
    assert unsigned.exit_code == 2 and "--user" in unsigned.output
    wrong = runner.invoke(privacy_app, [*base, "--user", "ana"])
    assert wrong.exit_code == 1 and "Privacy officer" in wrong.output
    future = runner.invoke(privacy_app, [*base, "--user", "pia", "--as-of", "2099-01-01"])
    assert future.exit_code == 1 and "future" in future.output
    assert "--register" not in runner.invoke(privacy_app, ["purge", "--help"]).output
    done = runner.invoke(privacy_app, [*base, "--user", "pia"])
    assert done.exit_code == 0, done.output
    last = list(ProcessingLog(w).entries())[-1]
    assert (last.action, last.gebruiker) == ("purge", "pia")
    verified = runner.invoke(audit_app, ["verify", "--warehouse", str(w.root)])
    assert verified.exit_code == 0, verified.output


def test_verify_command_fails_on_a_wiped_log(tmp_path):
    w = old_log(tmp_path)
    log = ProcessingLog(w)
    log.path.write_text("")
    log.head_path.unlink()
    result = runner.invoke(audit_app, ["verify", "--warehouse", str(w.root)])
    assert result.exit_code == 1 and "wiped" in result.output


def test_each_published_release_and_its_run_metadata_witness_the_head(tmp_path):
    from dagster import materialize

    from pipelines.publish import build_release_asset
    from pipelines.resources import WarehouseResource

    w = old_log(tmp_path)
    with w.transaction() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    result = materialize(
        [build_release_asset([])], resources={"warehouse": WarehouseResource(root=str(w.root))}
    )
    assert result.success
    metadata = result.asset_materializations_for_node("release")[0].metadata
    seq, last = ProcessingLog(w).head()
    assert (metadata["log_head_seq"].value, metadata["log_head_hash"].value) == (seq, last)
    release = w.root / "releases" / metadata["release"].value
    assert release.with_name(release.name + witness.RELEASE_SUFFIX).exists()
    verified = runner.invoke(
        audit_app, ["verify", "--warehouse", str(w.root), "--seq", str(seq), "--hash", last]
    )
    assert verified.exit_code == 0, verified.output
    wrong = runner.invoke(
        audit_app, ["verify", "--warehouse", str(w.root), "--seq", str(seq + 1), "--hash", last]
    )
    assert wrong.exit_code == 1 and "the given head" in wrong.output

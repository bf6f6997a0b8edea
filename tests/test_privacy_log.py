"""The processing log: append-only hash chain, tamper detection, concurrent appends, VNG export."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30ReadValidator, validate

from pipelines.warehouse import Warehouse
from privacy.log import LogEntry, LogError, ProcessingLog
from privacy.register import load_register

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
LOGGING_SPEC = FIXTURES / "privacy" / "vng-verwerkingenlogging-api.yaml"


REGISTER = load_register()


def entry(n: int, action: str = "hit") -> LogEntry:
    return LogEntry.under(
        REGISTER,
        REGISTER.purposes["bibob_screening"],
        action,
        f"user{n}",
        role="bibob_officer",
        objects=[{"soortObjectId": "BAG nummeraanduiding", "objectId": f"03632000000{n:05d}"}],
        details={"case_number": f"Z-{n}"},
    )


@pytest.fixture
def log(tmp_path) -> ProcessingLog:
    log = ProcessingLog(Warehouse(tmp_path))
    for n in range(1, 6):
        log.append(entry(n))
    return log


def lines(log: ProcessingLog) -> list[str]:
    """The entries' lines, without the genesis entry (line 1 of the file)."""
    return log.path.read_text().splitlines(keepends=True)[1:]


def rewrite(log: ProcessingLog, new_lines: list[str]) -> None:
    """Write the log back with its genesis entry and ``new_lines`` after it."""
    genesis = log.path.read_text().splitlines(keepends=True)[0]
    log.path.write_text(genesis + "".join(new_lines))


def test_intact_log_verifies(log):
    result = log.verify()
    assert result.ok and result.entries == 6  # the genesis entry and five processing actions
    assert [e.seq for e in log.entries()] == [1, 2, 3, 4, 5]
    first, second = list(log.entries())[:2]
    assert second.prev == first.hash
    assert first.justification and "Subsidiariteit" in first.justification


def test_edited_entry_is_named(log):
    text = lines(log)
    text[2] = text[2].replace('"Z-3"', '"Z-333"')
    rewrite(log, text)
    result = log.verify()
    assert not result.ok and result.kind == "edited" and result.seq == 3
    assert "entry 3" in result.problem


def test_removed_entry_is_named(log):
    text = lines(log)
    del text[1]
    rewrite(log, text)
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "removed", 2)
    assert "entry 2 removed" in result.problem


def test_removed_first_entry_is_named(log):
    rewrite(log, lines(log)[1:])
    result = log.verify()
    assert (result.kind, result.seq) == ("removed", 1)


def test_truncated_end_is_detected(log):
    rewrite(log, lines(log)[:3])
    result = log.verify()
    assert (result.ok, result.kind) == (False, "removed")
    assert "entry 4-5 removed from the end" in result.problem


def test_inserted_copy_is_named(log):
    text = lines(log)
    text.insert(3, text[1])
    rewrite(log, text)
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "inserted", 2)


def test_forged_insertion_is_named(log):
    text = lines(log)
    forged = json.loads(text[2])
    forged["gebruiker"] = "intruder"
    forged["hash"] = "f" * 64
    text.insert(2, json.dumps(forged) + "\n")
    rewrite(log, text)
    result = log.verify()
    assert (result.ok, result.kind) == (False, "inserted")
    assert "line 4" in result.problem


def test_forged_tombstone_is_detected(log):
    text = lines(log)
    data = json.loads(text[2])
    tombstone = {"seq": data["seq"], "prev": data["prev"], "hash": data["hash"], "tombstone": True}
    text[2] = json.dumps(tombstone) + "\n"
    rewrite(log, text)
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "edited", 3)
    assert "tombstone" in result.problem


def test_rehashing_without_the_key_is_detected(log, tmp_path, monkeypatch):
    # An attacker who recomputes the chain with another key is still caught: the hashes are HMACs.
    text = lines(log)
    monkeypatch.setenv("KNOOPPUNT_LOG_KEY", "x" * 40)
    assert not log.verify().ok
    monkeypatch.delenv("KNOOPPUNT_LOG_KEY")
    assert log.verify().ok
    assert text == lines(log)


def test_a_bsn_is_never_logged(tmp_path):
    log = ProcessingLog(Warehouse(tmp_path))
    bad = entry(1)
    bad.details["case_number"] = "bsn 999990019"
    with pytest.raises(LogError, match="BSN-like"):
        log.append(bad)
    assert not log.path.exists() or log.path.read_text() == ""


def _append_many(root: str, worker: int, count: int) -> None:
    log = ProcessingLog(Warehouse(root))
    for n in range(count):
        log.append(entry(worker * 1000 + n))


def test_concurrent_processes_keep_the_chain(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    log = ProcessingLog(Warehouse(tmp_path))
    result = log.verify()
    assert result.ok, result.problem
    assert [e.seq for e in log.entries()] == list(range(1, 101))


def test_export_validates_against_the_vng_verwerkingenlogging_spec(log):
    spec = yaml.safe_load(LOGGING_SPEC.read_text(encoding="utf-8"))
    response = spec["paths"]["/verwerkingsacties"]["get"]["responses"]["200"]
    schema = {**response["content"]["application/json"]["schema"], "components": spec["components"]}
    register = load_register()
    refusal = LogEntry.under(register, None, "refusal", "user9", outcome="geweigerd", reason="unknown")
    log.append(refusal)
    data = log.export_vng()
    assert data["count"] == 6
    validate(data, schema, cls=OAS30ReadValidator, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
    first = data["results"][0]
    assert first["verwerkingsactiviteitId"] == register.purposes["bibob_screening"].id
    assert first["verwerkteObjecten"][0]["objectId"] == "0363200000000001"
    assert first["knooppunt"]["justification"].startswith("Grondslag")
    data["results"][0]["vertrouwelijkheid"] = "geheim"
    with pytest.raises(Exception, match="is not one of"):
        validate(data, schema, cls=OAS30ReadValidator, format_checker=OAS30ReadValidator.FORMAT_CHECKER)


def test_find_reads_backwards_across_blocks(log):
    ids = [e.actie_id for e in log.entries()]
    assert [log.find(actie_id=a).seq for a in ids] == [1, 2, 3, 4, 5]
    assert log.find(case_number="Z-2").seq == 2
    assert log.find(action="detail") is None
    forwards = log.path.read_text().splitlines()
    assert list(log._lines_backwards(block=64))[::-1] == forwards


def test_verify_never_creates_a_key(log):
    (log.warehouse.secrets_dir / "log.key").unlink()
    with pytest.raises(LogError, match="no log key"):
        log.verify()
    assert not (log.warehouse.secrets_dir / "log.key").exists()

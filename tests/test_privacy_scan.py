"""The plain-BSN scanner: finds elfproef-valid nine-digit values in DuckDB, SQLite, Parquet and text."""

from __future__ import annotations

import json
import sqlite3

import duckdb

from privacy.pseudonym import Pseudonymiser
from privacy.scan import bsns_in_text, find_plain_bsns
from sources.bsn import is_valid_bsn

BSN = "999990019"
NOT_ELFPROEF = "999990018"


def test_the_test_values():
    assert is_valid_bsn(BSN) and not is_valid_bsn(NOT_ELFPROEF)


def test_text_rules():
    assert bsns_in_text(f"bsn: {BSN}.") == [BSN]
    assert bsns_in_text(f'{{"bsn": "{BSN}"}}') == [BSN]
    assert bsns_in_text(f"/persons?bsn={BSN}&x=1") == [BSN]
    assert bsns_in_text(NOT_ELFPROEF) == []
    assert bsns_in_text(f"0363200{BSN}") == []  # part of a 16-digit BAG id
    assert bsns_in_text(f"155000.{BSN} 463000.5") == []  # decimals of a coordinate
    assert bsns_in_text(f"P{BSN}abcdef0123456") == []  # inside a pseudonym
    assert bsns_in_text(f"{BSN},5") == []


def test_finds_bsns_in_every_storage(tmp_path):
    db = tmp_path / "knooppunt.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA brp")
    con.execute(
        f"""CREATE TABLE brp.persoon AS SELECT * FROM (VALUES
            ('P0123456789abcdef01234567', {BSN}::BIGINT, 'vrij tekst', 1.5),
            ('P1', NULL, 'nummer {BSN} in tekst', 2.5)) t(persoon_id, nummer, opmerking, score)"""
    )
    con.execute(f"CREATE TABLE main.clean AS SELECT '0363200000000001' AS id, {NOT_ELFPROEF} AS n")
    con.close()
    log = tmp_path / "log" / "verwerkingen.jsonl"
    log.parent.mkdir()
    log.write_text(json.dumps({"a": 1}) + "\n" + json.dumps({"case": f"zaak {BSN}"}) + "\n")
    events = tmp_path / "dagster" / "index.db"
    events.parent.mkdir()
    sq = sqlite3.connect(events)
    sq.execute("CREATE TABLE event_logs (id INTEGER, event TEXT)")
    sq.execute("INSERT INTO event_logs VALUES (1, ?)", [json.dumps({"metadata": {"bsn": BSN}})])
    sq.commit()
    sq.close()
    parquet = tmp_path / "export.parquet"
    duckdb.sql(f"COPY (SELECT '{BSN}' AS bsn) TO '{parquet}' (FORMAT parquet)")
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01" + BSN.encode())

    skipped: list[str] = []
    findings = find_plain_bsns([tmp_path], skipped)
    where = sorted((f.path.removeprefix(str(tmp_path)), f.location) for f in findings)
    assert where == [
        ("/dagster/index.db", "event_logs.event"),
        ("/export.parquet", "parquet.bsn"),
        ("/knooppunt.duckdb", "brp.persoon.nummer"),
        ("/knooppunt.duckdb", "brp.persoon.opmerking"),
        ("/log/verwerkingen.jsonl", "line 2"),
    ]
    assert all(f.masked == "999******" for f in findings)
    assert BSN not in "".join(str(f) for f in findings)
    assert skipped == [str(tmp_path / "binary.bin")]


def test_pseudonyms_are_never_reported(tmp_path):
    pseudonymise = Pseudonymiser(b"k" * 32)
    text = "\n".join(pseudonymise(f"{n:09d}") for n in range(999_990_000, 999_992_000))
    (tmp_path / "pseudonyms.txt").write_text(text)
    assert find_plain_bsns([tmp_path]) == []

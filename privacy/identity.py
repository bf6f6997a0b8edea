"""The separate store for direct identifiers (names, birth date, BSN).

The warehouse only ever holds pseudonyms. Direct identifiers go to ``identity.duckdb`` beside it,
with the BSN encrypted (Fernet; key from ``KNOOPPUNT_IDENTITY_KEY``, ``KNOOPPUNT_IDENTITY_KEY_FILE``
or, for the demo, ``<warehouse>/secrets/identity.key``). Nothing reads this store except
re-identification through the privacy gate, which is logged.
"""

from __future__ import annotations

import base64
import hashlib

import pyarrow as pa
from cryptography.fernet import Fernet

from pipelines.files import make_private, private_dir
from pipelines.warehouse import Warehouse, connect, in_transaction
from privacy.pseudonym import load_key

ENV_KEY = "KNOOPPUNT_IDENTITY_KEY"
ENV_KEY_FILE = "KNOOPPUNT_IDENTITY_KEY_FILE"

IDENTITY_SCHEMA = pa.schema(
    [
        ("persoon_id", pa.string()),
        ("bsn", pa.string()),  # plain on the way in; stored encrypted as bsn_encrypted
        ("voornamen", pa.string()),
        ("voorvoegsel", pa.string()),
        ("geslachtsnaam", pa.string()),
        ("geboortedatum", pa.date32()),
    ]
)


def _fernet(warehouse: Warehouse) -> Fernet:
    raw = load_key(ENV_KEY, ENV_KEY_FILE, "identity.key", warehouse.secrets_dir)
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))


class IdentityStore:
    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse

    def replace(self, source: str, rows: pa.Table) -> int:
        """Replace the identities delivered by ``source`` (e.g. 'brp') in one transaction."""
        fernet = _fernet(self.warehouse)
        encrypted = pa.array(
            [None if b is None else fernet.encrypt(b.encode()).decode() for b in rows["bsn"].to_pylist()],
            pa.string(),
        )
        stored = rows.drop_columns(["bsn"]).append_column("bsn_encrypted", encrypted)
        private_dir(self.warehouse.root)
        con = connect(self.warehouse.identity_path)
        make_private(self.warehouse.identity_path)
        try:
            with in_transaction(con):
                con.execute(
                    """CREATE TABLE IF NOT EXISTS persoon (
                        source VARCHAR, persoon_id VARCHAR, voornamen VARCHAR, voorvoegsel VARCHAR,
                        geslachtsnaam VARCHAR, geboortedatum DATE, bsn_encrypted VARCHAR)"""
                )
                con.execute("DELETE FROM persoon WHERE source = ?", [source])
                con.execute(  # a replacement scan of the local variable, not a registered view
                    """INSERT INTO persoon SELECT ?, persoon_id, voornamen, voorvoegsel, geslachtsnaam,
                       geboortedatum, bsn_encrypted FROM stored""",
                    [source],
                )
        finally:
            con.close()
        return stored.num_rows

    def decrypt_bsn(self, token: str) -> str:
        return _fernet(self.warehouse).decrypt(token.encode()).decode()

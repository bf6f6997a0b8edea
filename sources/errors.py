"""Errors and rejects shared by every reader.

Two kinds of bad input:

* A delivery that cannot be read at all (truncated XML, a zip without the expected inner files,
  the wrong encoding): the reader raises :class:`SourceError`, naming the file, the record (as far
  as it got) and the reason. The load stops and the previous good tables stay intact.
* A single invalid record inside a readable delivery (invalid BSN, malformed postcode, unknown SBI
  code, duplicate id): the reader yields a :class:`Reject` instead of the record, and ingest writes
  it to the ``rejects.<source>`` table. Nothing is silently dropped.

Neither ever carries personal data: a record is referred to by its position and, for persons,
by a pseudonym or a masked value, never by BSN, name or birth date.
"""

from __future__ import annotations

from dataclasses import dataclass

REJECT_COLUMNS = ("source_file", "record_ref", "reason")


class SourceError(Exception):
    """A delivery that cannot be read. The message names file, record and reason."""

    def __init__(self, file: str, reason: str, record: str | None = None):
        self.file = file
        self.record = record
        self.reason = reason
        where = f"{file}, record {record}" if record else file
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # picklable, so it can cross a process pool
        return (SourceError, (self.file, self.reason, self.record))


@dataclass(frozen=True, slots=True)
class Reject:
    """One invalid record: where it was and why it was refused."""

    source_file: str
    record_ref: str
    reason: str

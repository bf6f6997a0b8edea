"""Read an LVBAG delivery into Arrow tables, fanning deelbestanden out over worker processes.

:func:`parse_part` streams one deelbestand (never a DOM: blocks of at most a few MB at a time)
and returns one Arrow table of voorkomens per object type, or of ``kenmerkInOnderzoek`` rows.
:func:`read_delivery` runs it over a process pool; the caller (one DuckDB writer) appends the
tables as they arrive, so memory is bounded by the largest deelbestand, not the extract.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import zipfile
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa

from sources.bag import columnar
from sources.bag.delivery import Part
from sources.bag.objects import OBJECT_TYPES, InOnderzoekBatch, ObjectBatch, without_control_characters
from sources.bag.scanner import MAX_RECORD_BYTES, Blocks, Header, StandScanner
from sources.errors import Reject, SourceError

BATCH_ROWS = 50_000


@dataclass
class PartResult:
    """What one deelbestand yielded. ``kind`` is an object type (``VBO`` ...) or ``IO``."""

    name: str
    kind: str | None
    tables: list[pa.Table] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    bytes: int = 0
    header: Header | None = None
    spilled: str | None = None  # an Arrow IPC file holding ``tables`` (see :func:`read_delivery`)


def parse_part(part: Part) -> PartResult:
    """Stream one deelbestand into Arrow tables (runs in a worker process)."""
    with ExitStack() as stack:
        if part.member is None:
            stream = stack.enter_context(open(part.path, "rb"))
        else:
            try:
                zf = stack.enter_context(zipfile.ZipFile(part.path))
                stream = stack.enter_context(zf.open(part.member))
            except (zipfile.BadZipFile, OSError, KeyError) as exc:
                raise SourceError(part.name, f"cannot open: {exc}") from exc
        scanner = StandScanner(part.name, stream, limit=part.size or None)
        result = PartResult(part.name, None)
        batch: ObjectBatch | InOnderzoekBatch | None = None
        for chunk in scanner:
            if batch is None:
                batch = _new_batch(part, scanner.header, chunk.block(0))
                result.kind = batch.object_type if isinstance(batch, ObjectBatch) else "IO"
            if result.kind in columnar.TYPES and chunk.text is not None:
                if len(batch):  # rows of an earlier chunk read by block come first
                    _flush(result, batch)
                    batch = _new_batch(part, scanner.header, chunk.block(0))
                if (table := _read_chunk(chunk, batch, result)) is not None and table.num_rows:
                    result.tables.append(table)
                continue
            add = batch.add
            for block in chunk.blocks:
                add(block)
            if len(batch) >= BATCH_ROWS:
                _flush(result, batch)
                batch = _new_batch(part, scanner.header, chunk.block(0))
        if batch is not None:
            _flush(result, batch)
        result.rejects.extend(
            Reject(
                part.name, ref, f"record of {size:,} bytes, more than {MAX_RECORD_BYTES:,} (limit per record)"
            )
            for ref, size in scanner.oversized
        )
        result.bytes = scanner.bytes_read
        result.header = scanner.header
        if len(result.tables) > 1:  # one append per deelbestand for the writer
            result.tables = [pa.concat_tables(result.tables)]
        return result


def _new_batch(part: Part, header: Header | None, block: bytes) -> ObjectBatch | InOnderzoekBatch:
    if b"kenmerkInOnderzoek" in block[:200]:
        return InOnderzoekBatch(part.name)
    object_type = (header.object_type if header else None) or part.type_hint
    if object_type not in OBJECT_TYPES:
        raise SourceError(
            part.name, f"unknown or missing objectType {object_type!r} in the deelbestand header"
        )
    return ObjectBatch(object_type, part.name)


def _flush(result: PartResult, batch: ObjectBatch | InOnderzoekBatch) -> None:
    result.rejects.extend(batch.rejects)
    if len(batch):
        try:
            table = batch.to_arrow()
        except pa.ArrowInvalid as exc:
            raise SourceError(result.name, f"text is not valid UTF-8 ({exc})") from exc
        table, rejects = without_control_characters(table, result.kind or "IO", result.name)
        result.rejects.extend(rejects)
        if table.num_rows:
            result.tables.append(table)


def _read_chunk(chunk: Blocks, batch: ObjectBatch, result: PartResult) -> pa.Table | None:
    """The voorkomens of a chunk in document order: the regular blocks read by
    :mod:`sources.bag.columnar`, the others by ``ObjectBatch`` (which, with
    ``without_control_characters``, also makes their rejects)."""
    try:
        table, irregular = columnar.read_chunk(chunk, batch.object_type, batch.fields, batch.type_code)
    except ValueError:  # not regular as a whole (an entity, a comment, a '>' in text, text that is
        # not UTF-8 (pa.ArrowInvalid), ...): ObjectBatch reads it and decides
        table, irregular = None, np.arange(len(chunk))
    if len(irregular) == 0:
        return table
    accepted = []
    for i in irregular:
        before = len(batch)
        batch.add(chunk.block(i))
        if len(batch) > before:
            accepted.append(i)
    result.rejects.extend(batch.rejects)
    if not accepted:
        batch.clear()
        return table
    try:
        rest = batch.to_arrow().append_column("_block", pa.array(accepted, pa.int64()))
    except pa.ArrowInvalid as exc:
        raise SourceError(result.name, f"text is not valid UTF-8 ({exc})") from exc
    batch.clear()
    rest, rejects = without_control_characters(rest, result.kind or "", result.name)
    result.rejects.extend(rejects)
    blocks = rest["_block"].to_numpy()
    rest = rest.drop_columns(["_block"])
    if table is None:
        return rest
    regular = np.setdiff1d(np.arange(len(chunk)), irregular)
    order = np.argsort(np.concatenate([regular, blocks]), kind="stable")
    return pa.concat_tables([table, rest]).take(pa.array(order))


def default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


# Results queued per worker. Results are taken in order, so with two per worker a worker whose
# next task was done sat idle while the writer waited for an older, slower one (at 1,000,000
# addresses the read phase took 15.6-15.7 s with two, 14.3-14.7 s with four, 14.3 s with eight).
IN_FLIGHT = 4

# Workers are forked from a fork server: a fresh single-threaded process, so forking it is safe
# even when this process runs DuckDB (or Dagster) threads, unlike forking this process. The
# server imports the parser once and every worker inherits it, instead of each worker paying about
# a second of imports as with ``spawn``. pandas is preloaded because pyarrow imports it on its
# first array conversion when it is installed (a third of that second).
WORKER_PRELOAD = ["sources.bag.reader", "pandas"]


def _parse_to_file(part: Part, folder: str) -> PartResult:
    """:func:`parse_part`, its tables written to an Arrow IPC file in ``folder`` (runs in a worker).

    Cheaper than pickling them through the pool's pipe: one copy here, and the writer maps the
    file instead of unpickling a second copy."""
    result = parse_part(part)
    if result.tables:
        (table,) = result.tables
        with (
            tempfile.NamedTemporaryFile(dir=folder, suffix=".arrow", delete=False) as handle,
            pa.ipc.new_file(handle, table.schema) as writer,
        ):
            writer.write_table(table)
        result.tables, result.spilled = [], handle.name
    return result


def _mapped(result: PartResult) -> PartResult:
    """``result`` with its tables read back from their IPC file (memory-mapped; the file is
    removed at once: the mapping stays valid until the tables are dropped)."""
    if result.spilled:
        result.tables = [pa.ipc.open_file(pa.memory_map(result.spilled)).read_all()]
        os.unlink(result.spilled)
        result.spilled = None
    return result


def read_delivery(parts: list[Part], processes: int | None, scratch: Path) -> Iterator[PartResult]:
    """Parse all parts, ``processes`` at a time (1 = in this process); workers hand their tables
    over as Arrow IPC files in the folder ``scratch`` (see :func:`_parse_to_file`).

    Results come back in the order of ``parts``, so the history's row order (and with it which of
    two identical current voorkomens is kept) does not depend on timing. At most
    :data:`IN_FLIGHT` results per worker are queued, running or waiting as files, so the scratch
    folder does not grow with the number of deelbestanden even when the writer is slower.
    """
    processes = processes or default_processes()
    if processes == 1 or len(parts) == 1:
        for part in parts:
            yield parse_part(part)
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    todo = iter(parts)
    with ctx.Pool(min(processes, len(parts))) as pool:
        pending = deque(
            pool.apply_async(_parse_to_file, (p, str(scratch))) for p in islice(todo, IN_FLIGHT * processes)
        )
        while pending:
            result = pending.popleft().get()  # re-raises a worker's SourceError
            if (part := next(todo, None)) is not None:
                pending.append(pool.apply_async(_parse_to_file, (part, str(scratch))))
            yield _mapped(result)

"""Vectorised extraction of a whole chunk of regular ``stand`` blocks into Arrow columns.

:class:`sources.bag.objects.ObjectBatch` reads one block at a time in Python: a regular expression
per block, a dict per voorkomen, a list per column. That costs about three times what a bare
expat pass over the same bytes costs. Almost every block of a real extract is *regular*: plain
leaf elements, no entity references, one point or one single-ring polygon, no nevenadressen. This
module reads all regular blocks of a chunk (a few MB) at once with numpy and Arrow kernels, and
hands every other block to ``ObjectBatch`` (the reference reader, which also makes the rejects).
Both give the same rows for a regular block (``tests/test_bag_columnar.py`` compares them).

How, per chunk:

1. the positions of every ``<`` and ``>``; the chunk is only read here when they alternate (every
   tag closed before the next opens, no ``<!``, ``<?`` or ``&`` anywhere); else the whole chunk
   goes to ``ObjectBatch``;
2. the name of every end tag, by 8-byte words gathered at the tag, factorised and then verified
   word by word against one representative, so two names are never confused; its local name by
   the same rule as ``ObjectBatch`` (``(?:[\\w.-]+:)?\\w+``);
3. the text of an element: the bytes between the ``>`` before its end tag and the end tag. The
   chunk becomes one Arrow binary array whose offsets alternate text start / text end, so a
   column is an Arrow ``take`` of its elements: no Python object per value;
4. which block a tag belongs to: the last block start before it (``Blocks.starts``);
5. per block the checks that make it regular: a valid identificatie and voorkomenidentificatie
   and strict decimal coordinates (Arrow regular expressions over the taken columns), every field
   read a leaf, no empty-element tag, no control character in a text, counts of ``Polygon``,
   ``posList`` and ``interior`` end tags, one ``srsDimension``, no ``Nevenadres``; a ring must be
   closed and have at least four positions (numpy over the parsed coordinates).

Field semantics are ``ObjectBatch``'s: a single-valued field is its last non-empty occurrence in
the block, a list field (``gebruiksdoel``, ``PandRef``) all of them in order.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from sources.bag.scanner import Blocks

# Object types read here; the others (woonplaats multi-surfaces, small ligplaats/standplaats
# files) always take the reference path.
TYPES = ("OPR", "NUM", "VBO", "PND")
_LOCAL = re.compile(rb"(?:[\w.-]++:)?(\w++)")
_NUMBER = r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?"  # never overflows to infinity
_POINT = rf"^\s*{_NUMBER}\s+{_NUMBER}(?:\s+{_NUMBER})?\s*$"
_NUMBERS = rf"^\s*{_NUMBER}(?:\s+{_NUMBER})*\s*$"
_LISTS = {"VBO": (("gebruiksdoelen", b"gebruiksdoel"), ("pand_ids", b"PandRef"))}
_EXTRA = {
    "VBO": (("hoofdadres_id", b"NummeraanduidingRef"), ("_pos", b"pos")),
    "PND": (("_ring", b"posList"),),
}
_MAX_NAME = 64  # a longer end-tag name sends the chunk to the reference reader
_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _end_tag_names(w: np.ndarray, text: bytes, start: np.ndarray, length: np.ndarray):
    """(local name or None per distinct name, code per tag); codes number the distinct names in
    order of first appearance.

    A name is keyed by its length and its first and last 16 bytes, and every tag's name is then
    compared with the first tag of its code: in full for names of more than 32 bytes. A chunk where
    two names share a key, or with a name of more than 64 bytes, raises ValueError."""
    head = [w[start], w[start + 8]]
    tail = [w[start + length - 16], w[start + length - 8]]
    short = np.flatnonzero(length < 16)
    if len(short):  # only the name's own bytes count: mask the rest, the tail is the head
        k = length[short]
        for i, word_mask in enumerate((_MASKS[np.minimum(k, 8)], _MASKS[np.clip(k - 8, 0, 8)])):
            head[i][short] &= word_mask
            tail[i][short] = head[i][short]
    key = length.astype(np.uint64)
    for part in (*head, *tail):
        key = (key * np.uint64(0x100000001B3)) ^ part
    codes, _ = pd.factorize(key, sort=False)
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
    rep = first[codes]
    if not all(np.array_equal(part, part[rep]) for part in (*head, *tail, length)):
        raise ValueError("two end tag names share a key")
    long = np.flatnonzero(length > 32)
    if len(long):
        if int(length[long].max()) > _MAX_NAME:
            raise ValueError("an end tag name longer than 64 bytes")
        k = length[long]
        for offset in range(16, _MAX_NAME - 16, 8):  # the middle bytes the key left out
            valid = np.clip(k - 16 - offset, 0, 8)
            part = w[start[long] + offset] & _MASKS[valid]
            if not np.array_equal(part, w[start[rep[long]] + offset] & _MASKS[valid]):
                raise ValueError("two end tag names share a key")
    names = []
    for i in first:
        m = _LOCAL.fullmatch(text[start[i] : start[i] + length[i]])
        names.append(m.group(1) if m else None)
    return names, codes


def _spans(text: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A binary array whose even elements are ``text[starts[i]:ends[i]]`` (odd ones: the gaps)."""
    offsets = np.empty(2 * len(starts), dtype=np.int32)  # a chunk is a few MB
    offsets[0::2] = starts
    offsets[1::2] = ends
    if len(offsets) == 0:
        return pa.array([], pa.binary())
    return pa.BinaryArray.from_buffers(
        pa.binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


class Chunk:
    """The end tags of a chunk of blocks: local names, text spans, and the block of each."""

    def __init__(self, blocks: Blocks):
        text, lt, gt = blocks.text, blocks.lt, blocks.gt
        if len(lt) != len(gt) or not (lt < gt).all() or not (gt[:-1] < lt[1:]).all():
            raise ValueError("tags do not alternate")
        a = np.frombuffer(text, dtype=np.uint8)
        second = a[lt + 1]
        if b"&" in text or ((second == 33) | (second == 63)).any():
            raise ValueError("an entity, comment, CDATA section or processing instruction")
        self.end = np.flatnonzero(second == 47)
        empty = a[gt - 1] == 47
        self.is_start = (second != 47) & ~empty  # per tag: not an end or empty tag
        self.text_start = gt[self.end - 1] + 1
        self.text_end = lt[self.end]
        self.names, self.codes = _end_tag_names(
            blocks.words, text, lt[self.end] + 2, gt[self.end] - lt[self.end] - 2
        )
        self.block = np.searchsorted(blocks.starts, self.text_end, side="right") - 1
        self.n = len(blocks.starts)
        self.text = text
        self.starts = blocks.starts
        self.values = _spans(text, self.text_start, self.text_end)
        self.regular = np.ones(self.n, dtype=bool)  # cleared for a block ObjectBatch must read
        # an empty-element tag (<x/>) is not counted among the end tags: its block is irregular
        self.regular[np.searchsorted(blocks.starts, lt[empty], side="right") - 1] = False
        self._control_characters(a)

    def _control_characters(self, a: np.ndarray) -> None:
        """A control character (as :data:`sources.bag.objects.CONTROL`) in a text makes its block
        irregular (``ObjectBatch`` and ``without_control_characters`` reject it if it is read)."""
        low = np.flatnonzero(a < 32)
        at = np.concatenate([low[(a[low] != 9) & (a[low] != 10)], np.flatnonzero(a == 127)])
        if len(at):
            span = np.searchsorted(self.text_start, at, side="right") - 1
            inside = (span >= 0) & (at < self.text_end[np.maximum(span, 0)])
            self.regular[self.block[span[inside]]] = False

    def _field_of_tag(self, locals_: list[bytes]) -> np.ndarray:
        """Per end tag the index of its local name in ``locals_``, or -1."""
        lookup = np.full(len(self.names), -1, dtype=np.int64)
        for i, name in enumerate(self.names):
            if name in locals_:
                lookup[i] = locals_.index(name)
        return lookup[self.codes]

    def tag_count(self, local: bytes) -> np.ndarray:
        """Per block the number of elements with this local name (end tags)."""
        return np.bincount(self.block[self._field_of_tag([local]) == 0], minlength=self.n)

    def read(self, single: list[bytes], many: list[bytes]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Where the fields are: per single-valued field and block the end tag of its last
        non-empty occurrence (-1: none), shape (fields, blocks); per list field the end tags of
        its non-empty occurrences in order. A block where a field is not a leaf is irregular."""
        fid = self._field_of_tag([*single, *many])
        sel = np.flatnonzero(fid >= 0)
        self.regular[self.block[sel[~self.is_start[self.end[sel] - 1]]]] = False
        sel = sel[self.text_end[sel] > self.text_start[sel]]
        field = fid[sel]
        is_single = field < len(single)
        last = np.full(len(single) * self.n, -1, dtype=np.int64)
        s = sel[is_single]
        np.maximum.at(last, field[is_single] * self.n + self.block[s], s)
        lists = [sel[field == len(single) + i] for i in range(len(many))]
        return last.reshape(len(single), self.n), lists

    def take(self, tags: np.ndarray) -> pa.Array:
        """The texts of these end tags (null for -1), as strings."""
        index = 2 * tags
        return self.values.take(pa.array(index, mask=tags < 0)).cast(pa.string())

    def irregular_if(self, mask: np.ndarray) -> None:
        self.regular &= ~mask

    def _find(self, needle: bytes) -> np.ndarray:
        at = []
        i = self.text.find(needle)
        while i >= 0:
            at.append(i)
            i = self.text.find(needle, i + len(needle))
        return np.array(at, dtype=np.int64)

    def contains(self, needle: bytes) -> np.ndarray:
        """Per block whether ``needle`` occurs in it."""
        found = np.zeros(self.n, dtype=bool)
        found[np.searchsorted(self.starts, self._find(needle), side="right") - 1] = True
        return found

    def srs_dimension(self) -> np.ndarray:
        """Per block the ``srsDimension`` if it has exactly one (2 or 3), 2 if none, else 0."""
        needle = b'srsDimension="'
        at = self._find(needle)
        block = np.searchsorted(self.starts, at, side="right") - 1
        count = np.bincount(block, minlength=self.n)
        dim = np.zeros(self.n, dtype=np.int64)
        a = np.frombuffer(self.text + b"  ", dtype=np.uint8)
        digit = a[at + len(needle)].astype(np.int64) - 48
        dim[block] = np.where(((digit == 2) | (digit == 3)) & (a[at + len(needle) + 1] == 34), digit, 0)
        return np.where(count == 1, dim, np.where(count == 0, 2, 0))


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    """True where a value matches ``pattern``; False where null."""
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)


def read_chunk(
    blocks: Blocks, object_type: str, fields: tuple[tuple[str, bytes], ...], type_code: bytes
) -> tuple[pa.Table | None, np.ndarray]:
    """The regular blocks of a chunk as a table with :meth:`ObjectBatch.to_arrow`'s columns (None
    if there are none), and the indices of the irregular blocks (for ``ObjectBatch``).

    Raises ValueError (pa.ArrowInvalid for text that is not UTF-8) when the chunk cannot be read
    here at all: the caller reads all of it by block.
    """
    chunk = Chunk(blocks)
    single = [*fields, *_EXTRA.get(object_type, ())]
    lists = _LISTS.get(object_type, ())
    where, many = chunk.read([local for _, local in single], [local for _, local in lists])
    chunk.irregular_if(~_matches(chunk.take(where[0]), f"^[0-9]{{4}}{type_code.decode()}[0-9]{{10}}$"))
    chunk.irregular_if(~_matches(chunk.take(where[1]), "^[0-9]+$"))
    geometry = lambda keep: {}  # noqa: E731
    if object_type == "VBO":
        chunk.irregular_if(chunk.contains(b"Nevenadres"))
        geometry = _points(chunk, where[len(single) - 1])
    elif object_type == "PND":
        geometry = _polygons(chunk, where[len(single) - 1])
    keep = np.flatnonzero(chunk.regular)
    geometry_columns = geometry(keep) if len(keep) else {}
    keep = np.flatnonzero(chunk.regular)  # geometry may have found more irregular blocks
    irregular = np.flatnonzero(~chunk.regular)
    if len(keep) == 0:
        return None, irregular
    named = [column for column, _ in single if not column.startswith("_")]
    # one take per column: a slice of one shared array would carry all of its buffer to the writer
    columns = {column: chunk.take(where[i, keep]) for i, column in enumerate(named)}
    if lists:
        columns["nevenadres_ids"] = pa.ListArray.from_arrays(
            pa.array(np.zeros(len(keep) + 1, dtype=np.int32)), pa.array([], pa.string())
        )
        position = np.full(chunk.n, -1, dtype=np.int64)
        position[keep] = np.arange(len(keep))
        for (column, _), tags in zip(lists, many, strict=True):
            tags = tags[position[chunk.block[tags]] >= 0]
            counts = np.bincount(position[chunk.block[tags]], minlength=len(keep))
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            columns[column] = pa.ListArray.from_arrays(pa.array(offsets), chunk.take(tags))
    return pa.table(columns | geometry_columns), irregular


def _floats(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(all numbers, offsets per value) of whitespace-separated strict decimals."""
    split = pc.ascii_split_whitespace(values)
    tokens = pc.list_flatten(split)
    filled = pc.greater(pc.binary_length(tokens), 0).to_numpy(zero_copy_only=False)
    numbers = tokens.filter(pa.array(filled)).cast(pa.float64()).to_numpy()
    row = np.repeat(np.arange(len(values)), np.diff(split.offsets.to_numpy()))
    counts = np.bincount(row[filled], minlength=len(values))
    return numbers, np.concatenate([[0], np.cumsum(counts)])


def _points(chunk: Chunk, tags: np.ndarray):
    """Regular point blocks (no polygon, a ``pos`` of two or three strict decimals; ``tags``:
    where the last ``pos`` is); returns the function that makes the geometry columns of the
    finally kept blocks."""
    chunk.irregular_if((chunk.tag_count(b"Polygon") > 0) | ~_matches(chunk.take(tags), _POINT))

    def columns(keep: np.ndarray) -> dict[str, pa.Array]:
        numbers, offsets = _floats(chunk.take(tags[keep]))
        x = numbers[offsets[:-1]]
        y = numbers[offsets[:-1] + 1]
        n = len(keep)
        wkb = np.empty((n, 21), dtype=np.uint8)
        wkb[:, :5] = np.frombuffer(b"\x01\x01\x00\x00\x00", dtype=np.uint8)
        wkb[:, 5:13] = x.view(np.uint8).reshape(n, 8)
        wkb[:, 13:] = y.view(np.uint8).reshape(n, 8)
        offsets = pa.py_buffer(np.arange(0, 21 * n + 1, 21, dtype=np.int32))
        geometry = pa.BinaryArray.from_buffers(pa.binary(), n, [None, offsets, pa.py_buffer(wkb)])
        return {"x": pa.array(x), "y": pa.array(y), "vlak": pa.nulls(n, pa.binary()), "geometry": geometry}

    return columns


def _polygons(chunk: Chunk, tags: np.ndarray):
    """Regular polygon blocks (one ``gml:Polygon`` with one ``posList`` ring of strict decimals
    and at most one ``srsDimension``, of 2 or 3); returns the function that makes the geometry columns of
    the kept blocks, after marking those whose ring is not closed or too short irregular."""
    dims = chunk.srs_dimension()
    chunk.irregular_if(
        (chunk.tag_count(b"posList") != 1)
        | (chunk.tag_count(b"Polygon") != 1)
        | (chunk.tag_count(b"interior") > 0)
        | (dims == 0)
        | ~_matches(chunk.take(tags), _NUMBERS)
    )

    def columns(keep: np.ndarray) -> dict[str, pa.Array]:
        numbers, offsets = _floats(chunk.take(tags[keep]))
        dim = dims[keep]
        counts = np.diff(offsets)
        positions = counts // dim
        bad = (counts % dim != 0) | (positions < 4)
        first = offsets[:-1]
        last = offsets[1:] - dim
        ok = ~bad
        closed = np.zeros(len(keep), dtype=bool)
        closed[ok] = (numbers[first[ok]] == numbers[last[ok]]) & (
            numbers[first[ok] + 1] == numbers[last[ok] + 1]
        )
        bad |= ~closed
        chunk.regular[keep[bad]] = False
        good = ~bad
        xy = _xy(numbers, offsets, dim, good)
        ring_offsets = np.concatenate([[0], np.cumsum(positions[good])])
        geoms = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, xy, (ring_offsets, np.arange(good.sum() + 1))
        )
        reasons = shapely.is_valid_reason(geoms)
        valid = reasons == "Valid Geometry"
        return {
            "geometry_valid": pa.array(valid),
            "geometry_invalid_reason": pa.array(np.where(valid, None, reasons).tolist(), pa.string()),
            "geometry": pa.array(shapely.to_wkb(geoms, output_dimension=2, byte_order=1), pa.binary()),
        }

    return columns


def _xy(numbers: np.ndarray, offsets: np.ndarray, dim: np.ndarray, good: np.ndarray) -> np.ndarray:
    """The 2-D positions of the good rings (z dropped), as an (n, 2) array."""
    keep = np.zeros(len(numbers), dtype=bool)
    counts = np.diff(offsets)
    row = np.repeat(np.arange(len(counts)), counts)
    within = np.arange(len(numbers)) - offsets[:-1][row]
    keep = good[row] & (within % dim[row] < 2)
    return numbers[keep].reshape(-1, 2)

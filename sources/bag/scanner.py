"""A streaming scanner over LVBAG deelbestanden: yields one ``<sl:stand>`` block at a time.

LVBAG extract XML is machine-written and very regular: a header (``bagInfo``, ``standBestand``
metadata) followed by thousands of ``<sl:stand>`` blocks, each holding one ``bagObject`` (one
voorkomen) or one ``kenmerkInOnderzoek``. A general XML parser calls back into Python for every
element and text node; this scanner instead splits the byte stream on the ``stand`` tags and
extracts the leaf elements of a block with one compiled regular expression (see
:mod:`sources.bag.objects`), which is several times faster.

It is not a validating parser, so it checks what it relies on and raises :class:`SourceError`
naming the file, the object and the reason when the input is not an intact deelbestand:

* the XML declaration must declare UTF-8 (the only encoding LVBAG uses); the text of every
  field is decoded strictly as UTF-8 later (:mod:`sources.bag.objects`);
* the document must end with the closing root tag (catches truncated files);
* every block must balance its tags: ``count('<') == 2 * count('</') + count('/>')`` after
  comments are removed (catches cut-off or broken tags inside a block);
* a document must contain the LVBAG ``standlevering-generiek`` namespace (catches non-LVBAG XML;
  a ``mutatielevering-generiek`` document is named as a mutation delivery, for
  ``sources.bag.apply``).

Bounds: a ``stand`` block (one record) longer than :data:`MAX_RECORD_BYTES` is not kept in memory:
the scanner skips to its end tag and lists it in :attr:`StandScanner.oversized` (the reader turns
it into a reject), so the buffer never holds more than that plus one chunk, whatever the input. A
part never yields more bytes than ``limit`` (its declared inflated size).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from sources.errors import SourceError

STANDLEVERING_NS = b"http://www.kadaster.nl/schemas/standlevering-generiek/1.0"
MUTATIELEVERING_NS = b"http://www.kadaster.nl/schemas/mutatielevering-generiek/1.0"
CHUNK_SIZE = 2 << 20  # the vectorised passes over a chunk run from the CPU cache: 8 MB took 1.3x the CPU
MAX_RECORD_BYTES = 1 << 20  # one voorkomen in the real extract is a few kB; a pand polygon < 100 kB

_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding=[\"']([\w.-]+)[\"']")
_ROOT = re.compile(rb"<([\w.-]+:)?(bagStand)\b")
_PREFIX = re.compile(rb'xmlns:([\w.-]+)="' + re.escape(STANDLEVERING_NS) + rb'"')
_UNTERMINATED = re.compile(rb"<[^<>]*+<")
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
STAND_DATE = re.compile(rb"StandTechnischeDatum>\s*(\d{4}-\d{2}-\d{2})\s*<")
_OBJECT_TYPE = re.compile(rb"objectType>\s*(\w+)\s*<")
GEMEENTE = re.compile(rb"GemeenteIdentificatie>\s*(\d{4})\s*<")
_IDENT = re.compile(rb"[:<]identificatie(?:Van\w+)?\b[^>]*>\s*([^<\s]+)")


class Blocks:
    """Complete ``stand`` blocks read in one go (a few MB).

    ``text`` holds them; ``starts`` is the offset of every block's start tag, ``lt`` and ``gt``
    the offsets of every ``<`` and ``>`` in ``text``, ``words`` its :func:`words`. :attr:`blocks`
    is the text after each start tag up to the next (made on first use). ``text`` is None when an
    over-long block was dropped (then only :attr:`blocks` is left).
    """

    def __init__(
        self,
        text: bytes | None,
        open_tag: bytes,
        lt: np.ndarray | None = None,
        gt: np.ndarray | None = None,
        starts: np.ndarray | None = None,
        blocks: list[bytes] | None = None,
        w: np.ndarray | None = None,
    ):
        self.text = text
        self.words = w  # :func:`words` of text
        self.open_tag = open_tag
        self.lt = lt
        self.gt = gt
        self.starts = starts
        self._blocks = blocks

    @property
    def blocks(self) -> list[bytes]:
        if self._blocks is None:
            skip = len(self.open_tag)
            ends = [*self.starts[1:].tolist(), len(self.text)]
            self._blocks = [self.text[s + skip : e] for s, e in zip(self.starts.tolist(), ends, strict=True)]
        return self._blocks

    def __len__(self) -> int:
        return len(self.starts) if self._blocks is None else len(self._blocks)

    def block(self, i: int) -> bytes:
        """The ``i``-th block (without making :attr:`blocks`)."""
        if self._blocks is not None:
            return self._blocks[i]
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[i] + len(self.open_tag) : end]


def words(text: bytes, extra: int = 64) -> np.ndarray:
    """The little-endian 8-byte word starting at every offset of ``text`` (an unaligned view over
    a copy padded with ``extra`` zero bytes, so words near the end read zeros)."""
    padded = text + bytes(extra + 8)
    return np.ndarray((len(text) + extra,), dtype="<u8", buffer=padded, strides=(1,))


def word(tag: bytes) -> np.uint64:
    return np.frombuffer(tag[:8].ljust(8, b"\0"), dtype="<u8")[0]


def _tag_offsets(text: bytes, w: np.ndarray, lt: np.ndarray, tags: tuple[bytes, ...]) -> list[np.ndarray]:
    """Per tag, the offsets among ``lt`` where it starts (``w``: :func:`words` of ``text``)."""
    if all(8 <= len(tag) <= 16 for tag in tags):
        head = w[lt]
        found = []
        for tag in tags:
            at = lt[head == word(tag)]
            found.append(at[w[at + len(tag) - 8] == word(tag[-8:])])
        return found
    return [np.array([m.start() for m in re.finditer(re.escape(tag), text)], dtype=np.int64) for tag in tags]


@dataclass(frozen=True, slots=True)
class Header:
    """What a deelbestand says about itself before its first block."""

    stand_technische_datum: str | None
    object_type: str | None
    gemeenten: tuple[str, ...]


def strip_comments(block: bytes) -> bytes:
    return _COMMENT.sub(b"", block) if b"<!--" in block else block


def object_ref(block: bytes) -> str:
    """A short reference to the object in a block (its identificatie), for error messages."""
    m = _IDENT.search(strip_comments(block))
    return m.group(1).decode("utf-8", "replace") if m else "?"


def _balanced(text: bytes) -> bool:
    """Every tag is terminated, and each element has a start and an end tag or is self-closing.

    ``<`` may not occur inside a tag or in text, so a tag cut short shows as a ``<`` followed by
    another ``<`` before any ``>``; that (slower) search only runs when the counts of ``<`` and
    ``>`` differ, which well-formed text with a literal ``>`` can also cause.
    """
    opening = text.count(b"<")
    if opening != text.count(b">") and _UNTERMINATED.search(text):
        return False
    unmatched = opening - 2 * text.count(b"</")
    return unmatched == 0 or unmatched == text.count(b"/>")


def _well_formed(text: bytes, a: np.ndarray, lt: np.ndarray, gt: np.ndarray) -> bool:
    """:func:`_balanced` from the offsets of every ``<`` and ``>`` (the hot path)."""
    if len(lt) != len(gt) and _UNTERMINATED.search(text):
        return False
    unmatched = len(lt) - 2 * int(np.count_nonzero(a[lt[lt < len(a) - 1] + 1] == 47))
    return unmatched == 0 or unmatched == int(np.count_nonzero(a[gt[gt > 0] - 1] == 47))


class StandScanner:
    """Iterate the ``stand`` blocks of one deelbestand read from ``stream`` in chunks.

    ``header`` is available after the first block has been read (or after iteration for a file
    without blocks). ``bytes_read`` counts the uncompressed XML bytes.
    """

    def __init__(self, name: str, stream: BinaryIO, chunk_size: int = CHUNK_SIZE, limit: int | None = None):
        self.name = name
        self.stream = stream
        self.chunk_size = chunk_size
        self.limit = limit
        self.bytes_read = 0
        self.header: Header | None = None
        self.oversized: list[tuple[str, int]] = []  # (object ref, bytes) of skipped records

    def _read(self) -> bytes:
        try:
            data = self.stream.read(self.chunk_size)
        except (OSError, EOFError, ValueError) as exc:  # zlib errors in a damaged zip member
            raise SourceError(self.name, f"cannot read: {exc}") from exc
        self.bytes_read += len(data)
        if self.limit is not None and self.bytes_read > self.limit:
            raise SourceError(
                self.name, f"inflates to more than its declared size of {self.limit:,} bytes (refused)"
            )
        return data

    def _skip_record(self, buf: bytes, close_tag: bytes) -> bytes:
        """Skip an over-long record (``buf`` starts inside it) up to its end tag; the rest after it."""
        ref = object_ref(buf[: 1 << 16])
        size = len(buf)
        tail = buf[-len(close_tag) :]
        while True:
            more = self._read()
            if not more:
                raise SourceError(
                    self.name, "truncated XML: the last object is not closed", f"{ref} (over-long record)"
                )
            window = tail + more
            end = window.find(close_tag)
            if end >= 0:
                end += len(close_tag)
                size += end - len(tail)
                self.oversized.append((ref, size))
                return window[end:]
            size += len(more)
            tail = window[-len(close_tag) :]

    def _parse_header(self, buf: bytes) -> tuple[bytes, bytes, bytes]:
        """Return (open tag, close tag, root close tag) after checking the document start."""
        head = buf[:4096]
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        if not head.lstrip().startswith(b"<"):
            raise SourceError(self.name, "not an XML document")
        decl = _DECLARATION.match(head)
        if decl and decl.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
            raise SourceError(
                self.name, f"declared encoding {decl.group(1).decode('ascii', 'replace')}; LVBAG XML is UTF-8"
            )
        root = _ROOT.search(buf)
        prefix = _PREFIX.search(buf)
        if root is None and MUTATIELEVERING_NS in buf:
            raise SourceError(
                self.name,
                "this is an LVBAG mutation deelbestand (mutatielevering), not a stand: apply it on the "
                "loaded stand with `knooppunt ingest bag-mutaties`",
            )
        if root is None or prefix is None:
            raise SourceError(
                self.name, "not an LVBAG stand deelbestand (no bagStand root / standlevering namespace)"
            )
        sl = prefix.group(1)
        root_prefix = root.group(1) or b""
        return b"<" + sl + b":stand>", b"</" + sl + b":stand>", b"</" + root_prefix + b"bagStand>"

    def __iter__(self) -> Iterator[Blocks]:
        """Yield complete blocks (the text between ``<sl:stand>`` and ``</sl:stand>``), a few MB
        at a time."""
        buf = self._read()
        while len(buf) < 65536:
            more = self._read()
            if not more:
                break
            buf += more
        open_tag, close_tag, root_close = self._parse_header(buf)
        first = buf.find(open_tag)
        head_end = first if first >= 0 else 0
        head = buf[:first] if first >= 0 else buf
        self.header = Header(
            stand_technische_datum=(m.group(1).decode() if (m := STAND_DATE.search(head)) else None),
            object_type=(m.group(1).decode() if (m := _OBJECT_TYPE.search(head)) else None),
            gemeenten=tuple(dict.fromkeys(g.decode() for g in GEMEENTE.findall(head))),
        )
        offset = len(head)
        buf = buf[head_end:]
        eof = False
        while True:
            cut = buf.rfind(close_tag)
            if cut < 0 and len(buf) > MAX_RECORD_BYTES:
                buf = self._skip_record(buf, close_tag)
                continue
            if cut >= 0:
                cut += len(close_tag)
                text = buf[:cut]
                buf = buf[cut:]
                a = np.frombuffer(text, dtype=np.uint8)
                lt = np.flatnonzero(a == 60)
                if len(lt) and (a[lt[lt < len(a) - 1] + 1] == 33).any() and b"<!--" in text:
                    text = strip_comments(text)
                    a = np.frombuffer(text, dtype=np.uint8)
                    lt = np.flatnonzero(a == 60)
                gt = np.flatnonzero(a == 62)
                w = words(text)
                starts, closes = _tag_offsets(text, w, lt, (open_tag, close_tag))
                if text[: starts[0] if len(starts) else len(text)].strip():
                    raise SourceError(
                        self.name, "malformed XML: unexpected content between objects", f"byte {offset}"
                    )
                chunk = Blocks(text, open_tag, lt, gt, starts, w=w)
                if not _well_formed(text, a, lt, gt) or len(starts) != len(closes):
                    self._locate_error(chunk.blocks, open_tag, close_tag, offset)
                offset += cut
                if len(starts) and (np.diff(starts, append=len(text)) > MAX_RECORD_BYTES).any():
                    chunk = Blocks(None, open_tag, blocks=self._drop_oversized(chunk.blocks))
                if len(chunk):
                    yield chunk
            if eof:
                break
            more = self._read()
            if more:
                buf += more
            else:
                eof = True
        tail = strip_comments(buf)
        if open_tag in tail:
            raise SourceError(
                self.name,
                "truncated XML: the last object is not closed",
                f"{object_ref(tail)} (after byte {offset})",
            )
        if root_close not in tail:
            raise SourceError(
                self.name,
                "truncated XML: the document does not end with its root element",
                f"after byte {offset}",
            )

    def _drop_oversized(self, blocks: list[bytes]) -> list[bytes]:
        kept = []
        for block in blocks:
            if len(block) > MAX_RECORD_BYTES:
                self.oversized.append((object_ref(block[: 1 << 16]), len(block)))
            else:
                kept.append(block)
        return kept

    def _locate_error(self, blocks: list[bytes], open_tag: bytes, close_tag: bytes, offset: int) -> None:
        """Raise for the first block that is not closed or has unbalanced tags."""
        for block in blocks:
            end = block.rfind(close_tag)
            if end < 0 or block[end + len(close_tag) :].strip() or not _balanced(open_tag + block):
                raise SourceError(
                    self.name,
                    "malformed XML: an object that is not closed or has broken tags",
                    f"{object_ref(block)} (in the buffer starting at byte {offset})",
                )
        raise SourceError(
            self.name, "malformed XML: unbalanced tags", f"in the buffer starting at byte {offset}"
        )

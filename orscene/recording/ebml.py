"""The Matroska (EBML) element headers of an Azure Kinect ``.mkv``, read without a demuxer.

An EBML element is ``ID | size | payload``; ID and size are *variable-length integers*
(:func:`read_vint`): the count of leading zero bits of the first byte, plus one, is the
integer's length in bytes (1..8), and that first set bit is the length marker. IDs keep
the marker (``0x1A45DFA3`` is the EBML header's ID as written); sizes drop it, and a size
whose value bits are all ones is reserved for "unknown size" (returned as -1).

Two readers use it: :func:`matroska_truncation` (does the Segment declare more bytes than
the file holds?) and :func:`matroska_block_index` (the timestamp and payload size of every
block per track, from the headers alone: payloads are skipped with ``seek``).
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["UNKNOWN_SIZE", "read_vint", "matroska_truncation", "matroska_block_index"]

UNKNOWN_SIZE = -1
"""What :func:`read_vint` returns for a size whose value bits are all ones (reserved)."""

_ID_EBML = 0x1A45DFA3
_ID_SEGMENT, _ID_INFO, _ID_TIMECODE_SCALE = 0x18538067, 0x1549A966, 0x2AD7B1
_ID_TRACKS, _ID_TRACK_ENTRY, _ID_TRACK_NUMBER, _ID_TRACK_NAME = 0x1654AE6B, 0xAE, 0xD7, 0x536E
_ID_CLUSTER, _ID_CLUSTER_TIMECODE, _ID_SIMPLE_BLOCK, _ID_BLOCK_GROUP, _ID_BLOCK = 0x1F43B675, 0xE7, 0xA3, 0xA0, 0xA1


def _vint_length(first: int) -> int:
    """Length in bytes of the variable-length integer whose first byte is ``first``
    (leading zero bits + 1); ValueError for a first byte of 0 (longer than 8 bytes)."""
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("bad EBML variable-length integer")
    return length


def read_vint(buf: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """The EBML variable-length integer at ``buf[pos]``: ``(value, position after it)``.

    ``keep_marker`` True reads an element ID (the length marker bit stays in the value),
    False a size (marker dropped; all value bits set = :data:`UNKNOWN_SIZE`). ValueError
    when the first byte is 0 or the integer runs past the end of ``buf``; IndexError when
    ``pos`` is past the end.

    >>> read_vint(b"\\x81", 0, keep_marker=False)
    (1, 1)
    >>> read_vint(b"\\x40\\x02", 0, keep_marker=False)
    (2, 2)
    >>> read_vint(b"\\xff", 0, keep_marker=False)  # reserved: unknown size
    (-1, 1)
    >>> hex(read_vint(b"\\x1a\\x45\\xdf\\xa3", 0, keep_marker=True)[0])
    '0x1a45dfa3'
    """
    first = buf[pos]
    length = _vint_length(first)
    if pos + length > len(buf):
        raise ValueError("bad EBML variable-length integer")
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = UNKNOWN_SIZE
    return value, pos + length


def matroska_truncation(path: Path) -> str | None:
    """A reason why the Matroska file is truncated (its Segment declares more bytes than
    the file holds), or None when the sizes agree (or the size is 'unknown')."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    try:
        eid, pos = read_vint(head, 0, True)
        if eid != _ID_EBML:
            return "not a Matroska file (no EBML header)"
        n, pos = read_vint(head, pos, False)
        pos += n
        eid, pos = read_vint(head, pos, True)
        if eid != _ID_SEGMENT:
            return "no Matroska Segment after the EBML header"
        seg, pos = read_vint(head, pos, False)
    except (ValueError, IndexError):
        return "malformed Matroska header"
    if seg >= 0 and pos + seg > size:
        return f"truncated: the Matroska segment declares {pos + seg} bytes, the file has {size}"
    return None


class _Unindexable(Exception):
    """The layout needs a full demuxer (unknown-size clusters, laced blocks)."""


class _EbmlFile:
    """Element headers read from an open file (payloads are skipped with ``seek``)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def vint(self, keep_marker: bool) -> int:
        """The variable-length integer at the file position (:func:`read_vint`); EOFError
        when the file ends inside it."""
        first = self.f.read(1)
        if not first:
            raise EOFError
        length = _vint_length(first[0])
        rest = self.f.read(length - 1)
        if len(rest) != length - 1:
            raise EOFError
        return read_vint(first + rest, 0, keep_marker)[0]

    def header(self) -> tuple[int, int, int]:
        """(element id, payload size or -1, payload start)."""
        eid = self.vint(True)
        size = self.vint(False)
        return eid, size, self.f.tell()

    def children(self, end: int) -> Iterator[tuple[int, int, int]]:
        """The child headers up to ``end``; each child is skipped after the caller's turn."""
        while self.f.tell() < end:
            cid, csz, cbody = self.header()
            yield cid, csz, cbody
            self.f.seek(cbody + csz)

    def uint(self, n: int) -> int:
        return int.from_bytes(self.f.read(n), "big")

    def string(self, n: int) -> str:
        return self.f.read(n).decode("utf-8", "replace").rstrip("\x00")


def _read_timecode_scale(e: _EbmlFile, end: int, scale: int) -> int:
    """The Info element's TimecodeScale (ns per timecode unit), else ``scale``."""
    for cid, csz, _ in e.children(end):
        if cid == _ID_TIMECODE_SCALE:
            scale = e.uint(csz)
    return scale


def _read_track_names(e: _EbmlFile, end: int, names: dict[int, str]) -> None:
    """Add ``{track number: track name}`` of the Tracks element's entries to ``names``."""
    for cid, csz, cbody in e.children(end):
        if cid != _ID_TRACK_ENTRY:
            continue
        number, name = None, None
        for tid, tsz, _ in e.children(cbody + csz):
            if tid == _ID_TRACK_NUMBER:
                number = e.uint(tsz)
            elif tid == _ID_TRACK_NAME:
                name = e.string(tsz)
        if number is not None and name:
            names[number] = name


def _find_block(e: _EbmlFile, end: int) -> int:
    """In a BlockGroup, move to its Block's payload and return the payload size (-1 when
    the group holds no Block)."""
    while e.f.tell() < end:
        bid, bsz, bbody = e.header()
        if bid == _ID_BLOCK:
            return bsz
        e.f.seek(bbody + bsz)
    return -1


def _read_cluster(e: _EbmlFile, end: int, file_size: int, add: Callable[[int, int, int], None]) -> bool:
    """Call ``add(track, timestamp, payload bytes)`` for each whole block of the Cluster
    element ending at ``end``; False when the file ends inside a block (truncated)."""
    tc = 0
    while e.f.tell() < end:
        cid, csz, cbody = e.header()
        if csz < 0:
            raise _Unindexable
        if cid == _ID_CLUSTER_TIMECODE:
            tc = e.uint(csz)
        elif cid in (_ID_SIMPLE_BLOCK, _ID_BLOCK_GROUP):
            if cid == _ID_BLOCK_GROUP:
                bsz = _find_block(e, cbody + csz)
                if bsz < 0:
                    e.f.seek(cbody + csz)
                    continue
                block_start, block_size = e.f.tell(), bsz
            else:
                block_start, block_size = cbody, csz
            track = e.vint(False)
            head = e.f.read(3)
            if len(head) < 3:
                return False
            if head[2] & 0x06:
                raise _Unindexable  # laced
            rel = int.from_bytes(head[:2], "big", signed=True)
            payload = block_size - (e.f.tell() - block_start)
            if block_start + block_size > file_size:
                return False
            add(track, tc + rel, payload)
        e.f.seek(cbody + csz)
    return True


def matroska_block_index(path: Path) -> tuple[dict[str, list[tuple[int, int]]], int, bool] | None:
    """Index a Matroska file from its element headers only (payloads are skipped).

    Returns ``({track name: [(timestamp in timecode units, block payload bytes)]},
    timecode_scale_ns, complete)``, where ``complete`` is False when the file ends inside
    an element (truncated), or None when the layout needs a full demuxer (unknown-size
    clusters, laced blocks, no track names).
    """
    file_size = path.stat().st_size
    names: dict[int, str] = {}
    blocks: dict[int, list[tuple[int, int]]] = {}
    scale = 1_000_000
    with open(path, "rb") as f:
        e = _EbmlFile(f)
        try:
            _, size, body = e.header()  # the EBML header
            f.seek(body + size)
            eid, seg_size, seg_body = e.header()
            if eid != _ID_SEGMENT:
                return None
            seg_end = file_size if seg_size < 0 else min(file_size, seg_body + seg_size)
            complete = seg_size < 0 or seg_body + seg_size <= file_size
            while f.tell() < seg_end:
                eid, size, body = e.header()
                if size < 0:
                    return None
                if body + size > file_size:
                    complete = False
                end = min(body + size, file_size)
                if eid == _ID_INFO:
                    scale = _read_timecode_scale(e, end, scale)
                elif eid == _ID_TRACKS:
                    _read_track_names(e, end, names)
                elif eid == _ID_CLUSTER:
                    if not _read_cluster(e, end, file_size, lambda t, ts, n: blocks.setdefault(t, []).append((ts, n))):
                        complete = False
                f.seek(body + size)
        except _Unindexable:
            return None
        except (EOFError, ValueError):
            complete = False
        except OSError:
            return None
    if not names:
        return None
    return {names[t]: b for t, b in blocks.items() if t in names}, scale, complete

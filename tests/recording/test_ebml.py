"""The EBML reader (orscene/recording/ebml.py) on hand-made byte strings: variable-length
integers of every length, the reserved all-ones size, and a tiny Matroska file whose block
index is known."""

import doctest

import pytest

from orscene.recording import ebml
from orscene.recording.ebml import UNKNOWN_SIZE, matroska_block_index, matroska_truncation, read_vint


@pytest.mark.parametrize(
    "data,keep_marker,value",
    [
        (b"\x81", False, 1),
        (b"\x80", False, 0),
        (b"\xfe", False, 126),  # the largest 1-byte size that is not reserved
        (b"\x40\x7f", False, 127),
        (b"\x42\x85", False, 0x285),
        (b"\x20\x00\x01", False, 1),
        (b"\x10\x12\x34\x56", False, 0x123456),
        (b"\x01\x00\x00\x00\x00\x00\x01\x00", False, 256),
        (b"\xa3", True, 0xA3),  # SimpleBlock ID: the marker stays
        (b"\x42\x86", True, 0x4286),
        (b"\x2a\xd7\xb1", True, 0x2AD7B1),
        (b"\x1a\x45\xdf\xa3", True, 0x1A45DFA3),
    ],
)
def test_read_vint_values(data, keep_marker, value):
    assert read_vint(data, 0, keep_marker) == (value, len(data))
    # the same integer inside a longer buffer: read at its offset, position after it
    assert read_vint(b"\x00\x00" + data + b"\xff", 2, keep_marker) == (value, 2 + len(data))


@pytest.mark.parametrize("length", range(1, 9))
def test_reserved_all_ones_size_is_unknown(length):
    data = bytes([0xFF >> (length - 1)]) + b"\xff" * (length - 1)  # marker + all value bits set
    assert read_vint(data, 0, keep_marker=False) == (UNKNOWN_SIZE, length)
    # as an ID the same bytes are an ordinary value, marker included
    assert read_vint(data, 0, keep_marker=True) == (int.from_bytes(data, "big"), length)
    # one less than all ones is a real size
    smaller = data[:-1] + bytes([data[-1] - 1]) if length > 1 else b"\xfe"
    assert read_vint(smaller, 0, keep_marker=False)[0] == (1 << (7 * length)) - 2


def test_read_vint_errors():
    with pytest.raises(ValueError):
        read_vint(b"\x00\x81", 0, False)  # no marker in the first byte: longer than 8 bytes
    with pytest.raises(ValueError):
        read_vint(b"\x40", 0, False)  # a 2-byte integer cut after its first byte
    with pytest.raises(IndexError):
        read_vint(b"\x81", 1, False)


def test_docstring_examples():
    assert doctest.testmod(ebml, raise_on_error=True).attempted >= 4


# ----------------------------------------------------------------------------- a tiny file
def _size(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 127 else (0x4000 | n).to_bytes(2, "big")


def _el(eid: int, payload: bytes, size: bytes | None = None) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + (size if size is not None else _size(len(payload))) + payload


def _uint(eid: int, v: int) -> bytes:
    return _el(eid, v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big"))


def _simple_block(track: int, rel: int, payload: bytes, flags: int = 0x80) -> bytes:
    return _el(0xA3, bytes([0x80 | track]) + rel.to_bytes(2, "big", signed=True) + bytes([flags]) + payload)


def _track(number: int, name: str) -> bytes:
    return _el(0xAE, _uint(0xD7, number) + _el(0x536E, name.encode()))


def _mkv(clusters: bytes, seg_size: bytes | None = None) -> bytes:
    header = _el(0x1A45DFA3, _el(0x4282, b"matroska"))
    body = _el(0x1549A966, _uint(0x2AD7B1, 1_000_000)) + _el(0x1654AE6B, _track(1, "COLOR") + _track(2, "DEPTH")) + clusters
    return header + _el(0x18538067, body, seg_size)


def _clusters() -> bytes:
    c1 = _el(0x1F43B675, _uint(0xE7, 0) + _simple_block(1, 0, b"c" * 10) + _simple_block(2, 0, b"d" * 20))
    group = _el(0xA0, _el(0xA1, bytes([0x81]) + (33).to_bytes(2, "big") + b"\x00" + b"c" * 11))  # a BlockGroup's Block
    c2 = _el(0x1F43B675, _uint(0xE7, 100) + group + _simple_block(2, 33, b"d" * 20))
    return c1 + c2


def test_block_index_of_a_hand_made_file(tmp_path):
    path = tmp_path / "tiny.mkv"
    path.write_bytes(_mkv(_clusters()))
    blocks, scale_ns, complete = matroska_block_index(path)
    assert scale_ns == 1_000_000 and complete
    assert blocks == {"COLOR": [(0, 10), (133, 11)], "DEPTH": [(0, 20), (133, 20)]}
    assert matroska_truncation(path) is None


def test_block_index_of_a_truncated_file(tmp_path):
    data = _mkv(_clusters())
    path = tmp_path / "cut.mkv"
    path.write_bytes(data[:-5])  # inside the last block
    blocks, _, complete = matroska_block_index(path)
    assert not complete and blocks == {"COLOR": [(0, 10), (133, 11)], "DEPTH": [(0, 20)]}
    assert matroska_truncation(path) == f"truncated: the Matroska segment declares {len(data)} bytes, the file has {len(data) - 5}"


def test_layouts_that_need_a_demuxer(tmp_path):
    unknown = _el(0x1F43B675, _uint(0xE7, 0) + _simple_block(1, 0, b"c"), size=b"\xff")  # unknown-size cluster
    path = tmp_path / "unknown.mkv"
    path.write_bytes(_mkv(unknown, seg_size=b"\x01\xff\xff\xff\xff\xff\xff\xff"))
    assert matroska_block_index(path) is None
    assert matroska_truncation(path) is None  # an unknown segment size is no truncation
    laced = _el(0x1F43B675, _uint(0xE7, 0) + _simple_block(1, 0, b"\x01cc", flags=0x82))  # Xiph lacing
    path.write_bytes(_mkv(laced))
    assert matroska_block_index(path) is None
    path.write_bytes(b"\x1a\x45\xdf\xa3\x80" + _uint(0x4286, 1))  # an EBMLVersion element where the Segment belongs
    assert matroska_truncation(path) == "no Matroska Segment after the EBML header"
    path.write_bytes(b"RIFF....")
    assert matroska_truncation(path) == "not a Matroska file (no EBML header)"

"""Container sniffing and structural truncation checks: cheap, pure Python, no decoder.

`sniff` says which container the first bytes claim (used to route uploads between
pictures and videos); `structure_cut` compares a container's own size fields with the
bytes present, so that a truncated upload is named as such even where FFmpeg would
quietly play what it has.
"""

from __future__ import annotations

import re
import struct
from typing import Final

# The worker gets the media as a memoryview of what it read from the pipe.
Bytes = bytes | memoryview


def looks_like_video(data: bytes) -> bool:
    """Whether the first bytes claim a container reviewer.video reads (a cheap sniff for
    routing uploads between reviewer.media and there; proves nothing about the rest)."""
    return sniff(data) is not None


def sniff(data: Bytes) -> str | None:
    """Which container the bytes claim to be, from their first bytes."""
    if data[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "ISO media"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "AVI"
    if data[:3] == b"FLV":
        return "FLV"
    if len(data) > 376 and data[0] == data[188] == data[376] == 0x47:
        return "MPEG-TS"
    return None


def structure_cut(data: Bytes, kind: str | None) -> str | None:
    """Detail if the container's own size fields run past the end of `data`."""
    if kind == "ISO media":
        return _iso_cut(data)
    if kind == "Matroska":
        return _ebml_cut(data)
    if kind == "AVI":
        size = struct.unpack_from("<I", data, 4)[0]
        if 8 + size > len(data):
            return f"the AVI file says {8 + size:,} bytes but has {len(data):,}"
    return None


# Box types are four printable characters ("©" starts some QuickTime metadata boxes).
_BOX_TYPE: Final = re.compile(rb"[\x20-\x7e\xa9]{4}")


def _iso_cut(data: Bytes) -> str | None:
    pos, n = 0, len(data)
    for _ in range(100_000):
        if pos == n:
            return None
        if pos + 8 > n:
            return f"the last box header is cut off at byte {pos:,}"
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size == 1:
            if pos + 16 > n:
                return f"the last box header is cut off at byte {pos:,}"
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        elif size == 0:
            return None  # the last box runs to the end of the file
        if size < 8 or not _BOX_TYPE.fullmatch(kind):
            return None  # malformed rather than short: FFmpeg will judge it
        if pos + size > n:
            name = kind.decode("latin-1")
            return f"the {name!r} box needs {pos + size - n:,} more bytes than the file has"
        pos += size
    return None


def _ebml_cut(data: Bytes) -> str | None:
    """Matroska: the Segment's size (when known) against the bytes present."""
    try:
        header_size, width = _vint(data, 4)
        pos = 4 + width + header_size
        if data[pos : pos + 4] != b"\x18\x53\x80\x67":
            return None
        size, width = _vint(data, pos + 4)
    except IndexError:
        return "the file ends inside its header"
    if size == (1 << (7 * width)) - 1:
        return None  # "unknown size": a live recording, nothing to compare with
    end = pos + 4 + width + size
    if end > len(data):
        return f"the Matroska segment needs {end - len(data):,} more bytes than the file has"
    return None


def _vint(data: Bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    width = 9 - first.bit_length()
    if width > 8:
        raise IndexError("invalid EBML length")
    value = first & ((1 << (8 - width)) - 1)
    for k in range(1, width):
        value = (value << 8) | data[pos + k]
    return value, width

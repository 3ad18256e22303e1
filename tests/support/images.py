"""Small, deterministic image files for tests and benchmarks (no imaging library needed).

The JPEG is a real JPEG container (SOI, JFIF APP0, a payload, EOI) with pseudo-random bytes seeded by a
name, so every seed gives different bytes and a different SHA-256. The PNG is a valid 1×1 image.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
import zlib
from collections.abc import Iterator

_JFIF = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
_EOI = b"\xff\xd9"


def jpeg_chunks(seed: object, size: int = 8192, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A JPEG of exactly ``size`` bytes, produced chunk by chunk (never whole in memory)."""
    body = size - len(_JFIF) - len(_EOI)
    yield _JFIF
    for number in itertools.count():
        if body <= 0:
            break
        n = min(chunk, body)
        yield hashlib.shake_256(f"{seed}/{number}".encode()).digest(n)
        body -= n
    yield _EOI


def jpeg(seed: object, size: int = 8192) -> bytes:
    return b"".join(jpeg_chunks(seed, size))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png() -> bytes:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def webp(payload: bytes = b"\x2f\x00\x00\x00\x00" + b"\x00" * 27) -> bytes:
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    body = b"WEBP" + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


def heic() -> bytes:
    ftyp = b"ftyp" + b"heic" + b"\x00\x00\x00\x00" + b"mif1heic"
    box = struct.pack(">I", len(ftyp) + 4) + ftyp
    return box + b"\x00\x00\x00\x10meta" + b"\x00" * 200


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

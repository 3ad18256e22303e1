"""Content-addressed store for evidence photos.

A file is stored once under the SHA-256 of its bytes (``MEDIA_DIR/ab/ab12…ef``; the name *is* the hash, the
two-character folder keeps directories small). A download is written to a temporary file in
``MEDIA_DIR/tmp`` by the channel's downloader (streamed in chunks, so no photo is ever held in memory), then
read once in a worker thread to hash it, check its type by its first bytes (JPEG, PNG, WebP, HEIC — never by
the name or the declared MIME type), check it is not cut short, ``fsync``, and moved into place with an
atomic rename. A crash leaves at worst a ``*.part`` file in ``tmp``, never a half-written photo under a hash.

Rows in the database refer to photos by hash only; :meth:`MediaStore.path` turns a hash back into a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from storage.private import private_dir, private_file

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile limit
CHUNK = 256 * 1024
SHA256_HEX = frozenset("0123456789abcdef")


class SizedRef(Protocol):
    """What the store needs of a ``handlers.types.MediaRef`` (storage does not import handlers)."""

    @property
    def size(self) -> int | None: ...


Downloader = Callable[[Any, Path, int], Awaitable[None]]
"""``(ref, path, max_bytes)``: write the media behind ``ref`` to ``path``, streaming; raise
:class:`MediaTooLarge` when it is (or turns out to be) bigger than ``max_bytes``, :class:`MediaUnavailable`
when it cannot be fetched."""


class MediaError(Exception):
    """A photo could not be accepted; subclasses say why."""


class MediaTooLarge(MediaError):
    def __init__(self, size: int | None, limit: int) -> None:
        super().__init__(f"file of {size if size is not None else '?'} bytes is over the {limit}-byte limit")
        self.size = size
        self.limit = limit


class NotAnImage(MediaError):
    """The bytes are not a JPEG, PNG, WebP or HEIC image."""


class BrokenImage(MediaError):
    """The bytes start like an image but are empty, cut short or damaged."""


class MediaUnavailable(MediaError):
    """The platform did not deliver the file (network error, expired file id, no downloader)."""


@dataclass(frozen=True, slots=True)
class StoredMedia:
    sha256: str
    size: int
    mime: str
    path: Path


_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}


def sniff(head: bytes) -> str | None:
    """The image MIME type from the first bytes of a file, or None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    return None


def looks_complete(mime: str, head: bytes, tail: bytes, size: int) -> bool:
    """A cheap check that an image was not cut short (a truncated upload or download)."""
    if size < 32:
        return False
    if mime == "image/jpeg":
        # The end-of-image marker; some cameras pad a few bytes after it.
        return b"\xff\xd9" in tail
    if mime == "image/png":
        return b"IEND" in tail
    if mime == "image/webp":
        declared = int.from_bytes(head[4:8], "little") + 8
        return declared <= size <= declared + 1
    return True  # HEIF boxes would need a parser; the size check above is what we do


class MediaStore:
    def __init__(self, root: Path | str, *, max_bytes: int = TELEGRAM_DOWNLOAD_LIMIT, fsync: bool = True) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.fsync = fsync

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    async def save(self, ref: SizedRef, download: Downloader | None) -> StoredMedia:
        """Fetch ``ref`` with ``download`` and store it; raise a :class:`MediaError` when it is not accepted."""
        if ref.size is not None and ref.size > self.max_bytes:
            raise MediaTooLarge(ref.size, self.max_bytes)
        if download is None:
            raise MediaUnavailable("no downloader for this channel")
        private_dir(self.tmp_dir)
        tmp = self.tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            try:
                await download(ref, tmp, self.max_bytes)
            except (MediaError, asyncio.CancelledError):
                raise
            except Exception as exc:  # a channel's own error: report it in common terms
                raise MediaUnavailable(str(exc)) from exc
            return await asyncio.to_thread(self._finalise, tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def save_file(self, source: Path) -> StoredMedia:
        """Store a local file (tests, imports); same checks as :meth:`save`."""
        private_dir(self.tmp_dir)
        tmp = self.tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            copy_limited(source, tmp, self.max_bytes)
            return self._finalise(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _finalise(self, tmp: Path) -> StoredMedia:
        digest = hashlib.sha256()
        head = b""
        tail = b""
        size = 0
        with tmp.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                if not head:
                    head = chunk[:64]
                tail = (tail + chunk)[-64:]
                size += len(chunk)
                if size > self.max_bytes:
                    raise MediaTooLarge(size, self.max_bytes)
                digest.update(chunk)
            if self.fsync:
                os.fsync(handle.fileno())
        if size == 0:
            raise BrokenImage("empty file")
        mime = sniff(head)
        if mime is None:
            raise NotAnImage(f"content starts with {head[:8].hex()}")
        if not looks_complete(mime, head, tail, size):
            raise BrokenImage(f"{mime} of {size} bytes looks cut short")
        sha = digest.hexdigest()
        final = self.path(sha)
        if final.is_file() and final.stat().st_size == size:
            return StoredMedia(sha, size, mime, final)  # already stored: content-addressed, nothing to do
        private_dir(final.parent)
        os.replace(private_file(tmp), final)
        if self.fsync:
            _fsync_dir(final.parent)
        return StoredMedia(sha, size, mime, final)


def copy_limited(source: Path, target: Path, max_bytes: int) -> None:
    """Copy ``source`` to ``target`` in chunks, refusing files over ``max_bytes``."""
    size = source.stat().st_size
    if size > max_bytes:
        raise MediaTooLarge(size, max_bytes)
    copied = 0
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(CHUNK):
            copied += len(chunk)
            if copied > max_bytes:
                raise MediaTooLarge(copied, max_bytes)
            dst.write(chunk)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Files and folders only the service's own account may read: the SQLite database (phone numbers, the key
that signs buttons), the evidence photos, exports and packs. Folders 0700, files 0600."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
OWNER_ONLY_UMASK = 0o077


def owner_only_umask() -> None:
    """Every file and folder this process creates from now on is owner-only."""
    os.umask(OWNER_ONLY_UMASK)


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) a folder only its owner can open."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):  # parents too: mkdir(parents=True) would make them with the umask's mode
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    if path not in missing:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Restrict an existing file to its owner (read and write)."""
    os.chmod(path, FILE_MODE)
    return path


def open_private(path: Path, mode: str = "w", **kwargs):
    """Open ``path`` for writing (``w``) or appending (``a``) as an owner-only file (created 0600; an existing
    one tightened)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    with contextlib.suppress(OSError):
        os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode, **kwargs)


def too_open(paths: Iterable[Path]) -> list[Path]:
    """Those of ``paths`` that exist and that the group or others may read, write or enter."""
    loose = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                loose.append(path)
    return loose


def tighten(paths: Iterable[Path]) -> list[Path]:
    """Make each of ``paths`` owner-only (folders 0700, files 0600); return those that were not."""
    loose = too_open(paths)
    for path in loose:
        os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)
    return loose

"""Loading and schema validation of knowledge-base entries.

One entry per YAML file, ``<id>.yaml``. The pydantic model enforces the
*structure* (required fields, types, allowed values, no unknown keys); editorial
rules (answer length, number of phrasings, related ids, ...) are checked by
:mod:`knowledge.check`, which reports them all at once instead of stopping at
the first one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "DEFAULT_ENTRIES_DIR",
    "Entry",
    "KnowledgeError",
    "Validity",
    "Version",
    "iter_entry_files",
    "load_entries",
    "load_entry_file",
    "read_yaml",
]

DEFAULT_ENTRIES_DIR = Path(__file__).resolve().parent / "entries"


class KnowledgeError(Exception):
    """Raised when the knowledge base cannot be loaded (message is Vietnamese)."""


class Validity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    valid_from: dt.date | None = Field(default=None, alias="from")
    until: dt.date | None = None
    text: str


class Version(BaseModel):
    """An earlier wording of an entry, in force from ``from`` to ``until`` (both inclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, str_strip_whitespace=True)

    valid_from: dt.date = Field(alias="from")
    until: dt.date | None = None
    text: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    legal_basis: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    verify: bool = False


class Entry(BaseModel):
    """One question/answer topic of the knowledge base.

    The top-level ``answer``, ``legal_basis``, ``sources``, ``verify`` and ``validity`` are the latest wording;
    ``versions`` holds the earlier ones with their dates, and :meth:`at` gives the wording in force on a day.
    ``replaced_by`` names the entry that took over once ``validity.until`` has passed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    title: str = Field(min_length=1)
    audience: Literal["merchant", "consumer", "both"]
    questions: tuple[str, ...] = Field(min_length=1)
    answer: str = Field(min_length=1)
    legal_basis: tuple[str, ...] = ()
    validity: Validity
    sources: tuple[str, ...] = ()
    reviewed: dt.date | None = None
    related: tuple[str, ...] = ()
    verify: bool = False
    versions: tuple[Version, ...] = ()
    replaced_by: str | None = None

    def spans(self) -> list[tuple[dt.date | None, dt.date | None]]:
        """(from, until) of every wording, the latest last."""
        return [(v.valid_from, v.until) for v in self.versions] + [(self.validity.valid_from, self.validity.until)]

    def at(self, day: dt.date) -> Entry:
        """The entry as worded on *day*: the version whose dates contain it (the nearest one otherwise)."""
        if not self.versions:
            return self
        start = self.validity.valid_from
        if start is None or day >= start:
            return self
        ordered = sorted(self.versions, key=lambda v: v.valid_from)
        chosen = next((v for v in ordered if v.valid_from <= day and (v.until is None or day <= v.until)), None)
        if chosen is None:
            chosen = (
                ordered[0]
                if day < ordered[0].valid_from
                else max((v for v in ordered if v.valid_from <= day), key=lambda v: v.valid_from)
            )
        validity = Validity(valid_from=chosen.valid_from, until=chosen.until, text=chosen.text)
        update = {"answer": chosen.answer, "legal_basis": chosen.legal_basis, "sources": chosen.sources}
        return self.model_copy(update={**update, "verify": chosen.verify, "validity": validity, "versions": ()})

    def expired(self, day: dt.date) -> bool:
        """True when *day* is after the entry's last wording and a successor took over."""
        until = self.validity.until
        return self.replaced_by is not None and until is not None and day > until


_MESSAGES = {
    "missing": "thiếu trường bắt buộc",
    "extra_forbidden": "trường không có trong lược đồ (gõ sai tên trường?)",
    "string_type": "phải là chuỗi văn bản (nếu có dấu ': ' thì đặt cả chuỗi trong ngoặc kép)",
    "string_pattern_mismatch": "chỉ gồm chữ thường không dấu, chữ số và dấu '-'",
    "string_too_short": "không được để trống",
    "too_short": "không được để trống",
    "literal_error": "giá trị không hợp lệ",
    "date_type": "phải là ngày dạng YYYY-MM-DD",
    "date_parsing": "phải là ngày dạng YYYY-MM-DD",
    "date_from_datetime_parsing": "phải là ngày dạng YYYY-MM-DD",
    "bool_type": "phải là true hoặc false",
    "bool_parsing": "phải là true hoặc false",
    "list_type": "phải là danh sách",
    "tuple_type": "phải là danh sách",
    "dict_type": "phải là ánh xạ (khóa: giá trị)",
    "model_type": "phải là ánh xạ (khóa: giá trị)",
}


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(gốc)"


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = _loc(tuple(e["loc"]))
        kind = e["type"]
        msg = _MESSAGES.get(kind)
        if msg is None:
            msg = e["msg"]
        elif kind == "literal_error":
            msg += f" ({e.get('ctx', {}).get('expected', '')})"
        lines.append(f"trường '{where}': {msg}")
    return "; ".join(lines)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file; raise :class:`KnowledgeError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{path.name}: không đọc được tệp ({exc})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path.name}: lỗi cú pháp YAML: {exc}") from exc


def parse_entry(data: Any, path: Path) -> Entry:
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path.name}: nội dung phải là một ánh xạ YAML (khóa: giá trị)")
    try:
        return Entry.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeError(f"{path.name}: {_describe(exc)}") from exc


def load_entry_file(path: Path) -> Entry:
    """Load and validate one entry file."""
    return parse_entry(read_yaml(path), path)


def iter_entry_files(path: Path) -> Iterator[Path]:
    """Entry files of a folder, sorted by name (``*.yaml`` and ``*.yml``)."""
    if not path.is_dir():
        raise KnowledgeError(f"Không tìm thấy thư mục dữ liệu tri thức: {path}")
    files = [p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")]
    yield from sorted(files, key=lambda p: p.name)


def load_entries(path: Path | None = None) -> dict[str, Entry]:
    """Load every entry of *path* (default: the package's ``entries/`` folder).

    Raises :class:`KnowledgeError` on the first unreadable/invalid file, on an id
    that differs from its file name, and on duplicate ids.
    """
    folder = Path(path) if path is not None else DEFAULT_ENTRIES_DIR
    loaded = [(file, load_entry_file(file)) for file in iter_entry_files(folder)]
    if not loaded:
        raise KnowledgeError(f"Thư mục dữ liệu tri thức không có mục nào: {folder}")
    entries: dict[str, Entry] = {}
    origin: dict[str, Path] = {}
    for file, entry in loaded:
        if entry.id in entries:
            raise KnowledgeError(f"Trùng id '{entry.id}' ở hai tệp: {origin[entry.id].name} và {file.name}")
        entries[entry.id] = entry
        origin[entry.id] = file
    for file, entry in loaded:
        if entry.id != file.stem:
            raise KnowledgeError(f"{file.name}: id '{entry.id}' phải trùng tên tệp '{file.stem}'")
    return entries

"""Today's communes and wards of a province, and what people type for them: a unit of today, an old address of
before the 2025 merger ("Bù Đăng", "phường Tân Phú, Đồng Xoài", "huyện Lộc Ninh cũ"), with or without
diacritics, with typos — or a place outside the province.

The data are the ``vietnamadminunits`` package's own files (MIT; pinned in pyproject.toml), read offline:
``data/dataset.db`` (today's units, ``admin_units``, and the units before 01/07/2025, ``admin_units_legacy``) and
``data/converter_2025.json`` (which old ward became which new one; a divided old ward lists its new wards, the
default first). The package's Python code is not imported (it geocodes over the network for street addresses).

:func:`recognise` never guesses confidently: one candidate is proposed for confirmation, several are offered as
choices, and text that names nothing known gets ``unknown``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from handlers.matching import fold_text

PACKAGE = "vietnamadminunits"
MAX_CANDIDATES = 10
FUZZY_MIN_LENGTH = 4  # letters; shorter typed names must match exactly
FUZZY_LONG = 8  # letters from which a typed name may be two edits (typo, swap) away from a known one, else one

WARD_TYPES = ("thi tran", "phuong", "xa", "tt", "p", "x")
DISTRICT_TYPES = ("thanh pho", "thi xa", "huyen", "quan", "tp", "tx", "h", "q")
PROVINCE_TYPES = ("thanh pho", "tinh", "tp", "t")
OLD_WORDS = ("truoc sap nhap", "truoc day", "ngay xua", "cu")
OUTSIDE_WORDS = ("ngoai tinh", "tinh khac", "khac tinh", "o tinh khac", "ngoai dong nai", "khong o dong nai")
_SPLIT = re.compile(r"\s*(?:,|;|\s-\s|/)\s*")
_TYPE_ALIASES = {
    "tt": "thi tran",
    "p": "phuong",
    "x": "xa",
    "tp": "thanh pho",
    "tx": "thi xa",
    "h": "huyen",
    "q": "quan",
}


@dataclass(frozen=True)
class Unit:
    """A commune or ward of today: ``id`` is a slug of its name (``phuong-binh-phuoc``)."""

    id: str
    name: str
    code: str


@dataclass(frozen=True)
class Recognition:
    """What a typed place names: ``one`` (confirm it), ``several`` (choose), ``outside`` the province, or
    ``unknown``. ``was`` tells which old unit the candidates come from, when they do ("huyện Bù Đăng")."""

    kind: str
    ids: tuple[str, ...] = ()
    was: str = ""


@dataclass
class _Index:
    units: dict[str, Unit] = field(default_factory=dict)
    new_names: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    old_wards: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = field(default_factory=lambda: defaultdict(list))
    old_districts: dict[str, list[tuple[str, str, tuple[str, ...]]]] = field(default_factory=lambda: defaultdict(list))
    provinces: set[str] = field(default_factory=set)
    own_provinces: set[str] = field(default_factory=set)
    names: list[str] = field(default_factory=list)
    accented: dict[str, str] = field(default_factory=dict)
    elsewhere: set[str] = field(default_factory=set)
    squeezed: dict[str, str] = field(default_factory=dict)


def data_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"Thiếu gói dữ liệu đơn vị hành chính '{PACKAGE}' (cài bằng pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def slug(name: str) -> str:
    return fold_text(name).replace(" ", "-")


def _split_type(folded: str, types: tuple[str, ...]) -> tuple[str, str]:
    """``("xa", "bu dang")`` from ``"xa bu dang"``; ``("", name)`` when no type word leads."""
    for kind in types:
        if folded.startswith(kind + " ") and len(folded) > len(kind) + 1:
            return _TYPE_ALIASES.get(kind, kind), folded[len(kind) + 1 :]
    return "", folded


def _split_accented(name: str) -> str:
    """``"lộc thạnh"`` from ``"Xã Lộc Thạnh"``: to tell apart names that differ only by their tone marks."""
    words = name.casefold().split()
    return " ".join(
        words[2:] if words[:2] == ["thị", "trấn"] else words[1:] if words[:1] in (["xã"], ["phường"]) else words
    )


def _core(name: str, types: tuple[str, ...]) -> tuple[str, str]:
    return _split_type(fold_text(name), types)


@lru_cache(maxsize=8)
def province_units(province: str) -> tuple[Unit, ...]:
    """Today's communes and wards of ``province`` ("Đồng Nai"), in the package's order of codes."""
    return tuple(_index(province).units.values())


@lru_cache(maxsize=8)
def _index(province: str) -> _Index:
    folder = data_dir()
    index = _Index()
    wanted = fold_text(province)
    with sqlite3.connect(f"file:{folder / 'dataset.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT provinceShort, ward, wardKey, wardCode FROM admin_units ORDER BY wardCode").fetchall()
        legacy = db.execute(
            "SELECT provinceShort, district, ward, provinceKey, districtKey, wardKey FROM admin_units_legacy"
        ).fetchall()
    mapping = json.loads((folder / "converter_2025.json").read_text(encoding="utf-8"))
    province_key = next((row[0] for row in rows if fold_text(row[0]) == wanted), None)
    if province_key is None:
        raise ValueError(f"không có tỉnh/thành phố '{province}' trong dữ liệu đơn vị hành chính 2025")
    own = [(ward, ward_key, code) for short, ward, ward_key, code in rows if short == province_key]
    slugs = [slug(ward) for ward, _, _ in own]
    by_key: dict[str, str] = {}
    for (ward, ward_key, code), unit_slug in zip(own, slugs, strict=True):
        unit = Unit(unit_slug if slugs.count(unit_slug) == 1 else f"{unit_slug}-{code}", ward, code)
        index.units[unit.id] = unit
        by_key[ward_key] = unit.id
        kind, core = _core(ward, WARD_TYPES)
        index.new_names[core].append((kind, unit.id))
        index.accented[_split_accented(ward)] = unit.id
    index.provinces = {fold_text(row[0]) for row in rows} | {fold_text(row[0]) for row in legacy}
    new_key = "tinh" + fold_text(province_key).replace(" ", "")
    old_to_new = _old_to_new(mapping, new_key, by_key)
    _add_legacy(index, legacy, old_to_new)
    index.own_provinces = {wanted} | {fold_text(row[0]) for row in legacy if _old_key(row[3:]) in old_to_new}
    index.provinces -= index.own_provinces
    index.elsewhere = {
        _core(row[1], DISTRICT_TYPES)[1] for row in legacy if fold_text(row[0]) not in index.own_provinces and row[1]
    }
    index.names = sorted({*index.new_names, *index.old_wards, *index.old_districts})
    index.squeezed = {name.replace(" ", ""): name for name in index.names}
    return index


def _old_key(keys: tuple[str | None, ...]) -> str:
    return "_".join(key or "" for key in keys)


def _old_to_new(mapping: dict, new_province: str, by_key: dict[str, str]) -> dict[str, tuple[str, ...]]:
    result: dict[str, list[str]] = defaultdict(list)
    for ward_key, old_keys in mapping["DICT_PROVINCE_WARD_NO_DIVIDED"].get(new_province, {}).items():
        for old in old_keys:
            result[old].append(by_key[ward_key])
    for old, wards in mapping["DICT_PROVINCE_WARD_DIVIDED"].get(new_province, {}).items():
        ordered = sorted(wards, key=lambda ward: not ward["isDefaultNewWard"])
        result[old].extend(by_key[ward["newWardKey"]] for ward in ordered if ward["newWardKey"] in by_key)
    return {old: tuple(dict.fromkeys(ids)) for old, ids in result.items()}


def _add_legacy(index: _Index, legacy: list[tuple], old_to_new: dict[str, tuple[str, ...]]) -> None:
    district_units: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    district_names: dict[tuple[str, str], str] = {}
    for province, district, ward, *keys in legacy:
        new_ids = old_to_new.get(_old_key(tuple(keys)))
        if not new_ids:
            continue
        kind, core = _core(ward, WARD_TYPES)
        district_kind, district_core = _core(district, DISTRICT_TYPES)
        index.old_wards[core].append((kind, district_core, f"{ward}, {district}", new_ids))
        counts = district_units[(district_kind, district_core)]
        for unit_id in new_ids[:1]:
            counts[unit_id] = counts.get(unit_id, 0) + 1
        district_names[(district_kind, district_core)] = f"{district} ({province})"
    for (kind, core), counts in district_units.items():
        ordered = tuple(sorted(counts, key=lambda unit_id: -counts[unit_id]))
        index.old_districts[core].append((kind, district_names[(kind, core)], ordered))


# ----------------------------------------------------------------------------------------------------------
# Recognition
# ----------------------------------------------------------------------------------------------------------


def recognise(text: str, province: str) -> Recognition:
    """The unit(s) of today that ``text`` names in ``province``; see :class:`Recognition`."""
    index = _index(province)
    folded = fold_text(text)
    if not folded:
        return Recognition("unknown")
    if any(f" {word} " in f" {folded} " for word in OUTSIDE_WORDS):
        return Recognition("outside")
    parts = [fold_text(part) for part in _SPLIT.split(text) if fold_text(part)]
    parts = [_drop_old_words(part) for part in parts]
    parts = [part for part in parts if part and not _is_own_province(index, part)] or parts
    if len(parts) == 1 and _is_own_province(index, parts[0]):
        return Recognition("unknown")
    if any(_is_other_province(index, part) for part in parts) and not _found(_match_parts(index, parts[:1])):
        return Recognition("outside")
    found = _match_parts(index, parts)
    if not _found(found) and len(parts) == 1:
        found = _match_glued(index, parts[0])
    if not _found(found) and any(_elsewhere(index, part) for part in parts):
        return Recognition("outside")
    if not _found(found):
        found = _match_fuzzy(index, parts)
    if found.kind == "one" and any(_names_province(index, part) for part in parts):
        found = Recognition("several", found.ids, found.was)  # "Long An": a ward here, or the province? ask
    return _tone_marks(index, text, found)


def _elsewhere(index: _Index, part: str) -> bool:
    """A district of another province ("Thủ Đức", "quận 1"); a bare number names nothing."""
    kind, core = _split_type(part, DISTRICT_TYPES)
    return core in index.elsewhere and (bool(kind) or not core.isdigit())


def _names_province(index: _Index, part: str) -> bool:
    return _split_type(part, PROVINCE_TYPES)[1] in index.provinces


def _tone_marks(index: _Index, text: str, found: Recognition) -> Recognition:
    """ "Lộc Thạnh" and "Lộc Thành" fold alike: typed with its marks, a name keeps only its own unit."""
    exact = index.accented.get(_split_accented(text.strip()))
    if found.kind == "several" and exact in found.ids:
        twins = {index.units[unit_id].name for unit_id in found.ids}
        if all(fold_text(name) == fold_text(index.units[exact].name) for name in twins):
            return Recognition("one", (exact,), found.was)
    return found


def _found(result: Recognition) -> bool:
    return result.kind in ("one", "several")


def _drop_old_words(part: str) -> str:
    for word in OLD_WORDS:
        if part.endswith(" " + word):
            part = part[: -len(word) - 1]
        if part.startswith(word + " "):
            part = part[len(word) + 1 :]
    return part.strip()


def _is_own_province(index: _Index, part: str) -> bool:
    return _split_type(part, PROVINCE_TYPES)[1] in index.own_provinces


def _is_other_province(index: _Index, part: str) -> bool:
    kind, core = _split_type(part, PROVINCE_TYPES)
    core = {"hcm": "ho chi minh", "tphcm": "ho chi minh", "sai gon": "ho chi minh", "sg": "ho chi minh"}.get(core, core)
    return core in index.provinces and (bool(kind) or core not in index.names)


def _match_parts(index: _Index, parts: list[str]) -> Recognition:
    """The first part names the place; a later one, when given, the old district it was in."""
    head, context = parts[0], parts[1:]
    district = _split_type(context[0], DISTRICT_TYPES)[1] if context else ""
    return _lookup(index, head, district)


def _match_glued(index: _Index, text: str) -> Recognition:
    """ "phuong tan phu dong xoai": a name followed by its old district, without a comma."""
    words = text.split()
    for cut in range(len(words) - 1, 0, -1):
        head, tail = " ".join(words[:cut]), " ".join(words[cut:])
        tail_core = _split_type(tail, DISTRICT_TYPES)[1]
        if tail_core in index.old_districts or _is_own_province(index, tail):
            found = _lookup(index, head, "" if _is_own_province(index, tail) else tail_core)
            if _found(found):
                return found
    return Recognition("unknown")


def _lookup(index: _Index, text: str, district: str) -> Recognition:
    ward_kind, ward_core = _split_type(text, WARD_TYPES)
    district_kind, district_core = _split_type(text, DISTRICT_TYPES)
    if district_kind and district_core in index.old_districts:
        return _district(index, district_core, district_kind)
    return _named(index, ward_core, ward_kind, district)


def _district(index: _Index, core: str, kind: str = "") -> Recognition:
    entries = [entry for entry in index.old_districts[core] if not kind or entry[0] == kind] or index.old_districts[
        core
    ]
    ids = tuple(dict.fromkeys(unit_id for entry in entries for unit_id in entry[2]))
    was = entries[0][1] if len(entries) == 1 else ""
    return _result(ids, was)


def _named(index: _Index, core: str, kind: str, district: str) -> Recognition:
    """A name without a district type word: today's unit of that name, an old ward, or an old district."""
    new = [unit_id for unit_kind, unit_id in index.new_names.get(core, []) if not kind or unit_kind == kind]
    old = [
        entry
        for entry in index.old_wards.get(core, [])
        if (not kind or entry[0] == kind) and (not district or entry[1] == district)
    ]
    if district and old:
        ids = tuple(dict.fromkeys(unit_id for entry in old for unit_id in entry[3]))
        return _result(ids, old[0][2] if len(old) == 1 else "")
    if new and (kind or not index.old_districts.get(core)):
        old_ids = [unit_id for entry in old for unit_id in entry[3]]
        return _result(tuple(dict.fromkeys([*new, *old_ids])), "")
    ids: list[str] = list(new)
    was = ""
    if not kind and core in index.old_districts:
        district_result = _district(index, core)
        ids += district_result.ids
        was = district_result.was if not new else ""
    for entry in old:
        ids += entry[3]
    if len(old) == 1 and not ids[: len(new)] and not was:
        was = old[0][2]
    return _result(tuple(dict.fromkeys(ids)), was)


def _result(ids: tuple[str, ...], was: str) -> Recognition:
    if not ids:
        return Recognition("unknown")
    if len(ids) == 1:
        return Recognition("one", ids, was)
    return Recognition("several", ids[:MAX_CANDIDATES], was)


def _match_fuzzy(index: _Index, parts: list[str]) -> Recognition:
    """A typo: the known name closest to the first part, when it is close enough and clearly the closest."""
    head = parts[0]
    ward_kind, ward_core = _split_type(head, WARD_TYPES)
    district_kind, district_core = _split_type(head, DISTRICT_TYPES)
    core = district_core if district_kind else ward_core
    squeezed = core.replace(" ", "")
    if len(squeezed) < FUZZY_MIN_LENGTH:
        return Recognition("unknown")
    if squeezed in index.squeezed:
        return _lookup(index, f"{district_kind or ward_kind} {index.squeezed[squeezed]}".strip(), "")
    edits = 2 if len(squeezed) >= FUZZY_LONG else 1
    hits = process.extract(
        squeezed, list(index.squeezed), scorer=DamerauLevenshtein.distance, score_cutoff=edits, limit=5
    )
    if not hits:
        return Recognition("unknown")
    best = hits[0][1]
    names = [index.squeezed[name] for name, distance, _ in hits if distance == best]
    results = [_lookup(index, f"{district_kind or ward_kind} {name}".strip(), "") for name in names]
    ids = tuple(dict.fromkeys(unit_id for result in results for unit_id in result.ids))
    if len(ids) == 1:
        return Recognition("one", ids, results[0].was)
    return _result(ids, "")

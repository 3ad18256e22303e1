from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import Entry, KnowledgeError
from knowledge.loader import load_entries, load_entry_file

VALID = """\
id: {id}
title: Tiêu đề
audience: merchant
questions:
  - Câu hỏi một?
  - Câu hỏi hai?
  - Câu hỏi ba?
  - Câu hỏi bốn?
  - Câu hỏi năm?
answer: Câu trả lời.
legal_basis: ["Điều 7 Nghị định 81/2018/NĐ-CP"]
validity: {{from: 2024-12-01, until: null, text: "Áp dụng từ 01/12/2024"}}
sources: [https://example.gov.vn/van-ban]
reviewed: 2026-11-26
related: []
verify: false
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_fixture_entries_load(fixture_entries: Path) -> None:
    entries = load_entries(fixture_entries)
    assert set(entries) == {
        "giam-gia-toi-da-online-friday",
        "thong-bao-khuyen-mai-so-cong-thuong",
        "dang-ky-tham-gia-online-friday",
    }
    entry = entries["giam-gia-toi-da-online-friday"]
    assert isinstance(entry, Entry)
    assert entry.validity.valid_from is not None and entry.validity.valid_from.year == 2024
    assert entry.verify is True
    assert len(entry.questions) >= 5


def test_valid_minimal_entry(tmp_path: Path) -> None:
    path = write(tmp_path, "muc-a.yaml", VALID.format(id="muc-a"))
    entry = load_entry_file(path)
    assert entry.id == "muc-a"
    assert entry.validity.until is None


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    text = VALID.format(id="muc-a").replace("answer: Câu trả lời.\n", "")
    path = write(tmp_path, "muc-a.yaml", text)
    with pytest.raises(KnowledgeError) as exc:
        load_entry_file(path)
    assert "muc-a.yaml" in str(exc.value)
    assert "answer" in str(exc.value)
    assert "thiếu trường bắt buộc" in str(exc.value)


def test_bad_audience_and_unknown_field(tmp_path: Path) -> None:
    text = VALID.format(id="muc-a").replace("audience: merchant", "audience: everyone") + "tags: [x]\n"
    path = write(tmp_path, "muc-a.yaml", text)
    with pytest.raises(KnowledgeError) as exc:
        load_entry_file(path)
    msg = str(exc.value)
    assert "audience" in msg and "tags" in msg


def test_unquoted_colon_in_list_gives_a_hint(tmp_path: Path) -> None:
    text = VALID.format(id="muc-a").replace(
        "sources: [https://example.gov.vn/van-ban]", "sources:\n  - Ghi chú: chưa có nguồn"
    )
    path = write(tmp_path, "muc-a.yaml", text)
    with pytest.raises(KnowledgeError, match=r"sources\[0\].*ngoặc kép"):
        load_entry_file(path)


def test_yaml_syntax_error_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "hong.yaml", "id: hong\nquestions: [a, b\n")
    with pytest.raises(KnowledgeError, match=r"hong\.yaml.*YAML"):
        load_entry_file(path)


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, "muc-a.yaml", VALID.format(id="muc-b"))
    write(tmp_path, "muc-b.yaml", VALID.format(id="muc-b"))
    with pytest.raises(KnowledgeError) as exc:
        load_entries(tmp_path)
    msg = str(exc.value)
    assert "muc-b" in msg and "muc-a.yaml" in msg and "muc-b.yaml" in msg


def test_id_must_match_file_name(tmp_path: Path) -> None:
    write(tmp_path, "muc-a.yaml", VALID.format(id="muc-khac"))
    with pytest.raises(KnowledgeError, match="muc-khac"):
        load_entries(tmp_path)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError):
        load_entries(tmp_path / "khong-co")
    with pytest.raises(KnowledgeError):
        load_entries(tmp_path)

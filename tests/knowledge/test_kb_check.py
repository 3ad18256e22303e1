from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from knowledge.check import Problem, check_entries, check_rules, main


def edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def codes(problems: list[Problem], level: str = "error") -> set[str]:
    return {p.code for p in problems if p.level == level}


def test_fixture_entries_pass(fixture_entries: Path) -> None:
    problems = check_entries(fixture_entries)
    assert codes(problems) == set(), [str(p) for p in problems]


def test_duplicate_id_is_an_error_naming_both_files(entries_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    (entries_dir / "ban-sao.yaml").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    problems = check_entries(entries_dir)
    dup = [p for p in problems if p.code == "duplicate-id"]
    assert len(dup) == 1
    assert dup[0].level == "error"
    assert "ban-sao.yaml" in dup[0].message and "dang-ky-tham-gia-online-friday.yaml" in dup[0].message
    assert main([str(entries_dir)]) == 1
    out = capsys.readouterr().out
    assert "LỖI [dang-ky-tham-gia-online-friday]" in out and "trùng" in out


def test_editorial_rules(entries_dir: Path) -> None:
    f = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    edit(
        f,
        answer="x" * 1201,
        questions=["Câu một?", "Câu hai?"],
        legal_basis=[],
        sources=[],
        related=["khong-ton-tai"],
        verify=True,
    )
    found = codes(check_entries(entries_dir))
    assert {
        "answer-too-long",
        "too-few-questions",
        "missing-legal-basis",
        "missing-sources",
        "related-missing",
        "verify-marker",
    } <= found


def test_id_file_mismatch_and_schema_error(entries_dir: Path) -> None:
    edit(entries_dir / "dang-ky-tham-gia-online-friday.yaml", id="ten-khac")
    edit(entries_dir / "thong-bao-khuyen-mai-so-cong-thuong.yaml", audience="ai-cung-duoc")
    problems = check_entries(entries_dir)
    found = codes(problems)
    assert "id-file-mismatch" in found
    schema = [p for p in problems if p.code == "schema"]
    assert schema and "audience" in schema[0].message
    assert schema[0].file == "thong-bao-khuyen-mai-so-cong-thuong.yaml"


def test_non_nfc_text_is_an_error(entries_dir: Path) -> None:
    f = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    text = f.read_text(encoding="utf-8").replace(
        "title: Đăng ký tham gia Online Friday", "title: " + unicodedata.normalize("NFD", "Đăng ký tham gia")
    )
    f.write_text(text, encoding="utf-8")
    problems = [p for p in check_entries(entries_dir) if p.code == "not-nfc"]
    assert problems and "title" in problems[0].message


def test_question_copied_into_another_entry_is_an_error(entries_dir: Path) -> None:
    f = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    data = yaml.safe_load(f.read_text(encoding="utf-8"))
    edit(f, questions=[*data["questions"], "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?"])
    problems = check_entries(entries_dir)
    assert "question-overlaps-other" in codes(problems)


def test_near_duplicate_question_in_another_entry_is_an_error(entries_dir: Path) -> None:
    f = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    data = yaml.safe_load(f.read_text(encoding="utf-8"))
    edit(f, questions=[*data["questions"], "Online Friday trong được giảm giá tối đa bao nhiêu phần trăm?"])
    problems = [p for p in check_entries(entries_dir) if p.code == "question-overlaps-other"]
    assert problems and all(p.level == "error" for p in problems)
    assert any("giam-gia-toi-da-online-friday" in p.message for p in problems)


def test_question_closer_to_another_entry_is_a_warning(entries_dir: Path) -> None:
    f = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    data = yaml.safe_load(f.read_text(encoding="utf-8"))
    edit(f, questions=[*data["questions"], "Giảm giá tối đa bao nhiêu phần trăm?"])
    problems = check_entries(entries_dir)
    warn = [p for p in problems if p.code == "question-matches-other"]
    assert warn and warn[0].level == "warning"
    assert warn[0].entry_id == "dang-ky-tham-gia-online-friday"
    assert "giam-gia-toi-da-online-friday" in warn[0].message
    assert codes(problems) == set()


def test_main_returns_zero_without_errors(fixture_entries: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(fixture_entries)]) == 0
    assert "0 lỗi" in capsys.readouterr().out


def test_shipped_entries_pass_check(real_entries: Path) -> None:
    """The real knowledge base must have no check error (warnings are allowed)."""
    problems = check_entries(real_entries)
    errors = [str(p) for p in problems if p.level == "error"]
    assert not errors, "\n".join(errors)


def test_bare_domain_source_is_a_warning(entries_dir: Path) -> None:
    edit(entries_dir / "dang-ky-tham-gia-online-friday.yaml", sources=["https://thuvienphapluat.vn"])
    warned = [p for p in check_entries(entries_dir, overlap=False) if p.code == "source-not-url"]
    assert warned and warned[0].level == "warning" and "thuvienphapluat.vn" in warned[0].message
    edit(entries_dir / "dang-ky-tham-gia-online-friday.yaml", sources=["https://docluat.vn/archive/1528"])
    assert "source-not-url" not in codes(check_entries(entries_dir, overlap=False), "warning")


def test_versions_overlapping_or_without_source_are_warnings(entries_dir: Path) -> None:
    f = entries_dir / "dang-ky-tham-gia-online-friday.yaml"
    edit(
        f,
        validity={"from": "2025-07-01", "until": None, "text": "Từ 01/07/2025."},
        versions=[
            {"from": "2018-07-15", "until": "2025-07-10", "text": "Cũ.", "answer": "Bản cũ.", "sources": []},
        ],
    )
    found = codes(check_entries(entries_dir, overlap=False), "warning")
    assert {"version-overlap", "version-without-source"} <= found
    edit(
        f,
        versions=[
            {"from": "2018-07-15", "until": "2025-06-30", "text": "Cũ.", "answer": "Bản cũ.",
             "sources": ["https://docluat.vn/archive/1528"]},
        ],
    )  # fmt: skip
    found = codes(check_entries(entries_dir, overlap=False), "warning")
    assert not {"version-overlap", "version-without-source"} & found


def test_replaced_by_must_name_an_entry(entries_dir: Path) -> None:
    edit(entries_dir / "dang-ky-tham-gia-online-friday.yaml", replaced_by="khong-co")
    assert "replaced-missing" in codes(check_entries(entries_dir, overlap=False))


def test_shipped_kb_and_rules_give_no_warning(real_entries: Path) -> None:
    problems = check_entries(real_entries) + check_rules(real_entries.parent / "rules")
    assert [str(p) for p in problems] == []

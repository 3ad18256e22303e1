"""The rules folder: loading, versions by date, and the problems `kb check` reports."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from knowledge.check import check_rules, main
from knowledge.promotion.rules import DEFAULT_RULES_DIR, RulesError, default_rules, is_full_url, load_rules, validate


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, dst)
    return dst


def edit_rules(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["rules"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_shipped_rules_have_no_errors() -> None:
    assert [p for p in validate() if p.level == "error"] == []


def test_every_shipped_rule_has_at_least_one_full_source_url() -> None:
    rules = default_rules()
    assert all(any(is_full_url(s) for s in r.sources) for r in rules.rules), [
        r.id for r in rules.rules if not any(is_full_url(s) for s in r.sources)
    ]


@pytest.mark.parametrize(
    ("day", "regime"),
    [
        (date(2018, 7, 15), "nd81-2018"),
        (date(2024, 11, 30), "nd81-2018"),
        (date(2024, 12, 1), "nd128-2024"),
        (date(2025, 6, 30), "nd128-2024"),
        (date(2025, 7, 1), "tt39-2025"),
        (date(2026, 6, 25), "tt39-2025"),
        (date(2026, 6, 26), "nd239-2026"),
    ],
)
def test_regime_by_date(day: date, regime: str) -> None:
    found = default_rules().regime(day)
    assert found is not None and found.id == regime
    assert found.verified == (regime != "nd239-2026")


def test_rule_versions_by_date_and_citation() -> None:
    rules = default_rules()
    assert rules.regime(date(2018, 7, 14)) is None
    old = rules.rule("cap-discount", date(2024, 11, 30))
    amended = rules.rule("cap-discount", date(2024, 12, 1))
    new = rules.rule("cap-discount", date(2025, 7, 1))
    assert old and amended and new
    assert rules.cite(old) == "khoản 1 Điều 7 Nghị định 81/2018/NĐ-CP"
    assert rules.cite(amended) == "khoản 1 Điều 7 Nghị định 81/2018/NĐ-CP, sửa đổi bởi Nghị định 128/2024/NĐ-CP"
    assert rules.cite(new) == "Điều 4 Thông tư 39/2025/TT-BCT"
    assert rules.rule("notify-forms", date(2024, 11, 30)).params["forms"] == [
        "sample", "gift", "gift_no_purchase", "discount", "voucher", "contest", "loyalty", "event"
    ]  # fmt: skip
    assert rules.rule("notify-forms", date(2024, 12, 1)).params["forms"] == ["contest", "loyalty"]
    assert not rules.rule("notify-lead", date(2024, 12, 1)).verified  # the 3 working days: [VERIFY]
    assert rules.cite(rules.rule("lucky-draw-report", date(2025, 1, 1))).startswith("điểm a khoản 2 Điều 21")
    assert date(2025, 7, 1) in rules.cutovers() and date(2026, 7, 1) in rules.cutovers()


def test_full_url_versus_bare_domain() -> None:
    assert is_full_url("https://kmc.vn/?p=21209")
    assert is_full_url("https://docluat.vn/archive/1528")
    assert not is_full_url("lntpartners.com")
    assert not is_full_url("https://lntpartners.com/")


def test_problems_are_reported(rules_dir: Path) -> None:
    def break_rules(rules: list[dict]) -> None:
        rules[0]["sources"] = []
        rules[1]["sources"] = ["thuvienphapluat.vn"]
        rules[2]["basis"] = [{"document": "nd-khong-co"}]
        rules.append(dict(rules[3], until=None))  # a second open-ended version of cap-programme-total

    edit_rules(rules_dir / "caps.yaml", break_rules)
    found = {(p.level, p.code) for p in validate(rules_dir)}
    assert {
        ("error", "missing-sources"),
        ("warning", "source-not-full-url"),
        ("error", "unknown-basis"),
        ("error", "rule-overlap"),
    } <= found
    with pytest.raises(RulesError, match="nd-khong-co"):
        load_rules(rules_dir)


def test_bad_dates_and_basis_keys_are_errors(rules_dir: Path) -> None:
    def break_rules(rules: list[dict]) -> None:
        rules[0]["until"] = "2010-01-01"
        rules[1]["from"] = "31/02/2025"
        rules[2]["basis"] = [{"document": "nd81-2018", "articel": "Điều 6"}]

    edit_rules(rules_dir / "caps.yaml", break_rules)
    codes = {p.code for p in validate(rules_dir) if p.level == "error"}
    assert {"validity-order", "bad-date", "schema"} <= codes


def test_kb_check_reports_the_rules_beside_the_entries(
    tmp_path: Path, fixture_entries: Path, rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = tmp_path / "entries"
    shutil.copytree(fixture_entries, entries)
    edit_rules(rules_dir / "goods.yaml", lambda rules: rules[0].update(basis=[{"document": "khong-co"}]))
    assert [p.code for p in check_rules(rules_dir) if p.level == "error"] == ["unknown-basis"]
    assert check_rules(tmp_path / "khong-co") == []
    assert main([str(entries), "--no-overlap"]) == 1
    out = capsys.readouterr().out
    assert "LỖI [banned-goods] goods.yaml" in out and "khong-co" in out


USED_RULES = (
    "cap-per-unit",
    "cap-programme-total",
    "cap-discount",
    "cap-concentrated",
    "cap-none",
    "notify-forms",
    "notify-lead",
    "lucky-draw-register",
    "lucky-draw-report",
    "banned-goods",
    "discount-days",
    "publish",
    "early-end",
    "ecommerce",
)


def test_every_rule_the_verdict_uses_has_a_version_on_each_side_of_each_cutover() -> None:
    rules = default_rules()
    days = [d for c in rules.cutovers() if c >= date(2018, 7, 15) for d in (c, c - timedelta(days=1))]
    for day in [*days, date(2030, 1, 1)]:
        if day < date(2018, 7, 15):
            continue
        missing = [rid for rid in USED_RULES if rules.rule(rid, day) is None]
        assert not missing, (day, missing)

"""Jurisdiction in answers: knowledge entries name the competent Sở from the configuration (today's, or the one
competent on the day the question is about), never by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.config import AppConfig
from handlers.qa import answer_text, competent
from knowledge.placeholders import PLACEHOLDER, fill, problems
from tests.support.chat import shared_knowledge
from tests.support.configs import dong_nai, plan_2024

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def elsewhere() -> AppConfig:
    """A Sở of another province: an answer must follow its file, not a name written in an entry."""
    base = dong_nai().model_dump(mode="python", by_alias=True)
    base["areas"] = [a for a in base["areas"] if a["id"] == "ngoai-tinh"]
    base["department"].update(
        name="Sở Công Thương tỉnh Lâm Đồng", province="Lâm Đồng", portal="sct.lamdong.gov.vn", jurisdictions=[]
    )
    return AppConfig.model_validate(base)


def ask(config: AppConfig, text: str) -> str:
    kb = shared_knowledge()
    answer = answer_text(kb, config, kb.match(text), text, NOW)
    assert answer is not None, text
    return answer


def test_the_contact_answer_names_todays_sou_from_the_configuration() -> None:
    answer = ask(dong_nai(), "liên hệ sở công thương bằng cách nào")
    assert "hiện nay là Sở Công Thương tỉnh Đồng Nai (Cổng thông tin điện tử: sct.dongnai.gov.vn)" in answer
    other = ask(elsewhere(), "liên hệ sở công thương bằng cách nào")
    assert "hiện nay là Sở Công Thương tỉnh Lâm Đồng (Cổng thông tin điện tử: sct.lamdong.gov.vn)" in other
    assert "Đồng Nai (Cổng" not in other and "{{" not in other


def test_a_question_about_2024_names_the_2024_plans_sou() -> None:
    config = dong_nai()
    assert competent(config, "năm 2024 nộp hồ sơ khuyến mại ở đâu", NOW)["so"] == "Sở Công Thương tỉnh Bình Phước"
    assert competent(config, "nộp hồ sơ khuyến mại ở đâu", NOW)["so"] == "Sở Công Thương tỉnh Đồng Nai"
    today = competent(config, "năm 2024 nộp hồ sơ khuyến mại ở đâu", NOW)["so_nay"]
    assert today == "Sở Công Thương tỉnh Đồng Nai"  # «hiện nay» stays today's whatever the day asked about
    assert competent(plan_2024(), "hôm nay nộp ở đâu", NOW)["so"] == "Sở Công Thương tỉnh Đồng Nai"


def test_every_entry_is_filled_under_both_configurations() -> None:
    kb = shared_knowledge()
    for config in (dong_nai(), plan_2024()):
        for text in ("năm 2024", "hôm nay"):
            values = competent(config, text, NOW)
            for entry in kb.entries.values():
                for wording in (entry.answer, *(v.answer for v in entry.versions)):
                    assert not PLACEHOLDER.search(fill(wording, values)), entry.id
                    assert not problems(wording), (entry.id, problems(wording))


def test_placeholders_and_what_kb_check_reports() -> None:
    assert fill("Liên hệ {{so}} tại {{so_web}}.", {"so": "Sở A"}) == (
        "Liên hệ Sở A tại cổng thông tin điện tử của Sở Công Thương."
    )
    assert [code for code, _ in problems("{{so_moi}} và Sở Công Thương Đồng Nai")] == [
        "unknown-placeholder",
        "hand-written-authority",
    ]

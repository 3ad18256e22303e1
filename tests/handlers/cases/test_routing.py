"""The plan's split of work between agencies, as the default configuration reproduces it."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.cases.routing import Route, due_times, in_main_window, route
from tests.support.configs import plan_2024

CONFIG = plan_2024()


def test_counterfeit_goes_to_market_surveillance_with_copies() -> None:
    r = route(CONFIG, kind="consumer_report", category="hang-gia", area="loc-ninh")
    assert r == Route("qltt", ("qltm", "hoi-bvntd", "ubnd-loc-ninh"))


def test_poor_quality_and_fake_promotions_go_to_the_inspectorate() -> None:
    for category in ("kem-chat-luong", "khuyen-mai"):
        assert route(CONFIG, kind="consumer_report", category=category, area="dong-xoai").lead == "thanh-tra-so"


def test_other_reports_and_merchant_questions_go_to_the_trade_office() -> None:
    assert route(CONFIG, kind="consumer_report", category="khac", area="bu-dop") == Route("qltm", ("hoi-bvntd",))
    assert route(CONFIG, kind="merchant_question") == Route("qltm", ())


def test_unknown_category_falls_back_to_the_coordinator() -> None:
    assert route(CONFIG, kind="consumer_report", category="khong-co", area=None).lead == "qltm"


def test_sla_is_tighter_inside_the_60_hours() -> None:
    before = datetime(2024, 11, 28, 10, 0, tzinfo=UTC)
    inside = datetime(2024, 11, 29, 10, 0, tzinfo=UTC)
    assert not in_main_window(CONFIG, before) and in_main_window(CONFIG, inside)
    ack, resolve = due_times(CONFIG, "kem-chat-luong", before)
    assert (ack - before).total_seconds() == 24 * 3600 and (resolve - before).days == 5
    ack, resolve = due_times(CONFIG, "kem-chat-luong", inside)
    assert (ack - inside).total_seconds() == 4 * 3600
    ack, _ = due_times(CONFIG, "hang-gia", inside)
    assert (ack - inside).total_seconds() == 2 * 3600

"""Today's Đồng Nai over Telegram (fake Bot API): a report typed with an old Bình Phước address reaches today's
agencies' groups — the lead's card and the right copies, the commune's committee included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.config import AppConfig
from tests.support.configs import dong_nai
from tests.support.telegram import CaseRig, ReporterRig, case_rig, to_photos

QLTT, QLTM, HOI, UBND = -1001000000001, -1001000000002, -1001000000003, -1001000000004
CHATS = {"qltt": QLTT, "qltm": QLTM, "hoi-bvntd": HOI, "ubnd-xa": UBND}


def dong_nai_on_telegram() -> AppConfig:
    base = dong_nai().model_dump(mode="python")
    base["areas"] = [a for a in base["areas"] if a["id"] == "ngoai-tinh"]  # today's units are added again
    for agency in base["agencies"]:
        if agency["id"] in CHATS:
            agency["chats"] = {"telegram": [str(CHATS[agency["id"]])]}
    return AppConfig.model_validate(base)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[CaseRig]:
    async with case_rig(tmp_path, dong_nai_on_telegram()) as made:
        yield made


async def file(rig: CaseRig, place: str, pick: str) -> str:
    """A «Hàng giả» report without photos from ``place``, confirmed with the button ``pick``."""
    reporter = ReporterRig(rig.fake, rig.app, rig.channel)
    await to_photos(reporter)
    assert "xã, phường nào" in await reporter.press("Bỏ qua")
    assert "?" in await reporter.say(place)
    assert "Số điện thoại" in await reporter.press(pick)
    assert "kiểm tra lại phản ánh" in await reporter.press("Gửi ẩn danh")
    receipt = await reporter.press("Gửi phản ánh")
    return receipt.split("Mã tra cứu của bạn: ")[1].split()[0]


def only(rig: CaseRig, chat: int) -> str:
    [message] = rig.to(chat)
    return message.params["text"]


async def test_an_old_bu_dang_address_reaches_todays_agencies(rig: CaseRig) -> None:
    code = await file(rig, "xa Minh Hung, huyen Bu Dang", "Đúng")
    await rig.deliver()
    card = only(rig, QLTT)
    assert f"PHẢN ÁNH {code} — Chi cục QLTT ⚠️ chủ trì" in card and "Địa bàn: Xã Bù Đăng" in card
    assert "Thanh tra" not in card and "Cục Quản lý thị trường tỉnh Bình Phước" not in card
    for chat in (QLTM, HOI, UBND):  # the Sở's unit, the Hội and the commune's committee get copies
        copy = only(rig, chat)
        assert copy.startswith("📋 BẢN SAO") and code in copy and "Xã Bù Đăng" in copy


async def test_outside_the_province_goes_to_the_coordinator_without_a_committee(rig: CaseRig) -> None:
    reporter = ReporterRig(rig.fake, rig.app, rig.channel)
    await to_photos(reporter)
    await reporter.press("Bỏ qua")
    noted = await reporter.say("Thủ Đức, TP HCM", replies=2)
    assert "Nghị định 146/2025" in noted and "Số điện thoại" in noted
    await reporter.press("Gửi ẩn danh")
    code = (await reporter.press("Gửi phản ánh")).split("Mã tra cứu của bạn: ")[1].split()[0]
    await rig.deliver()
    card = only(rig, QLTM)
    assert f"PHẢN ÁNH {code} — Phòng QLTM ⚠️ chủ trì" in card and "Ngoài tỉnh Đồng Nai" in card
    assert only(rig, HOI).startswith("📋 BẢN SAO")
    assert not rig.to(QLTT) and not rig.to(UBND)

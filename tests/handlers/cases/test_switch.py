"""Switching a database from the 2024 plan's configuration to today's Đồng Nai: no case, photo, audit row or
outbox message is lost; old cases stay readable (the names they were routed with); ``config check`` lists the
open cases the new file cannot place and ``config move`` gives them to a named agency, one audit row each."""

from __future__ import annotations

from sqlalchemy import select

from handlers.cases.cards import card_text
from handlers.cases.switch import move, orphans
from handlers.cases.view import load_view
from handlers.cases.vocabulary import Audit, CardView
from handlers.config import AppConfig
from storage.cases import Case, CaseAction
from storage.complaints import Complaint, ComplaintPhoto
from storage.models import OutboxMessage
from tests.support.cases import HOI, QLTM, QLTT, Inbox, cases_config, deliver
from tests.support.chat import CHANNEL, DEFAULT_NOW, ChatHarness, Person
from tests.support.complaints import submit, to_photos, to_summary
from tests.support.configs import dong_nai
from tests.support.images import jpeg
from tests.support.processes import call_cli

TABLES = {
    "complaints": Complaint,
    "photos": ComplaintPhoto,
    "cases": Case,
    "audit": CaseAction,
    "outbox": OutboxMessage,
}


def dong_nai_on_test_channel() -> AppConfig:
    base = dong_nai().model_dump(mode="python")
    base["areas"] = [a for a in base["areas"] if a["id"] == "ngoai-tinh"]  # today's units are added again
    chats = {"qltt": QLTT, "qltm": QLTM, "hoi-bvntd": HOI}
    for agency in base["agencies"]:
        if agency["id"] in chats:
            agency["chats"] = {CHANNEL: [chats[agency["id"]]]}
    return AppConfig.model_validate(base)


async def ids(chat: ChatHarness) -> dict[str, set[int]]:
    async with chat.app.db.unit_of_work() as uow:
        return {name: set((await uow.session.execute(select(model.id))).scalars()) for name, model in TABLES.items()}


async def report(
    chat: ChatHarness, an: Person, product: str, *, category: str | None = None, photo: bool = False
) -> str:
    await to_photos(an, product=product)
    if photo:
        await an.send_photo(chat.serve(f"p-{product}", jpeg(product)))
        await an.press("Xong")
    else:
        await an.press("Bỏ qua")
    await to_summary(an)
    if category:
        await an.press("Sửa")
        await an.press("Loại vi phạm")
        await an.press(category)
    return await submit(an)


async def test_switching_to_dong_nai_loses_nothing_and_moves_orphans(db_url: str, tmp_path) -> None:
    inbox = Inbox()
    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=cases_config()) as old:
        an = old.person()
        fake = await report(old, an, "Son môi Dior", photo=True)  # Cục QLTT leads, UBND Đồng Xoài copied
        poor = await report(old, an, "Nồi chiên", category="Hàng kém chất lượng")  # Thanh tra Sở leads
        await deliver(old, inbox)
        before = await ids(old)
    assert len(before["photos"]) == 1 and len(before["cases"]) == 2

    async with ChatHarness.create(db_url, now=DEFAULT_NOW, config=dong_nai_on_test_channel()) as new:
        config = new.app.config
        async with new.app.db.unit_of_work() as uow:
            found = {o.code: o for o in await orphans(uow, config)}
            case = await uow.cases.by_code(poor)
            shown = card_text(config, case, *(await _view(uow, case)), view=CardView.LEAD)
        assert set(found) == {fake, poor}
        assert found[poor].missing_agencies == ("thanh-tra-so", "ubnd-dong-xoai") and found[poor].area_missing
        assert found[poor].rule_lead == "qltm" and config.routing[found[poor].rule].lead == "qltm"
        assert found[fake].missing_agencies == ("ubnd-dong-xoai",) and found[fake].rule_lead == "qltt"
        # The old case reads as it was routed: its agency and area are names, not ids.
        assert "Thanh tra Sở chủ trì" in shown and "Địa bàn: Thành phố Đồng Xoài" in shown

        async with new.app.db.unit_of_work() as uow:
            moved = await move(uow, config, new.app.media, "qltm", new.clock.now())
            await uow.commit()
        assert len(moved) == 1 and moved[0].startswith(poor)
        await deliver(new, inbox)
        after = await ids(new)
        async with new.app.db.unit_of_work() as uow:
            case = await uow.cases.by_code(poor)
            rows = await uow.cases.actions(case.id)
    for name, kept in before.items():
        assert kept <= after[name], name  # nothing lost
    assert len(after["audit"]) == len(before["audit"]) + 1
    assert case.lead == "qltm" and rows[-1].action == Audit.CONFIG_MOVE
    assert rows[-1].note == "Đổi cấu hình: Thanh tra Sở Công Thương → " + config.agency("qltm").shown_name
    card = inbox.last(QLTM).reply.text
    assert f"PHẢN ÁNH {poor} — Phòng QLTM ⚠️ chủ trì" in card and "Thành phố Đồng Xoài" in card


async def _view(uow, case):
    view = await load_view(uow, case)
    return view.complaint, len(view.photos), view.history


def test_config_check_lists_open_cases_the_new_file_cannot_place(tmp_path) -> None:
    import asyncio

    from tests.support.configs import DONG_NAI
    from tests.support.databases import migrated_sqlite

    url = migrated_sqlite(tmp_path / "cli.db")

    async def file_one() -> str:
        async with ChatHarness.create(url, now=DEFAULT_NOW, config=cases_config()) as old:
            code = await report(old, old.person(), "Nồi chiên", category="Hàng kém chất lượng")
            await deliver(old, Inbox())
            return code

    code = asyncio.run(file_one())
    checked = call_cli(tmp_path, "config", "check", BOT_CONFIG=str(DONG_NAI), DATABASE_URL=url)
    assert checked.returncode == 0, checked.stderr
    assert f"• {code} (chủ trì: Thanh tra Sở Công Thương): tệp mới thiếu cơ quan thanh-tra-so" in checked.stdout
    assert "config move --to" in checked.stdout
    moved = call_cli(tmp_path, "config", "move", "--to", "qltm", BOT_CONFIG=str(DONG_NAI), DATABASE_URL=url)
    assert moved.returncode == 0 and "Đã chuyển 1 phản ánh" in moved.stdout, moved.stdout + moved.stderr
    again = call_cli(tmp_path, "config", "check", BOT_CONFIG=str(DONG_NAI), DATABASE_URL=url)
    assert code in again.stdout and "thanh-tra-so" not in again.stdout  # only the area is left unknown
    unknown = call_cli(tmp_path, "config", "move", "--to", "khong-co", BOT_CONFIG=str(DONG_NAI), DATABASE_URL=url)
    assert unknown.returncode == 1 and "Không có cơ quan «khong-co»" in unknown.stdout

"""The staff web console through real HTTP requests: sign-in, sessions, CSRF, permissions, pages and actions."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from handlers.cases.reports import HEADERS
from storage.cases import CaseStatus
from tests.support.cases import QLTT, audit, cases_config, deliver, the_case
from tests.support.chat import CHANNEL, DEFAULT_NOW, ChatHarness
from tests.support.console import Rig, console_rig, sign_in

SIGN_IN = "Gửi <strong>/dangnhap</strong>"


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    """SQLite, and PostgreSQL too when TEST_DATABASE_URL is set."""
    async with (
        ChatHarness.create(db_url, now=DEFAULT_NOW, config=cases_config()) as chat,
        console_rig(chat) as rig,
    ):
        yield rig


async def test_without_a_session_every_page_is_the_sign_in_page(rig: Rig) -> None:
    async with rig.client() as client:
        for path in ("/console/cases", "/console/cases/1", "/console/stats", "/console/cases/1/photos/ab"):
            response = await client.get(path)
            assert response.status == 401 and SIGN_IN in await response.text(), path
        response = await client.post("/console/cases/1/action", data={"code": "ack"})
        assert response.status == 401
        static = await client.get("/console/static/console.css")
        assert static.status == 200 and "text/css" in static.headers["Content-Type"]


async def test_the_link_is_for_staff_only_in_a_private_chat(rig: Rig) -> None:
    replies = await rig.chat.person("u5", "u5").say("/dangnhap")
    assert "chỉ dành cho cán bộ" in replies[0].text and "/console/login" not in replies[0].text
    from tests.support.cases import member

    replies = await member(rig.chat, "qltt-1", QLTT).say("/dangnhap")
    assert "tin nhắn riêng" in replies[0].text and "/console/login" not in replies[0].text


async def test_a_link_works_once_within_ten_minutes_and_the_cookie_is_locked_down(rig: Rig) -> None:
    async with rig.client() as client:
        path = await rig.link("qltt-1")
        preview = await client.get(path)  # a link preview opening the page uses nothing
        assert preview.status == 200 and 'id="signin"' in await preview.text()
        response = await client.post(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/console/cases"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain http on loopback; https below
        page = await client.get("/console/cases")
        assert page.status == 200 and "Trần Văn Sơn" in await page.text()
        for header in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
            assert header in page.headers
        assert page.headers["Cache-Control"] == "no-store"
    async with rig.client() as other:
        reused = await other.post(path, allow_redirects=False)
        assert reused.status == 403 and "không dùng được" in await reused.text()
        late = await rig.link("qltt-1")
        rig.chat.clock.advance(timedelta(minutes=10, seconds=1))
        expired = await other.post(late, allow_redirects=False)
        assert expired.status == 403 and "Set-Cookie" not in expired.headers
        forged = await other.post("/console/login/" + "A" * 43, allow_redirects=False)
        assert forged.status == 403


async def test_an_https_public_url_makes_the_cookie_secure(rig: Rig) -> None:
    rig.console.web.base_url = "https://sct.example.vn"  # the deployment's PUBLIC_URL (behind its HTTPS proxy)
    async with rig.client() as client:
        response = await client.post(await rig.link("qltt-1"), allow_redirects=False)
        assert "Secure" in response.headers["Set-Cookie"]


async def test_sessions_end_when_idle_at_logout_and_when_revoked(rig: Rig) -> None:
    async with rig.client() as son, rig.client() as admin:
        csrf = await sign_in(rig, son, "qltt-1")
        rig.chat.clock.advance(timedelta(minutes=29))
        assert (await son.get("/console/cases")).status == 200  # activity restarts the idle clock
        rig.chat.clock.advance(timedelta(minutes=29))
        assert (await son.get("/console/cases")).status == 200
        rig.chat.clock.advance(timedelta(minutes=31))
        assert (await son.get("/console/cases")).status == 401

        csrf = await sign_in(rig, son, "qltt-1")
        admin_csrf = await sign_in(rig, admin, "qltm-1")
        listing = await (await admin.get("/console/sessions")).text()
        assert "Trần Văn Sơn" in listing
        other = re.findall(r"/console/sessions/(\d+)/revoke", listing)
        assert len(other) == 1  # not the admin's own
        assert (await son.get("/console/sessions")).status == 403  # an agent does not see them
        revoked = await admin.post(f"/console/sessions/{other[0]}/revoke", data={"csrf": admin_csrf})
        assert revoked.status == 200 and "Đã kết thúc phiên" in await revoked.text()
        assert (await son.get("/console/cases")).status == 401

        csrf = await sign_in(rig, son, "qltt-1")
        out = await son.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
        assert out.status == 303
        assert (await son.get("/console/cases")).status == 401


async def test_a_session_never_outlives_its_absolute_expiry(rig: Rig) -> None:
    async with rig.client() as son:
        await sign_in(rig, son, "qltt-1")
        for _ in range(25):  # active every 29 minutes for 12 hours
            rig.chat.clock.advance(timedelta(minutes=29))
            response = await son.get("/console/cases")
        assert response.status == 401


async def test_missing_or_wrong_csrf_is_refused(rig: Rig) -> None:
    code = await rig.report()
    case = await the_case(rig.chat, code)
    async with rig.client() as son:
        csrf = await sign_in(rig, son, "qltt-1")
        for data in ({"code": "ack"}, {"code": "ack", "csrf": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}):
            response = await son.post(f"/console/cases/{case.id}/action", data=data)
            assert response.status == 403 and "CSRF" in await response.text()
        assert (await the_case(rig.chat, code)).status == CaseStatus.NEW
        ok = await son.post(f"/console/cases/{case.id}/action", headers={"X-CSRF-Token": csrf}, data={"code": "ack"})
        assert ok.status == 200 and f"Đã tiếp nhận {code}" in await ok.text()


async def test_another_agencys_case_photo_and_pack_are_refused_and_audited(rig: Rig) -> None:
    code = await rig.report(photos=1)
    case = await the_case(rig.chat, code)
    async with rig.client() as son, rig.client() as em:
        await sign_in(rig, son, "qltt-1")
        page = await (await son.get(f"/console/cases/{case.id}")).text()
        sha = re.search(r"photos/([0-9a-f]{64})", page).group(1)
        photo = await son.get(f"/console/cases/{case.id}/photos/{sha}")
        assert photo.status == 200 and photo.headers["Content-Type"] == "image/jpeg"

        csrf = await sign_in(rig, em, "tts-1")  # an agent of the inspectorate: neither lead nor copy
        listing = await (await em.get("/console/cases")).text()
        assert code not in listing
        for response in (
            await em.get(f"/console/cases/{case.id}"),
            await em.get(f"/console/cases/{case.id}/photos/{sha}"),
            await em.post(f"/console/cases/{case.id}/pack", data={"csrf": csrf}),
            await em.post(f"/console/cases/{case.id}/action", data={"csrf": csrf, "code": "ack"}),
        ):
            assert response.status == 403 and "không thuộc phạm vi" in await response.text()
    refused = [a for a in await audit(rig.chat, code) if a.action == "refused"]
    assert [a.actor_user_id for a in refused] == ["tts-1"] * 4
    assert [a.note.split(":")[0] for a in refused] == ["web xem", "web ảnh", "web gói chứng cứ", "web thao tác ack"]


async def test_who_sees_what_is_the_chats_scope(rig: Rig) -> None:
    code = await rig.report()
    async with rig.chat.app.db.unit_of_work() as uow:  # a supervisor of a copy agency
        await uow.staff.upsert(channel=CHANNEL, user_id="hoi-3", name="Đỗ Thu", agency="hoi-bvntd", role="supervisor",
                               source="cli", now=rig.chat.clock.now())  # fmt: skip
        await uow.commit()
    case = await the_case(rig.chat, code)
    seen, offered = {}, {}
    for user in ("qltt-1", "qltt-2", "qltm-2", "hoi-3", "qltm-1", "tts-1"):
        async with rig.client() as client:
            await sign_in(rig, client, user)
            seen[user] = code in await (await client.get("/console/cases")).text()
            page = await (await client.get(f"/console/cases/{case.id}")).text()
            offered[user] = re.findall(r'data-code="(\w+)"', page)
    assert seen == {"qltt-1": True, "qltt-2": True, "qltm-2": False, "hoi-3": True, "qltm-1": True, "tts-1": False}
    card = ["ack", "take", "assign", "xfer", "more", "reply", "done", "rej", "contact"]
    assert offered["qltt-1"] == [c for c in card if c != "assign"]  # an agent does not assign
    assert offered["qltt-2"] == card and offered["hoi-3"] == ["seen"]  # a copy's supervisor: the copy's button
    assert offered["qltm-1"] == [*card, "seen"] and offered["qltm-2"] == offered["tts-1"] == []


async def test_a_web_action_is_the_cards_action(rig: Rig) -> None:
    code = await rig.report()
    case = await the_case(rig.chat, code)
    [card] = rig.inbox.to(QLTT)
    async with rig.client() as son:
        csrf = await sign_in(rig, son, "qltt-1")
        url = f"/console/cases/{case.id}/action"
        page = await son.post(url, data={"csrf": csrf, "code": "ack"})
        assert f"Đã tiếp nhận {code}" in await page.text()
        short = await son.post(url, data={"csrf": csrf, "code": "reply", "text": "ok"})
        assert "ngắn quá" in await short.text()
        reply = "Cơ quan đã làm việc với người bán, bạn kiểm tra lại đơn hàng nhé."
        page = await son.post(url, data={"csrf": csrf, "code": "reply", "text": reply})
        assert "Đã gửi trả lời" in await page.text()
        denied = await son.post(url, data={"csrf": csrf, "code": "asg", "arg": "1"})  # an agent may not assign
        assert denied.status == 403 and "Chỉ lãnh đạo" in await denied.text()
        shown = await son.post(url, data={"csrf": csrf, "code": "contact"})
        assert "0912 345 678" in await shown.text()
        detail = await (await son.get(f"/console/cases/{case.id}")).text()
        assert "09xx xxx 678" in detail and "0912 345 678" not in detail  # masked again on the next page
    await deliver(rig.chat, rig.inbox)
    assert "Trạng thái: 📥 Đã tiếp nhận" in card.text and "Trả lời người phản ánh — Trần Văn Sơn" in card.text
    texts = rig.inbox.texts("u1")
    assert any("đã được Cục Quản lý thị trường tỉnh Bình Phước tiếp nhận" in t for t in texts)
    assert any(reply in t for t in texts)
    trail = [a.action for a in await audit(rig.chat, code)]
    assert trail == ["routed", "ack", "reply", "refused", "contact_viewed"]


async def test_list_filters_search_without_diacritics_and_pages(rig: Rig) -> None:
    first = await rig.report(seller="Cửa hàng Đồng Xoài Điện Máy")
    rig.chat.clock.advance(timedelta(days=2))
    second = await rig.report("u2", seller="Shop Mỹ Phẩm Hoa Hồng", description="Kem dưỡng da giả, mùi lạ")
    async with rig.client() as admin:
        await sign_in(rig, admin, "qltm-1")

        async def listed(**params) -> list[str]:
            text = await (await admin.get("/console/cases", params=params)).text()
            return list(dict.fromkeys(re.findall(r"PA-[0-9A-Z]{4}-[0-9A-Z]{2}", text)))

        async def codes(**params) -> set[str]:
            return set(await listed(**params))

        assert await listed() == [second, first] and await listed(sort="old") == [first, second]
        assert await codes(q="dong xoai dien may") == {first}
        assert await codes(q="KEM DUONG") == {second}
        assert await codes(q=second[3:7].lower()) == {second}
        assert await codes(q="shopee.vn/hoahong") == {first, second}
        assert await codes(q="100%_") == set()
        day = (DEFAULT_NOW + timedelta(hours=7)).date().isoformat()
        assert await codes(**{"from": day, "to": day}) == {first}
        assert await codes(status="new", lead="qltt", category="hang-gia", platform="shopee") >= {first}
        assert await codes(status="resolved") == set()
        assert await codes(overdue="1") == {first}  # two days old, never acknowledged
        assert await codes(sort="old", area="nowhere") == {first, second}  # an unknown area is ignored
        bad = await admin.get("/console/cases", params={"from": "2024-12-05", "to": "2024-12-01"})
        assert "phải từ ngày bắt đầu" in await bad.text()


async def test_payloads_are_shown_as_text_and_exported_neutralised(rig: Rig) -> None:
    seller = '<script>alert("x")</script>=HYPERLINK("http://evil","bấm")'
    code = await rig.report(seller=seller, description="=1+2 <img src=x onerror=alert(1)> mô tả")
    case = await the_case(rig.chat, code)
    async with rig.client() as admin:
        csrf = await sign_in(rig, admin, "qltm-1")
        for path in ("/console/cases", f"/console/cases/{case.id}"):
            text = await (await admin.get(path)).text()
            assert "<script>alert" not in text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
            assert "<img src=x" not in text
        day = (DEFAULT_NOW + timedelta(hours=7)).date().isoformat()
        exported = await admin.post("/console/export", data={"csrf": csrf, "from": day, "to": day, "format": "csv"})
        assert exported.status == 200 and exported.headers["Content-Disposition"].endswith('.csv"')
        rows = list(csv.DictReader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
        assert [r[HEADERS["code"]] for r in rows] == [code]
        assert rows[0][HEADERS["seller"]] == seller  # starts with "<": kept as it is
        book = await admin.post("/console/export", data={"csrf": csrf, "from": day, "to": day, "format": "xlsx"})
        sheet = load_workbook(io.BytesIO(await book.read()))["Phản ánh"]
        assert sheet["A2"].value == code and sheet["A2"].data_type == "s"
    trail = [a.action for a in await audit(rig.chat, code)]
    assert trail.count("exported") == 2


async def test_the_evidence_pack_with_and_without_the_contact(rig: Rig) -> None:
    import json
    import zipfile

    code = await rig.report(photos=2)
    case = await the_case(rig.chat, code)
    async with rig.client() as son:
        csrf = await sign_in(rig, son, "qltt-1")
        plain = await son.post(f"/console/cases/{case.id}/pack", data={"csrf": csrf})
        archive = zipfile.ZipFile(io.BytesIO(await plain.read()))
        assert len([n for n in archive.namelist() if n.endswith(".jpg")]) == 2
        record = json.loads(archive.read("record.json"))
        assert record["with_contact"] is False and "0912345678" not in json.dumps(record)
        full = await son.post(f"/console/cases/{case.id}/pack", data={"csrf": csrf, "contact": "1"})
        record = json.loads(zipfile.ZipFile(io.BytesIO(await full.read())).read("record.json"))
        assert record["with_contact"] is True
    trail = [a.action for a in await audit(rig.chat, code)]
    assert trail[-3:] == ["exported", "contact_viewed", "contact_exported"]


async def test_statistics_for_a_period_with_a_daily_chart(rig: Rig) -> None:
    await rig.report()
    await rig.report("u2")
    async with rig.client() as son:
        await sign_in(rig, son, "qltt-1")
        first = (DEFAULT_NOW + timedelta(hours=7) - timedelta(days=2)).date().isoformat()
        last = (DEFAULT_NOW + timedelta(hours=7)).date().isoformat()
        text = await (await son.get("/console/stats", params={"from": first, "to": last})).text()
        assert '<strong id="total">2</strong>' in text and text.count("<rect") == 3
        assert "Hàng giả / hàng nhái" in text and "Theo cơ quan chủ trì" in text
    async with rig.client() as em:  # the inspectorate's agent: none of them is theirs
        csrf = await sign_in(rig, em, "tts-1")
        text = await (await em.get("/console/stats", params={"from": first, "to": last})).text()
        assert '<strong id="total">0</strong>' in text
        exported = await em.post("/console/export", data={"csrf": csrf, "from": first, "to": last, "format": "csv"})
        assert (await exported.read()).decode("utf-8-sig").count("\n") == 1  # the header only


async def test_merchant_questions_are_answered_from_the_web(rig: Rig) -> None:
    from storage.questions import Question, QuestionStatus

    async with rig.chat.app.db.unit_of_work() as uow:
        question = await uow.questions.add(Question(
            channel=CHANNEL, chat_id="m1", user_id="m1", text="Giảm giá 60% có cần đăng ký không?",
            status=QuestionStatus.FORWARDED.value, created_at=rig.chat.clock.now(), forwarded_at=rig.chat.clock.now(),
        ))  # fmt: skip
        await uow.commit()
    async with rig.client() as son:
        csrf = await sign_in(rig, son, "qltm-1")  # the agency that leads merchant questions answers them
        assert "Giảm giá 60%" in await (await son.get("/console/questions")).text()
        url = f"/console/questions/{question.id}/answer"
        answered = await son.post(url, data={"csrf": csrf, "text": "Không cần đăng ký nếu mức giảm dưới 50%."})
        text = await answered.text()
        assert f"Đã ghi nhận câu trả lời cho {question.code}" in text and "Không có câu hỏi nào" in text
    await deliver(rig.chat, rig.inbox, route=False)
    assert any("Không cần đăng ký" in t for t in rig.inbox.texts("m1"))


async def test_admins_manage_staff_and_others_cannot(rig: Rig) -> None:
    async with rig.client() as admin, rig.client() as son:
        csrf = await sign_in(rig, admin, "qltm-1")
        son_csrf = await sign_in(rig, son, "qltt-1")
        form = {"channel": "telegram", "user_id": "555", "name": "Mai Lan", "agency": "qltt", "role": "agent"}
        assert (await son.post("/console/staff", data={**form, "csrf": son_csrf})).status == 403
        added = await admin.post("/console/staff", data={**form, "csrf": csrf})
        assert "Đã cập nhật cán bộ Mai Lan" in await added.text()
        bad = await admin.post("/console/staff", data={**form, "agency": "nowhere", "csrf": csrf})
        assert "Không có cơ quan" in await bad.text()
        removed = await admin.post("/console/staff", data={"channel": CHANNEL, "user_id": "qltt-1", "remove": "1",
                                                           "csrf": csrf})  # fmt: skip
        assert "Đã ngừng quyền" in await removed.text()
        assert (await son.get("/console/cases")).status == 401  # no longer staff: the session ends
        assert "Chưa có thông báo nào" in await (await admin.get("/console/broadcasts")).text()


async def test_the_broadcasts_status(rig: Rig) -> None:
    from handlers.announcements import queue_announcement

    for user in ("u1", "u2"):
        await rig.chat.person(user, user).say("/nhacnho")
    async with rig.chat.app.db.unit_of_work() as uow:
        await queue_announcement(uow, rig.chat.app.config, rig.chat.clock.now(), text="Mở bán sớm", audience="all")
        await uow.commit()
    async with rig.client() as son:
        await sign_in(rig, son, "qltt-1")
        text = await (await son.get("/console/broadcasts")).text()
        assert "Mở bán sớm" in text and "Thông báo" in text and "Đã xếp hàng gửi" in text

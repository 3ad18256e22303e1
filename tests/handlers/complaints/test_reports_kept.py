"""Consumer complaints after the flow: drafts kept across restarts, limits, codes, lookups by the reporter, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.complaints.drafts import close_stale_drafts
from handlers.complaints.flow import FLOW
from handlers.types import ChatKind, MessageKind
from storage.complaints import ComplaintStatus, normalise_code
from tests.support.chat import DEFAULT_NOW, ChatHarness, Person
from tests.support.complaints import (
    CODE,
    complaint,
    complaint_events,
    file_report,
    outbox,
    read_export,
    sha,
    submit,
    to_photos,
    to_summary,
)
from tests.support.configs import PLAN_2024
from tests.support.databases import migrated_sqlite
from tests.support.images import jpeg
from tests.support.processes import cli_env, read_until

# -- drafts --------------------------------------------------------------------------------------------


async def test_a_draft_survives_a_restart_and_is_offered_again(sqlite_url: str) -> None:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW) as first:
        an = first.person()
        await to_photos(an)
        await an.send_photo(first.serve("kept", jpeg("kept")))
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW + timedelta(hours=2)) as second:
        an = second.person()
        await an.say("/phananh")
        assert "phản ánh soạn dở về «Son môi Dior»" in an.text
        await an.press("Tiếp tục")
        assert "gửi ảnh" in an.text and "Xong (1 ảnh)" in an.labels[0]
        await an.press("Xong")
        assert "vẫn giữ phản ánh" not in an.text
        await to_summary(an)
        assert "• Ảnh: 1 ảnh" in an.text
        second.clock.advance(timedelta(hours=1))
        await an.press("Gửi phản ánh")
        assert "vẫn giữ phản ánh bạn đang soạn dở" in an.text and "Đã gửi phản ánh" in an.text


async def test_starting_over_replaces_the_draft(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    await an.say("/phananh")
    await an.press("Bắt đầu lại")
    assert "vấn đề gì" in an.text
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.conversations.get("console", an.chat_id, an.user_id)
    assert row.step == "category" and "product" not in row.data


async def test_an_expired_draft_is_closed_when_the_reporter_writes(chat: ChatHarness) -> None:
    an = chat.person()
    await to_photos(an)
    chat.clock.advance(timedelta(hours=24, minutes=1))
    await an.say("Xong")
    assert "Bản nháp phản ánh chưa gửi của bạn đã quá thời hạn" in an.text


async def test_stale_drafts_are_closed_proactively(chat: ChatHarness) -> None:
    an, binh, chi = chat.person("u1"), chat.person("u2"), chat.person("u3")
    await to_photos(an)
    chat.clock.advance(timedelta(hours=20))
    await binh.say("/phananh")  # a younger draft
    await chi.say("/vaitro")  # another flow, expired too by then
    chat.clock.advance(timedelta(hours=5))
    closed = await close_stale_drafts(chat.app.db, chat.clock.now(), config=chat.app.config)
    assert closed == 1
    [row] = await outbox(chat, "complaint_draft_closed")
    assert row.chat_id == "u1" and row.channel == "console" and row.status == "pending"
    assert "quá 24 giờ chưa được gửi" in row.payload["text"] and row.payload["buttons"]
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", "u1", "u1") is None
        assert (await uow.conversations.get("console", "u2", "u2")).flow == FLOW
        assert (await uow.conversations.get("console", "u3", "u3")).flow == "profile"
    assert await close_stale_drafts(chat.app.db, chat.clock.now()) == 0  # nothing twice
    await an.say("xin chào")
    assert "quá thời hạn" not in an.text


# -- limits and duplicates -----------------------------------------------------------------------------


async def test_the_daily_limit(chat: ChatHarness) -> None:
    an = chat.person()
    for i in range(5):
        await file_report(an, seller=f"Shop {i}", product=f"Sản phẩm {i}")
    await an.say("/phananh")
    assert "đã gửi 5 phản ánh" in an.text and "tối đa mỗi ngày là 5" in an.text and "1800 6838" in an.text
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None
    other = chat.person("u2")  # someone else is not limited by it
    await other.say("/phananh")
    assert "vấn đề gì" in other.text
    chat.clock.set(datetime(2024, 11, 27, 17, 1, tzinfo=UTC))  # 00:01 on 28/11 in Vietnam: a new day
    await an.say("/phananh")
    assert "vấn đề gì" in an.text


async def test_a_repeated_report_points_to_the_existing_one(chat: ChatHarness) -> None:
    an = chat.person()
    code = await file_report(an)
    chat.clock.advance(timedelta(hours=3))
    await to_photos_until_product(an, seller="shop my pham hoa hong", product="SON MÔI DIOR")
    assert f"Bạn đã gửi phản ánh {code}" in an.text
    assert any(code in label for label in an.labels)
    async with chat.app.db.unit_of_work() as uow:
        assert await uow.conversations.get("console", an.chat_id, an.user_id) is None
    chat.clock.advance(timedelta(hours=22))  # more than 24 hours later: a new report is fine
    await to_photos_until_product(an, seller="Shop Mỹ Phẩm Hoa Hồng", product="Son môi Dior")
    assert "ngày nào" in an.text


async def to_photos_until_product(an: Person, seller: str, product: str) -> None:
    await an.say("/phananh")
    await an.press("Hàng giả")
    await an.press("Shopee")
    await an.say(seller)
    await an.press("Không nhớ")
    await an.say(product)


async def test_reports_are_taken_in_private_chats_only(chat: ChatHarness) -> None:
    an = chat.person("u1", chat_id="-100")
    await an.send_kind(MessageKind.TEXT, text="/phananh", chat_kind=ChatKind.GROUP)
    assert "tin nhắn riêng" in an.text
    await an.send_kind(MessageKind.TEXT, text="/tracuu PA-7K3Q-9M", chat_kind=ChatKind.GROUP)
    assert "tin nhắn riêng" in an.text


async def test_an_anonymous_report_keeps_no_contact(chat: ChatHarness) -> None:
    an = chat.person(name="Nguyễn Văn An")
    await to_photos(an)
    await an.press("Bỏ qua")
    await an.press("Đồng Xoài")
    await an.press("Gửi ẩn danh")
    assert "• Liên hệ: Ẩn danh" in an.text
    code = await submit(an)
    row, _ = await complaint(chat, code)
    assert row.anonymous and row.phone is None and row.reporter_name is None and not row.contact_consent
    [staff] = await outbox(chat, "complaint_submitted")
    assert "Nguyễn Văn An" not in str(staff.payload) and an.user_id not in str(staff.payload)
    assert "Liên hệ: Ẩn danh" in staff.payload["text"]


async def test_a_code_collision_is_retried(chat: ChatHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await file_report(chat.person("u1"))
    codes = iter([first, first, "PA-2345-67"])
    monkeypatch.setattr("storage.complaints.make_code", lambda: next(codes))
    second = await file_report(chat.person("u2"))
    assert second == "PA-2345-67"


def test_codes_are_normalised() -> None:
    assert normalise_code("pa 7k3q 9m") == "PA-7K3Q-9M"
    assert normalise_code("7K3Q9M") == "PA-7K3Q-9M"
    assert normalise_code("PA-7K3Q-9M") == "PA-7K3Q-9M"
    assert normalise_code("PA-7K3O-9M") is None  # O is not in the alphabet
    assert normalise_code("hello") is None


# -- status lookup -------------------------------------------------------------------------------------


async def test_status_lookup_by_the_reporter(chat: ChatHarness) -> None:
    an = chat.person()
    code = await file_report(an)
    await an.press("Xem trạng thái")
    assert f"Phản ánh {code}" in an.text and "Đã gửi, chờ cơ quan chức năng tiếp nhận" in an.text
    assert "Son môi Dior" in an.text and "— Đã gửi phản ánh" in an.text
    await an.say(f"/tracuu {code.lower().replace('-', ' ')}")
    assert f"Phản ánh {code}" in an.text
    await an.say("/start")
    await an.press("Tra cứu phản ánh")
    assert "Các phản ánh gần đây của bạn" in an.text and code in an.text
    await an.say(f"mã của tôi là {code}")
    assert "Trạng thái:" in an.text
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        await uow.complaints.set_status(row, ComplaintStatus.IN_PROGRESS, "Cục QLTT đang xác minh", chat.clock.now())
        await uow.commit()
    await an.say(f"/tracuu {code}")
    assert "Đang xác minh, xử lý" in an.text and "Cục QLTT đang xác minh" in an.text


async def test_a_lookup_by_someone_else_is_refused_and_reveals_nothing(chat: ChatHarness) -> None:
    an, binh = chat.person("u1"), chat.person("u2")
    code = await file_report(an)
    await binh.say(f"/tracuu {code}")
    refused = binh.text
    assert "không tìm thấy phản ánh" in refused and "chỉ người gửi" in refused
    assert "Son môi" not in refused and "Hoa Hồng" not in refused and "Trạng thái" not in refused
    await binh.say("/tracuu PA-2345-67")  # a code that does not exist gets the very same answer
    assert binh.text == refused.replace(code, "PA-2345-67")
    await binh.say("/tracuu")
    assert "chưa gửi phản ánh nào" in binh.text
    await binh.say(code)
    assert "không tìm thấy phản ánh" in binh.text


async def test_the_reporter_adds_information_and_photos_to_an_open_report(chat: ChatHarness) -> None:
    an = chat.person()
    code = await file_report(an)
    await an.say(f"/tracuu {code}")
    await an.press("Bổ sung")
    assert f"phản ánh {code}" in an.text
    await an.say("Người bán đã chặn tôi sau khi tôi hỏi về hàng giả")
    assert "Đã thêm thông tin" in an.text
    refs = [chat.serve(f"add-{i}", jpeg(f"add-{i}")) for i in range(2)]
    out = [await an.send_photo(ref, album="more") for ref in refs]
    assert sum(len(batch) for batch in out) == 1 and "Đã thêm 1 ảnh" in out[0][0].text
    await an.press("Xong")
    assert "Cảm ơn bạn" in an.text
    row, photos = await complaint(chat, code)
    assert [p.source for p in photos] == ["addition", "addition"]
    events = await complaint_events(chat, row.id)
    assert [e.kind for e in events] == ["submitted", "info_added", "photos_added", "photos_added"]
    assert len(await outbox(chat, "complaint_updated")) == 3
    await an.say(f"/tracuu {code}")
    assert "Người phản ánh bổ sung thông tin" in an.text and "Ảnh: 2" in an.text

    add_button = an.buttons[0].payload
    binh = chat.person("u2")
    await binh.press_raw(add_button)  # forwarded button data does not open someone else's report
    assert "không tìm thấy" in binh.text

    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        await uow.complaints.set_status(row, ComplaintStatus.RESOLVED, "Đã xử lý xong", chat.clock.now())
        await uow.commit()
    await an.say(f"/tracuu {code}")
    assert "Đã xử lý xong" in an.text and "Bổ sung" not in " ".join(an.labels)
    await an.press_raw(add_button)
    assert "đã đóng" in an.text and "không nhận bổ sung" in an.text


# -- the console, as a person runs it ------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_a_report_through_the_console_resumes_after_sigkill(tmp_path: Path) -> None:
    photo = tmp_path / "hop-son.jpg"
    photo.write_bytes(jpeg("console-photo"))
    env = cli_env(tmp_path, MEDIA_DIR=str(tmp_path / "media"))

    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat", "--user", "u1", "--name", "Lan",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path, env=env,
        )  # fmt: skip

    first = await spawn()
    for line, marker in [
        ("/phananh", "vấn đề gì"),
        ("1", "mua hàng ở đâu"),
        ("Shopee", "Tên người bán"),
        ("Shop Hoa Hồng", "đường link"),
        ("shopee.vn/hoahong", "Sản phẩm bạn mua"),
        ("Son môi", "ngày nào"),
        ("hôm qua", "chuyện gì đã xảy ra"),
        ("Son chảy, mùi lạ, vỏ hộp in sai", "gửi ảnh"),
        (f"/photo {photo}", "Đã nhận 1 ảnh"),
    ]:
        first.stdin.write(f"{line}\n".encode())
        await read_until(first.stdout, marker)
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    second = await spawn()
    second.stdin.write(b"xong\n")
    await read_until(second.stdout, "địa bàn nào")
    for line, marker in [("Đồng Xoài", "Số điện thoại"), ("0912345678", "đồng ý"), ("1", "Gửi phản ánh")]:
        second.stdin.write(f"{line}\n".encode())
        seen = await read_until(second.stdout, marker)
    assert "• Ảnh: 1 ảnh" in seen
    second.stdin.write("Gửi phản ánh\n".encode())
    seen = await read_until(second.stdout, "Mã tra cứu")
    second.stdin.close()
    assert await second.wait() == 0
    code = CODE.search(seen + (await second.stdout.read()).decode())
    assert code
    stored = tmp_path / "media" / sha(photo.read_bytes())[:2] / sha(photo.read_bytes())
    assert stored.read_bytes() == photo.read_bytes()
    assert os.listdir(tmp_path / "media" / "tmp") == []


# -- the staff CLI -------------------------------------------------------------------------------------


def test_cli_lists_shows_and_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from bot.cli import main

    url = migrated_sqlite(tmp_path / "cli.db")
    media = tmp_path / "media"

    async def make() -> list[str]:
        async with ChatHarness.create(url, now=DEFAULT_NOW, media_dir=media) as chat:
            an, binh = chat.person("u1", name="An"), chat.person("u2", name="Bình")
            await to_photos(an)
            await an.send_photo(chat.serve("cli-1", jpeg("cli-1")))
            await an.press("Xong")
            await to_summary(an)
            first = await submit(an)
            chat.clock.advance(timedelta(days=2))
            await to_photos(binh, seller="Tiệm Bảy", product="Bột giặt")
            await binh.press("Bỏ qua")
            await binh.press("Đồng Xoài")
            await binh.press("Gửi ẩn danh")
            second = await submit(binh)
            async with chat.app.db.unit_of_work() as uow:
                row = await uow.complaints.get(second)
                await uow.complaints.set_status(row, ComplaintStatus.RESOLVED, "Đã xử lý", chat.clock.now())
                await uow.commit()
            return [first, second]

    first, second = asyncio.run(make())
    for key in ("TELEGRAM_BOT_TOKEN", "BOT_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BOT_CONFIG", str(PLAN_2024))  # the expectations follow the 2024 plan
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MEDIA_DIR", str(media))

    assert main(["complaints", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out] == [second, first]  # newest first
    assert "09xx xxx 678" in out[1] and "0912" not in out[1] and "ẩn danh" in out[0]
    assert main(["complaints", "list", "--status", "resolved", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["code"] == second and json.loads(line)["status"] == "resolved"

    assert main(["complaints", "show", first.lower()]) == 0
    shown = capsys.readouterr().out
    assert "09xx xxx 678" in shown and "0912 345 678" not in shown  # masked unless --reveal
    assert "Son môi Dior" in shown and "Người phản ánh: An" in shown
    assert str(media) in shown and "KHÔNG CÓ TỆP" not in shown and "Đã gửi phản ánh" in shown
    assert main(["complaints", "show", "PA-2345-67"]) == 1
    assert main(["complaints", "show", first, "--reveal"]) == 1  # not routed yet: no audit trail to record on
    assert "0912 345 678" not in capsys.readouterr().out

    assert main(["complaints", "export", "--format", "csv", "--from", "2024-11-27", "--to", "2024-11-27"]) == 0
    rows = read_export(capsys.readouterr().out)
    assert [r["code"] for r in rows] == [first] and rows[0]["status"] == "Đã gửi, chờ cơ quan chức năng tiếp nhận"
    assert rows[0]["contact_consent"] == "có"
    assert (
        rows[0]["contact"] == "09xx xxx 678" and rows[0]["photos"] == "1" and rows[0]["area"] == "Thành phố Đồng Xoài"
    )
    target = tmp_path / "out.csv"
    assert main(["complaints", "export", "--format", "csv", "--with-phone", "--output", str(target)]) == 0
    data = target.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600  # full numbers: readable by the owner only
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Vietnamese text right
    rows = read_export(data.decode("utf-8-sig"))
    assert [r["code"] for r in rows] == [first, second] and rows[0]["contact"] == "0912 345 678"
    assert main(["complaints", "export", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2

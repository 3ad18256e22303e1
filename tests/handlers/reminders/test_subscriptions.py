"""/demnguoc, /nhacnho, /huynhacnho and /thongbao, driven through the test channel like a chat."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from handlers.clock import as_utc
from handlers.types import ChatKind, IncomingMessage, MediaRef
from storage.models import OutboxMessage, Role
from storage.subscriptions import Broadcast, Subscription
from tests.support import processes
from tests.support.chat import CHANNEL, DEFAULT_NOW, ChatHarness
from tests.support.configs import PLAN_2024
from tests.support.databases import migrated_sqlite

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parents[3]


async def rows(chat: ChatHarness, model, *where) -> list:
    async with chat.app.db.unit_of_work() as uow:
        return list((await uow.session.execute(select(model).where(*where))).scalars())


async def subscription(chat: ChatHarness, user: str) -> Subscription | None:
    async with chat.app.db.unit_of_work() as uow:
        return await uow.subscriptions.get(CHANNEL, user)


async def make_admin(chat: ChatHarness, user: str) -> None:
    async with chat.app.db.unit_of_work() as uow:
        await uow.users.set_role(CHANNEL, user, Role.ADMIN, chat.clock.now())
        await uow.commit()


# -- countdown and subscriptions ---------------------------------------------------------------------------


async def test_countdown_offers_reminders_and_the_audience_is_asked_once(chat: ChatHarness) -> None:
    an = chat.person("u1")
    await an.say("/demnguoc")
    assert "Còn 1 ngày 15 giờ 0 phút nữa đến 60 giờ Online Friday 2024" in an.text  # 27/11 09:00
    assert "🔔 Nhận nhắc lịch" in an.labels
    await an.press("Nhận nhắc lịch")
    assert "với tư cách nào" in an.text
    await an.press("Người tiêu dùng")
    assert "Đã bật nhắc lịch!" in an.text
    sub = await subscription(chat, "u1")
    assert sub is not None and sub.active and sub.audience == "consumer" and sub.chat_id == "u1"

    await an.say("/demnguoc")
    assert "🔕 Tắt nhắc lịch" in an.labels
    await an.press("Tắt nhắc lịch")
    assert "Đã tắt nhắc lịch" in an.text
    assert not (await subscription(chat, "u1")).active
    await an.say("/huynhacnho")
    assert "chưa bật nhắc lịch" in an.text

    await an.say("/nhacnho")  # the audience is remembered: no second question
    assert "Đã bật nhắc lịch!" in an.text
    await an.say("/nhacnho")
    assert "đã bật nhắc lịch rồi" in an.text
    assert len(await rows(chat, Subscription)) == 1


async def test_the_menu_item_and_typed_answers_work(chat: ChatHarness) -> None:
    binh = chat.person("u2")
    await binh.say("/start")
    await binh.press("Đếm ngược")
    assert "60 giờ Online Friday 2024" in binh.text
    await binh.say("nhắc lịch")
    await binh.say("thương nhân")  # typed instead of pressed
    assert "nhận tin dành cho thương nhân" in binh.text
    assert (await subscription(chat, "u2")).audience == "merchant"


async def test_a_merchant_from_vaitro_is_not_asked_again(chat: ChatHarness) -> None:
    chi = chat.person("u3")
    for step in ("/vaitro", "1", "1", "1"):  # merchant, company, save
        await chi.say(step)
    assert "Đã lưu" in chi.text
    await chi.say("/nhacnho")
    assert "Đã bật nhắc lịch (nhận tin dành cho thương nhân)!" in chi.text


async def test_turning_reminders_off_keeps_what_was_in_progress(chat: ChatHarness) -> None:
    an = chat.person("u5")
    await an.say("/nhacnho")
    await an.say("2")
    await an.say("/vaitro")  # a question is waiting for an answer…
    await an.say("/huynhacnho")
    assert "Đã tắt nhắc lịch" in an.text
    await an.say("2")  # …and is still waiting
    assert "Bạn là: 🛒 Người tiêu dùng" in an.text


async def test_groups_are_told_to_subscribe_in_private(chat: ChatHarness) -> None:
    msg = IncomingMessage(CHANNEL, "-100", "u4", "Dũng", text="/nhacnho", chat_kind=ChatKind.GROUP)
    replies = await chat.app.dispatcher.handle(msg)
    assert "nhắn riêng" in replies[0].text
    assert await subscription(chat, "u4") is None


# -- announcements -----------------------------------------------------------------------------------------


async def subscribe_many(chat: ChatHarness, consumers: int, merchants: int) -> None:
    async with chat.app.db.unit_of_work() as uow:
        for i in range(consumers):
            await uow.subscriptions.subscribe(CHANNEL, f"c{i}", f"c{i}", "consumer", DEFAULT_NOW)
        for i in range(merchants):
            await uow.subscriptions.subscribe(CHANNEL, f"m{i}", f"m{i}", "merchant", DEFAULT_NOW)
        await uow.subscriptions.subscribe("telegram", "t1", "t1", "merchant", DEFAULT_NOW)
        await uow.commit()


async def test_only_admins_may_announce(chat: ChatHarness) -> None:
    an = chat.person("u1")
    await an.say("/thongbao Mai nghỉ")
    assert "chỉ dành cho quản trị viên" in an.text
    assert await rows(chat, Broadcast) == []


async def test_an_announcement_preview_count_and_confirm(chat: ChatHarness) -> None:
    await subscribe_many(chat, consumers=3, merchants=2)
    await make_admin(chat, "admin")
    admin = chat.person("admin", name="Cán bộ")
    await admin.say("/thongbao")
    assert "nội dung thông báo" in admin.text
    await admin.say("Cảnh giác hàng giả dịp Online Friday: https://dichvucong.gov.vn")
    assert "Gửi cho ai?" in admin.text
    assert "👥 Tất cả người đăng ký (6)" in admin.labels and "🏪 Thương nhân (3)" in admin.labels
    await admin.press("Thương nhân")
    assert "📢 Thông báo của Sở Công Thương tỉnh Bình Phước:" in admin.text  # the preview
    assert "Sẽ gửi đến 3 người đăng ký (🏪 Thương nhân)" in admin.text
    await admin.press("Gửi")
    assert "Đã xếp hàng thông báo #1 đến 3 người đăng ký" in admin.text

    outbox = await rows(chat, OutboxMessage)
    assert sorted((r.channel, r.chat_id) for r in outbox) == sorted(
        [("telegram", "t1"), (CHANNEL, "m0"), (CHANNEL, "m1")]
    )
    assert {r.kind for r in outbox} == {"announcement"} and {r.ref for r in outbox} == {"broadcast:1"}
    assert {r.dedupe_key for r in outbox} == {
        f"broadcast:1:{c}" for c in ("telegram:t1", f"{CHANNEL}:m0", f"{CHANNEL}:m1")
    }
    payload = outbox[0].payload
    assert "https://dichvucong.gov.vn" in payload["text"]
    assert payload["buttons"] == [[{"label": "🔕 Tắt nhắc lịch", "payload": "sub:off"}]]
    [broadcast] = await rows(chat, Broadcast)
    assert broadcast.recipients == 3 and broadcast.audience == "merchant" and broadcast.created_by == f"{CHANNEL}:admin"


async def test_cancel_and_rewrite(chat: ChatHarness) -> None:
    await make_admin(chat, "admin")
    admin = chat.person("admin")
    await admin.say("/thongbao Bản nháp thứ nhất")
    await admin.press("Tất cả")
    await admin.press("Viết lại")
    await admin.say("Bản thứ hai")
    await admin.press("Tất cả")
    assert "Bản thứ hai" in admin.text and "Bản nháp thứ nhất" not in admin.text
    await admin.press("Hủy")
    assert "chưa gửi cho ai" in admin.text
    assert await rows(chat, Broadcast) == []


async def test_quiet_hours_hold_an_announcement_until_seven(sqlite_url: str) -> None:
    late = datetime(2024, 11, 28, 23, 0, tzinfo=VN)
    async with ChatHarness.create(sqlite_url, now=late) as chat:
        await subscribe_many(chat, consumers=2, merchants=0)
        await make_admin(chat, "admin")
        admin = chat.person("admin")
        await admin.say("/thongbao Lịch hội thảo ngày mai")
        await admin.press("Tất cả")
        assert "giờ yên lặng (22:00–07:00)" in admin.text
        await admin.press("Gửi")
        assert "bắt đầu được gửi lúc 07:00" in admin.text
        outbox = await rows(chat, OutboxMessage)
        seven = datetime(2024, 11, 29, 0, 0, tzinfo=UTC)  # 07:00 in Vietnam
        assert len(outbox) == 3 and {as_utc(r.not_before) for r in outbox} == {seven}


async def test_a_photo_goes_only_to_its_own_channel(chat: ChatHarness) -> None:
    await subscribe_many(chat, consumers=1, merchants=0)
    await make_admin(chat, "admin")
    admin = chat.person("admin")
    await admin.say("/thongbao")
    await admin.send_photo(MediaRef("photo-file-id"), caption="Hàng thật, giá thật")
    await admin.press("Tất cả")
    assert any(reply.photos == ["photo-file-id"] for reply in admin.last)  # the preview shows the photo
    await admin.press("Gửi")
    by_channel = {r.channel: r.payload for r in await rows(chat, OutboxMessage)}
    assert by_channel[CHANNEL]["photos"] == ["photo-file-id"]
    assert by_channel["telegram"]["photos"] == []  # a test-channel file id means nothing on Telegram


async def test_too_long_an_announcement_is_refused(chat: ChatHarness) -> None:
    await make_admin(chat, "admin")
    admin = chat.person("admin")
    await admin.say("/thongbao " + "a" * 2001)
    assert "quá giới hạn 2.000 ký tự" in admin.text


# -- the command line --------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return processes.cli_env(tmp_path, DATABASE_URL=migrated_sqlite(tmp_path / "cli.db"))


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


@pytest.fixture
async def cli_subscribers(tmp_path: Path, cli_env: dict[str, str]) -> AsyncIterator[None]:
    async with ChatHarness.create(cli_env["DATABASE_URL"], now=DEFAULT_NOW) as chat:
        await subscribe_many(chat, consumers=2, merchants=1)
    yield


@pytest.mark.processes
async def test_cli_announce_previews_asks_and_queues(cli_env: dict[str, str], cli_subscribers: None) -> None:
    refused = cli(cli_env, "announce", "--text", "Thử nghiệm", stdin="k\n")
    assert refused.returncode == 1 and "Đã hủy" in refused.stdout
    assert "Sẽ gửi đến 4 người đăng ký" in refused.stdout
    sent = cli(cli_env, "announce", "--text", "Chỉ cho người tiêu dùng", "--audience", "consumer", stdin="c\n")
    assert sent.returncode == 0, sent.stderr
    assert "Sẽ gửi đến 2 người đăng ký (🛒 Người tiêu dùng)" in sent.stdout
    assert "Đã xếp hàng thông báo #1 đến 2 người" in sent.stdout
    status = cli(cli_env, "broadcast", "status")
    assert status.returncode == 0, status.stderr
    assert "đang chờ 2" in status.stdout
    assert "| 1 | thông báo | Chỉ cho người tiêu dùng |" in status.stdout


@pytest.mark.processes
async def test_run_on_the_console_alone_prints_an_announcement(
    tmp_path: Path, cli_env: dict[str, str], cli_subscribers: None
) -> None:
    """`python -m bot run` with no messenger: the sender delivers console rows by printing them."""
    data = yaml.safe_load(PLAN_2024.read_text(encoding="utf-8"))
    data["quiet_hours"] = {"start": "00:00", "end": "00:00"}  # whatever the hour the test runs at
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**cli_env, "BOT_CONFIG": str(config)}
    async with (
        ChatHarness.create(cli_env["DATABASE_URL"], now=DEFAULT_NOW) as chat,
        chat.app.db.unit_of_work() as uow,
    ):
        await uow.subscriptions.subscribe("console", "console-user", "console-user", "consumer", DEFAULT_NOW)
        await uow.commit()
    queued = cli(env, "announce", "--text", "Hội thảo TMĐT sáng mai", "--yes")
    assert queued.returncode == 0, queued.stderr
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    seen = ""
    try:
        async with asyncio.timeout(60):
            while "Hội thảo TMĐT sáng mai" not in seen or "Tắt nhắc lịch" not in seen:
                line = await run.stdout.readline()
                assert line, f"`run` ended before printing the announcement:\n{seen}"
                seen += line.decode()
    finally:
        run.stdin.close()
        await run.wait()
    assert "📢 Thông báo của Sở Công Thương tỉnh Bình Phước:" in seen
    assert "🔕 Tắt nhắc lịch" in seen  # the button comes too (signed, so pressing it works)
    status = cli(env, "broadcast", "status")
    assert "| 1 | thông báo | Hội thảo TMĐT sáng mai |" in status.stdout

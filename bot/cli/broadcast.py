"""``python -m bot countdown | broadcast status | announce``: the countdown and broadcasts from the shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta

from bot.sender import format_eta
from bot.settings import Settings
from handlers.announcements import AUDIENCE_LABELS, announcement_text, queue_announcement, quiet_note
from handlers.clock import LOCAL_TZ, SystemClock, local
from handlers.config import load_config
from handlers.reminders.countdown import countdown_text
from storage.db import Database
from storage.models import OutboxStatus

YES = {"c", "co", "có", "y", "yes", "ok", "gui", "gửi"}


def parse_moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment


def run_countdown(args: argparse.Namespace, settings: Settings) -> int:
    config = load_config(settings.bot_config)
    try:
        now = parse_moment(args.at) if args.at else SystemClock().now()
    except ValueError:
        print(f"Thời điểm không hợp lệ: {args.at!r}. Ví dụ đúng: 2024-11-28T12:00:00+07:00", file=sys.stderr)
        return 2
    print(countdown_text(config, now))
    return 0


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def run_broadcast(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.database_url)
    db.upgrade()

    async def main() -> str:
        try:
            return await broadcast_status(db, SystemClock().now(), limit=args.limit)
        finally:
            await db.dispose()

    print(asyncio.run(main()))
    return 0


async def broadcast_status(db: Database, now: datetime, *, limit: int = 10) -> str:
    """A Markdown report: totals, the current rate and time left, and the latest broadcasts."""
    async with db.unit_of_work() as uow:
        totals = await uow.broadcasts.outbox_totals()
        recent_rate = await uow.broadcasts.sent_since(now - timedelta(minutes=1)) / 60
        # Reminders of old campaigns, skipped at a first start, would crowd the table: only those due lately.
        broadcasts = await uow.broadcasts.recent(limit, skipped_since=now - timedelta(days=1))
        skipped = await uow.broadcasts.count_skipped()
        progress = await uow.broadcasts.progress([b.ref for b in broadcasts])
        subscribers = await uow.subscriptions.count()
    pending = totals.get(OutboxStatus.PENDING.value, 0)
    eta = format_eta(pending / recent_rate) if recent_rate > 0 else ("0m00s" if not pending else "?")
    lines = [
        f"Người đăng ký nhắc lịch: {_number(subscribers)}",
        f"Hàng đợi: đã gửi {_number(totals.get('sent', 0))} · lỗi {_number(totals.get('failed', 0))} · "
        f"bỏ qua {_number(totals.get('skipped', 0))} · đang chờ {_number(pending)}",
        f"Tốc độ 1 phút qua: {recent_rate:.1f} tin/giây · dự kiến xong sau: {eta}",
        f"Nhắc lịch bị bỏ qua vì lỡ giờ quá lâu (không bao giờ gửi muộn): {_number(skipped)}",
        "",
    ]
    if not broadcasts:
        lines.append("Chưa có đợt gửi nào.")
        return "\n".join(lines)
    lines += [
        "| # | loại | nội dung | lúc (giờ VN) | người nhận | đã gửi | lỗi | bỏ qua | đang chờ | tiến độ |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for b in broadcasts:
        counts = progress.get(b.ref, {})
        done = sum(counts.get(s, 0) for s in ("sent", "failed", "skipped"))
        share = f"{100 * done / b.recipients:.0f}%" if b.recipients else "–"
        kind = "nhắc lịch" if b.kind == "reminder" else "thông báo"
        title = b.title if b.status == "queued" else f"{b.title} (bỏ qua: {b.note})"
        lines.append(
            f"| {b.id} | {kind} | {title} | {local(b.scheduled_for):%d/%m/%Y %H:%M} | {_number(b.recipients)} | "
            f"{_number(counts.get('sent', 0))} | {_number(counts.get('failed', 0))} | "
            f"{_number(counts.get('skipped', 0))} | {_number(counts.get('pending', 0))} | {share} |"
        )
    return "\n".join(lines)


def run_announce(args: argparse.Namespace, settings: Settings) -> int:
    config = load_config(settings.bot_config)
    text = args.text.strip()
    if not text or len(text) > 2000:
        print("Nội dung thông báo phải có từ 1 đến 2.000 ký tự.", file=sys.stderr)
        return 2
    photo = None
    if args.photo is not None:
        if not args.photo.is_file():
            print(f"Không tìm thấy ảnh {args.photo}", file=sys.stderr)
            return 2
        photo = {"ref": str(args.photo.resolve()), "channel": None}
    db = Database(settings.database_url)
    db.upgrade()
    now = SystemClock().now()

    async def main() -> int:
        try:
            async with db.unit_of_work() as uow:
                recipients = await uow.subscriptions.count(args.audience)
            print("Xem trước:\n")
            print(announcement_text(config, text))
            if photo:
                print(f"🖼 {photo['ref']}")
            print(f"\nSẽ gửi đến {_number(recipients)} người đăng ký ({AUDIENCE_LABELS[args.audience]}).")
            note = quiet_note(config, now)
            if note:
                print(note)
            if not args.yes:
                print("Gửi thông báo này? (c/k): ", end="", flush=True)
                answer = (await asyncio.to_thread(sys.stdin.readline)).strip().lower()
                if answer not in YES:
                    print("Đã hủy, chưa gửi cho ai.")
                    return 1
            async with db.unit_of_work() as uow:
                broadcast = await queue_announcement(
                    uow, config, now, text=text, audience=args.audience, photo=photo, author="cli"
                )
                await uow.commit()
            print(
                f"Đã xếp hàng thông báo #{broadcast.id} đến {_number(broadcast.recipients)} người. "
                "Trợ lý đang chạy (python -m bot run) sẽ gửi dần; xem tiến độ: python -m bot broadcast status"
            )
            return 0
        finally:
            await db.dispose()

    return asyncio.run(main())

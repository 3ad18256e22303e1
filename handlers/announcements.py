"""/thongbao: an admin writes an announcement (text, optionally a photo and links), picks the audience,
sees a preview with the number of recipients, and confirms.

Confirming writes the broadcast and one outbox row per subscriber in the same transaction. In the quiet
hours (default 22:00–07:00) the rows wait until the quiet hours end; the sender also holds any
announcement row it meets in the quiet hours. Reminders of the window's start and end are not held.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from handlers import texts
from handlers.config import AppConfig
from handlers.core import Context, Flow, Router
from handlers.matching import fold_text, pick_option
from handlers.reminders.subscriptions import OFF_BUTTON
from handlers.types import MessageKind, Reply
from storage.db import UnitOfWork
from storage.models import Role
from storage.subscriptions import Audience, Broadcast, BroadcastKind

MAX_TEXT = 2000  # the smallest limit among the channels (Zalo)
NOT_ADMIN = "Lệnh /thongbao chỉ dành cho quản trị viên của Sở."

AUDIENCE_LABELS = {
    Audience.ALL.value: "👥 Tất cả người đăng ký",
    Audience.MERCHANT.value: "🏪 Thương nhân",
    Audience.CONSUMER.value: "🛒 Người tiêu dùng",
}
_AUDIENCE_WORDS = {
    Audience.ALL.value: ("tat ca", "moi nguoi", "all"),
    Audience.MERCHANT.value: ("thuong nhan", "doanh nghiep", "merchant"),
    Audience.CONSUMER.value: ("nguoi tieu dung", "tieu dung", "consumer"),
}


def is_admin(ctx: Context) -> bool:
    if ctx.user.role == Role.ADMIN.value:
        return True
    return any(
        m.channel == ctx.msg.channel and m.user_id == ctx.msg.user_id and m.role == "admin" for m in ctx.config.staff
    )


def announcement_text(config: AppConfig, text: str) -> str:
    return f"📢 Thông báo của {config.department.name}:\n\n{text.strip()}"


def quiet_note(config: AppConfig, now: datetime) -> str | None:
    quiet = config.quiet_hours
    if not quiet.contains(now):
        return None
    return (
        f"🌙 Đang trong giờ yên lặng ({quiet.start:%H:%M}–{quiet.end:%H:%M}): "
        f"thông báo sẽ bắt đầu được gửi lúc {quiet.end:%H:%M}."
    )


async def queue_announcement(
    uow: UnitOfWork,
    config: AppConfig,
    now: datetime,
    *,
    text: str,
    audience: str,
    photo: dict[str, Any] | None = None,
    author: str | None = None,
) -> Broadcast:
    """Write the broadcast and its outbox rows (in the caller's transaction); returns the broadcast.

    ``photo`` is ``{"ref": file id or path, "channel": the channel whose file id it is, or None}``: a
    platform file id only reaches subscribers on that platform, a local file reaches everyone.
    """
    body = announcement_text(config, text)
    not_before = config.quiet_hours.release(now)
    payload = Reply(body, [[OFF_BUTTON]]).to_dict()
    by_channel: dict[str, dict[str, Any]] = {}
    if photo is not None:
        with_photo = Reply(body, [[OFF_BUTTON]], photos=[photo["ref"]]).to_dict()
        if photo.get("channel"):
            by_channel[photo["channel"]] = with_photo
        else:
            payload = with_photo
    broadcast = await uow.broadcasts.create(
        kind=BroadcastKind.ANNOUNCEMENT,
        title=" ".join(text.split())[:80],
        audience=audience,
        payload={"text": text, "photo": photo},
        now=now,
        not_before=not_before,
        created_by=author,
    )
    await uow.broadcasts.fan_out(
        broadcast,
        payload=payload,
        dedupe_prefix=f"broadcast:{broadcast.id}:",
        now=now,
        not_before=not_before,
        payload_by_channel=by_channel,
    )
    return broadcast


class Step(enum.StrEnum):
    TEXT = "text"
    AUDIENCE = "audience"
    CONFIRM = "confirm"


class AnnounceFlow(Flow):
    name = "announce"
    accepts = frozenset({MessageKind.TEXT, MessageKind.BUTTON, MessageKind.PHOTO})

    async def begin(self, ctx: Context) -> None:
        if not is_admin(ctx):
            ctx.reply(NOT_ADMIN, texts.menu_buttons())
            return
        inline = ctx.text.split(maxsplit=1)[1].strip() if " " in ctx.text else ""
        self.goto(ctx, Step.TEXT, {})
        if inline:
            await self._take_text(ctx, inline, {})
            return
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        data = ctx.data
        if step is Step.TEXT:
            if data.get("photo"):
                ctx.reply("🖼 Đã nhận ảnh. Bạn gửi tiếp nội dung thông báo nhé.", [[self.button("✖️ Hủy", "cancel")]])
            else:
                ctx.reply(
                    "📝 Bạn gửi nội dung thông báo (tối đa 2.000 ký tự; có thể kèm 1 ảnh, đường link để nguyên).",
                    [[self.button("✖️ Hủy", "cancel")]],
                )
        elif step is Step.AUDIENCE:
            counts = await ctx.uow.subscriptions.counts_by_audience()
            total = sum(counts.values())
            rows = [
                [self.button(f"{label} ({total if key == 'all' else counts.get(key, 0)})", f"aud:{key}")]
                for key, label in AUDIENCE_LABELS.items()
            ]
            ctx.reply("Gửi cho ai?", [*rows, [self.button("✖️ Hủy", "cancel")]])
        else:
            audience = data["audience"]
            recipients = await ctx.uow.subscriptions.count(audience)
            photo = data.get("photo")
            ctx.reply("👀 Xem trước:")
            ctx.reply(announcement_text(ctx.config, data["text"]), photos=[photo["ref"]] if photo else [])
            lines = [f"Sẽ gửi đến {recipients} người đăng ký ({AUDIENCE_LABELS[audience]})."]
            note = quiet_note(ctx.config, ctx.now)
            if note:
                lines.append(note)
            lines.append("Gửi ngay chứ?")
            ctx.reply(
                "\n".join(lines),
                [
                    [self.button("✅ Gửi", "send")],
                    [self.button("✏️ Viết lại", "edit"), self.button("✖️ Hủy", "cancel")],
                ],
            )

    async def handle(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        answer = ctx.arg if ctx.payload else ""
        data = ctx.data
        if answer == "cancel":
            ctx.finish()
            ctx.reply("Đã hủy thông báo, chưa gửi cho ai.", texts.menu_buttons())
            return
        if step is Step.TEXT:
            if ctx.msg.kind is MessageKind.PHOTO and ctx.msg.photos:
                data["photo"] = {"ref": ctx.msg.photos[-1].file_id, "channel": ctx.msg.channel}
                if not ctx.text:
                    self.goto(ctx, Step.TEXT, data)
                    await self.reprompt(ctx)
                    return
            if not ctx.text:
                await self.reprompt(ctx)
                return
            await self._take_text(ctx, ctx.text, data)
        elif step is Step.AUDIENCE:
            key = (
                answer.removeprefix("aud:")
                if answer.startswith("aud:")
                else pick_option(ctx.text, AUDIENCE_LABELS, _AUDIENCE_WORDS)
            )
            if key not in AUDIENCE_LABELS:
                ctx.reply("Bạn chọn một nhóm người nhận bằng nút bên dưới nhé.")
                await self.reprompt(ctx)
                return
            self.goto(ctx, Step.CONFIRM, {**data, "audience": key})
            await self.reprompt(ctx)
        else:
            folded = fold_text(ctx.text)
            if answer == "edit" or folded in ("viet lai", "sua"):
                self.goto(ctx, Step.TEXT, {})
                await self.reprompt(ctx)
                return
            if answer != "send" and folded not in ("gui", "dong y", "ok", "co"):
                ctx.reply("Bạn bấm «Gửi» để gửi, «Viết lại» để sửa hoặc «Hủy» nhé.")
                await self.reprompt(ctx)
                return
            broadcast = await queue_announcement(
                ctx.uow,
                ctx.config,
                ctx.now,
                text=data["text"],
                audience=data["audience"],
                photo=data.get("photo"),
                author=f"{ctx.msg.channel}:{ctx.msg.user_id}",
            )
            ctx.finish()
            lines = [f"✅ Đã xếp hàng thông báo #{broadcast.id} đến {broadcast.recipients} người đăng ký."]
            note = quiet_note(ctx.config, ctx.now)
            lines.append(note or "Tin sẽ được gửi dần theo giới hạn của nền tảng (khoảng 30 tin mỗi giây).")
            ctx.reply("\n".join(lines), texts.menu_buttons())

    async def _take_text(self, ctx: Context, text: str, data: dict[str, Any]) -> None:
        text = text.strip()
        if len(text) > MAX_TEXT:
            limit = f"{MAX_TEXT:,}".replace(",", ".")
            ctx.reply(f"Nội dung dài {len(text)} ký tự, quá giới hạn {limit} ký tự. Bạn rút gọn giúp mình nhé.")
            self.goto(ctx, Step.TEXT, data)
            return
        self.goto(ctx, Step.AUDIENCE, {**data, "text": text})
        await self.reprompt(ctx)


def register(router: Router) -> None:
    announce = AnnounceFlow()
    router.flow(announce)
    router.command(["/thongbao"], announce.begin)

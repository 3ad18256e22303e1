"""Status lookup of one's own complaints (/tracuu) and adding information or photos to an open one.

Only the reporter (the same channel and user id that filed it) sees a complaint's details. Anyone else —
and anyone typing a code that does not exist — gets the same polite answer, so a lookup reveals nothing,
not even whether the code exists.
"""

from __future__ import annotations

import enum
import logging
import re
from typing import Any

from handlers import texts
from handlers.complaints.photos import MAX_PHOTOS, NO_FILE, fetch_media, media_refs, photo_rows, take_photos
from handlers.complaints.vocabulary import (
    KIND_UPDATED,
    PLATFORMS,
    STAFF_CHANNEL,
    STAFF_CHAT,
    category_name,
    date_text,
    local_text,
    status_label,
)
from handlers.core import Context, Flow, FlowState, Services
from handlers.matching import fold_text
from handlers.types import Button, ChatKind, IncomingMessage, MessageKind
from storage.complaints import Complaint, ComplaintEvent, EventKind, normalise_code

logger = logging.getLogger(__name__)

FLOW = "tracking"
MAX_PHOTOS_TOTAL = 20  # photos of the report plus those added later
_CODE_IN_TEXT = re.compile(r"(?:PA[\s\-]*)?([0-9A-Z]{4})[\s\-]*([0-9A-Z]{2})\b", re.IGNORECASE)

ASK_CODE = "Bạn nhập mã phản ánh cần tra cứu (ví dụ PA-7K3Q-9M)."
NOT_FOUND = (
    "Mình không tìm thấy phản ánh mã {code} trong các phản ánh bạn đã gửi. Bạn kiểm tra lại mã nhé. "
    "Để bảo vệ người phản ánh, chỉ người gửi mới xem được chi tiết phản ánh."
)
NOT_A_CODE = "Mã phản ánh có dạng PA-XXXX-XX (ví dụ PA-7K3Q-9M). Bạn kiểm tra lại giúp mình nhé."
PRIVATE_ONLY = "Để bảo vệ thông tin của bạn, bạn tra cứu phản ánh trong tin nhắn riêng với trợ lý nhé."
CLOSED = "Phản ánh {code} đã đóng ({status}) nên không nhận bổ sung nữa. Cần phản ánh việc mới, bạn gõ /phananh."
ADD_PROMPT = (
    "Bạn gửi thêm thông tin (gõ tin nhắn) hoặc ảnh cho phản ánh {code}. Gửi xong thì bấm «Xong». "
    "Mỗi nội dung bổ sung được chuyển tới cán bộ đang xử lý."
)


class Step(enum.StrEnum):
    CODE = "code"
    ADD = "add"


def find_code(text: str) -> str | None:
    code = normalise_code(text)
    if code:
        return code
    match = _CODE_IN_TEXT.search(text.upper())
    return normalise_code(match.group(1) + match.group(2)) if match else None


async def own_complaint(ctx: Context, code: str) -> Complaint | None:
    """The complaint with this code if the person writing filed it; None otherwise (never say which)."""
    complaint = await ctx.uow.complaints.get(code)
    if complaint is None:
        return None
    if complaint.channel != ctx.msg.channel or complaint.user_id != ctx.msg.user_id:
        logger.warning("refused a lookup of %s by %s/%s (not the reporter)", code, ctx.msg.channel, ctx.msg.user_id)
        return None
    return complaint


def history_lines(events: list[ComplaintEvent]) -> list[str]:
    return [f"• {local_text(e.at)} — {e.note}" for e in events]


async def show(ctx: Context, code: str) -> None:
    """Show one complaint to its reporter: status, the main facts and the public history."""
    complaint = await own_complaint(ctx, code)
    if complaint is None:
        ctx.reply(
            NOT_FOUND.format(code=code),
            [[Button("🔎 Tra cứu mã khác", "menu:track")], [Button("🏠 Menu", "menu:menu")]],
        )
        return
    assert complaint.id is not None
    photos = await ctx.uow.complaints.photos(complaint.id)
    events = await ctx.uow.complaints.events(complaint.id)
    lines = [
        f"🔎 Phản ánh {complaint.code}",
        f"Trạng thái: {status_label(complaint.status)}",
        f"Loại: {category_name(ctx.config, complaint.category)}",
        f"Sản phẩm: {complaint.product} — người bán: {complaint.seller} ({PLATFORMS.get(complaint.platform, '')})",
        f"Ngày mua: {date_text(complaint.purchase_date)} · Ảnh: {len(photos)}",
        f"Gửi lúc: {local_text(complaint.created_at)}",
        "",
        "Diễn biến:",
        *history_lines(events),
    ]
    rows = []
    if complaint.open:
        rows.append([Button("➕ Bổ sung thông tin / ảnh", f"track:add:{complaint.code}")])
    rows.append([Button("🏠 Menu", "menu:menu")])
    ctx.reply("\n".join(lines), rows)


async def start_adding(ctx: Context, code: str, flow: TrackingFlow) -> None:
    if ctx.msg.chat_kind is ChatKind.GROUP:
        ctx.reply(PRIVATE_ONLY)
        return
    complaint = await own_complaint(ctx, code)
    if complaint is None:
        ctx.reply(NOT_FOUND.format(code=code), texts.menu_buttons())
        return
    if not complaint.open:
        ctx.reply(CLOSED.format(code=code, status=status_label(complaint.status).lower()), texts.menu_buttons())
        return
    flow.goto(ctx, Step.ADD, {"code": code, "added": 0})
    await flow.reprompt(ctx)


class TrackingFlow(Flow):
    name = FLOW
    accepts = frozenset({MessageKind.TEXT, MessageKind.BUTTON, MessageKind.PHOTO, MessageKind.DOCUMENT})

    async def begin(self, ctx: Context) -> None:
        """`/tracuu` or the menu: show the reporter's recent complaints and ask for a code."""
        if ctx.msg.chat_kind is ChatKind.GROUP:
            ctx.reply(PRIVATE_ONLY)
            return
        mine = await ctx.uow.complaints.by_reporter(ctx.msg.channel, ctx.msg.user_id, limit=5)
        self.goto(ctx, Step.CODE, {})
        if not mine:
            ctx.reply("Bạn chưa gửi phản ánh nào từ tài khoản này. " + ASK_CODE, [[self.button("✖️ Hủy", "cancel")]])
            return
        lines = ["Các phản ánh gần đây của bạn:"]
        lines += [f"• {c.code} — {c.product} — {status_label(c.status)}" for c in mine]
        lines += ["", "Bạn bấm vào mã để xem chi tiết, hoặc nhập mã khác."]
        rows = [[Button(f"🔎 {c.code}", f"track:view:{c.code}")] for c in mine]
        ctx.reply("\n".join(lines), [*rows, [self.button("✖️ Hủy", "cancel")]])

    async def prepare(self, msg: IncomingMessage, state: FlowState, services: Services) -> Any:
        if state.step != Step.ADD:
            return None
        return await fetch_media(msg, services, MAX_PHOTOS)

    async def reprompt(self, ctx: Context) -> None:
        assert ctx.state is not None
        if ctx.state.step == Step.CODE:
            ctx.reply(ASK_CODE, [[self.button("✖️ Hủy", "cancel")]])
            return
        data = ctx.data
        ctx.reply(ADD_PROMPT.format(code=data["code"]), [[self.button("✅ Xong", "done")]])

    async def handle(self, ctx: Context) -> None:
        assert ctx.state is not None
        answer = ctx.arg if ctx.payload else ""
        if answer == "cancel":
            ctx.finish()
            ctx.reply(texts.CANCELLED, texts.menu_buttons())
            return
        if ctx.state.step == Step.CODE:
            if ctx.msg.kind in (MessageKind.PHOTO, MessageKind.DOCUMENT):
                ctx.reply("Để gửi ảnh cho một phản ánh, bạn nhập mã phản ánh trước nhé.")
                await self.reprompt(ctx)
                return
            code = find_code(ctx.text)
            if code is None:
                ctx.reply(NOT_A_CODE)
                await self.reprompt(ctx)
                return
            ctx.finish()
            await show(ctx, code)
            return
        await self._add(ctx, answer)

    async def _add(self, ctx: Context, answer: str) -> None:
        data = ctx.data
        code = data["code"]
        if answer == "done" or (not answer and fold_text(ctx.text) in ("xong", "done", "het", "xong roi")):
            ctx.finish()
            added = data.get("added", 0)
            thanks = f"Cảm ơn bạn! Mình đã chuyển {added} nội dung bổ sung tới cán bộ." if added else "Đã xong."
            ctx.reply(f"{thanks} Bạn xem lại phản ánh bằng /tracuu {code}.", texts.menu_buttons())
            return
        complaint = await own_complaint(ctx, code)
        if complaint is None or not complaint.open:
            ctx.finish()
            status = status_label(complaint.status).lower() if complaint else ""
            ctx.reply(CLOSED.format(code=code, status=status) if complaint else NOT_FOUND.format(code=code))
            return
        assert complaint.id is not None
        uow, now = ctx.uow, ctx.now
        if ctx.msg.kind in (MessageKind.PHOTO, MessageKind.DOCUMENT):
            if not media_refs(ctx.msg):
                ctx.reply(NO_FILE)
                return
            existing = await uow.complaints.photos(complaint.id)
            room = MAX_PHOTOS_TOTAL - len(existing)
            intake = await take_photos(ctx, {p.sha256 for p in existing}, room, MAX_PHOTOS_TOTAL)
            if intake.added:
                await uow.complaints.add_photos(complaint, photo_rows(intake.added, "addition"), now)
                note = f"Người phản ánh bổ sung {len(intake.added)} ảnh"
                await uow.complaints.add_event(
                    complaint,
                    ComplaintEvent(
                        at=now, kind=EventKind.PHOTOS_ADDED.value, note=note, detail=ctx.text or None, actor="reporter"
                    ),
                )
                await self._notify_staff(ctx, complaint, note, ctx.text or None, [e["sha256"] for e in intake.added])
            album = ctx.msg.album_id
            silent = album is not None and data.get("album") == album and not intake.problems
            if album is not None and intake.added:
                data["album"] = album
            data["added"] = data.get("added", 0) + (1 if intake.added else 0)
            self.goto(ctx, Step.ADD, data)
            if silent:
                return
            lines = []
            if intake.added:
                lines.append(f"📷 Đã thêm {len(intake.added)} ảnh vào phản ánh {code}.")
            elif intake.duplicates:
                lines.append("Ảnh này đã có trong phản ánh rồi.")
            lines += intake.problems
            ctx.reply("\n".join(lines), [[self.button("✅ Xong", "done")]])
            return
        text = ctx.text.strip()
        if len(fold_text(text)) < 3:
            ctx.reply(
                "Nội dung bổ sung ngắn quá. Bạn gõ rõ hơn, gửi ảnh, hoặc bấm «Xong» nhé.",
                [[self.button("✅ Xong", "done")]],
            )
            return
        note = "Người phản ánh bổ sung thông tin"
        await uow.complaints.add_event(
            complaint,
            ComplaintEvent(at=now, kind=EventKind.INFO_ADDED.value, note=note, detail=text[:4000], actor="reporter"),
        )
        await self._notify_staff(ctx, complaint, note, text[:4000], [])
        data["added"] = data.get("added", 0) + 1
        self.goto(ctx, Step.ADD, data)
        ctx.reply(
            f"📝 Đã thêm thông tin vào phản ánh {code}. Bạn gửi tiếp hoặc bấm «Xong».",
            [[self.button("✅ Xong", "done")]],
        )

    async def _notify_staff(
        self, ctx: Context, complaint: Complaint, note: str, detail: str | None, photos: list[str]
    ) -> None:
        lines = [f"➕ Phản ánh {complaint.code}: {note.lower()}."]
        if detail:
            lines.append(detail)
        await ctx.uow.outbox.enqueue(
            channel=STAFF_CHANNEL,
            chat_id=STAFF_CHAT,
            kind=KIND_UPDATED,
            payload={
                "text": "\n".join(lines),
                "complaint": {"code": complaint.code, "note": note, "detail": detail, "photos": photos},
            },
            now=ctx.now,
            ref=complaint.code,
        )


async def on_button(ctx: Context, flow: TrackingFlow) -> None:
    """``track:view:CODE`` and ``track:add:CODE``, from any message (the submission receipt, the list)."""
    action, _, code = ctx.arg.partition(":")
    code = normalise_code(code) or code
    if action == "add":
        await start_adding(ctx, code, flow)
        return
    if ctx.state is not None and ctx.state.flow == FLOW:
        ctx.finish()
    if ctx.msg.chat_kind is ChatKind.GROUP:
        ctx.reply(PRIVATE_ONLY)
        return
    await show(ctx, code)


async def track_command(ctx: Context, flow: TrackingFlow) -> None:
    """`/tracuu CODE` shows that complaint; `/tracuu` alone lists one's own and asks for a code."""
    argument = ctx.text.split(maxsplit=1)[1] if ctx.text.startswith("/") and " " in ctx.text else ""
    if not argument:
        await flow.begin(ctx)
        return
    if ctx.msg.chat_kind is ChatKind.GROUP:
        ctx.reply(PRIVATE_ONLY)
        return
    code = find_code(argument)
    if code is None:
        ctx.reply(NOT_A_CODE, texts.menu_buttons())
        return
    await show(ctx, code)

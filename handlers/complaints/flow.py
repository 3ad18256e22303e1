"""Consumer complaints with photos: a guided report of fake or poor-quality goods that never loses evidence.

The flow is an explicit state machine (``questions.Step``): category → where it was bought → seller → shop
link or address → product → purchase date → what happened → photos (0–10) → area → contact (phone or
anonymous) → consent → summary with Gửi / Sửa / Hủy. Every step has a back and a cancel path; typed answers are
accepted where buttons are offered (by number, by label, or by words without diacritics).

Decisions:

* **The draft is the conversation row.** Answers and photo references live in the flow's JSON state, whose
  deadline is ``limits.draft_hours`` after the last step, so a restart resumes at the step. A draft past its
  deadline is closed by the dispatcher when the reporter next writes (``expired_text``) and, proactively, by
  ``drafts.close_stale_drafts`` (an outbox message, then the draft is deleted), which the leader runs every
  10 minutes.
* **Downloads happen before the transaction.** :meth:`ComplaintFlow.prepare` streams each photo to the
  content-addressed media store (``storage.media``) with the conversation lock held but no database
  transaction open: on SQLite the unit of work holds the one database lock, so a download inside it would
  stall every other user. The step's transaction then only records hashes. If the state moved in between
  (another process), :meth:`handle` fetches inside the transaction as a fallback. A file stored for a draft
  that is never submitted stays in the store unreferenced (content-addressed, so harmless).
* **Albums get one acknowledgement.** A platform delivers an album as separate messages sharing
  ``album_id`` with no count and no end marker. Adapters that can (Telegram) collect an album's items for a
  short quiet time after the last item (capped) and hand them over as ONE message with several photos, so
  the one acknowledgement can count them all (``bot/channels/albums.py``). Whatever still arrives item by
  item (another adapter, or an item after the cap) is stored as it comes, each in its own transaction, and
  only the first item of an album is acknowledged; later items stay silent unless something is wrong with
  them. The caption is taken from whichever item has it.
* **Submission is one transaction** (``submit``): the complaint, its photos (rows by SHA-256), its first
  public history event and an outbox row (``kind="complaint_submitted"``, channel ``staff``, ``ref`` = the
  code) that the staff-routing work consumes. The tracking code is random from an unambiguous alphabet,
  checked for collisions and protected by a unique constraint.
* **Privacy**: reports are taken in private chats only; an anonymous report keeps no phone and no name;
  phone numbers are stored normalised (E.164) and masked (``09xx xxx 678``) in every staff-facing text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers import texts
from handlers.clock import local
from handlers.complaints import place
from handlers.complaints.answers import (
    ANONYMOUS_WORDS,
    BACK_WORDS,
    CATEGORY_WORDS,
    DONE_WORDS,
    EDIT_WORDS,
    NO_WORDS,
    PLATFORM_WORDS,
    SEND_WORDS,
    SKIP_WORDS,
    UNKNOWN_DATE_WORDS,
    YES_WORDS,
    DateError,
    category_in_sentence,
    parse_purchase_date,
    pick_area,
    resolve_choice,
)
from handlers.complaints.photos import MAX_PHOTOS, NO_FILE, fetch_media, media_refs, take_photos
from handlers.complaints.questions import EDITABLE, ORDER, Step, ask, delete_buttons, photo_buttons
from handlers.complaints.submit import LIMIT_REACHED, duplicate_reply, find_duplicate, reports_today, submit
from handlers.complaints.vocabulary import ONLINE, PLATFORMS, local_text
from handlers.core import Context, Flow, FlowState, Services
from handlers.matching import fold_text, pick_option
from handlers.phone import normalise_phone
from handlers.text_safety import ascii_int, find_link, visible_length, vn_number
from handlers.types import ChatKind, IncomingMessage, MessageKind, Reply

FLOW = "complaint"
RESUME_GAP = timedelta(minutes=30)

INTRO = (
    "🚨 Phản ánh hàng giả, hàng kém chất lượng\n"
    "Mình sẽ hỏi vài câu ngắn (khoảng 2 phút). Bạn có thể bấm «Quay lại» để sửa câu trước, hoặc gõ «hủy» "
    "bất cứ lúc nào. Phản ánh chưa gửi được giữ làm bản nháp trong {hours} giờ."
)
PRIVATE_ONLY = (
    "Để bảo vệ thông tin của bạn, mình chỉ nhận phản ánh qua tin nhắn riêng. Bạn bấm vào tên trợ lý, "
    "chọn «Nhắn tin», rồi gõ /phananh nhé."
)
RESUMED = "📝 Mình vẫn giữ phản ánh bạn đang soạn dở — mình tiếp tục từ bước trước nhé."
MAX_DESCRIPTION = 2000
DESCRIPTION_CUT = (
    "✂️ Nội dung dài {total} ký tự, quá giới hạn 2.000 nên mình giữ {kept} ký tự đầu. Phần còn lại bạn gửi "
    "bổ sung sau khi gửi phản ánh (gõ /tracuu rồi chọn «Bổ sung») nhé."
)
NO_LINK = (
    "Mình chưa thấy đường link nào. Bạn dán link gian hàng hoặc sản phẩm (bắt đầu bằng https://…), "
    "hoặc gõ «không có» / bấm «Không nhớ / bỏ qua»."
)
NO_LINK_WORDS = frozenset({"khong co link", "ko co link", "khong co duong link", "khong nho link", "khong biet link"})
CATEGORY_NAMED = "Mình ghi nhận vấn đề: {label}. Nếu chưa đúng, bạn bấm «Quay lại» để chọn lại nhé."
RESUME_LABEL = "📝 Tiếp tục phản ánh đang viết"
KEPT = (
    "📝 Phản ánh bạn đang viết dở (cả ảnh đã gửi) vẫn được giữ đến {until}. Khi muốn viết tiếp, bạn bấm "
    "«Tiếp tục phản ánh đang viết» hoặc gõ /phananh nhé."
)
CANCEL_ASK = (
    "Bạn muốn hủy phản ánh đang viết? Nếu hủy, những gì bạn đã nhập (cả ảnh) sẽ bị xóa. "
    "Chưa chắc thì cứ viết tiếp, bản nháp vẫn được giữ."
)
CANCELLED = "🗑 Đã xóa phản ánh đang viết; thông tin chưa được gửi đi. Bạn cần gì tiếp theo?"
DROP_WORDS = frozenset({"co", "dong y", "xoa", "xoa ban nhap", "co huy", "huy di", "ok", "chac chan"})
CANCELLING = "cancelling"  # in the draft's data: the reporter was asked whether to delete it
DRAFT_EXPIRED = (
    "⌛ Bản nháp phản ánh chưa gửi của bạn đã quá thời hạn lưu nên mình đã đóng lại. "
    "Nếu vẫn cần phản ánh, bạn gõ /phananh để bắt đầu lại nhé."
)


class ComplaintFlow(Flow):
    name = FLOW
    accepts = frozenset({MessageKind.TEXT, MessageKind.BUTTON, MessageKind.PHOTO, MessageKind.DOCUMENT})
    expired_text = DRAFT_EXPIRED

    def ttl(self, ctx: Context) -> timedelta:
        return timedelta(hours=ctx.config.limits.draft_hours)

    def goto(self, ctx: Context, step: str, data: dict[str, Any] | None = None) -> None:
        data = dict(data if data is not None else ctx.data)
        data["t"] = ctx.now.isoformat()  # when the reporter last answered: to greet them back after a pause
        super().goto(ctx, step, data)

    # -- entry ------------------------------------------------------------------------------------------
    async def begin(self, ctx: Context) -> None:
        if ctx.msg.chat_kind is ChatKind.GROUP:
            ctx.reply(PRIVATE_ONLY)
            return
        draft = ctx.state if ctx.state is not None and ctx.state.flow == self.name else ctx.parked
        if draft is not None and draft.flow == self.name:
            data = draft.data
            about = f" về «{data['product']}»" if data.get("product") else ""
            ctx.reply(
                f"📝 Bạn đang có một phản ánh soạn dở{about}. Bạn muốn tiếp tục hay bắt đầu lại?",
                [
                    [self.button("▶️ Tiếp tục", "resume"), self.button("🆕 Bắt đầu lại", "restart")],
                    [self.button("✖️ Hủy", "cancel")],
                ],
            )
            return
        await self._start(ctx)

    async def ask_cancel(self, ctx: Context) -> bool:
        """«Hủy» (typed or the button) in the middle of a report: asked once, deleted on «Xóa»; a second «hủy»
        confirms."""
        assert ctx.state is not None
        data = ctx.data
        if data.pop(CANCELLING, False) or not set(data) - {"t"}:  # asked twice, or nothing written yet
            ctx.finish()
            ctx.reply(CANCELLED, texts.menu_buttons())
            return True
        self.goto(ctx, ctx.state.step, {**data, CANCELLING: True})
        buttons = [[self.button("🗑 Xóa bản nháp", "drop"), self.button("✍️ Viết tiếp", "resume")]]
        ctx.reply(CANCEL_ASK, buttons)
        return True

    def kept_notice(self, ctx: Context, draft: FlowState) -> Reply:
        """A command in the middle of a report: the draft (and its photos) is kept, and the way back shown."""
        until = local_text(draft.deadline)
        return Reply(KEPT.format(until=until), [[self.button(RESUME_LABEL, "resume")]])

    async def _start(self, ctx: Context) -> None:
        limit = ctx.config.limits.reports_per_day
        count = await reports_today(ctx.uow, ctx.msg, ctx.now)
        if count >= limit:
            ctx.reply(LIMIT_REACHED.format(count=count, limit=limit), texts.menu_buttons())
            return
        intro = INTRO.format(hours=ctx.config.limits.draft_hours)
        named = category_in_sentence(ctx.text, ctx.config) if ctx.msg.kind is MessageKind.TEXT else None
        if named is None:
            ctx.reply(intro)
            self.goto(ctx, Step.CATEGORY, {})
            await self.reprompt(ctx)
            return
        label = next(c.name for c in ctx.config.categories if c.id == named)
        ctx.reply(f"{intro}\n\n{CATEGORY_NAMED.format(label=label)}")
        await self._next(ctx, Step.CATEGORY, {"category": named})

    async def prepare(self, msg: IncomingMessage, state: FlowState, services: Services) -> Any:
        room = MAX_PHOTOS - len(state.data.get("photos", []))
        return await fetch_media(msg, services, room)

    # -- questions --------------------------------------------------------------------------------------
    async def reprompt(self, ctx: Context) -> None:
        ask(self, ctx)

    # -- answers ----------------------------------------------------------------------------------------
    async def handle(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        data = ctx.data
        answer = ctx.arg if ctx.payload else ""
        last = data.get("t")
        if last and ctx.now - datetime.fromisoformat(last) >= RESUME_GAP and answer not in ("resume", "restart"):
            ctx.reply(RESUMED)
        if ctx.msg.kind in (MessageKind.PHOTO, MessageKind.DOCUMENT):
            await self._media(ctx, step, data)
            return
        folded = fold_text(ctx.text)
        if data.pop(CANCELLING, False):
            if answer == "drop" or (not answer and folded in DROP_WORDS):
                ctx.finish()
                ctx.reply(CANCELLED, texts.menu_buttons())
                return
            self.goto(ctx, step, data)  # any other answer: the draft goes on
        if answer in ("cancel", "drop"):  # «Hủy» asks first; a stale «Xóa» button asks again
            await self.ask_cancel(ctx)
            return
        if answer == "resume":
            self.goto(ctx, step, data)
            await self.reprompt(ctx)
            return
        if answer == "restart":
            ctx.finish()
            await self._start(ctx)
            return
        if answer == "back" or (not answer and folded in BACK_WORDS):
            self._back(ctx, step, data)
            await self.reprompt(ctx)
            return
        steps = {
            Step.CATEGORY: self._category,
            Step.PLATFORM: self._platform,
            Step.SELLER: self._seller,
            Step.SELLER_WHERE: self._seller_where,
            Step.PRODUCT: self._product,
            Step.PURCHASE_DATE: self._purchase_date,
            Step.DESCRIPTION: self._description,
            Step.PHOTOS: self._photos,
            Step.AREA: self._area,
            Step.CONTACT: self._contact,
            Step.CONSENT: self._consent,
            Step.CONFIRM: self._confirm,
            Step.EDIT: self._edit,
        }
        await steps[step](ctx, data, answer, ctx.text)

    async def _invalid(self, ctx: Context, why: str) -> None:
        ctx.reply(why)
        await self.reprompt(ctx)

    async def _next(self, ctx: Context, step: Step, data: dict[str, Any]) -> None:
        """Move past ``step``: to the next question, or back to the summary when editing one answer."""
        if step is Step.CONTACT and data.get("phone"):
            target = Step.CONSENT
        elif data.pop("editing", False):
            target = Step.CONFIRM
        else:
            target = ORDER[ORDER.index(step) + 1]
            if target is Step.CONSENT and not data.get("phone"):
                target = Step.CONFIRM
        self.goto(ctx, target, data)
        await self.reprompt(ctx)

    def _back(self, ctx: Context, step: Step, data: dict[str, Any]) -> None:
        if step is Step.AREA and place.forget(data):  # candidates shown: back to typing the place
            self.goto(ctx, Step.AREA, data)
            return
        if data.pop("editing", False) or step is Step.EDIT:
            self.goto(ctx, Step.CONFIRM, data)
            return
        if step is Step.CATEGORY:
            ctx.reply("Đây là câu hỏi đầu tiên rồi. Muốn dừng thì bạn bấm «Hủy» nhé.")
            return
        target = ORDER[ORDER.index(step) - 1]
        if target is Step.CONSENT and not data.get("phone"):
            target = Step.CONTACT
        self.goto(ctx, target, data)

    async def _category(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        keys = [c.id for c in ctx.config.categories]
        if answer.startswith("cat:"):
            key = resolve_choice(answer[4:], keys)
        else:
            key = pick_option(text, [(c.id, c.name) for c in ctx.config.categories], CATEGORY_WORDS)
        if key is None:
            await self._invalid(
                ctx, f"Mình chưa rõ bạn muốn phản ánh vấn đề nào. Bạn chọn một nút hoặc gõ số 1–{len(keys)} nhé."
            )
            return
        data["category"] = key
        await self._next(ctx, Step.CATEGORY, data)

    async def _platform(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer.startswith("plat:"):
            key = answer[5:] if answer[5:] in PLATFORMS else None
        else:
            key = pick_option(text, PLATFORMS, PLATFORM_WORDS)
        if key is None:
            await self._invalid(ctx, f"Mình chưa rõ bạn mua ở đâu. Bạn chọn một nút hoặc gõ số 1–{len(PLATFORMS)} nhé.")
            return
        data["platform"] = key
        await self._next(ctx, Step.PLATFORM, data)

    async def _seller(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        value = " ".join(text.split())
        if visible_length(value) < 2:
            await self._invalid(
                ctx, "Tên người bán cần ít nhất 2 ký tự. Không nhớ tên thì bạn mô tả ngắn, ví dụ «sạp quần áo đầu chợ»."
            )
            return
        if len(value) > 300:
            await self._invalid(ctx, "Tên người bán dài quá (tối đa 300 ký tự). Bạn viết gọn lại nhé.")
            return
        data["seller"] = value
        if data.get("editing"):
            existing = await find_duplicate(ctx.uow, ctx.msg, value, data["product"], ctx.now)
            if existing is not None:
                ctx.finish()
                duplicate_reply(ctx, existing)
                return
        await self._next(ctx, Step.SELLER, data)

    async def _seller_where(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer == "skip" or (not answer and fold_text(text) in SKIP_WORDS | UNKNOWN_DATE_WORDS | NO_LINK_WORDS):
            data["seller_where"] = None
            await self._next(ctx, Step.SELLER_WHERE, data)
            return
        value = " ".join(text.split())
        if data.get("platform") in ONLINE:
            value = find_link(value) or ""
            if not value:
                await self._invalid(ctx, NO_LINK)
                return
        if len(fold_text(value)) < 3:
            await self._invalid(
                ctx, "Mình chưa đọc được link hoặc địa chỉ. Bạn gõ rõ hơn, hoặc bấm «Không nhớ / bỏ qua»."
            )
            return
        if len(value) > 500:
            await self._invalid(ctx, "Link hoặc địa chỉ dài quá (tối đa 500 ký tự). Bạn rút gọn giúp mình nhé.")
            return
        data["seller_where"] = value
        await self._next(ctx, Step.SELLER_WHERE, data)

    async def _product(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        value = " ".join(text.split())
        if visible_length(value) < 2:
            await self._invalid(ctx, "Tên sản phẩm cần ít nhất 2 ký tự, ví dụ «son môi», «nồi chiên không dầu».")
            return
        if len(value) > 300:
            await self._invalid(ctx, "Tên sản phẩm dài quá (tối đa 300 ký tự). Bạn viết gọn lại nhé.")
            return
        existing = await find_duplicate(ctx.uow, ctx.msg, data["seller"], value, ctx.now)
        if existing is not None:
            ctx.finish()
            duplicate_reply(ctx, existing)
            return
        data["product"] = value
        await self._next(ctx, Step.PRODUCT, data)

    async def _purchase_date(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        today = local(ctx.now).date()
        buttons = {"date:today": "hom nay", "date:yesterday": "hom qua", "date:unknown": "khong nho"}
        try:
            value = parse_purchase_date(buttons.get(answer, text), today)
        except DateError as exc:
            why = {
                "future": f"Ngày mua không thể ở tương lai (hôm nay là {today:%d/%m/%Y}). Bạn kiểm tra lại nhé.",
                "old": "Ngày này đã quá lâu. Bạn kiểm tra lại năm mua hàng nhé.",
            }.get(
                str(exc), "Mình chưa hiểu ngày này. Bạn gõ theo dạng ngày/tháng/năm, ví dụ 25/11/2024, hoặc chọn nút."
            )
            await self._invalid(ctx, why)
            return
        data["purchase_date"] = value.isoformat() if value else None
        await self._next(ctx, Step.PURCHASE_DATE, data)

    async def _description(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        value = text.strip()
        if len(fold_text(value)) < 10:
            await self._invalid(
                ctx, "Bạn mô tả thêm một chút nhé (ít nhất 10 ký tự), để cán bộ hiểu rõ sự việc và xác minh nhanh hơn."
            )
            return
        if len(value) > MAX_DESCRIPTION:
            kept = (
                value[:MAX_DESCRIPTION].rsplit(" ", 1)[0] if " " in value[:MAX_DESCRIPTION] else value[:MAX_DESCRIPTION]
            )
            ctx.reply(DESCRIPTION_CUT.format(kept=vn_number(len(kept)), total=vn_number(len(value))))
            value = kept
        data["description"] = value
        await self._next(ctx, Step.DESCRIPTION, data)

    async def _photos(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        folded = fold_text(text)
        if answer in ("clear", "keep") or answer.startswith("del:") or (not answer and folded.startswith("xoa")):
            await self._delete_photos(ctx, data, answer, folded)
            return
        if answer in ("done", "skip") or (not answer and folded in DONE_WORDS | SKIP_WORDS):
            data.pop("album", None)
            await self._next(ctx, Step.PHOTOS, data)
            return
        await self._invalid(
            ctx, "Ở bước này bạn gửi ảnh (bấm 📎 để chọn ảnh trong máy), hoặc bấm «Xong» / «Bỏ qua» để đi tiếp."
        )

    async def _delete_photos(self, ctx: Context, data: dict[str, Any], answer: str, folded: str) -> None:
        """«Xóa ảnh» asks which first (one, or all); «xóa ảnh 2» typed removes that one; nothing goes unasked."""
        photos = list(data.get("photos", []))
        number = ascii_int(folded.removeprefix("xoa").removeprefix(" anh").strip()) if not answer else None
        which = ascii_int(answer[4:]) if answer.startswith("del:") and answer != "del:all" else number
        if answer == "del:all":
            data["photos"], which = [], None
            data.pop("album", None)
            ctx.reply("🗑 Đã bỏ tất cả ảnh đã gửi khỏi phản ánh. Bạn gửi lại ảnh nhé.")
        elif which is not None and 1 <= which <= len(photos):
            del photos[which - 1]
            data["photos"] = photos
            ctx.reply(f"🗑 Đã bỏ ảnh {which}; còn {len(photos)} ảnh.")
        elif answer == "keep" or not photos:
            ctx.reply("👌 Ảnh vẫn giữ nguyên." if photos else "Bạn chưa gửi ảnh nào.")
        else:
            self.goto(ctx, Step.PHOTOS, data)
            ctx.reply(f"Bạn muốn bỏ ảnh nào trong {len(photos)} ảnh đã gửi?", delete_buttons(self, len(photos)))
            return
        self.goto(ctx, Step.PHOTOS, data)
        await self.reprompt(ctx)

    async def _area(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if ctx.config.area_units is not None:
            await self._unit(ctx, data, answer, text)
            return
        keys = [a.id for a in ctx.config.areas]
        key = resolve_choice(answer[5:], keys) if answer.startswith("area:") else pick_area(text, ctx.config)
        if key is None:
            await self._invalid(
                ctx, f"Mình chưa rõ địa bàn nào. Bạn chọn một nút, gõ số 1–{len(keys)} hoặc gõ tên, ví dụ «Đồng Xoài»."
            )
            return
        data["area"] = key
        await self._next(ctx, Step.AREA, data)

    async def _unit(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        """Today's commune or ward: typed (an old address too), then confirmed or chosen (``place``)."""
        key = place.answer(ctx, data, answer, text)
        if key is None:
            self.goto(ctx, Step.AREA, data)
            await self.reprompt(ctx)
            return
        place.chosen(ctx, data, key)
        await self._next(ctx, Step.AREA, data)

    async def _contact(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer == "anonymous" or (not answer and fold_text(text) in ANONYMOUS_WORDS):
            data.update(anonymous=True, phone=None, consent=False)
            await self._next(ctx, Step.CONTACT, data)
            return
        phone = normalise_phone(text)
        if phone is None:
            await self._invalid(
                ctx,
                "Số điện thoại chưa đúng. Bạn nhập số di động 10 số (ví dụ 0912 345 678 hoặc +84 912 345 678) "
                "hoặc số bàn kèm mã vùng (ví dụ 0271 3879 123); không muốn để lại số thì bấm «Gửi ẩn danh».",
            )
            return
        data.update(anonymous=False, phone=phone, consent=False)
        await self._next(ctx, Step.CONTACT, data)

    async def _consent(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        folded = fold_text(text)
        if answer == "consent:yes" or (not answer and folded in YES_WORDS):
            data["consent"] = True
        elif answer == "consent:no" or (not answer and folded in NO_WORDS):
            # No consent, no reason to keep the number: the report is followed by its code only.
            data.update(consent=False, phone=None)
            ctx.reply("Mình sẽ không lưu số điện thoại; bạn theo dõi phản ánh bằng mã tra cứu nhé.")
        else:
            await self._invalid(ctx, "Bạn bấm «Đồng ý» hoặc «Không» giúp mình nhé.")
            return
        data.pop("editing", None)
        self.goto(ctx, Step.CONFIRM, data)
        await self.reprompt(ctx)

    async def _confirm(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        folded = fold_text(text)
        if answer == "send" or (not answer and folded in SEND_WORDS):
            await self._submit(ctx, data)
            return
        if answer == "edit" or (not answer and folded in EDIT_WORDS):
            self.goto(ctx, Step.EDIT, data)
            await self.reprompt(ctx)
            return
        await self._invalid(ctx, "Bạn bấm «Gửi phản ánh» để gửi, «Sửa» để chỉnh một mục, hoặc «Hủy» nhé.")

    async def _edit(self, ctx: Context, data: dict[str, Any], answer: str, text: str) -> None:
        if answer.startswith("edit:"):
            key = answer[5:]
        else:
            key = pick_option(text, [(step.value, label) for step, label in EDITABLE.items()])
        if key not in {step.value for step in EDITABLE}:
            await self._invalid(ctx, "Bạn chọn mục cần sửa bằng một nút nhé.")
            return
        data["editing"] = True
        self.goto(ctx, Step(key), data)
        await self.reprompt(ctx)

    # -- photos at any step -----------------------------------------------------------------------------
    async def _media(self, ctx: Context, step: Step, data: dict[str, Any]) -> None:
        if not media_refs(ctx.msg):
            ctx.reply(NO_FILE)
            await self.reprompt(ctx)
            return
        photos = list(data.get("photos", []))
        intake = await take_photos(ctx, {p["sha256"] for p in photos}, MAX_PHOTOS - len(photos), MAX_PHOTOS)
        photos += intake.added
        data["photos"] = photos
        caption = ctx.text
        if caption:
            data["note"] = "\n".join(filter(None, [data.get("note"), caption]))[:1000]
        album = ctx.msg.album_id
        silent = album is not None and data.get("album") == album and not intake.problems
        if album is not None and intake.added:
            data["album"] = album
        self.goto(ctx, step, data)
        if silent:
            return  # a later item of an album already acknowledged: stored, nothing to say
        lines = []
        if intake.added:
            total = len(photos)
            lines.append(f"📷 Đã nhận {len(intake.added)} ảnh — tổng cộng {total}/{MAX_PHOTOS} ảnh.")
        elif intake.duplicates:
            lines.append("Ảnh này bạn đã gửi rồi nên mình không lưu thêm.")
        if caption and intake.added:
            lines.append("📝 Mình đã ghi lại chú thích kèm ảnh.")
        lines += intake.problems
        if step is Step.PHOTOS:
            lines.append("Bạn gửi thêm ảnh, hoặc bấm «Xong» khi đã đủ.")
            ctx.reply("\n".join(lines), photo_buttons(self, len(photos)))
            return
        if intake.added:
            lines.append("Mình sẽ đính kèm vào phản ánh; giờ mình hỏi tiếp nhé.")
        ctx.reply("\n".join(lines))
        await self.reprompt(ctx)

    # -- submission -------------------------------------------------------------------------------------
    async def _submit(self, ctx: Context, data: dict[str, Any]) -> None:
        limit = ctx.config.limits.reports_per_day
        count = await reports_today(ctx.uow, ctx.msg, ctx.now)
        if count >= limit:
            deadline = local_text(ctx.now + self.ttl(ctx))
            ctx.reply(LIMIT_REACHED.format(count=count, limit=limit) + f"\nBản nháp được giữ đến {deadline}.")
            self.goto(ctx, Step.CONFIRM, data)
            return
        existing = await find_duplicate(ctx.uow, ctx.msg, data["seller"], data["product"], ctx.now)
        if existing is not None:
            ctx.finish()
            duplicate_reply(ctx, existing)
            return
        await submit(ctx, data)

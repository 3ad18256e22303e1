"""/demnguoc (the countdown, with a subscribe button), /nhacnho and /huynhacnho.

A subscription belongs to one channel user and is delivered to the private chat where it was made.
The audience (merchant or consumer) is asked once, at the first subscription, unless the user already
said they are a merchant with /vaitro; it only narrows staff announcements, reminders go to everyone.
"""

from __future__ import annotations

import enum

from handlers import texts
from handlers.core import Context, Flow
from handlers.matching import pick_option
from handlers.reminders.countdown import countdown_text
from handlers.types import Button, ChatKind
from storage.models import Role
from storage.subscriptions import Audience

ON_BUTTON = Button("🔔 Nhận nhắc lịch", "sub:on")
OFF_BUTTON = Button("🔕 Tắt nhắc lịch", "sub:off")
MENU_BUTTON = Button("⬅️ Menu chính", "menu:menu")

AUDIENCES = {
    Audience.MERCHANT.value: "🏪 Thương nhân / doanh nghiệp",
    Audience.CONSUMER.value: "🛒 Người tiêu dùng",
}
_AUDIENCE_WORDS = {
    Audience.MERCHANT.value: ("thuong nhan", "doanh nghiep", "nguoi ban", "ban hang", "merchant"),
    Audience.CONSUMER.value: ("nguoi tieu dung", "nguoi mua", "khach hang", "tieu dung"),
}

SUBSCRIBED = (
    "🔔 Đã bật nhắc lịch{who}! Mình sẽ nhắn bạn trước và trong Tuần lễ Thương mại điện tử quốc gia, "
    "60 giờ Online Friday, cùng các thông báo của Sở. Gõ /huynhacnho để tắt bất cứ lúc nào."
)
ALREADY_SUBSCRIBED = "Bạn đã bật nhắc lịch rồi{who}. Gõ /huynhacnho nếu muốn tắt."
UNSUBSCRIBED = "🔕 Đã tắt nhắc lịch. Bạn có thể bật lại bất cứ lúc nào bằng /nhacnho."
NOT_SUBSCRIBED = "Bạn chưa bật nhắc lịch nên không cần tắt. Gõ /nhacnho để bật."
PRIVATE_ONLY = "Để nhận nhắc lịch, bạn nhắn riêng cho mình và gõ /nhacnho nhé."


def _who(audience: str) -> str:
    return " (nhận tin dành cho thương nhân)" if audience == Audience.MERCHANT.value else ""


async def countdown(ctx: Context) -> None:
    """/demnguoc and the menu item: the countdown for this moment, with the subscribe / unsubscribe button."""
    subscription = await ctx.uow.subscriptions.get(ctx.msg.channel, ctx.msg.user_id)
    subscribed = subscription is not None and subscription.active
    toggle = OFF_BUTTON if subscribed else ON_BUTTON
    buttons = [[MENU_BUTTON]] if ctx.msg.chat_kind is ChatKind.GROUP else [[toggle], [MENU_BUTTON]]
    ctx.reply(countdown_text(ctx.config, ctx.now), buttons)


class Step(enum.StrEnum):
    AUDIENCE = "audience"


class SubscribeFlow(Flow):
    """Turn reminders on; asks merchant / consumer the first time only."""

    name = "subscribe"

    async def begin(self, ctx: Context) -> None:
        if ctx.msg.chat_kind is ChatKind.GROUP:
            ctx.reply(PRIVATE_ONLY)
            return
        subscription = await ctx.uow.subscriptions.get(ctx.msg.channel, ctx.msg.user_id)
        if subscription is not None:
            await _subscribe(ctx, subscription.audience)
        elif ctx.user.role == Role.MERCHANT.value:
            await _subscribe(ctx, Audience.MERCHANT.value)
        else:
            self.goto(ctx, Step.AUDIENCE, {})
            await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        ctx.reply(
            "Bạn muốn nhận tin với tư cách nào? Mình chỉ hỏi một lần thôi.",
            [[self.button(label, f"aud:{key}")] for key, label in AUDIENCES.items()]
            + [[self.button("✖️ Hủy", "cancel")]],
        )

    async def handle(self, ctx: Context) -> None:
        answer = ctx.arg if ctx.payload else ""
        if answer == "cancel":
            ctx.finish()
            ctx.reply(texts.CANCELLED, texts.menu_buttons())
            return
        audience = (
            answer.removeprefix("aud:")
            if answer.startswith("aud:")
            else pick_option(ctx.text, AUDIENCES, _AUDIENCE_WORDS)
        )
        if audience not in AUDIENCES:
            ctx.reply("Mình chưa rõ lựa chọn của bạn. Bạn bấm một nút hoặc gõ số 1 hay 2 nhé.")
            await self.reprompt(ctx)
            return
        ctx.finish()
        await _subscribe(ctx, audience)


async def _subscribe(ctx: Context, audience: str) -> None:
    changed = await ctx.uow.subscriptions.subscribe(
        ctx.msg.channel, ctx.msg.user_id, ctx.msg.chat_id, audience, ctx.now
    )
    template = SUBSCRIBED if changed else ALREADY_SUBSCRIBED
    ctx.reply(template.format(who=_who(audience)), [[OFF_BUTTON], [MENU_BUTTON]])


async def unsubscribe(ctx: Context) -> None:
    """/huynhacnho and the 🔕 button."""
    if await ctx.uow.subscriptions.unsubscribe(ctx.msg.channel, ctx.msg.user_id, ctx.now):
        ctx.reply(UNSUBSCRIBED, [[ON_BUTTON], [MENU_BUTTON]])
    else:
        ctx.reply(NOT_SUBSCRIBED, [[ON_BUTTON], [MENU_BUTTON]])


def on_button(flow: SubscribeFlow):
    """Buttons ``sub:on`` and ``sub:off`` (under the countdown, in reminders and announcements)."""

    async def handler(ctx: Context) -> None:
        if ctx.arg == "off":  # from a reminder, maybe in the middle of something else: that stays
            await unsubscribe(ctx)
        else:
            await flow.begin(ctx)

    return handler

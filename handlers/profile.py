"""Who the user is: merchant or consumer (and what kind of business), asked once and kept."""

from __future__ import annotations

import enum

from handlers import texts
from handlers.core import Context, Flow, Router
from handlers.matching import fold_text, pick_option
from storage.models import Role

ROLES = {
    Role.MERCHANT.value: "🏪 Thương nhân / doanh nghiệp",
    Role.CITIZEN.value: "🛒 Người tiêu dùng",
}
BUSINESS_KINDS = {
    "company": "Doanh nghiệp",
    "household": "Hộ kinh doanh",
    "online_shop": "Cửa hàng online",
    "other": "Khác",
}
_ROLE_WORDS = {
    Role.MERCHANT.value: ("thuong nhan", "doanh nghiep", "nguoi ban", "ban hang", "merchant"),
    Role.CITIZEN.value: ("nguoi tieu dung", "nguoi mua", "khach hang", "tieu dung"),
}


class Step(enum.StrEnum):
    ROLE = "role"
    BUSINESS = "business"
    CONFIRM = "confirm"


class ProfileFlow(Flow):
    name = "profile"

    async def begin(self, ctx: Context) -> None:
        if ctx.user.role in (Role.STAFF.value, Role.ADMIN.value):
            ctx.reply("Bạn đang được ghi nhận là cán bộ nên không cần chọn vai trò.", texts.menu_buttons())
            return
        self.goto(ctx, Step.ROLE, {})
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        if step is Step.ROLE:
            ctx.reply(
                "Bạn tham gia với vai trò nào? Mình sẽ gợi ý thông tin phù hợp hơn.",
                [[self.button(label, f"role:{key}")] for key, label in ROLES.items()]
                + [[self.button("✖️ Hủy", "cancel")]],
            )
        elif step is Step.BUSINESS:
            ctx.reply(
                "Bạn kinh doanh theo hình thức nào?",
                [[self.button(label, f"biz:{key}")] for key, label in BUSINESS_KINDS.items()]
                + [[self.button("⬅️ Quay lại", "back"), self.button("✖️ Hủy", "cancel")]],
            )
        else:
            data = ctx.data
            summary = ROLES[data["role"]]
            if data.get("business"):
                summary += f" – {BUSINESS_KINDS[data['business']]}"
            ctx.reply(
                f"Bạn là: {summary}. Lưu thông tin này nhé?",
                [
                    [self.button("✅ Lưu", "save")],
                    [self.button("⬅️ Quay lại", "back"), self.button("✖️ Hủy", "cancel")],
                ],
            )

    async def handle(self, ctx: Context) -> None:
        assert ctx.state is not None
        step = Step(ctx.state.step)
        answer = ctx.arg if ctx.payload else ""
        text = ctx.text
        if answer == "cancel":
            ctx.finish()
            ctx.reply(texts.CANCELLED, texts.menu_buttons())
            return
        if answer == "back" or fold_text(text) in ("quay lai", "tro lai", "back"):
            self._back(ctx, step)
            await self.reprompt(ctx)
            return
        if step is Step.ROLE:
            role = answer.removeprefix("role:") if answer.startswith("role:") else pick_option(text, ROLES, _ROLE_WORDS)
            if role not in ROLES:
                ctx.reply("Mình chưa rõ vai trò của bạn. Bạn chọn một trong các nút, hoặc gõ số 1 hay 2 nhé.")
                await self.reprompt(ctx)
                return
            next_step = Step.BUSINESS if role == Role.MERCHANT.value else Step.CONFIRM
            self.goto(ctx, next_step, {"role": role})
        elif step is Step.BUSINESS:
            kind = answer.removeprefix("biz:") if answer.startswith("biz:") else pick_option(text, BUSINESS_KINDS)
            if kind not in BUSINESS_KINDS:
                ctx.reply("Mình chưa rõ hình thức kinh doanh. Bạn chọn một nút hoặc gõ số 1–4 nhé.")
                await self.reprompt(ctx)
                return
            self.goto(ctx, Step.CONFIRM, {**ctx.data, "business": kind})
        else:
            if answer != "save" and fold_text(text) not in ("luu", "dong y", "ok", "co", "1"):
                ctx.reply("Bạn bấm «Lưu» để lưu, «Quay lại» để sửa hoặc «Hủy» nhé.")
                await self.reprompt(ctx)
                return
            data = ctx.data
            ctx.user.role = data["role"]
            ctx.user.business_kind = data.get("business")
            ctx.finish()
            ctx.reply("Đã lưu. Cảm ơn bạn! Bạn cần gì tiếp theo?", texts.menu_buttons())
            return
        await self.reprompt(ctx)

    def _back(self, ctx: Context, step: Step) -> None:
        data = ctx.data
        if step is Step.CONFIRM and data.get("role") == Role.MERCHANT.value:
            self.goto(ctx, Step.BUSINESS, data)
        else:
            self.goto(ctx, Step.ROLE, {})


def register(router: Router) -> None:
    profile = ProfileFlow()
    router.flow(profile)
    router.command(["/vaitro"], profile.begin)
    router.phrase(["vai trò", "đổi vai trò"], profile.begin)

"""The promotion check in the chat: ``/kiemtra``, the menu item «Kiểm tra chương trình khuyến mại», and a message
that describes a planned promotion (taken from the Q&A's answer path by :func:`answer_plan`).

Every way in ends in the library's one verdict composer (:func:`knowledge.promotion.check_promotion`).
"""

from __future__ import annotations

from handlers import texts as core_texts
from handlers.core import Context, Router
from handlers.promotion.check import campaign_windows, check_text
from handlers.promotion.flow import CheckFlow
from knowledge.promotion.extract import looks_like_plan

__all__ = ["answer_plan", "campaign_windows", "register"]

_FLOW = CheckFlow()


async def answer_plan(ctx: Context, text: str, *, force: bool = False) -> bool:
    """A message describing a planned promotion gets its verdict, or what is missing is asked (the guided flow
    continues from there with what was read). False when the message is not a plan (the Q&A answers it)."""
    if not force and not looks_like_plan(text, ctx.now):
        return False
    _, outcome = check_text(text, ctx.config, ctx.now)
    if outcome.complete:
        ctx.reply(outcome.text, core_texts.menu_buttons())
    else:
        await _FLOW.resume_from(ctx, outcome.plan, outcome.step or "form", outcome.text)
    return True


def register(router: Router) -> None:
    router.flow(_FLOW)
    router.command(["/kiemtra"], _check_command)
    router.entry("check", _FLOW.begin)
    router.phrase([core_texts.MENU_CHECK, "kiểm tra chương trình khuyến mại", "kiểm tra khuyến mại"], _FLOW.begin)


async def _check_command(ctx: Context) -> None:
    """/kiemtra starts the guided check; /kiemtra <mô tả> checks the description at once."""
    described = ctx.text.split(maxsplit=1)[1] if " " in ctx.text else ""
    await (answer_plan(ctx, described, force=True) if described else _FLOW.begin(ctx))

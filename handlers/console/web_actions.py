"""A case action taken on the web: the card's own action, permission check and handler (the chat's code path).

:func:`handlers.cases.chat.authorize` decides and audits a refusal; :func:`handlers.cases.chat.perform` runs the
handler of :data:`handlers.cases.actions.ACTIONS` and re-renders every card of the case (the leader's sender
edits them in the groups and tells the reporter through the outbox).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.cases.actions import ACTIONS
from handlers.cases.chat import MAX_TEXT, MIN_TEXT, authorize, perform
from handlers.core import Context
from handlers.matching import fold_text
from storage.cases import Case

# Buttons that only offer choices in the chat; on the web the page offers them (then "asg" and "to").
CHOICE_ONLY = frozenset({"assign", "xfer", "open"})


@dataclass
class Outcome:
    refused: bool = False
    messages: list[str] = field(default_factory=list)


def text_problem(text: str, skippable: bool) -> str | None:
    if not text and skippable:
        return None
    if len(fold_text(text)) < MIN_TEXT:
        return "Nội dung ngắn quá; bạn viết rõ hơn nhé."
    if len(text) > MAX_TEXT:
        return f"Nội dung dài quá (tối đa {MAX_TEXT} ký tự); bạn rút gọn giúp mình nhé."
    return None


async def run_action(ctx: Context, case: Case, code: str, *, arg: str = "", text: str = "") -> Outcome:
    """Do action ``code`` on ``case`` (locked) for the staff member of ``ctx``, as if pressed on the card."""
    action = ACTIONS.get(code)
    if action is None or code in CHOICE_ONLY:
        return Outcome(False, ["Thao tác này không có."])
    member = await authorize(ctx, case, code)
    if member is None:
        return Outcome(True, [r.text for r in ctx.replies])
    problem = action.check(ctx.config, case, arg) if action.check is not None else None
    if problem is None and action.prompt:
        if case.state not in action.statuses:
            problem = f"Phản ánh {case.code} đã đóng."
        else:
            problem = text_problem(text, action.skippable)
    if problem is not None:
        return Outcome(False, [problem])
    said = await perform(ctx, action, case, member, text=text if action.prompt else "", arg=arg)
    return Outcome(False, [r.text for r in ctx.replies] + ([said] if said else []))

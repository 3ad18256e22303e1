"""Who sees what on the web, exactly as in the chat, and the chat's own context for doing things from a page.

Seeing: :func:`handlers.cases.reports.scope_for` (agent: cases its agency leads; supervisor: also its copies;
a supervisor of the coordinating agency and admins: every case). Doing: the case table's own check
(:func:`handlers.cases.chat.authorize`) inside a :class:`~handlers.core.Context` whose message comes from the
staff member's own chat account, so a web action is the very same code path as pressing the card's button.
"""

from __future__ import annotations

from datetime import datetime

from handlers.cases.reports import Scope, scope_for
from handlers.cases.vocabulary import Audit
from handlers.core import Context, Services
from handlers.types import ChatKind, IncomingMessage, MessageKind
from storage.cases import Case
from storage.db import UnitOfWork
from storage.models import User
from storage.staff import StaffMember
from storage.web import CaseFilter

WEB_CHAT = "web"  # the chat id a web action is recorded as coming from


def scope(services: Services, member: StaffMember) -> Scope:
    return scope_for(services.config, member)


def scoped_filter(services: Services, member: StaffMember, **fields) -> CaseFilter:
    seen = scope(services, member)
    return CaseFilter(leads=seen.leads, copies=seen.copies, **fields)


async def refuse_view(uow: UnitOfWork, case: Case, member: StaffMember, now: datetime, what: str) -> str:
    """Write the refused attempt on the case's audit trail; return the text shown."""
    text = f"⛔ Phản ánh {case.code} không thuộc phạm vi của bạn."
    await uow.cases.record(case, Audit.REFUSED, now, actor=member, note=f"web {what}: {text}")
    return text


def web_context(uow: UnitOfWork, services: Services, member: StaffMember, now: datetime) -> Context:
    """The context of an action taken on the web by ``member``: a button press in their private chat."""
    msg = IncomingMessage(
        channel=member.channel,
        chat_id=WEB_CHAT,
        user_id=member.user_id,
        display_name=member.name,
        kind=MessageKind.BUTTON,
        chat_kind=ChatKind.PRIVATE,
    )
    user = User(channel=member.channel, external_id=member.user_id, display_name=member.name, role="staff")
    return Context(msg, uow, services, now, user, None)

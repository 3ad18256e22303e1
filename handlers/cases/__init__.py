"""Staff cases: every submitted report reaches the right agency's chat, is acted on, and its reporter hears back.

``routing`` (who leads, who gets copies, due times, agency chats), ``actions`` (the one table of staff actions
and their handlers), ``cards`` (what a card shows), ``posting`` (cards, copies, digests and edits in agency
chats), ``intake`` (submitted reports become cases), ``sla`` (reminders and escalations), ``unreachable`` (a
reporter who cannot be reached), ``worker`` (the leader's routing loop and SLA job), ``chat`` (card buttons,
the text-input flow, "reply to" in a group, /viec), ``reports`` (/tonghop, /thongke, report rows), ``canned``
(canned replies, /mautraloi), ``verdict`` (the reporter's verdict after a closing, reopening).
"""

from __future__ import annotations

from datetime import datetime

from handlers.cases.canned import canned_command
from handlers.cases.chat import CaseInputFlow, group_message, my_cases_command
from handlers.cases.chat import on_button as case_button
from handlers.cases.reports import open_cases_command, period_stats_command
from handlers.cases.switch import backfill
from handlers.cases.topics import on_topic_created
from handlers.cases.unreachable import reporter_unreachable as on_undelivered
from handlers.cases.verdict import on_verdict
from handlers.cases.worker import jobs
from handlers.config import AppConfig
from handlers.core import Context, Router
from handlers.types import MessageKind
from storage.db import UnitOfWork

__all__ = ["jobs", "on_start", "on_undelivered", "register"]  # the leader's jobs, the sender's hook, at start


async def on_start(uow: UnitOfWork, config: AppConfig, now: datetime) -> None:
    """Cases routed before their names were kept get them now, from this configuration (``switch``)."""
    await backfill(uow, config)


def register(router: Router) -> None:
    case_input = CaseInputFlow()
    router.flow(case_input)

    async def on_case_button(ctx: Context) -> None:
        await case_button(ctx, case_input)

    router.button("case", on_case_button)
    router.command(["/viec"], my_cases_command, keeps_flow=True)
    router.command(["/mautraloi"], canned_command, keeps_flow=True)  # canned replies: list; supervisors manage
    router.button("verdict", on_verdict)  # the reporter's answer: was it solved?
    # Staff reports: open cases by status, age and deadlines; a period's counts and medians.
    router.command(["/tonghop"], open_cases_command, keeps_flow=True)
    router.command(["/thongke"], period_stats_command, keeps_flow=True)
    # In a staff group, a "reply to" a case message goes to its reporter; other chatter is left alone.
    router.listen(group_message)
    router.event(MessageKind.TOPIC_CREATED, on_topic_created)  # a case's forum topic adopted, or a second dropped

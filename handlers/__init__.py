"""The conversations, as plain async functions over neutral types.

:func:`build_router` is the one place that lists what the assistant understands; order matters only
where noted.
"""

from __future__ import annotations

from handlers import texts
from handlers.announcements import AnnounceFlow
from handlers.case_flow import CaseInputFlow, group_message, my_cases_command
from handlers.case_flow import on_button as case_button
from handlers.case_reports import open_cases_command, period_stats_command
from handlers.complaints import ComplaintFlow
from handlers.core import Context, Dispatcher, Router, Services, start
from handlers.menu import show_contact, show_help, show_menu
from handlers.profile import ProfileFlow
from handlers.qa import QaFlow, answer_question
from handlers.qa import on_button as qa_button
from handlers.staff import (
    StaffAnswerFlow,
    answer_by_reply,
    answer_question_command,
    manage_staff_command,
    reload_knowledge_command,
)
from handlers.subscriptions import SubscribeFlow, countdown, unsubscribe
from handlers.subscriptions import on_button as subscription_button
from handlers.tracking import TrackingFlow, track_command
from handlers.tracking import on_button as tracking_button


async def ask(ctx: Context) -> None:
    """Treat free text as a question — except in groups, where a "reply to" a forwarded question answers it,
    a "reply to" a case message goes to its reporter and other chatter in a staff group is left alone."""
    if await answer_by_reply(ctx) or await group_message(ctx):
        return
    await answer_question(ctx, ctx.text)


def build_router() -> Router:
    router = Router()
    router.command(["/start"], start)
    router.command(["/menu"], show_menu)
    router.command(["/help", "/trogiup"], show_help, keeps_flow=True)
    router.command(["/lienhe"], show_contact, keeps_flow=True)

    profile = ProfileFlow()
    router.flow(profile)
    router.command(["/vaitro"], profile.begin)
    router.phrase(["vai trò", "đổi vai trò"], profile.begin)

    qa_flow = QaFlow()
    router.flow(qa_flow)
    router.button("qa", qa_button)
    router.command(["/traloi"], answer_question_command, keeps_flow=True)
    staff_answer = StaffAnswerFlow()
    router.flow(staff_answer)
    router.button("qans", staff_answer.on_button)
    router.command(["/capnhatkb"], reload_knowledge_command, keeps_flow=True)
    router.command(["/canbo"], manage_staff_command, keeps_flow=True)

    async def qa(ctx: Context) -> None:
        question = ctx.text.split(maxsplit=1)[1] if ctx.text.startswith("/") and " " in ctx.text else ""
        await (answer_question(ctx, question) if question else qa_flow.begin(ctx))

    complaint = ComplaintFlow()
    router.flow(complaint)
    report = complaint.begin  # offers to resume a draft in progress, so /phananh keeps the flow
    tracking = TrackingFlow()
    router.flow(tracking)

    async def track(ctx: Context) -> None:
        await track_command(ctx, tracking)

    async def track_button(ctx: Context) -> None:
        await tracking_button(ctx, tracking)

    router.button("track", track_button)
    router.command(["/hoidap"], qa)
    router.command(["/phananh"], report, keeps_flow=True)
    router.command(["/demnguoc"], countdown)
    subscribe = SubscribeFlow()
    router.flow(subscribe)
    router.command(["/nhacnho"], subscribe.begin)
    router.command(["/huynhacnho"], unsubscribe, keeps_flow=True)  # a report being written stays
    router.button("sub", subscription_button(subscribe))
    router.phrase(["nhắc lịch", "nhắc nhở", "bật nhắc lịch"], subscribe.begin)
    router.phrase(["tắt nhắc lịch", "hủy nhắc lịch"], unsubscribe)
    announce = AnnounceFlow()
    router.flow(announce)
    router.command(["/thongbao"], announce.begin)
    router.command(["/tracuu"], track)
    # Staff handling of cases: card buttons, the text they type for an action, their open cases.
    case_input = CaseInputFlow()
    router.flow(case_input)

    async def on_case_button(ctx: Context) -> None:
        await case_button(ctx, case_input)

    router.button("case", on_case_button)
    router.command(["/viec"], my_cases_command, keeps_flow=True)
    # Staff reports: open cases by status, age and deadlines; a period's counts and medians.
    router.command(["/tonghop"], open_cases_command, keeps_flow=True)
    router.command(["/thongke"], period_stats_command, keeps_flow=True)

    menu = {"qa": qa, "report": report, "countdown": countdown, "track": track, "contact": show_contact}

    async def menu_button(ctx: Context) -> None:
        handler = menu.get(ctx.arg)
        await (handler(ctx) if handler else show_menu(ctx))

    router.button("menu", menu_button)
    # Menu labels typed by hand (or picked on a channel without buttons) act like the buttons.
    router.phrase([texts.MENU_QA, "hỏi đáp", "hỏi đáp về khuyến mại"], qa)
    router.phrase([texts.MENU_REPORT, "phản ánh"], report)
    router.phrase([texts.MENU_COUNTDOWN, "đếm ngược"], countdown)
    router.phrase([texts.MENU_TRACK, "tra cứu"], track)
    router.phrase([texts.MENU_CONTACT, "liên hệ"], show_contact)
    router.phrase(["menu", "bắt đầu", "start"], start)  # greetings: handlers.smalltalk
    router.phrase(["help", "trợ giúp", "hướng dẫn"], show_help)
    # Free text outside any flow is a question for the knowledge base.
    router.fallback = ask
    return router


__all__ = ["Context", "Dispatcher", "Router", "Services", "build_router"]

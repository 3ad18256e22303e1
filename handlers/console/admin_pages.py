"""The queue of merchant questions waiting for staff (answered through Q&A's own path), the broadcasts'
status, and staff management for admins (the same rules as ``/canbo``)."""

from __future__ import annotations

from aiohttp import web

from handlers.console.access import web_context
from handlers.console.base import console_of, member_of, notify, refused_page, render, see_other
from handlers.qa import submit_answer
from handlers.staff import remove_staff, save_staff, validate_staff
from handlers.text_safety import ascii_int
from storage.questions import QuestionStatus
from storage.staff import STAFF_ROLES

CHANNELS = ("telegram", "zalo_bot", "zalo_oa", "console")
BROADCAST_WORDS = {
    "reminder": "Nhắc lịch",
    "announcement": "Thông báo",
    "queued": "Đã xếp hàng gửi",
    "skipped": "Bỏ qua",
}


async def questions_page(request: web.Request) -> web.Response:
    console = console_of(request)
    async with console.db.unit_of_work() as uow:
        waiting = await uow.questions.by_status(QuestionStatus.FORWARDED)
    return render(request, "questions.html", {"title": "Câu hỏi chờ trả lời", "questions": waiting})


async def answer(request: web.Request) -> web.Response:
    console, member = console_of(request), member_of(request)
    form = await request.post()
    raw = request.match_info["question_id"]
    async with console.db.unit_of_work() as uow:
        ctx = web_context(uow, console.web.services, member, console.now())
        await submit_answer(ctx, member, ascii_int(raw) or 0, str(form.get("text", "")))
        await uow.commit()
    notify(request, *(r.text for r in ctx.replies))
    return see_other(request, "/questions")


async def broadcasts_page(request: web.Request) -> web.Response:
    console = console_of(request)
    async with console.db.unit_of_work() as uow:
        recent = await uow.broadcasts.recent(30)
        progress = await uow.broadcasts.progress([b.ref for b in recent])
        pending = await uow.broadcasts.pending_count()
    return render(
        request,
        "broadcasts.html",
        {
            "title": "Thông báo, nhắc lịch",
            "broadcasts": recent,
            "progress": progress,
            "pending": pending,
            "words": BROADCAST_WORDS,
        },
    )


async def staff_page(request: web.Request) -> web.Response:
    if member_of(request).role != "admin":
        return refused_page(request, "Chỉ quản trị viên quản lý được cán bộ.")
    console = console_of(request)
    async with console.db.unit_of_work() as uow:
        members = await uow.staff.list()
    return render(
        request,
        "staff.html",
        {
            "title": "Cán bộ",
            "members": members,
            "agencies": console.config.agencies,
            "roles": STAFF_ROLES,
            "channels": CHANNELS,
        },
    )


async def change_staff(request: web.Request) -> web.Response:
    admin = member_of(request)
    if admin.role != "admin":
        return refused_page(request, "Chỉ quản trị viên quản lý được cán bộ.")
    console = console_of(request)
    form = {k: str(v).strip() for k, v in (await request.post()).items()}
    channel, user_id = form.get("channel", ""), form.get("user_id", "")
    now = console.now()
    async with console.db.unit_of_work() as uow:
        if form.get("remove"):
            done = await remove_staff(uow, channel, user_id, now)
            said = f"Đã ngừng quyền cán bộ của {channel}:{user_id}." if done else "Không có cán bộ đang hoạt động này."
        elif problem := validate_staff(console.config, channel, form.get("agency", ""), form.get("role", "")):
            said = f"❌ {problem}"
        elif not user_id or not form.get("name"):
            said = "❌ Bạn nhập ID trên kênh và họ tên."
        else:
            await save_staff(
                uow, channel=channel, user_id=user_id[:64], name=form["name"][:128], agency=form["agency"],
                role=form["role"], source="web", now=now,
            )  # fmt: skip
            said = f"✅ Đã cập nhật cán bộ {form['name']}."
        await uow.commit()
    notify(request, said)
    return see_other(request, "/staff")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/questions", questions_page, name="questions")
    app.router.add_post("/questions/{question_id}/answer", answer, name="answer")
    app.router.add_get("/broadcasts", broadcasts_page, name="broadcasts")
    app.router.add_get("/staff", staff_page, name="staff")
    app.router.add_post("/staff", change_staff, name="staff_change")

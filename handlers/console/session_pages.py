"""Sign-in, logout and the sessions list (admins see every live session and may end any)."""

from __future__ import annotations

from aiohttp import web

from handlers.console.base import console_of, is_secure, member_of, notify, refused_page, render, see_other, session_of
from handlers.console.signin import COOKIE, IDLE, LIFETIME, start_session
from handlers.text_safety import ascii_int

REFUSED_LINK = (
    "Liên kết đăng nhập không dùng được: đã dùng rồi, đã quá 10 phút, hoặc không đúng. Bạn gửi /dangnhap cho "
    "trợ lý để nhận liên kết mới."
)


async def login_page(request: web.Request) -> web.Response:
    """The link from the chat: a button that signs in (a link preview fetching the page uses nothing)."""
    return render(request, "login.html", {"title": "Đăng nhập", "token": request.match_info["token"]})


async def login(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    now = console.now()
    async with console.db.unit_of_work() as uow:
        started = await start_session(
            uow,
            request.match_info["token"],
            now,
            user_agent=request.headers.get("User-Agent", ""),
            address=request.remote or "",
        )
        await uow.commit()
    if started is None:
        return render(request, "error.html", {"title": "Liên kết hết hiệu lực", "text": REFUSED_LINK}, status=403)
    cookie, _session = started
    response = see_other(request, "/cases")
    response.set_cookie(
        COOKIE,
        cookie,
        path=console.prefix,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
    )
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    async with console.db.unit_of_work() as uow:
        await uow.web.revoke(session_of(request).id, console.now())
        await uow.commit()
    response = see_other(request, "/")
    response.del_cookie(COOKIE, path=console.prefix)
    return response


async def home(request: web.Request) -> web.StreamResponse:
    return see_other(request, "/cases")


async def sessions_page(request: web.Request) -> web.Response:
    if member_of(request).role != "admin":
        return refused_page(request, "Chỉ quản trị viên xem được các phiên đăng nhập.")
    console = console_of(request)
    now = console.now()
    async with console.db.unit_of_work() as uow:
        rows = await uow.web.sessions(now, now - IDLE)
    return render(request, "sessions.html", {"title": "Phiên đăng nhập", "rows": rows, "mine": session_of(request).id})


async def revoke(request: web.Request) -> web.StreamResponse:
    if member_of(request).role != "admin":
        return refused_page(request, "Chỉ quản trị viên kết thúc được phiên của người khác.")
    console = console_of(request)
    raw = request.match_info["session_id"]
    async with console.db.unit_of_work() as uow:
        done = (n := ascii_int(raw)) is not None and await uow.web.revoke(n, console.now())
        await uow.commit()
    notify(request, "Đã kết thúc phiên đăng nhập." if done else "Phiên này đã kết thúc trước đó.")
    return see_other(request, "/sessions")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/login/{token}", login_page, name="login")
    app.router.add_post("/login/{token}", login, name="login_post")
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/sessions", sessions_page, name="sessions")
    app.router.add_post("/sessions/{session_id}/revoke", revoke, name="revoke")

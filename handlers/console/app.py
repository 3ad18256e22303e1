"""The console's aiohttp application: templates, static files, the session and CSRF guard, the routes.

Every request but the sign-in page and the static files needs a live session (else the sign-in page, 401);
every POST needs the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``, else 403). Pages
are never cached and never framed; the Content-Security-Policy allows only the console's own files.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from handlers.clock import local
from handlers.config import AppConfig
from handlers.console.signin import COOKIE, current_session, issue_link
from handlers.web import WebContext, WebMount
from storage.db import Database
from storage.staff import StaffMember
from storage.web import WebSession

HERE = Path(__file__).parent
PUBLIC_ROUTES = frozenset({"login", "login_post", "static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
DEMO_USER = "demo-admin"


@dataclass
class Console:
    """What every page needs: the web context, the mount prefix and the notices waiting per session."""

    web: WebContext
    prefix: str
    notices: dict[int, list[str]] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.web.db

    @property
    def config(self) -> AppConfig:
        return self.web.services.config

    def now(self) -> datetime:
        return self.web.services.clock.now()

    def url(self, path: str) -> str:
        return f"{self.prefix}{path}"


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]


def member_of(request: web.Request) -> StaffMember:
    return request["member"]


def notify(request: web.Request, *texts: str) -> None:
    """Show these notices on the next page this session opens."""
    session: WebSession = request["session"]
    console_of(request).notices.setdefault(session.id or 0, []).extend(t for t in texts if t)


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    console = console_of(request)
    session: WebSession | None = request.get("session")
    notices = console.notices.pop(session.id or 0, []) if session is not None else []
    base = {
        "p": console.prefix,
        "me": request.get("member"),
        "csrf": session.csrf if session is not None else "",
        "notices": notices,
        "department": console.config.department.name,
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


def refused_page(request: web.Request, text: str) -> web.Response:
    return render(request, "error.html", {"title": "Không được phép", "text": text}, status=403)


def see_other(request: web.Request, path: str) -> web.Response:
    """After a POST (or for ``/``): go to ``path`` of the console."""
    return web.Response(status=303, headers={"Location": console_of(request).url(path)})


def is_secure(request: web.Request) -> bool:
    return request.secure or console_of(request).web.base_url.startswith("https://")


@web.middleware
async def guard(request: web.Request, handler) -> web.StreamResponse:
    route = request.match_info.route.name
    if route not in PUBLIC_ROUTES:
        denied = await _authenticate(request)
        if denied is not None:
            return _secured(denied)
    return _secured(await handler(request))


async def _authenticate(request: web.Request) -> web.StreamResponse | None:
    console = console_of(request)
    cookie = request.cookies.get(COOKIE, "")
    found = None
    if cookie:
        async with console.db.unit_of_work() as uow:
            found = await current_session(uow, cookie, console.now())
            await uow.commit()
    if found is None:
        response = render(request, "signin.html", {"title": "Đăng nhập"}, status=401)
        if cookie:
            response.del_cookie(COOKIE, path=console.prefix)
        return response
    request["session"], request["member"] = found
    if request.method not in SAFE_METHODS:
        form = await request.post()
        token = str(form.get("csrf") or request.headers.get("X-CSRF-Token", ""))
        if not secrets.compare_digest(token.encode(), found[0].csrf.encode()):
            return render(
                request, "error.html",
                {"title": "Phiên làm việc không hợp lệ", "text": "Thiếu hoặc sai mã bảo vệ (CSRF). Bạn tải lại trang "
                 "rồi thử lại."},
                status=403,
            )  # fmt: skip
    return None


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _local_time(value: datetime | None) -> str:
    return local(value).strftime("%H:%M %d/%m/%Y") if value is not None else "—"


def build(ctx: WebContext, prefix: str) -> WebMount:
    from handlers.console import admin_pages, case_list, case_pages, session_pages, stats_pages

    app = web.Application(middlewares=[guard])
    console = Console(ctx, prefix)
    app[CONSOLE] = console
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=jinja2.select_autoescape(default=True)
    )
    env.filters["when"] = _local_time
    app.router.add_static("/static", HERE / "static", name="static")
    for pages in (session_pages, case_list, case_pages, stats_pages, admin_pages):
        pages.add_routes(app)

    async def demo() -> str:
        return await demo_link(console)

    return WebMount(prefix, app, demo=demo)


async def demo_link(console: Console) -> str:
    """The local demo: a sign-in link for a demo admin of the coordinating agency (made if missing)."""
    from handlers.cases.routing import coordinator

    now = console.now()
    async with console.db.unit_of_work() as uow:
        member = await uow.staff.upsert(
            channel="console", user_id=DEMO_USER, name="Quản trị thử", agency=coordinator(console.config).id,
            role="admin", source="demo", now=now,
        )  # fmt: skip
        link = await issue_link(uow, member, console.web.base_url, console.prefix, now)
        await uow.commit()
    return f"🖥  Bảng điều khiển cho cán bộ (quản trị thử, liên kết dùng một lần trong 10 phút): {link}"

"""What every console page shares: the console object, rendering, the session and CSRF guard.

Every request but the sign-in page and the static files needs a live session (else the sign-in page, 401);
every POST needs the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``, else 403). Pages
are never cached and never framed; the Content-Security-Policy allows only the console's own files.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from handlers.clock import local
from handlers.config import AppConfig
from handlers.console.signin import COOKIE, current_session
from handlers.web import WebContext
from storage.db import Database
from storage.staff import StaffMember
from storage.web import WebSession

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


def _request_key(name: str, kind: type) -> Any:
    maker = getattr(web, "RequestKey", None)  # aiohttp ≥ 3.13; plain strings before
    return maker(name, kind) if maker is not None else name


SESSION = _request_key("console_session", WebSession)
MEMBER = _request_key("console_member", StaffMember)


def console_of(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]


def member_of(request: web.Request) -> StaffMember:
    return request[MEMBER]


def session_of(request: web.Request) -> WebSession:
    return request[SESSION]


def notify(request: web.Request, *texts: str) -> None:
    """Show these notices on the next page this session opens."""
    session: WebSession = request[SESSION]
    console_of(request).notices.setdefault(session.id or 0, []).extend(t for t in texts if t)


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    console = console_of(request)
    session: WebSession | None = request.get(SESSION)
    notices = console.notices.pop(session.id or 0, []) if session is not None else []
    base = {
        "p": console.prefix,
        "me": request.get(MEMBER),
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
    request[SESSION], request[MEMBER] = found
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


def local_time(value: datetime | None) -> str:
    return local(value).strftime("%H:%M %d/%m/%Y") if value is not None else "—"

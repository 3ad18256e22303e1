"""Signing in to the web console: ``/dangnhap`` sends a one-time link; opening it starts a server-side session.

Only SHA-256 digests of the link's secret and of the session cookie are stored. A session ends when it is idle
for :data:`IDLE`, at the latest :data:`LIFETIME` after sign-in, at logout, or when an admin revokes it; a staff
member no longer active loses every session at the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from handlers.clock import as_utc
from handlers.core import Context
from handlers.types import ChatKind
from storage.db import UnitOfWork
from storage.staff import StaffMember
from storage.web import WebSession

LINK_TTL = timedelta(minutes=10)
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often
COOKIE = "sct_console"
PREFIX = "/console"  # where the console is mounted

NOT_STAFF = "Lệnh /dangnhap chỉ dành cho cán bộ được phân công."
NO_CONSOLE = "Bảng điều khiển web chưa được bật trên máy chủ này."
PRIVATE_ONLY = "🔐 Bạn gửi /dangnhap trong tin nhắn riêng với trợ lý để nhận liên kết đăng nhập (không gửi trong nhóm)."


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_link(uow: UnitOfWork, member: StaffMember, base_url: str, prefix: str, now: datetime) -> str:
    """A new one-time sign-in link for ``member``, valid :data:`LINK_TTL`."""
    assert member.id is not None
    secret = secrets.token_urlsafe(32)
    await uow.web.add_token(digest(secret), member.id, now, now + LINK_TTL)
    return f"{base_url}{prefix}/login/{secret}"


async def login_command(ctx: Context) -> None:
    """/dangnhap — a one-time link to the web console, in a private chat."""
    member = await ctx.uow.staff.active(ctx.msg.channel, ctx.msg.user_id)
    if member is None:
        ctx.reply(NOT_STAFF)
    elif not ctx.services.web_url:
        ctx.reply(NO_CONSOLE)
    elif ctx.msg.chat_kind is ChatKind.GROUP:
        ctx.reply(PRIVATE_ONLY)
    else:
        link = await issue_link(ctx.uow, member, ctx.services.web_url, PREFIX, ctx.now)
        ctx.reply(
            f"🔐 Liên kết đăng nhập bảng điều khiển cho {member.name} (dùng một lần, hết hạn sau 10 phút):\n{link}\n"
            "Bạn không chuyển liên kết này cho người khác."
        )


async def start_session(
    uow: UnitOfWork, secret: str, now: datetime, *, user_agent: str = "", address: str = ""
) -> tuple[str, WebSession] | None:
    """Use a sign-in link (once): a new session and its cookie value, or None for a link used, expired or
    unknown, or a staff member no longer active."""
    staff_id = await uow.web.use_token(digest(secret), now)
    member = await uow.staff.by_id(staff_id) if staff_id is not None else None
    if member is None or not member.active:
        return None
    cookie = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=digest(cookie),
        csrf=secrets.token_urlsafe(32),
        staff_id=staff_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + LIFETIME,
        user_agent=user_agent[:200],
        address=address[:64],
    )
    return cookie, await uow.web.add_session(row)


async def current_session(uow: UnitOfWork, cookie: str, now: datetime) -> tuple[WebSession, StaffMember] | None:
    """The live session of this cookie and its (active) staff member; its idle clock restarted."""
    session = await uow.web.live_session(digest(cookie), now, now - IDLE)
    member = await uow.staff.by_id(session.staff_id) if session is not None else None
    if session is None or member is None:
        return None
    if not member.active:
        await uow.web.revoke(session.id, now)  # type: ignore[arg-type]
        return None
    if now - as_utc(session.last_seen_at) >= TOUCH_EVERY:
        session.last_seen_at = now
    return session, member

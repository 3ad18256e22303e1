"""The staff web console: cases, search, photos, audit trail, actions and statistics in the browser.

Staff sign in from the chat (``/dangnhap`` → a one-time link, :mod:`handlers.console.signin`); the pages are an
aiohttp application (:mod:`handlers.console.app`) that ``bot/`` mounts under ``/console`` on its HTTP server.
Every action goes through the chat's own code: the case table of :mod:`handlers.cases.actions` with the
permission check of :mod:`handlers.cases.chat`, the staff answer of :mod:`handlers.qa`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.console.signin import PREFIX, login_command

if TYPE_CHECKING:
    from handlers.core import Router
    from handlers.web import WebContext, WebMount


def register(router: Router) -> None:
    router.command(["/dangnhap", "/login"], login_command)


def web(ctx: WebContext) -> WebMount:
    from handlers.console.app import build

    return build(ctx, PREFIX)

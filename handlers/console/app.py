"""The console's aiohttp application: templates, static files, the guard and every page's routes; the demo link."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from handlers.console import admin_pages, case_list, case_pages, session_pages, stats_pages
from handlers.console.base import CONSOLE, Console, guard, local_time
from handlers.console.signin import issue_link
from handlers.web import WebContext, WebMount

HERE = Path(__file__).parent
DEMO_USER = "demo-admin"


def build(ctx: WebContext, prefix: str) -> WebMount:
    app = web.Application(middlewares=[guard])
    console = Console(ctx, prefix)
    app[CONSOLE] = console
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=jinja2.select_autoescape(default=True)
    )
    env.filters["when"] = local_time
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

"""The staff web console rig: the console's aiohttp application on a loopback server over a chat harness with
staffed agencies (tests/support/cases.py), staff signing in through the link ``/dangnhap`` sends them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientSession, CookieJar
from aiohttp import web as aioweb
from aiohttp.test_utils import TestServer

from handlers.console import web
from handlers.console.base import CONSOLE, Console
from handlers.web import WebContext
from tests.support.cases import Inbox, deliver
from tests.support.chat import ChatHarness
from tests.support.complaints import submit, to_photos, to_summary
from tests.support.images import jpeg

LINK = re.compile(r"https?://\S+/console/login/[\w-]+")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Rig:
    chat: ChatHarness
    server: TestServer
    inbox: Inbox
    console: Console

    def client(self) -> ClientSession:
        """A browser of its own (cookie jar) on the console's server; the server outlives it."""
        return ClientSession(
            base_url=f"http://{self.server.host}:{self.server.port}", cookie_jar=CookieJar(unsafe=True)
        )

    async def link(self, user_id: str) -> str:
        """The sign-in path ``/dangnhap`` gives a staff member in their private chat."""
        replies = await self.chat.person(user_id, user_id).say("/dangnhap")
        text = "\n".join(r.text for r in replies)
        found = LINK.search(text)
        assert found, text
        return "/console/login/" + found.group(0).rsplit("/", 1)[1]

    async def report(self, reporter: str = "u1", *, photos: int = 0, **kwargs) -> str:
        """A citizen files a report (with ``photos`` photos); the case worker routes it and the sender delivers
        the cards."""
        an = self.chat.person(reporter, name="An")
        await to_photos(an, **kwargs)
        for i in range(photos):
            await an.send_photo(self.chat.serve(f"{reporter}-{i}", jpeg(f"{reporter}-{i}")))
        await an.press("Xong" if photos else "Bỏ qua")
        await to_summary(an)
        code = await submit(an)
        await deliver(self.chat, self.inbox)
        return code


async def sign_in(rig: Rig, client: ClientSession, user_id: str) -> str:
    """Sign ``user_id`` in on ``client``; returns the session's CSRF token."""
    path = await rig.link(user_id)
    response = await client.post(path, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await client.get("/console/cases")
    assert page.status == 200
    return CSRF.search(await page.text()).group(1)


@asynccontextmanager
async def console_rig(chat: ChatHarness) -> AsyncIterator[Rig]:
    assert chat.app.dispatcher is not None
    mount = web(WebContext(chat.app.db, chat.app.dispatcher.services, "http://127.0.0.1:8080"))
    root = aioweb.Application()
    root.add_subapp(mount.prefix, mount.app)
    server = TestServer(root)
    await server.start_server()
    rig = Rig(chat, server, Inbox(), mount.app[CONSOLE])
    try:
        yield rig
    finally:
        await server.close()

"""The features' web applications on the process's one HTTP server, beside the webhooks."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from bot.webhooks import WebhookServer


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="xin chào")


def pages() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


async def test_a_mounted_application_is_served_under_its_prefix() -> None:
    server = WebhookServer("127.0.0.1", 0)
    server.mount("/pages", pages())
    assert await server.start_serving()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}/pages/") as response:
            assert response.status == 200 and await response.text() == "xin chào"
        with pytest.raises(RuntimeError):
            server.mount("/late", pages())
    finally:
        await server.stop()


async def test_a_port_in_use_costs_only_the_pages_not_the_webhooks(caplog) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        only_pages = WebhookServer("127.0.0.1", port)
        only_pages.mount("/pages", pages())
        assert await only_pages.start_serving() is False and "port" in caplog.text
        with_webhooks = WebhookServer("127.0.0.1", port)
        with_webhooks.add_post("/telegram", hello)
        with_webhooks.mount("/pages", pages())
        with pytest.raises(OSError):
            await with_webhooks.start_serving()
    assert await WebhookServer("127.0.0.1", 0).start_serving() is False  # nothing to serve: not started

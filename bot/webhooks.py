"""One aiohttp server for the webhooks of every channel (Telegram, Zalo Bot, Zalo OA) on WEBHOOK_PORT.

Channels add their routes before the server starts (aiohttp freezes the router then); each route checks
its own secret or signature and answers at once, doing the work in the background. ``GET /healthz``
answers "ok" for load balancers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebhookServer:
    def __init__(self, listen: str, port: int, *, client_max_size: int = 1024 * 1024) -> None:
        self.listen = listen
        self.requested_port = port
        self.app = web.Application(client_max_size=client_max_size)
        self.app.router.add_get("/healthz", self._health)
        self.paths: list[str] = []  # the channels' webhooks
        self.mounted: list[str] = []  # the features' web applications
        self._runner: web.AppRunner | None = None

    def add_post(self, path: str, handler: Route) -> None:
        if self._runner is not None:
            raise RuntimeError("add webhook routes before the server starts")
        if path in self.paths:
            raise ValueError(f"two channels want the webhook path {path}")
        self.app.router.add_post(path, handler)
        self.paths.append(path)

    def mount(self, prefix: str, app: web.Application) -> None:
        """Serve a feature's web application under ``prefix`` (e.g. the staff console)."""
        if self._runner is not None:
            raise RuntimeError("mount web applications before the server starts")
        self.app.add_subapp(prefix, app)
        self.mounted.append(prefix)

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        if self._runner is None:
            raise RuntimeError("the webhook server is not running")
        return self._runner.addresses[0][1]

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.listen, self.requested_port)
        await site.start()
        self._runner = runner
        logger.info(
            "webhooks: listening on port %s for %s", self.port, ", ".join(self.paths + self.mounted) or "nothing"
        )

    async def start_serving(self) -> bool:
        """Start when there is something to serve. A port in use is fatal for webhooks (the channels need them),
        but only costs the web pages when there are none (e.g. a second process polling Telegram)."""
        if not (self.paths or self.mounted):
            return False
        try:
            await self.start()
        except OSError:
            if self.paths:
                raise
            logger.warning("web pages not served: port %s is in use (set WEBHOOK_PORT)", self.requested_port)
            return False
        return True

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")


class Refusals:
    """Log refused webhook requests without letting a flood of them flood the log: the first one at once,
    then one line per ``every`` seconds with the count."""

    def __init__(self, name: str, every: float = 60.0, *, what: str = "refused") -> None:
        self.name = name
        self.what = what
        self.every = every
        self.total = 0
        self._pending = 0
        self._logged_at: float | None = None

    def note(self, reason: str) -> None:
        self.total += 1
        self._pending += 1
        now = time.monotonic()
        if self._logged_at is None or now - self._logged_at >= self.every:
            logger.warning("%s: %s %d request(s) (last: %s)", self.name, self.what, self._pending, reason)
            self._pending = 0
            self._logged_at = now

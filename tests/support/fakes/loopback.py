"""What the Zalo fakes share: an aiohttp server on 127.0.0.1 (a free port), the calls it records, the
images it serves for download and the queues of injected failures.

A fake subclasses :class:`LoopbackFake`, adds its routes in :meth:`LoopbackFake._routes` and answers with
:class:`Call` records passed to ``self.recorder``. ``GET /images/NAME`` serves what ``add_image`` registered
and lists every name asked for in ``downloads``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass(slots=True)
class Call:
    """One request the fake received; ``status`` is the HTTP status answered (0: connection dropped)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    error_code: int | None = None


@dataclass(slots=True)
class _Failure:
    """One injected failure: an HTTP ``status`` (or ``"network"``: the connection is dropped), and the error
    code (and text) the answer carries."""

    status: int | str
    error_code: int | None = None
    description: str = ""


@dataclass
class Recorder:
    """Calls and a way to wait for them (shared by the Zalo fakes)."""

    calls: list[Call] = field(default_factory=list)
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, call: Call) -> Call:
        self.calls.append(call)
        self._event.set()
        return call

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, predicate: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            matched = [c for c in self.calls if c.method == method and (predicate is None or predicate(c))]
            if len(matched) >= count:
                return matched
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f"{c.method} {c.status} {c.error_code or ''}" for c in self.calls[-10:]]
                raise AssertionError(f"waited {timeout}s for {count} {method} call(s), got {len(matched)}; {seen}")
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (for a webhook server under test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def serve_on_loopback(app: web.Application, *, shutdown_timeout: float) -> tuple[web.AppRunner, int]:
    """Serve *app* on 127.0.0.1 on a free port: the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


class LoopbackFake:
    """A recording fake served on 127.0.0.1; subclasses add their routes in :meth:`_routes`."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.images: dict[str, tuple[bytes, str]] = {}
        self.downloads: list[str] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self.recorder._event = asyncio.Event()  # an asyncio.Event binds to the loop it is first awaited on
        app = web.Application()
        self._routes(app)
        app.router.add_get("/images/{name}", self._image)
        self._runner, self._port = await serve_on_loopback(app, shutdown_timeout=1.0)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- test side -----------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    def calls_of(self, method: str) -> list[Call]:
        return self.recorder.of(method)

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, predicate: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        return await self.recorder.wait_for(method, count, timeout, predicate)

    def add_image(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``data`` at a URL (returned), like Zalo's CDN serves the photos users send."""
        self.images[name] = (data, content_type)
        return f"{self.base_url}/images/{name}"

    # -- server --------------------------------------------------------------------------------------------

    def _queue_failure(self, key: str, failure: _Failure, times: int) -> None:
        self._failures.setdefault(key, deque()).extend(failure for _ in range(times))

    def _next_failure(self, key: str) -> _Failure | None:
        queue = self._failures.get(key)
        return queue.popleft() if queue else None

    def _drop(self, call: Call, request: web.Request) -> web.Response:
        """Record ``call`` as dropped and cut the connection: the response returned reaches nobody."""
        call.status = 0
        self.recorder.record(call)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    async def _image(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        if name not in self.images:
            return web.Response(status=404, text="not found")
        data, content_type = self.images[name]
        return web.Response(body=data, content_type=content_type)

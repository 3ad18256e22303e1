"""Wake-ups across processes on PostgreSQL: one ``LISTEN`` connection per process, its notifications handed on.

Whatever one process writes for another is announced with ``NOTIFY`` in the writing transaction (PostgreSQL
delivers it at commit, once per transaction and channel): ``sct_inbox`` when updates were stored (every process's
inbox workers claim them at once), ``sct_outbox`` when outbox rows due now were written (the leader's sender,
wherever it runs, delivers them at once; see migration ``0015``). A listener calls the callbacks registered for a
channel; when its connection is lost it reconnects and calls every callback once, since notifications sent
meanwhile are lost (the woken side looks at the tables, so an extra wake-up costs one query).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

INBOX = "sct_inbox"
OUTBOX = "sct_outbox"


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """``LISTEN`` on a dedicated connection; ``on(channel, callback)`` before or after :meth:`start`."""

    def __init__(self, url: str, *, retry_seconds: float = 1.0) -> None:
        self.url = libpq_url(url)
        self.retry_seconds = retry_seconds
        self._callbacks: dict[str, list[Callable[[], None]]] = {}
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()  # set while the connection listens

    def on(self, channel: str, callback: Callable[[], None]) -> None:
        self._callbacks.setdefault(channel, []).append(callback)

    def off(self, channel: str, callback: Callable[[], None]) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._callbacks[channel].remove(callback)

    def start(self) -> None:
        """Listen from now on (in the background; again after :meth:`stop`)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pg-listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _call(self, channel: str) -> None:
        for callback in list(self._callbacks.get(channel, ())):
            try:
                callback()
            except Exception:
                logger.exception("listener: a callback for %s failed", channel)

    async def _run(self) -> None:
        import psycopg  # only a PostgreSQL deployment listens

        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    for channel in (INBOX, OUTBOX):
                        await conn.execute(f"LISTEN {channel}")
                    self.listening.set()
                    if not first:  # what was notified while the connection was down is looked at now
                        for channel in list(self._callbacks):
                            self._call(channel)
                    first = False
                    async for notice in conn.notifies():
                        self._call(notice.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("listener: connection lost (%s); reconnecting", type(exc).__name__)
            self.listening.clear()
            first = False
            await asyncio.sleep(self.retry_seconds)

"""The rate limiter every send of one bot goes through: interactive replies and the outbox sender's bulk sends."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)


def is_group(chat: str | int | None) -> bool:
    """Group, supergroup or channel ids are negative numbers or @usernames."""
    if isinstance(chat, int):
        return chat < 0
    return isinstance(chat, str) and chat.startswith(("-", "@"))


class RateLimiter:
    """Token buckets shared by every sender of one bot.

    * overall: requests spaced ``1 / overall_rate`` apart (smooth), and never more than ``overall_rate``
      in any second by the time they actually leave (a stalled event loop must not release a burst);
    * per private chat, for bulk sends only: ``1 / per_chat_rate`` apart (plus ``margin`` seconds);
    * per group chat: at most ``group_per_minute`` in any 60 (+ ``margin``) seconds, for every send;
    * :meth:`pause`: after a 429 nothing at all is sent until ``retry_after`` has passed.

    A rate of 0 disables that limit. ``monotonic`` and ``sleep`` are injectable for tests.
    """

    MAX_TRACKED_CHATS = 4096

    def __init__(
        self,
        overall_rate: float = 30,
        per_chat_rate: float = 1,
        group_per_minute: float = 20,
        *,
        margin: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.interval = 1 / overall_rate if overall_rate > 0 else 0.0
        self.window_cap = int(overall_rate) if overall_rate >= 1 else 0
        self._window: deque[float] = deque()
        self.chat_interval = (1 / per_chat_rate + margin) if per_chat_rate > 0 else 0.0
        self.group_cap = int(group_per_minute)
        self.group_span = 60.0 + margin
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0
        self._chat_next: dict[str, float] = {}
        self._group_grants: dict[str, deque[float]] = {}
        self.paused_until = 0.0
        self.pauses = 0

    @classmethod
    def from_settings(cls, settings: Any) -> RateLimiter:
        return cls(
            overall_rate=settings.telegram_overall_rate,
            per_chat_rate=settings.telegram_per_chat_rate,
            group_per_minute=settings.telegram_group_per_minute,
        )

    def pause(self, seconds: float) -> None:
        """Stop every send for ``seconds`` (a 429's ``retry_after``)."""
        until = self._monotonic() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self.pauses += 1
            logger.warning("rate limited by the platform: every send waits %.1f s", seconds)

    async def wait_pause(self) -> None:
        while (left := self.paused_until - self._monotonic()) > 0:
            await self._sleep(left)

    def _chat_ready(self, key: str, group: bool, n: int, now: float) -> float:
        if group:
            if self.group_cap <= 0:
                return now
            grants = self._group_grants.get(key)
            if not grants:
                return now
            while grants and grants[0] <= now - self.group_span:
                grants.popleft()
            need = len(grants) + n - self.group_cap
            if need <= 0:
                return now
            return grants[min(need, len(grants)) - 1] + self.group_span
        return self._chat_next.get(key, now)

    def _record_chat(self, key: str, group: bool, n: int, at: float) -> None:
        if group:
            if self.group_cap > 0:
                self._group_grants.setdefault(key, deque()).extend([at] * n)
            return
        if self.chat_interval <= 0:
            return
        self._chat_next[key] = at + n * self.chat_interval
        if len(self._chat_next) > self.MAX_TRACKED_CHATS:
            self._chat_next = {k: v for k, v in self._chat_next.items() if v > at}
        if len(self._group_grants) > self.MAX_TRACKED_CHATS:
            self._group_grants = {k: v for k, v in self._group_grants.items() if v and v[-1] > at - self.group_span}

    async def acquire(self, chat: str | int | None = None, *, n: int = 1, bulk: bool = False) -> None:
        """Wait until ``n`` messages may go to ``chat`` (None: a call not about a chat)."""
        group = is_group(chat)
        key = str(chat) if chat is not None and (group or bulk) else None
        while True:
            now = self._monotonic()
            ready = self.paused_until
            if key is not None:
                ready = max(ready, self._chat_ready(key, group, n, now))
            if ready > now:
                await self._sleep(ready - now)
                continue
            slot = max(now, self._next)
            self._next = slot + n * self.interval
            if key is not None:
                self._record_chat(key, group, n, slot)
            if slot > now:
                await self._sleep(slot - now)
            if self._monotonic() < self.paused_until:
                continue  # a 429 arrived while waiting for the slot: take a new one after the pause
            if await self._within_window(n):
                return

    async def _within_window(self, n: int) -> bool:
        """Hold the request until the last second has room for it; False if a 429 pause began meanwhile."""
        if not self.window_cap:
            return True
        window = self._window
        while True:
            now = self._monotonic()
            if now < self.paused_until:
                return False
            while window and window[0] <= now - 1.0:
                window.popleft()
            excess = len(window) + n - self.window_cap
            if excess <= 0 or not window:
                window.extend([now] * n)
                return True
            # At least a millisecond: a wait rounded to nothing would spin.
            await self._sleep(max(window[min(excess, len(window)) - 1] + 1.0 - now, 0.001))

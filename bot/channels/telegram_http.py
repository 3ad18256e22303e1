"""The Telegram channel's plumbing: the rate limiter every call shares, the aiohttp request backend of the
outbox sender's bot, python-telegram-bot's errors in the channels' common terms, and long texts split to fit."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest, RequestData

from bot.channels.base import RateLimited, TemporaryFailure, Unreachable
from bot.ratelimit import RateLimiter

logger = logging.getLogger(__name__)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form of retry_after is deprecated
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class SharedRateLimiter(BaseRateLimiter[dict]):
    """PTB's hook for pacing requests, over the bot's one :class:`RateLimiter`.

    Every call with a ``chat_id`` waits for the overall budget (and a group's per-minute one). Replies wait
    out a 429 and try again (up to ``max_retries``). Bulk calls, made for the outbox sender with
    ``rate_limit_args={"bulk": True}``, also keep the per-chat spacing and hand the 429 back to the
    sender, which tries the same message again after the pause that every call now shares.
    """

    def __init__(self, limiter: RateLimiter, max_retries: int = 3) -> None:
        self.limiter = limiter
        self.max_retries = max_retries

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        media = data.get("media")
        n = len(media) if endpoint == "sendMediaGroup" and isinstance(media, list) and media else 1
        for attempt in range(self.max_retries + 1):
            if chat_id is not None:
                await self.limiter.acquire(chat_id, n=n, bulk=bulk)
            else:
                await self.limiter.wait_pause()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.limiter.pause(retry_after_seconds(exc) + 0.1)
                if bulk or attempt == self.max_retries:
                    raise
        raise AssertionError("unreachable")


@contextlib.contextmanager
def delivery_errors() -> Iterator[None]:
    """Map python-telegram-bot's errors on a send, edit or pin to the channels' common terms."""
    try:
        yield
    except RetryAfter as exc:
        raise RateLimited(retry_after_seconds(exc)) from exc
    except Forbidden as exc:
        raise Unreachable(str(exc)) from exc
    except BadRequest as exc:  # a NetworkError too, but not a temporary one
        if "chat not found" in str(exc).lower():
            raise Unreachable(str(exc)) from exc
        raise
    except (TimedOut, NetworkError) as exc:
        raise TemporaryFailure(str(exc)) from exc


class AiohttpRequest(BaseRequest):
    """A python-telegram-bot request backend on aiohttp, for the outbox sender's bulk sends.

    httpx (PTB's default) costs about 2 ms of CPU per call here; aiohttp a tenth of that, which lets one
    process keep up with the bulk limit while it also answers users. PTB still parses every answer and
    raises its usual errors (``RetryAfter``, ``Forbidden``, ``NetworkError``, ...).
    """

    def __init__(
        self,
        connections: int = 64,
        *,
        read_timeout: float = 15.0,
        connect_timeout: float = 10.0,
        write_timeout: float = 15.0,
        media_write_timeout: float = 60.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    @staticmethod
    def _given(value: Any, default: float | None) -> float | None:
        return default if isinstance(value, DefaultValue) else value

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        params = request_data.json_parameters if request_data else None
        data: Any = params
        if files:
            form = aiohttp.FormData()
            for key, value in (params or {}).items():
                form.add_field(key, value)
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        write = self._given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        read = self._given(read_timeout, self._read_timeout)
        timeout = aiohttp.ClientTimeout(
            connect=self._given(connect_timeout, self._connect_timeout),
            sock_read=max(read or 0, write or 0) or None,
        )
        if logger.isEnabledFor(logging.DEBUG):  # as httpx does (the token in the URL is masked by bot.logs)
            logger.debug("HTTP Request: %s %s", method, url)
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


async def drop_topic(bot: Bot, chat_id: int | str, thread_id: int) -> None:
    """Delete a forum topic; without the right to delete messages, close it (its creator always may)."""
    limits = {"bulk": True}
    try:
        await bot.delete_forum_topic(chat_id, thread_id, rate_limit_args=limits)
        return
    except BadRequest as exc:
        if "topic_id_invalid" in str(exc).lower():
            return  # gone already
    try:
        await bot.close_forum_topic(chat_id, thread_id, rate_limit_args=limits)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower().replace("_", " "):
            raise

"""The conversation core: context, flows, router and dispatcher.

Every channel hands an :class:`IncomingMessage` to :meth:`Dispatcher.handle` and renders the replies it
returns. One message is one transaction: the user row, the step's effects and the conversation state are
committed together, or, when a handler fails, not at all (the state stays as it was before the step).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from handlers import texts
from handlers.buttons import ButtonCodec
from handlers.clock import Clock, as_utc
from handlers.config import AppConfig
from handlers.matching import fold_text
from handlers.text_safety import clean_message, vn_number
from handlers.types import Button, ConversationKey, IncomingMessage, MediaRef, MessageKind, Reply
from storage.db import Database, UnitOfWork
from storage.models import User

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
CANCEL_COMMANDS = frozenset({"/cancel", "/huy", "/thoat"})
CANCEL_WORDS = frozenset({"huy", "cancel", "thoat", "huy bo", "dung lai"})
REPLY_KIND = "reply"  # the outbox kind of a reply written in its step's transaction
EVENT_KINDS = frozenset({MessageKind.TOPIC_CREATED})  # platform notes: handled by Router.event or dropped
MAX_ATTEMPTS = 3  # a stored update failing this often is parked (storage/inbox.py)


# (ref, path, max_bytes): stream the media to ``path``; raise storage.media.MediaTooLarge over ``max_bytes``.
Downloader = Callable[[MediaRef, Path, int], Awaitable[None]]


@dataclass
class Services:
    """What handlers may use besides the unit of work; built once by the composition root."""

    clock: Clock
    config: AppConfig
    knowledge: Any = None  # knowledge.KnowledgeBase, when loaded
    media: Any = None  # storage.media.MediaStore
    downloaders: dict[str, Downloader] = field(default_factory=dict)  # channel -> fetch a photo to a file
    web_url: str = ""  # the base URL of the process's web pages ("" when it serves none)


@dataclass(frozen=True)
class FlowState:
    flow: str
    step: str
    data: dict[str, Any]
    deadline: datetime


_UNCHANGED = object()
_PAUSED = "_paused"  # the row is a draft set aside: no flow in progress, the draft waits to be resumed
_PARKED = "_parked"  # the row is another flow in progress, carrying a draft set aside


def _load_state(row: Any) -> tuple[FlowState | None, FlowState | None]:
    """The conversation row as (the flow in progress, the draft set aside)."""
    if row is None:
        return None, None
    data = dict(row.data)
    parked = data.pop(_PARKED, None)
    state = FlowState(row.flow, row.step, data, as_utc(row.deadline))
    if data.pop(_PAUSED, False):
        return None, state
    if parked:
        aside = FlowState(parked["flow"], parked["step"], parked["data"], datetime.fromisoformat(parked["deadline"]))
        return state, aside
    return state, None


def _to_save(state: FlowState | None, parked: FlowState | None) -> FlowState | None:
    """What the conversation row holds: the flow in progress carrying the draft set aside, or that draft alone."""
    if parked is None:
        return state
    if state is None:
        return dataclasses.replace(parked, data={**parked.data, _PAUSED: True})
    aside = {"flow": parked.flow, "step": parked.step, "data": parked.data, "deadline": parked.deadline.isoformat()}
    return dataclasses.replace(state, data={**state.data, _PARKED: aside})


class Context:
    """One incoming message being handled: what came in, the transaction, and what goes out."""

    def __init__(
        self,
        msg: IncomingMessage,
        uow: UnitOfWork,
        services: Services,
        now: datetime,
        user: User,
        state: FlowState | None,
    ) -> None:
        self.msg = msg
        self.uow = uow
        self.services = services
        self.now = now
        self.user = user
        self.state = state
        self.payload: str | None = None
        self.arg: str = ""
        self.prepared: Any = None  # what the flow's ``prepare`` made before this transaction
        self.replies: list[Reply] = []
        self._next: Any = _UNCHANGED
        self.parked: FlowState | None = None  # a draft set aside by a command, kept until resumed or expired
        self.parked_changed = False

    @property
    def config(self) -> AppConfig:
        return self.services.config

    @property
    def text(self) -> str:
        return self.msg.text.strip()

    @property
    def data(self) -> dict[str, Any]:
        """The draft of the flow in progress (a copy; pass changes to :meth:`goto`)."""
        return dict(self.state.data) if self.state else {}

    def reply(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        *,
        photos: list[str] | None = None,
        remove_keyboard: bool = False,
    ) -> Reply:
        reply = Reply(text, buttons or [], photos or [], remove_keyboard)
        self.replies.append(reply)
        return reply

    def goto(self, flow: str, step: str, data: dict[str, Any] | None = None, *, ttl: timedelta) -> None:
        """Move the conversation to ``step`` of ``flow``; saved with this step's effects."""
        self.state = FlowState(flow, step, dict(data or {}), self.now + ttl)
        self._next = self.state

    def finish(self) -> None:
        """End the conversation in progress, if any."""
        self.state = None
        self._next = None

    def park(self) -> None:
        """Set the draft in progress aside (a command came in the middle of it); :meth:`unpark` brings it back."""
        self.parked, self.parked_changed = self.state, True
        self.finish()

    def unpark(self) -> None:
        """Make the draft set aside the conversation in progress again."""
        assert self.parked is not None
        self.state, self._next = self.parked, self.parked
        self.parked, self.parked_changed = None, True

    @property
    def saved_changed(self) -> bool:
        return self.state_changed or self.parked_changed

    @property
    def state_changed(self) -> bool:
        return self._next is not _UNCHANGED


Handler = Callable[[Context], Awaitable[None]]
Listener = Callable[[Context], Awaitable[bool]]


class Flow:
    """A conversation as an explicit state machine; subclasses list their steps."""

    name: ClassVar[str]
    accepts: ClassVar[frozenset[MessageKind]] = frozenset({MessageKind.TEXT, MessageKind.BUTTON})
    expired_text: ClassVar[str] = texts.SESSION_EXPIRED

    def kept_notice(self, ctx: Context, draft: FlowState) -> Reply | None:
        """A flow whose draft is worth keeping answers how it is kept when a command interrupts it; the
        default (None): the flow simply ends."""
        return None

    async def ask_cancel(self, ctx: Context) -> bool:
        """A typed «hủy» in this flow: True when the flow answered it itself (a draft worth keeping asks to
        confirm first); the default (False): the flow simply ends."""
        return False

    def ttl(self, ctx: Context) -> timedelta:
        return ctx.config.limits.conversation_ttl

    def button(self, label: str, arg: str) -> Button:
        return Button(label, f"{self.name}:{arg}")

    def goto(self, ctx: Context, step: str, data: dict[str, Any] | None = None) -> None:
        ctx.goto(self.name, step, data if data is not None else ctx.data, ttl=self.ttl(ctx))

    async def begin(self, ctx: Context) -> None:
        raise NotImplementedError

    async def handle(self, ctx: Context) -> None:
        """Handle a message or button press for the step in ``ctx.state``."""
        raise NotImplementedError

    async def reprompt(self, ctx: Context) -> None:
        """Ask the current step's question again."""
        raise NotImplementedError

    async def prepare(self, msg: IncomingMessage, state: FlowState, services: Services) -> Any:
        """Slow work for a message carrying media (downloads), done BEFORE the step's transaction.

        Called with the conversation's lock held but no database transaction open (on SQLite the unit of
        work holds the one database lock, so a download inside it would stall every user). The result is
        ``ctx.prepared`` in :meth:`handle`, which must still check it against the state it finds there.
        """
        return None


@dataclass
class Command:
    handler: Handler
    keeps_flow: bool = False


class Router:
    """The one place that lists what the assistant understands, in order."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.buttons: dict[str, Handler] = {}
        self.flows: dict[str, Flow] = {}
        self.phrases: dict[str, Handler] = {}
        self.entries: dict[str, Handler] = {}  # menu entry points by name ("qa", "report"…), for the menu
        self.listeners: list[Listener] = []  # tried in order on free text before the fallback; True = handled
        self.intents: list[tuple[re.Pattern[str], Handler]] = []  # phrasings (folded text) tried after them
        self.fallback: Handler | None = None
        self.events: dict[MessageKind, Handler] = {}  # what the platform notes (no one wrote it): never answered

    def command(self, names: list[str], handler: Handler, *, keeps_flow: bool = False) -> None:
        for name in names:
            self.commands[name.lower()] = Command(handler, keeps_flow)

    def button(self, prefix: str, handler: Handler) -> None:
        self.buttons[prefix] = handler

    def flow(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    def entry(self, name: str, handler: Handler) -> None:
        """A named entry point other features (the main menu) can reach without importing its feature."""
        self.entries[name] = handler

    def event(self, kind: MessageKind, handler: Handler) -> None:
        """A platform's own note (e.g. a forum topic created) goes to ``handler``; unclaimed ones are dropped."""
        self.events[kind] = handler

    def listen(self, listener: Listener) -> None:
        """Free text outside any flow is offered to each listener in order (e.g. a "reply to" in a staff group)."""
        self.listeners.append(listener)

    async def free_text(self, ctx: Context) -> None:
        """Free text outside any flow: the listeners first, then the fallback."""
        for listener in self.listeners:
            if await listener(ctx):
                return
        folded = fold_text(ctx.text)
        for pattern, handler in self.intents:
            if pattern.search(folded):
                await handler(ctx)
                return
        if self.fallback is not None:
            await self.fallback(ctx)

    def intent(self, patterns: list[str], handler: Handler) -> None:
        """Ways of saying it, as regular expressions over the text folded without diacritics ('con bao lau
        nua toi online friday'): free text outside any flow that no exact phrase or listener took."""
        self.intents += [(re.compile(pattern), handler) for pattern in patterns]

    def phrase(self, phrases: list[str], handler: Handler) -> None:
        """Typed text (compared without diacritics) that acts like a menu choice."""
        for phrase in phrases:
            self.phrases[fold_text(phrase)] = handler


class KeyedLocks:
    """One asyncio lock per conversation key, dropped when nobody waits for it."""

    def __init__(self) -> None:
        self._locks: dict[ConversationKey, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: ConversationKey) -> None:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        await lock.acquire()

    def release(self, key: ConversationKey) -> None:
        lock, users = self._locks[key]
        lock.release()
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Dispatcher:
    """Route each incoming message to its handler inside one transaction."""

    def __init__(
        self,
        db: Database,
        router: Router,
        services: Services,
        codec: ButtonCodec,
        *,
        reply_lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self.db = db
        self.router = router
        self.services = services
        self.codec = codec
        self.locks = KeyedLocks()
        # A reply is written to the outbox due this long after its step: the channel delivers it at once; only if
        # the process died before it was marked sent does the outbox sender take it afterwards.
        self.reply_lease = reply_lease

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """Handle one message. A stored update (``msg.inbox_ids``) is marked handled and its replies written
        to the outbox in the step's transaction; one handled before gets no replies at all."""
        msg = clean_message(msg)  # NUL, control characters, lone surrogates: never reach a handler or the database
        key = msg.key
        await self.locks.acquire(key)
        try:
            if msg.inbox_ids:
                replies = await self._handle_stored(msg)
            else:
                try:
                    replies = await self._handle(msg)
                except Exception:
                    logger.exception("handler failed on %s message from %s/%s", msg.kind, msg.channel, msg.user_id)
                    replies = [Reply(texts.APOLOGY, texts.menu_buttons())]
        finally:
            self.locks.release(key)
        return [self._encode(reply) for reply in replies]

    async def _handle_stored(self, msg: IncomingMessage) -> list[Reply]:
        """Try a stored update until it succeeds or has failed :data:`MAX_ATTEMPTS` times (then it is parked
        and the user told once, in the transaction that parks it). A worker process that died on it counts as a
        failed attempt (``msg.inbox_attempts``, counted by the claim after its lease ran out): not tried again."""
        while True:
            if (died := msg.inbox_attempts) >= MAX_ATTEMPTS:  # counted by the claims already: parked, untried
                error, count = f"the worker stopped while handling it {died} times", 0
                logger.error("stored update %s from %s/%s parked: %s", msg.inbox_ids, msg.channel, msg.user_id, error)
            else:
                try:
                    return await self._handle(msg)
                except Exception as exc:
                    logger.exception(
                        "handler failed on stored update %s from %s/%s", msg.inbox_ids, msg.channel, msg.user_id
                    )
                    error, count = f"{type(exc).__name__}: {exc}", 1
            now = self.services.clock.now()
            async with self.db.unit_of_work() as uow:
                parked = await uow.inbox.failed(msg.inbox_ids, error, park_after=MAX_ATTEMPTS, now=now, count=count)
                apology = [Reply(texts.APOLOGY, texts.menu_buttons())] if parked else []
                await self._to_outbox(uow, msg, apology, now)
                await uow.commit()
            if parked or not await self._pending(msg):
                return apology

    async def _pending(self, msg: IncomingMessage) -> bool:
        async with self.db.unit_of_work() as uow:
            return bool(await uow.inbox.still_pending(msg.inbox_ids))

    async def _to_outbox(self, uow: UnitOfWork, msg: IncomingMessage, replies: list[Reply], now: datetime) -> None:
        """Write the replies to the outbox, due only after the lease: the channel delivers them at once and marks
        them sent (an alert answering a button press is not a message: it goes with the press's answer)."""
        written = [r for r in replies if not (r.alert and msg.kind is MessageKind.BUTTON)]
        for reply in written:
            reply.thread_id = reply.thread_id or msg.thread_id  # answered in the forum topic it was asked in
        ids = await uow.outbox.add_replies(
            channel=msg.channel,
            chat_id=msg.chat_id,
            kind=REPLY_KIND,
            payloads=[reply.to_dict() for reply in written],
            now=now,
            not_before=now + self.reply_lease,  # the sender's, only if not marked sent by then
        )
        for reply, row_id in zip(written, ids, strict=True):
            reply.outbox_id = row_id

    async def _prepare(self, msg: IncomingMessage) -> Any:
        """Let the flow in progress fetch a message's media outside the transaction (a short read first)."""
        async with self.db.unit_of_work() as uow:
            row = await uow.conversations.get(msg.channel, msg.chat_id, msg.user_id)
        state = _load_state(row)[0]
        flow = self.router.flows.get(state.flow) if state else None
        if state is None or flow is None or msg.kind not in flow.accepts:
            return None
        if state.deadline <= self.services.clock.now():
            return None
        return await flow.prepare(msg, state, self.services)

    async def _handle(self, msg: IncomingMessage) -> list[Reply]:
        prepared = await self._prepare(msg) if msg.photos or msg.document else None
        now = self.services.clock.now()
        async with self.db.unit_of_work() as uow:
            await uow.lock(msg.channel, msg.chat_id, msg.user_id)
            if msg.inbox_ids and not await uow.inbox.take(msg.inbox_ids, now):
                return []  # handled already: a replay, another worker, or a run before a crash
            if msg.kind in EVENT_KINDS:  # the platform's note: nobody to remember
                user = User(
                    channel=msg.channel, external_id=msg.user_id, display_name="", created_at=now, last_seen_at=now
                )
            else:
                user = await uow.users.touch(msg.channel, msg.user_id, msg.display_name, now)
            row = await uow.conversations.get(msg.channel, msg.chat_id, msg.user_id)
            state, parked = _load_state(row)
            ctx = Context(msg, uow, self.services, now, user, state)
            ctx.prepared, ctx.parked = prepared, parked
            self._expire(ctx)
            await self._route(ctx)
            if ctx.saved_changed:
                saved = _to_save(ctx.state, ctx.parked)
                if saved is None:
                    if row is not None:
                        await uow.conversations.clear(msg.channel, msg.chat_id, msg.user_id)
                else:
                    await uow.conversations.save(
                        msg.channel,
                        msg.chat_id,
                        msg.user_id,
                        flow=saved.flow,
                        step=saved.step,
                        data=saved.data,
                        deadline=saved.deadline,
                        now=now,
                    )
            if msg.inbox_ids:
                await self._to_outbox(uow, msg, ctx.replies, now)
            await uow.commit()
        return ctx.replies

    def _expire(self, ctx: Context) -> None:
        """End the conversation, or drop the draft set aside, when past its deadline (telling the user)."""
        state, now = ctx.state, ctx.now
        if state and (state.deadline <= now or state.flow not in self.router.flows):
            flow = self.router.flows.get(state.flow)
            ctx.finish()
            ctx.reply(flow.expired_text if flow else texts.SESSION_EXPIRED)
        parked = ctx.parked
        if parked and (parked.deadline <= now or parked.flow not in self.router.flows):
            flow = self.router.flows.get(parked.flow)
            ctx.parked, ctx.parked_changed = None, True
            ctx.reply(flow.expired_text if flow else texts.SESSION_EXPIRED)

    def _set_aside(self, ctx: Context) -> Reply | None:
        """A command or another feature's button in the middle of a draft worth keeping: keep it, say how."""
        flow = self.router.flows.get(ctx.state.flow) if ctx.state else None
        notice = flow.kept_notice(ctx, ctx.state) if flow and ctx.state else None
        if notice is None:
            return None
        ctx.park()
        return notice

    async def _route(self, ctx: Context) -> None:
        msg = ctx.msg
        if msg.kind in EVENT_KINDS:
            event = self.router.events.get(msg.kind)
            if event is not None:
                await event(ctx)
            return
        if len(msg.text) > MAX_TEXT:
            if ctx.state is None or msg.button is not None:
                ctx.reply(texts.TOO_LONG.format(limit=vn_number(MAX_TEXT)))
                return
            ctx.reply(texts.TOO_LONG_KEPT.format(limit=vn_number(MAX_TEXT)))
            msg.text = msg.text[:MAX_TEXT]  # in the middle of a step: read what fits rather than lose it all
        if msg.button is not None:
            await self._route_button(ctx)
            return
        text = ctx.text
        if msg.kind is MessageKind.TEXT and not text:
            ctx.reply(texts.EMPTY, texts.menu_buttons() if ctx.state is None else [])
            if ctx.state is not None:  # nothing readable (only control characters): ask the step again
                await self.router.flows[ctx.state.flow].reprompt(ctx)
            return
        if text.startswith("/"):
            await self._route_command(ctx, text)
            return
        if fold_text(text) in CANCEL_WORDS:
            await self._cancel(ctx)
            return
        if ctx.state is not None:
            flow = self.router.flows[ctx.state.flow]
            if msg.kind not in flow.accepts:
                ctx.reply(texts.kind_not_expected(msg.kind))
                await flow.reprompt(ctx)
                return
            await flow.handle(ctx)
            return
        if msg.kind is not MessageKind.TEXT:
            ctx.reply(texts.kind_not_understood(msg.kind), texts.menu_buttons())
            return
        handler = self.router.phrases.get(fold_text(text))
        if handler is not None:
            await handler(ctx)
        elif self.router.listeners or self.router.fallback is not None:
            await self.router.free_text(ctx)
        else:
            await start(ctx)

    async def _route_button(self, ctx: Context) -> None:
        assert ctx.msg.button is not None
        payload = self.codec.decode(ctx.msg.button)
        if payload is None:
            logger.warning("refused forged or garbled button data from %s/%s", ctx.msg.channel, ctx.msg.user_id)
            ctx.reply(texts.BUTTON_INVALID, texts.menu_buttons() if ctx.state is None else [])
            return
        ctx.payload = payload
        prefix, _, ctx.arg = payload.partition(":")
        if prefix in self.router.buttons:
            notice = self._set_aside(ctx)
            await self.router.buttons[prefix](ctx)
            ctx.replies.extend([notice] if notice else [])
            return
        flow = self.router.flows.get(prefix)
        if flow is not None and ctx.parked is not None and ctx.parked.flow == prefix:
            ctx.unpark()  # a button of the draft set aside («Tiếp tục», «Bắt đầu lại», «Hủy») brings it back
        if flow is not None and ctx.state is not None and ctx.state.flow == prefix:
            await flow.handle(ctx)
            return
        ctx.reply(texts.BUTTON_STALE, texts.menu_buttons() if ctx.state is None else [])
        if ctx.state is not None:
            await self.router.flows[ctx.state.flow].reprompt(ctx)

    async def _route_command(self, ctx: Context, text: str) -> None:
        name = text.split(maxsplit=1)[0].split("@", 1)[0].lower()
        if name in CANCEL_COMMANDS:
            await self._cancel(ctx)
            return
        command = self.router.commands.get(name)
        if command is None:
            ctx.reply(texts.UNKNOWN_COMMAND.format(command=name), texts.menu_buttons())
            return
        notice = None if command.keeps_flow else self._set_aside(ctx)
        if not command.keeps_flow:
            ctx.finish()
        await command.handler(ctx)
        ctx.replies.extend([notice] if notice else [])

    async def _cancel(self, ctx: Context) -> None:
        if ctx.state is not None and await self.router.flows[ctx.state.flow].ask_cancel(ctx):
            return
        await cancel(ctx)

    def _encode(self, reply: Reply) -> Reply:
        if not reply.buttons:
            return reply
        rows = [[Button(b.label, self.codec.encode(b.payload)) for b in row] for row in reply.buttons]
        return dataclasses.replace(reply, buttons=rows)


async def cancel(ctx: Context) -> None:
    """Leave whatever flow is in progress."""
    if ctx.state is None:
        ctx.reply(texts.NOTHING_TO_CANCEL, texts.menu_buttons())
        return
    ctx.finish()
    ctx.reply(texts.CANCELLED, texts.menu_buttons())


async def start(ctx: Context) -> None:
    """Greet and show the main menu."""
    ctx.reply(texts.greeting(ctx.config.department.name, ctx.msg.display_name), texts.menu_buttons())

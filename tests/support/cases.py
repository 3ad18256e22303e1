"""The case rig on the test channel: a staffed configuration (agency groups on the test channel), an inbox that
plays the channel's part for the real outbox sender (numbered messages, edits in place), and staff members who
write in a group chat."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from bot.leader import Leader, Timing
from bot.sender import OutboxSender, SenderOptions
from handlers.cases.intake import route_pending
from handlers.cases.posting import link_sent
from handlers.config import AppConfig
from handlers.matching import fold_text
from handlers.types import Button, ChatKind, IncomingMessage, MessageKind, Reply
from storage.cases import Case, CaseAction
from storage.models import OutboxMessage
from tests.support.chat import CHANNEL, ChatHarness, Person
from tests.support.configs import plan_2024

QLTT, QLTM, TTS, HOI = "-100", "-500", "-300", "-600"
FAST = SenderOptions(batch=50, concurrency=4, flush_interval=0.02, idle_poll=0.02, backoff_base=0.05)


def cases_config(**cases) -> AppConfig:
    """The default configuration with staff groups on the test channel and staff of three agencies."""
    base = plan_2024().model_dump(mode="python")
    chats = {"qltt": QLTT, "qltm": QLTM, "thanh-tra-so": TTS, "hoi-bvntd": HOI}
    for agency in base["agencies"]:
        if agency["id"] in chats:
            agency["chats"] = {CHANNEL: [chats[agency["id"]]]}
    base["staff"] = [
        {"channel": CHANNEL, "user_id": "qltt-1", "name": "Trần Văn Sơn", "agency": "qltt", "role": "agent"},
        {"channel": CHANNEL, "user_id": "qltt-2", "name": "Lê Thị Cúc", "agency": "qltt", "role": "supervisor"},
        {"channel": CHANNEL, "user_id": "qltm-1", "name": "Nguyễn Thị Hoa", "agency": "qltm", "role": "admin"},
        {"channel": CHANNEL, "user_id": "qltm-2", "name": "Phạm Văn Dũng", "agency": "qltm", "role": "agent"},
        {"channel": CHANNEL, "user_id": "tts-1", "name": "Võ Minh Em", "agency": "thanh-tra-so", "role": "agent"},
    ]
    base["cases"] = {**base["cases"], **cases}
    return AppConfig.model_validate(base)


TOPICS_GROUP = "-1009990000000"  # Cục QLTT's forum supergroup on Telegram (``topics: true``)


def topics_config() -> AppConfig:
    """:func:`cases_config` with Cục QLTT also in a Telegram forum group that has a topic per case."""
    base = cases_config().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltt":
            agency["chats"]["telegram"] = [TOPICS_GROUP]
            agency["topics"] = True
    return AppConfig.model_validate(base)


@dataclass
class Sent:
    """One message the outbox sender delivered to the test channel, with its later edits."""

    chat_id: str
    message_id: str
    reply: Reply
    kind: str = ""
    edits: list[Reply] = field(default_factory=list)

    @property
    def current(self) -> Reply:
        return self.edits[-1] if self.edits else self.reply

    @property
    def text(self) -> str:
        return self.current.text

    @property
    def labels(self) -> list[str]:
        return [b.label for b in self.current.flat_buttons()]

    def button(self, label: str) -> Button:
        wanted = fold_text(label)
        found = [b for b in self.current.flat_buttons() if wanted in fold_text(b.label)]
        assert found, f"no button like {label!r} among {self.labels}"
        return found[0]


class Inbox:
    """Deliver and edit for the outbox sender, recording every message by chat."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.by_id: dict[tuple[str, str], Sent] = {}
        self._ids = itertools.count(1)
        self.edit_calls = 0

    async def deliver(self, chat_id: str, reply: Reply) -> str:
        message_id = str(next(self._ids))
        sent = Sent(chat_id, message_id, reply)
        self.sent.append(sent)
        self.by_id[(chat_id, message_id)] = sent
        return message_id

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> str:
        self.edit_calls += 1
        self.by_id[(chat_id, message_id)].edits.append(reply)
        return message_id

    def to(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def last(self, chat_id: str) -> Sent:
        mine = self.to(chat_id)
        assert mine, f"nothing was sent to {chat_id}"
        return mine[-1]

    def texts(self, chat_id: str) -> list[str]:
        return [s.reply.text for s in self.to(chat_id)]


@dataclass
class Member(Person):
    """A staff member (or anyone) writing in a group chat of the test channel."""

    def _msg(self, **fields) -> IncomingMessage:
        fields.setdefault("chat_kind", ChatKind.GROUP)
        return IncomingMessage(
            channel=CHANNEL, chat_id=self.chat_id, user_id=self.user_id, display_name=self.name, **fields
        )

    async def press_on(self, sent: Sent, label: str) -> list[Reply]:
        return await self.send(self._msg(kind=MessageKind.BUTTON, button=sent.button(label).payload))

    async def reply_to(self, sent: Sent, text: str) -> list[Reply]:
        return await self.send(self._msg(kind=MessageKind.TEXT, text=text, reply_to_message_id=sent.message_id))


def member(chat: ChatHarness, user_id: str, chat_id: str, name: str = "") -> Member:
    return Member(chat, user_id, name or user_id, chat_id)


async def deliver(chat: ChatHarness, inbox: Inbox, *, route: bool = True) -> None:
    """What the leader's case worker and sender do: route staff rows, deliver the outbox, link message ids."""
    app = chat.app
    if route:
        await route_pending(app.db, app.config, chat.clock.now(), media=app.media)
    sender = OutboxSender(
        app.db,
        {CHANNEL: inbox.deliver},
        edits={CHANNEL: inbox.edit},
        clock=chat.clock,
        codec=app.codec,
        options=FAST,
    )
    await sender.run(until_empty=True)
    await link_sent(app.db)


async def the_case(chat: ChatHarness, code: str) -> Case:
    async with chat.app.db.unit_of_work() as uow:
        case = await uow.cases.by_code(code)
        assert case is not None
        return case


async def audit(chat: ChatHarness, code: str) -> list[CaseAction]:
    case = await the_case(chat, code)
    async with chat.app.db.unit_of_work() as uow:
        return await uow.cases.actions(case.id)


async def outbox_rows(chat: ChatHarness, kind: str | None = None) -> list[OutboxMessage]:
    async with chat.app.db.unit_of_work() as uow:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return list((await uow.session.execute(query)).scalars())


class FlakyInbox(Inbox):
    """An inbox where some chats fail: outside the messaging window, blocked, or always a network error."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[str, Exception] = {}
        self.tries: dict[str, int] = {}

    async def deliver(self, chat_id: str, reply: Reply) -> str:
        if chat_id in self.failing:
            self.tries[chat_id] = self.tries.get(chat_id, 0) + 1
            raise self.failing[chat_id]
        return await super().deliver(chat_id, reply)


def leader_sender(chat: ChatHarness, inbox: Inbox, options: SenderOptions = FAST) -> OutboxSender:
    """The outbox sender exactly as the leader builds it (with the unreachable-reporter hook)."""
    leader = Leader(chat.app, {CHANNEL: inbox.deliver}, edits={CHANNEL: inbox.edit}, timing=Timing(sender=options))
    return leader.make_sender()


async def deliver_as_leader(chat: ChatHarness, inbox: Inbox, options: SenderOptions = FAST) -> OutboxSender:
    app = chat.app
    await route_pending(app.db, app.config, chat.clock.now(), media=app.media)
    sender = leader_sender(chat, inbox, options)
    await sender.run(until_empty=True)
    await link_sent(app.db)
    return sender


def later(chat: ChatHarness, **delta) -> None:
    """Move the harness clock on by ``delta`` (timedelta keywords)."""
    chat.clock.advance(timedelta(**delta))

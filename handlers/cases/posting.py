"""Posting cases to agency chats: cards, copies and digests, the messages that answer a card, card edits, and
the watch on staff chats the bot can no longer post to.

* **Cards are edited in place.** Each card row is mapped (``case_messages``) to its case; once the sender has
  delivered it, the platform message id is copied into the mapping (:func:`link_sent`). A state change
  re-renders every card and copy of the case: a card still waiting in the outbox (not claimed) gets the new
  text in place; otherwise one ``case_edit`` row per card is queued (a pending one is updated, never
  duplicated), and the sender turns it into ``edit(chat_id, message_id, reply)`` — or a new message on a
  platform without edits (Zalo).
* **A long queue becomes digests.** When a chat already has ``cases.digest_after`` case messages waiting, new
  cases join a digest row (up to ``cases.digest_size``) that waits ``cases.digest_wait_seconds`` to collect
  more; each case in it has a button that posts its full card. 500 reports to one group at 20 messages a
  minute take minutes, not 25 minutes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from handlers.cases.cards import card_reply, digest_line, digest_reply
from handlers.cases.routing import agency_chats, agency_for_chat, coordinator, is_staff_chat
from handlers.cases.topics import ensure_topic, rename_topics, topic_row
from handlers.cases.view import CaseView
from handlers.cases.vocabulary import QUEUED_KINDS, CardView, OutboxKind
from handlers.config import Agency, AppConfig
from handlers.delivery import channel_name
from handlers.types import Reply
from storage.cases import Case, CaseMessage, CaseMessageKind
from storage.db import Database, UnitOfWork
from storage.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)


async def post_card(
    uow: UnitOfWork,
    config: AppConfig,
    media: Any,
    view: CaseView,
    agency: Agency,
    channel: str,
    chat_id: str,
    now: datetime,
    *,
    copy: bool,
    allow_digest: bool = True,
) -> OutboxMessage | None:
    """Queue the case's card (or copy) for one chat; join a digest instead when the chat's queue is long."""
    case = view.case
    assert case.id is not None
    topic = await ensure_topic(uow, config, view, agency.id, channel, chat_id, now)
    if allow_digest and topic is None:  # a case with its own topic never hides in a digest
        queued = await uow.outbox.queued_for_chat(channel, chat_id, QUEUED_KINDS)
        if queued >= config.cases.digest_after:
            return await add_to_digest(uow, config, view, agency, channel, chat_id, now, copy=copy)
    reply = card_reply(config, view, CardView.COPY if copy else CardView.LEAD, media=media)
    row = await uow.outbox.enqueue(
        channel=channel,
        chat_id=chat_id,
        kind=OutboxKind.COPY if copy else OutboxKind.CARD,
        payload=reply.to_dict() | {"case_id": case.id} | ({"thread_row": topic} if topic else {}),
        now=now,
        ref=case.code,
    )
    assert row is not None and row.id is not None
    await uow.cases.add_message(
        case.id,
        CaseMessageKind.COPY if copy else CaseMessageKind.CARD,
        channel=channel,
        chat_id=chat_id,
        outbox_id=row.id,
        agency=agency.id,
        now=now,
    )
    return row


async def post_cards(
    uow: UnitOfWork, config: AppConfig, media: Any, view: CaseView, now: datetime, *, copies: bool = True
) -> int:
    """Queue the lead agency's cards (and, with ``copies``, the copy agencies' cards) for each of their chats."""
    case = view.case
    posted = 0
    lead = config.agency(case.lead)
    if lead is not None:
        for channel, chat_id in agency_chats(config, lead.id):
            await post_card(uow, config, media, view, lead, channel, chat_id, now, copy=False)
            posted += 1
        if not lead.chats:
            logger.warning("case %s: the lead agency %s has no staff chat configured", case.code, lead.id)
    for agency_id in case.copies if copies else []:
        agency = config.agency(agency_id)
        if agency is None:
            continue
        for channel, chat_id in agency_chats(config, agency.id):
            await post_card(uow, config, media, view, agency, channel, chat_id, now, copy=True)
            posted += 1
    return posted


async def add_to_digest(
    uow: UnitOfWork,
    config: AppConfig,
    view: CaseView,
    agency: Agency,
    channel: str,
    chat_id: str,
    now: datetime,
    *,
    copy: bool,
) -> OutboxMessage:
    """Put the case into the chat's digest still collecting (or start one that waits to collect more)."""
    case = view.case
    assert case.id is not None
    entry = {"id": case.id, "code": case.code, "line": digest_line(config, view.complaint, copy=copy)}
    row = await uow.outbox.open_digest(channel, chat_id, OutboxKind.DIGEST, now)
    if row is not None and len(row.payload.get("digest", [])) < config.cases.digest_size:
        entries = [*row.payload["digest"], entry]
        uow.outbox.set_payload(row, digest_reply(config, agency, entries).to_dict() | {"digest": entries})
    else:
        entries = [entry]
        row = await uow.outbox.enqueue(
            channel=channel,
            chat_id=chat_id,
            kind=OutboxKind.DIGEST,
            payload=digest_reply(config, agency, entries).to_dict() | {"digest": entries},
            now=now,
            not_before=now + timedelta(seconds=config.cases.digest_wait_seconds),
            ref=f"digest:{agency.id}",
        )
        assert row is not None
    assert row.id is not None
    await uow.cases.add_message(
        case.id, CaseMessageKind.DIGEST, channel=channel, chat_id=chat_id, outbox_id=row.id, agency=agency.id, now=now
    )
    return row


async def card_row_for(uow: UnitOfWork, case: Case, channel: str, chat_id: str) -> int | None:
    """The outbox row of the newest card (or digest) of the case in this chat: what a relay answers."""
    assert case.id is not None
    kinds = [CaseMessageKind.CARD, CaseMessageKind.COPY, CaseMessageKind.DIGEST]
    mine = [m for m in await uow.cases.messages(case.id, kinds) if m.channel == channel and m.chat_id == chat_id]
    return mine[-1].outbox_id if mine else None


async def post_to_chats(
    uow: UnitOfWork,
    case: Case,
    chats: list[tuple[str, str]],
    reply: Reply,
    *,
    kind: OutboxKind,
    message_kind: CaseMessageKind,
    now: datetime,
    dedupe: str | None = None,
    agency: str | None = None,
) -> int:
    """Queue ``reply`` for each chat, answering the case's card there when there is one; map each message."""
    assert case.id is not None
    queued = 0
    for channel, chat_id in dict.fromkeys(chats):
        payload = reply.to_dict() | {"case_id": case.id}
        card = await card_row_for(uow, case, channel, chat_id)
        if card is not None:
            payload["reply_to_row"] = card
        topic = await topic_row(uow, case, channel, chat_id)
        if topic is not None:
            payload["thread_row"] = topic
        row = await uow.outbox.enqueue(
            channel=channel,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            now=now,
            dedupe_key=f"{dedupe}:{channel}:{chat_id}" if dedupe else None,
            ref=case.code,
        )
        if row is None:
            continue
        assert row.id is not None
        await uow.cases.add_message(
            case.id, message_kind, channel=channel, chat_id=chat_id, outbox_id=row.id, agency=agency, now=now
        )
        queued += 1
    return queued


async def refresh_cards(uow: UnitOfWork, config: AppConfig, view: CaseView, now: datetime) -> int:
    """Show the case's current state on every card and copy: in place if not sent yet, else by an edit."""
    case = view.case
    assert case.id is not None
    view.history = await uow.cases.actions(case.id)
    edits = 0
    for message in await uow.cases.messages(case.id, [CaseMessageKind.CARD, CaseMessageKind.COPY]):
        if message.kind == CaseMessageKind.COPY.value:
            shown = CardView.COPY
        else:
            shown = CardView.LEAD if message.agency == case.lead else CardView.FORMER
        reply = card_reply(config, view, shown, agency_id=message.agency)
        edits += await update_message(uow, message, reply, case.code, now)
    return edits + await rename_topics(uow, config, view, now)


async def update_message(uow: UnitOfWork, message: CaseMessage, reply: Reply, ref: str, now: datetime) -> int:
    target = await uow.outbox.row(message.outbox_id)
    if target is None:
        return 0
    body = {"text": reply.text, "buttons": reply.to_dict()["buttons"]}
    if target.status == OutboxStatus.PENDING.value:
        # Not on its way yet: it will go out showing the new state. (A conditional update, not a row lock: a
        # sender that claimed it meanwhile wins, and the change goes out as an edit below.)
        if await uow.outbox.replace_if_unclaimed(target.id, {**target.payload, **body}, now):
            return 0
    elif target.status != OutboxStatus.SENT.value:
        return 0  # never delivered (failed): nothing to edit
    for edit in await uow.outbox.pending_edits(ref, OutboxKind.EDIT, now):
        if edit.payload.get("edit_of") == target.id:
            uow.outbox.set_payload(edit, {**edit.payload, **body})
            return 0
    await uow.outbox.enqueue(
        channel=message.channel,
        chat_id=message.chat_id,
        kind=OutboxKind.EDIT,
        payload=Reply(reply.text, reply.buttons).to_dict() | {"edit_of": target.id, "case_id": message.case_id},
        now=now,
        ref=ref,
    )
    return 1


async def link_sent(db: Database, *, limit: int = 500) -> int:
    """Copy delivered platform message ids into the case message map (for "reply to" and edits)."""
    async with db.unit_of_work() as uow:
        linked = await uow.cases.link_sent(limit)
        if linked:
            await uow.commit()
    return linked


async def alert_lost_chats(db: Database, config: AppConfig, now: datetime) -> int:
    """A staff chat the bot can no longer post to (removed from the group, group deleted): tell the admins
    privately and the coordinator's chats, once per chat."""
    async with db.unit_of_work() as uow:
        lost = [chat for chat in await uow.outbox.unreachable_chats(QUEUED_KINDS) if is_staff_chat(config, *chat)]
        if not lost:
            return 0
        admins = [(m.channel, m.user_id) for m in await uow.staff.list() if m.role == "admin"]
        queued = 0
        for channel, chat_id in lost:
            agency = agency_for_chat(config, channel, chat_id)
            assert agency is not None
            text = (
                f"⚠️ Trợ lý không gửi được tin vào nhóm {chat_id} ({channel_name(channel)}) của "
                f"{agency.name}: có thể bot đã bị xóa khỏi nhóm. Phản ánh mới của cơ quan này sẽ không tới được "
                "cán bộ cho đến khi bot được thêm lại (hoặc sửa `agencies[].chats` trong tệp cấu hình)."
            )
            targets = [*admins, *agency_chats(config, coordinator(config).id)]
            for target_channel, target_chat in dict.fromkeys(targets):
                if (target_channel, target_chat) == (channel, chat_id):
                    continue
                row = await uow.outbox.enqueue(
                    channel=target_channel,
                    chat_id=target_chat,
                    kind=OutboxKind.CHAT_LOST,
                    payload=Reply(text).to_dict(),
                    now=now,
                    dedupe_key=f"chat-lost:{channel}:{chat_id}:{target_channel}:{target_chat}",
                )
                queued += row is not None
        if queued:
            logger.error("cases: staff chats unreachable: %s; admins alerted", lost)
            await uow.commit()
    return queued

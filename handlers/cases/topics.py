"""A forum topic per case: agencies with ``topics: true`` whose Telegram group is a forum supergroup.

* **Created once, in the card's transaction.** :func:`ensure_topic` queues one ``case_topic`` outbox row per
  case and chat (dedupe key ``topic:<case>:<channel>:<chat>``) and maps it in ``case_messages`` (kind
  ``topic``). The sender turns it into ``createForumTopic`` and records the topic's id as the row's message id
  (copied into the map like any message id), so a restart or a second process never creates a second topic.
* **Everything about the case goes into it.** The card, its album, the relays, reminders and notes carry
  ``thread_row`` (the topic's row): the sender waits for the topic, then sends with ``message_thread_id``;
  staff prompts answer in the topic they were asked in (the Telegram channel keeps the incoming thread).
* **Renamed with the status.** :func:`rename_topics` (called whenever the cards are redrawn) queues one
  ``case_topic_rename`` row when the name changes; a rename still waiting is updated, never duplicated, so a
  burst of status changes costs one ``editForumTopic``, sent at the group's rate like any message.
* **Exactly once as far as Telegram allows.** The sender records its attempt before ``createForumTopic`` and
  records the topic's id only where none is (``bot/sender.py``). Telegram posts a note of each topic created
  (``forum_topic_created``, with its name and ``message_thread_id``): :func:`on_topic_created` adopts the topic
  for a case whose row has none recorded (the sender died between the call and the record; a retry waits for
  this note first) and drops any other topic of the case (``deleteForumTopic``, else ``closeForumTopic``).
* **Writing in the topic answers the case**: the topic's id is mapped like a card's message id, so a message
  in the topic (``chat.group_message``) is relayed to the reporter like a reply to the card.
"""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.cases.view import CaseView
from handlers.cases.vocabulary import CASE_STATUS_LABELS, OutboxKind
from handlers.complaints.vocabulary import category_name
from handlers.config import AppConfig
from handlers.core import Context
from handlers.types import Reply
from storage.cases import Case, CaseMessageKind
from storage.db import UnitOfWork
from storage.models import OutboxStatus

logger = logging.getLogger(__name__)

TOPIC_CHANNEL = "telegram"  # the only platform with forum topics
NAME_LIMIT = 128  # Telegram: 1-128 characters


def uses_topics(config: AppConfig, agency_id: str | None, channel: str) -> bool:
    agency = config.agency(agency_id) if agency_id else None
    return agency is not None and agency.topics and channel == TOPIC_CHANNEL


def topic_name(config: AppConfig, view: CaseView) -> str:
    """«PA-… · category · status», cut to Telegram's limit."""
    case = view.case
    name = f"{case.code} · {category_name(config, view.complaint.category)} · {CASE_STATUS_LABELS[case.state]}"
    return name[:NAME_LIMIT]


async def topic_row(uow: UnitOfWork, case: Case, channel: str, chat_id: str) -> int | None:
    """The outbox row that creates the case's topic in this chat, if it has one."""
    assert case.id is not None
    for message in await uow.cases.messages(case.id, [CaseMessageKind.TOPIC]):
        if message.channel == channel and message.chat_id == chat_id:
            return message.outbox_id
    return None


async def ensure_topic(
    uow: UnitOfWork, config: AppConfig, view: CaseView, agency_id: str, channel: str, chat_id: str, now: datetime
) -> int | None:
    """The case's topic row in this chat, queued now if the agency uses topics and there is none yet."""
    if not uses_topics(config, agency_id, channel):
        return None
    case = view.case
    assert case.id is not None
    known = await topic_row(uow, case, channel, chat_id)
    if known is not None:
        return known
    name = topic_name(config, view)
    row = await uow.outbox.enqueue(
        channel=channel,
        chat_id=chat_id,
        kind=OutboxKind.TOPIC,
        payload=Reply(name, topic=name).to_dict() | {"case_id": case.id},
        now=now,
        dedupe_key=f"topic:{case.id}:{channel}:{chat_id}",
        ref=case.code,
    )
    if row is None:  # the dedupe key is taken but not mapped: cannot happen in one case's transaction
        return None
    assert row.id is not None
    await uow.cases.add_message(
        case.id, CaseMessageKind.TOPIC, channel=channel, chat_id=chat_id, outbox_id=row.id, agency=agency_id, now=now
    )
    return row.id


async def rename_topics(uow: UnitOfWork, config: AppConfig, view: CaseView, now: datetime) -> int:
    """Give every topic of the case its current name: one rename queued per change, a waiting one updated."""
    case = view.case
    assert case.id is not None
    name = topic_name(config, view)
    rows = await uow.outbox.by_ref(case.code, [OutboxKind.TOPIC, OutboxKind.TOPIC_RENAME])
    queued = 0
    for message in await uow.cases.messages(case.id, [CaseMessageKind.TOPIC]):
        topic = message.outbox_id
        mine = [r for r in rows if r.id == topic or (r.payload or {}).get("thread_row") == topic]
        if not mine or mine[-1].payload.get("topic") == name:
            continue
        body = {"text": name, "topic": name}
        last = mine[-1]
        if last.status == OutboxStatus.PENDING.value and await uow.outbox.replace_if_unclaimed(
            last.id, {**last.payload, **body}, now
        ):
            continue  # not on its way yet: it goes out with the new name
        await uow.outbox.enqueue(
            channel=message.channel,
            chat_id=message.chat_id,
            kind=OutboxKind.TOPIC_RENAME,
            payload=Reply(name, topic=name).to_dict() | {"thread_row": message.outbox_id, "case_id": case.id},
            now=now,
            ref=case.code,
        )
        queued += 1
    return queued


async def on_topic_created(ctx: Context) -> None:
    """The platform's note of a forum topic the bot created: the case's topic when none is recorded (adopted:
    the sender died, or has not yet recorded it), else an orphan (a retry's second topic), dropped once."""
    msg, uow = ctx.msg, ctx.uow
    if msg.channel != TOPIC_CHANNEL or not msg.thread_id:
        return
    case = await uow.cases.by_code(msg.text.split(" · ", 1)[0].strip())
    row_id = await topic_row(uow, case, msg.channel, msg.chat_id) if case is not None else None
    row = await uow.outbox.row(row_id, lock=True) if row_id is not None else None
    if case is None or row is None:
        return  # not a case's topic (or not in a chat where its cases have topics)
    adopted, recorded = await uow.outbox.record_topic(row.id, msg.thread_id, ctx.now)
    if adopted:
        logger.info("cases: forum topic %s of %s adopted from its note", msg.thread_id, case.code)
        wanted = (row.payload or {}).get("topic")
        if wanted and wanted != msg.text:  # renamed while the creation was in doubt
            await uow.outbox.enqueue(
                channel=msg.channel,
                chat_id=msg.chat_id,
                kind=OutboxKind.TOPIC_RENAME,
                payload=Reply(wanted, topic=wanted).to_dict() | {"thread_row": row.id, "case_id": case.id},
                now=ctx.now,
                ref=case.code,
            )
        return
    if recorded == msg.thread_id:
        return  # the note of the topic recorded
    logger.warning("cases: a second forum topic %s of %s is dropped", msg.thread_id, case.code)
    await uow.outbox.enqueue(
        channel=msg.channel,
        chat_id=msg.chat_id,
        kind=OutboxKind.TOPIC_DROP,
        payload=Reply(msg.text, topic=msg.text, thread_id=msg.thread_id, drop_topic=True).to_dict(),
        now=ctx.now,
        dedupe_key=f"topic-drop:{msg.channel}:{msg.chat_id}:{msg.thread_id}",
        ref=case.code,
    )

"""Submitted reports become cases: the ``staff`` pseudo-channel's rows, one transaction each.

The complaint flow leaves an outbox row on the pseudo-channel ``staff``; :func:`route_pending` takes each
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and, in one transaction, creates the case (lead agency and copies
from :func:`handlers.cases.routing.route`, SLA due times from ``due_times``), writes one card row per chat of
the lead agency and one copy per chat of each copy agency, records the audit row and marks the source row sent.
A crash before the commit leaves the source row pending; after it, the cards are in the outbox: nothing is
lost, nothing half-routed. The unique constraint on ``cases.complaint_id`` makes a second routing impossible.
A reporter's addition is relayed to the lead agency's chats, answering the card there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from handlers.cases.duplicates import suggest_duplicates
from handlers.cases.posting import post_cards, post_to_chats, refresh_cards
from handlers.cases.routing import agency_chats, agency_name, due_times, remember, route
from handlers.cases.sla import next_sla_at
from handlers.cases.view import load_view, photo_paths
from handlers.cases.vocabulary import Audit, CaseError, OutboxKind
from handlers.clock import as_utc
from handlers.complaints.vocabulary import KIND_SUBMITTED, KIND_UPDATED, STAFF_CHANNEL
from handlers.config import AppConfig
from handlers.text_safety import mask_contacts
from handlers.types import Reply
from storage.cases import Case, CaseMessageKind, CaseStatus
from storage.db import Database, UnitOfWork
from storage.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

MAX_ROUTING_ATTEMPTS = 5


@dataclass
class RouteStats:
    routed: int = 0
    relayed: int = 0
    deferred: int = 0
    failed: int = 0
    cases: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.routed + self.relayed + self.failed


class Deferred(Exception):
    """The row cannot be handled yet (its case is not routed yet); try again later."""


async def open_case(uow: UnitOfWork, config: AppConfig, media: Any, source: OutboxMessage, now: datetime) -> Case:
    """Create the case of a submitted complaint and queue its cards (idempotent: an existing case is returned)."""
    code = source.ref or (source.payload.get("complaint") or {}).get("code")
    complaint = await uow.complaints.get(code) if code else None
    if complaint is None or complaint.id is None:
        raise CaseError(f"no complaint {code!r} for staff row {source.id}")
    existing = await uow.cases.by_complaint(complaint.id)
    if existing is not None:
        return existing
    decided = route(config, kind="consumer_report", category=complaint.category, area=complaint.area)
    due = due_times(config, complaint.category, as_utc(complaint.created_at))
    case = Case(
        complaint_id=complaint.id,
        code=complaint.code,
        lead=decided.lead,
        copies=list(decided.copies),
        status=CaseStatus.NEW.value,
        ack_due=due[0] if due else None,
        resolve_due=due[1] if due else None,
        created_at=now,
        updated_at=now,
    )
    case.names = remember(config, case, complaint.area)
    uow.cases.schedule_sla(case, next_sla_at(case, set(), config))
    await uow.cases.add(case)
    hashes = [p.sha256 for p in await uow.complaints.photos(complaint.id)]
    await suggest_duplicates(uow, case, complaint, hashes, now)
    copies = ", ".join(agency_name(config, a, short=True) for a in case.copies) or "không"
    await uow.cases.record(
        case, Audit.ROUTED, now, before={}, note=f"Chủ trì: {agency_name(config, case.lead)}; bản sao: {copies}"
    )
    view = await load_view(uow, case, complaint)
    await post_cards(uow, config, media, view, now)
    return case


async def relay_update(uow: UnitOfWork, config: AppConfig, media: Any, source: OutboxMessage, now: datetime) -> int:
    """Relay the reporter's addition (text, photos) to the lead agency's chats, answering the card there."""
    info = source.payload.get("complaint") or {}
    code = source.ref or info.get("code")
    found = await uow.cases.by_code(code) if code else None
    if found is not None and found.merged_into is not None:
        found = await uow.cases.get(found.merged_into)  # a merged duplicate: the case it follows hears it
    case = await uow.cases.get(found.id, for_update=True) if found is not None and found.id is not None else None
    if case is None:
        raise Deferred(code)
    view = await load_view(uow, case)
    wanted = set(info.get("photos") or [])
    reporter = view.complaint if case.code == code else await uow.complaints.get(code)
    assert reporter is not None and reporter.id is not None
    photos = [p for p in await uow.complaints.photos(reporter.id) if p.sha256 in wanted]
    via = "" if case.code == code else f" (qua {code})"  # the reporter of a duplicate merged into this case
    what = "ảnh" if photos and not info.get("detail") else "thông tin"
    lines = [f"➕ {case.code}{via} — người phản ánh bổ sung {what}"]
    if info.get("detail"):
        lines.append(mask_contacts(str(info["detail"])))
    elif photos:
        lines.append(f"({len(photos)} ảnh)")
    reply = Reply("\n".join(lines), photos=photo_paths(media, photos, source=None))
    before = case.snapshot()
    if case.state is CaseStatus.WAITING:
        uow.cases.set_status(case, CaseStatus.IN_PROGRESS, now)
    await uow.cases.record(case, Audit.REPORTER_ADDED, now, before=before, role="reporter", note=info.get("note"))
    queued = await post_to_chats(
        uow,
        case,
        agency_chats(config, case.lead),
        reply,
        kind=OutboxKind.RELAY,
        message_kind=CaseMessageKind.RELAY,
        now=now,
        agency=case.lead,
    )
    await refresh_cards(uow, config, view, now)
    return queued


async def route_one(
    uow: UnitOfWork, config: AppConfig, media: Any, row_id: int, now: datetime, stats: RouteStats
) -> None:
    """Open the case of one staff row, or relay the addition it carries (in the caller's transaction)."""
    source = await uow.outbox.row(row_id, lock=True, skip_locked=True)
    if source is None or source.status != OutboxStatus.PENDING.value:
        return  # another process has it
    if source.kind == KIND_SUBMITTED:
        case = await open_case(uow, config, media, source, now)
        stats.routed += 1
        stats.cases.append(case.code)
    elif source.kind == KIND_UPDATED:
        await relay_update(uow, config, media, source, now)
        stats.relayed += 1
    else:
        raise CaseError(f"unknown staff row kind {source.kind!r}")
    await uow.outbox.mark_sent(row_id, now)
    await uow.commit()


async def route_pending(
    db: Database, config: AppConfig, now: datetime, *, media: Any = None, limit: int = 200
) -> RouteStats:
    """Turn pending rows of the ``staff`` pseudo-channel into cases, cards and relays; one transaction each."""
    stats = RouteStats()
    async with db.unit_of_work() as uow:
        ids = await uow.outbox.pending_ids(STAFF_CHANNEL, now, limit)
    for row_id in ids:
        # On SQLite a transaction never waits, so without this a burst of routings would hold the event loop
        # (and every reply and delivery on it) until the last one is done.
        await asyncio.sleep(0)
        try:
            async with db.unit_of_work() as uow:
                await route_one(uow, config, media, row_id, now, stats)
        except Deferred:
            stats.deferred += 1
            await _retry_later(db, row_id, now, "its case is not routed yet", seconds=5)
        except IntegrityError:
            # Another process routed it first (the unique case per complaint) and marked the row; if not, the
            # row comes back later like any other failure.
            logger.info("staff row %s: routed concurrently elsewhere", row_id)
            stats.failed += await _retry_later(db, row_id, now, "conflict with a concurrent routing", seconds=5)
        except Exception as exc:  # a bad row must not stop the others
            logger.exception("staff row %s could not be routed", row_id)
            stats.failed += await _retry_later(db, row_id, now, f"{type(exc).__name__}: {exc}", seconds=30)
    if stats.handled or stats.deferred:
        logger.info(
            "cases: %d routed, %d additions relayed, %d deferred, %d failed",
            stats.routed,
            stats.relayed,
            stats.deferred,
            stats.failed,
        )
    return stats


async def _retry_later(db: Database, row_id: int, now: datetime, reason: str, *, seconds: float) -> int:
    """Put a staff row back for later; after MAX_ROUTING_ATTEMPTS it fails for good (returns 1 then)."""
    async with db.unit_of_work() as uow:
        row = await uow.outbox.row(row_id, lock=True)
        if row is None or row.status != OutboxStatus.PENDING.value:
            return 0
        attempts = uow.outbox.add_attempt(row)
        permanent = attempts >= MAX_ROUTING_ATTEMPTS and not reason.startswith("its case")
        await uow.outbox.mark_failed(
            row_id, reason, permanent=permanent, retry_at=now + timedelta(seconds=seconds * attempts)
        )
        await uow.commit()
    return 1 if permanent else 0

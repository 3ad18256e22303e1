"""Switching the configuration under a database with cases (the 2024 Bình Phước plan → today's Đồng Nai).

Every case keeps the names it was shown with (``Case.names``, filled when it is routed or moved, and at start for
cases routed before names were kept), so an old case stays readable under a file that no longer has its agency
or area. ``config check`` lists the open cases whose lead, copies or area the new file lacks, with the routing
rule that would take such a report now (:func:`orphans`); ``config move`` gives them to a named agency, one audit
row each, its card posted to that agency's chats (:func:`move`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.cases.posting import post_cards, refresh_cards
from handlers.cases.routing import agency_name, due_times, remember, route
from handlers.cases.view import load_view
from handlers.cases.vocabulary import Audit
from handlers.complaints.vocabulary import area_name
from handlers.config import AppConfig
from storage.db import UnitOfWork

MOVE_NOTE = "Đổi cấu hình: {old} → {new}"


@dataclass(frozen=True)
class Orphan:
    """An open case the configuration no longer fully knows, and who would take such a report now."""

    code: str
    lead: str
    lead_name: str
    missing_agencies: tuple[str, ...]
    area: str
    area_missing: bool
    rule: int | None  # index in ``routing`` of the rule that would take it now; None: the coordinator fallback
    rule_lead: str


async def backfill(uow: UnitOfWork, config: AppConfig) -> int:
    """Keep the names of cases routed before names were kept, from this configuration (ids it knows only)."""
    filled = 0
    for case in await uow.cases.without_names():
        complaint = await uow.complaints.get(case.code)
        case.names = remember(config, case, complaint.area if complaint is not None else "")
        filled += 1
    return filled


async def orphans(uow: UnitOfWork, config: AppConfig) -> list[Orphan]:
    found = []
    for case in await uow.cases.open_for():
        complaint = await uow.complaints.get(case.code)
        area = complaint.area if complaint is not None else ""
        missing = tuple(a for a in [case.lead, *case.copies] if config.agency(a) is None)
        area_missing = config.area(area) is None
        if not missing and not area_missing:
            continue
        category = complaint.category if complaint is not None else None
        now_route = route(config, kind=case.kind, category=category, area=None if area_missing else area)
        found.append(
            Orphan(
                case.code,
                case.lead,
                agency_name(config, case.lead, names=case.names),
                missing,
                area,
                area_missing,
                now_route.rule,
                now_route.lead,
            )
        )
    return found


def describe(config: AppConfig, orphan: Orphan) -> str:
    """One line of ``config check`` for an orphan case (Vietnamese)."""
    lacks = []
    if orphan.missing_agencies:
        lacks.append("cơ quan " + ", ".join(orphan.missing_agencies))
    if orphan.area_missing:
        lacks.append(f"địa bàn {orphan.area}")
    rule = f"quy tắc routing[{orphan.rule}]" if orphan.rule is not None else "cơ quan điều phối (không quy tắc nào)"
    now = agency_name(config, orphan.rule_lead, short=True)
    return f"• {orphan.code} (chủ trì: {orphan.lead_name}): tệp mới thiếu {'; '.join(lacks)} — nay {rule} giao {now}"


async def move(
    uow: UnitOfWork, config: AppConfig, media: Any, target: str, now: datetime, *, source: str | None = None
) -> list[str]:
    """Give open cases whose lead the configuration lacks (or whose lead is ``source``) to ``target``: one audit
    row each; the new lead's chats get the card, cards already shown are redrawn. Returns the codes moved."""
    agency = config.agency(target)
    if agency is None:
        raise ValueError(f"không có cơ quan '{target}' trong tệp cấu hình")
    moved = []
    for case in await uow.cases.open_for():
        if case.lead == target or (case.lead != source if source else config.agency(case.lead) is not None):
            continue
        case = await uow.cases.get(case.id, for_update=True)
        complaint = await uow.complaints.get(case.code) if case is not None else None
        if case is None or complaint is None:
            continue
        before, old = case.snapshot(), agency_name(config, case.lead, names=case.names)
        uow.cases.transfer(case, target, now, due_times(config, complaint.category, now))
        case.copies = [a for a in case.copies if config.agency(a) is not None]
        case.names = remember(config, case, complaint.area)
        note = MOVE_NOTE.format(old=old, new=agency.shown_name)
        await uow.cases.record(case, Audit.CONFIG_MOVE, now, before=before, note=note)
        view = await load_view(uow, case, complaint)
        await refresh_cards(uow, config, view, now)
        await post_cards(uow, config, media, view, now, copies=False)
        moved.append(f"{case.code}: {old} → {agency.shown_short_name} ({area_name(config, complaint.area)})")
    return moved

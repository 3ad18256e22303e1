"""Which agency leads a case and who gets copies, when it is due, and where an agency's staff read — from the
configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.config import Agency, AppConfig, Sla
from handlers.staff import lead_agency_for_questions
from storage.cases import Case


@dataclass(frozen=True)
class Route:
    lead: str
    copies: tuple[str, ...]
    # The index in ``routing`` of the rule that matched; None: the fallback.
    rule: int | None = field(default=None, compare=False)


def route(config: AppConfig, *, kind: str, category: str | None = None, area: str | None = None) -> Route:
    """Return the lead agency and the copies for a report or question (first matching rule wins).

    Falls back to the agency that leads merchant questions (the coordinator) when no rule matches,
    so nothing is ever left without an owner.
    """
    for index, rule in enumerate(config.routing):
        if rule.kind != kind:
            continue
        if rule.categories and category not in rule.categories:
            continue
        if rule.areas and area not in rule.areas:
            continue
        copies = [c for c in rule.copies if c != rule.lead]
        committee = config.area_committee(area) if rule.copy_area_committee else None
        if committee is not None and committee != rule.lead and committee not in copies:
            copies.append(committee)
        return Route(rule.lead, tuple(copies), index)
    return Route(lead_agency_for_questions(config).id, ())


def in_main_window(config: AppConfig, at: datetime) -> bool:
    """Whether ``at`` falls inside any campaign's main window (the 60 hours)."""
    return any(c.main_event.start <= at < c.main_event.end for c in config.campaigns)


def sla_for(config: AppConfig, category: str) -> Sla | None:
    return next((s for s in config.sla if s.category == category), None) or next(
        (s for s in config.sla if s.category == "*"), None
    )


def due_times(config: AppConfig, category: str, submitted_at: datetime) -> tuple[datetime, datetime] | None:
    """When a case must be acknowledged and resolved; tighter when submitted inside the main window."""
    sla = sla_for(config, category)
    if sla is None:
        return None
    window = in_main_window(config, submitted_at)
    ack = (sla.in_window_acknowledge_hours if window else None) or sla.acknowledge_hours
    resolve = (sla.in_window_resolve_hours if window else None) or sla.resolve_hours
    return submitted_at + timedelta(hours=ack), submitted_at + timedelta(hours=resolve)


def agency_name(config: AppConfig, agency_id: str, *, short: bool = False, names: dict | None = None) -> str:
    """The agency's name from the configuration, else as the case kept it (``Case.names``), else its id."""
    agency = config.agency(agency_id)
    if agency is None:
        kept = ((names or {}).get("agencies") or {}).get(agency_id)
        return kept[1 if short else 0] if kept else agency_id
    return agency.shown_short_name if short else agency.shown_name


def remember(config: AppConfig, case: Case, area: str) -> dict[str, Any]:
    """The case's kept names with those of its current lead, copies and area added (names already kept stay)."""
    names = dict(case.names or {})
    agencies = dict(names.get("agencies") or {})
    for agency_id in [case.lead, *case.copies]:
        agency = config.agency(agency_id)
        if agency is not None and agency_id not in agencies:
            agencies[agency_id] = [agency.shown_name, agency.shown_short_name]
    names["agencies"] = agencies
    known = config.area(area)
    if known is not None and "area" not in names:
        names["area"] = known.name
    return names


def coordinator(config: AppConfig) -> Agency:
    """The agency that coordinates (gets escalations): ``cases.coordinator``, else the merchant-question lead."""
    if config.cases.coordinator:
        agency = config.agency(config.cases.coordinator)
        if agency is not None:
            return agency
    return lead_agency_for_questions(config)


def agency_chats(config: AppConfig, agency_id: str) -> list[tuple[str, str]]:
    agency = config.agency(agency_id)
    if agency is None:
        return []
    return [(channel, str(chat)) for channel, chats in agency.chats.items() for chat in chats]


def agency_for_chat(config: AppConfig, channel: str, chat_id: str) -> Agency | None:
    return next((a for a in config.agencies if chat_id in a.chats.get(channel, [])), None)


def is_staff_chat(config: AppConfig, channel: str, chat_id: str) -> bool:
    return agency_for_chat(config, channel, chat_id) is not None

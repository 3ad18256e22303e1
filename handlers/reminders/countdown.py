"""Countdown texts and the reminder calendar: pure functions of (configuration, moment).

Nothing here reads a clock or a database: ``python -m bot countdown --at …``, the ``/demnguoc`` answer,
the reminders and the tests all call the same functions with the moment they want.

The "current" campaign is derived from the moment: the one running, else the next one, else the last.
Durations are shown in days, hours and minutes, rounded down (a countdown never promises more time
than is left); under a minute reads "chưa đầy 1 phút".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.config import AppConfig, Campaign, CampaignEvent
from handlers.matching import fold_text

VIETNAM = "Asia/Ho_Chi_Minh"
WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
# A campaign that ended this recently is still mentioned ("… đã kết thúc") before the next one.
RECENT = timedelta(days=30)
# The last reminder of an event stays deliverable this long (earlier ones until the next reminder).
LAST_REMINDER_TTL = timedelta(hours=6)


# ----------------------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------------------


def _zone(campaign: Campaign) -> ZoneInfo:
    return ZoneInfo(campaign.timezone)


def format_moment(at: datetime, zone: ZoneInfo) -> str:
    """``00:00 thứ Sáu 29/11/2024`` in the campaign's time zone."""
    local = at.astimezone(zone)
    return f"{local:%H:%M} {WEEKDAYS[local.weekday()]} {local:%d/%m/%Y}"


def format_end(at: datetime, zone: ZoneInfo) -> str:
    """An end at midnight reads as the end of the previous day: ``hết Chủ nhật 01/12/2024``."""
    local = at.astimezone(zone)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        day = local - timedelta(days=1)
        return f"hết {WEEKDAYS[day.weekday()]} {day:%d/%m/%Y}"
    return format_moment(at, zone)


def ended_at(at: datetime, zone: ZoneInfo) -> str:
    """After "đã kết thúc": ``lúc 12:00 Chủ nhật 01/12/2024``, or ``vào cuối ngày thứ Hai 17/11/2025``."""
    end = format_end(at, zone)
    return f"vào cuối ngày {end.removeprefix('hết ')}" if end.startswith("hết ") else f"lúc {end}"


def zone_note(campaign: Campaign, at: datetime) -> str:
    if campaign.timezone == VIETNAM:
        return "giờ Việt Nam"
    offset = at.astimezone(_zone(campaign)).strftime("%z")
    return f"giờ {campaign.timezone}, UTC{offset[:3]}:{offset[3:]}"


def _parts(delta: timedelta) -> tuple[int, int, int]:
    minutes = max(0, int(delta.total_seconds()) // 60)
    return minutes // (24 * 60), minutes // 60 % 24, minutes % 60


def format_duration(delta: timedelta) -> str:
    """``1 ngày 12 giờ 0 phút``, ``12 giờ 0 phút``, ``45 phút``, ``chưa đầy 1 phút`` (rounded down)."""
    if delta < timedelta(minutes=1):
        return "chưa đầy 1 phút"
    days, hours, minutes = _parts(delta)
    if days:
        return f"{days} ngày {hours} giờ {minutes} phút"
    if hours:
        return f"{hours} giờ {minutes} phút"
    return f"{minutes} phút"


def format_hours(delta: timedelta) -> str:
    """Inside a window counted in hours: ``36 giờ 0 phút (1 ngày 12 giờ 0 phút)``."""
    if delta < timedelta(hours=1):
        return format_duration(delta)
    total_minutes = int(delta.total_seconds()) // 60
    text = f"{total_minutes // 60} giờ {total_minutes % 60} phút"
    if delta >= timedelta(days=1):
        text += f" ({format_duration(delta)})"
    return text


def format_offset(delta: timedelta, *, hours_only: bool = False) -> str:
    """A short id-safe label for a duration: ``7d``, ``1d12h``, ``1h``, ``30m`` (``36h`` with hours_only)."""
    minutes = int(delta.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    if hours_only:
        days, rest = 0, minutes
    hours, minutes = divmod(rest, 60)
    label = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return label or "0m"


def verify_line(campaign: Campaign) -> str | None:
    note = campaign.verify_note.strip()
    if not note:
        return None
    return f"⚠️ {note}" if "kiem chung" in fold_text(note) else f"⚠️ Cần kiểm chứng: {note}"


# ----------------------------------------------------------------------------------------------------------
# Which campaign, which phase
# ----------------------------------------------------------------------------------------------------------


def current_campaign(config: AppConfig, now: datetime) -> Campaign:
    """The campaign running at ``now`` (the latest started, if several), else the next, else the last."""
    running = [c for c in config.campaigns if c.start <= now < c.end]
    if running:
        return max(running, key=lambda c: c.start)
    upcoming = [c for c in config.campaigns if c.start > now]
    if upcoming:
        return min(upcoming, key=lambda c: c.start)
    return max(config.campaigns, key=lambda c: c.end)


def previous_campaign(config: AppConfig, now: datetime) -> Campaign | None:
    ended = [c for c in config.campaigns if c.end <= now]
    return max(ended, key=lambda c: c.end) if ended else None


def next_campaign(config: AppConfig, after: Campaign) -> Campaign | None:
    later = [c for c in config.campaigns if c.start >= after.end and c.id != after.id]
    return min(later, key=lambda c: c.start) if later else None


class Phase(enum.StrEnum):
    BEFORE = "before"
    DURING = "during"
    AFTER = "after"


def phase(event: CampaignEvent, now: datetime) -> Phase:
    if now < event.start:
        return Phase.BEFORE
    if now < event.end:
        return Phase.DURING
    return Phase.AFTER


# ----------------------------------------------------------------------------------------------------------
# The countdown answer
# ----------------------------------------------------------------------------------------------------------


def _window_line(campaign: Campaign, event: CampaignEvent) -> str:
    zone = _zone(campaign)
    note = zone_note(campaign, event.start)
    return f"🗓 Từ {format_moment(event.start, zone)} đến {format_end(event.end, zone)} ({note})."


def _main_lines(campaign: Campaign, now: datetime) -> list[str]:
    main = campaign.main_event
    zone = _zone(campaign)
    current = phase(main, now)
    if current is Phase.BEFORE:
        lines = [f"⏳ Còn {format_duration(main.start - now)} nữa đến {main.name}.", _window_line(campaign, main)]
    elif current is Phase.DURING:
        lines = [
            f"🔥 {main.name} đang diễn ra — còn {format_hours(main.end - now)} nữa là kết thúc "
            f"({format_end(main.end, zone)})."
        ]
    else:
        return [f"✅ {main.name} đã kết thúc {ended_at(main.end, zone)}."]
    if main.description:
        lines.append(f"ℹ️ {main.description}")
    return lines


def _other_event_lines(campaign: Campaign, now: datetime) -> list[str]:
    zone = _zone(campaign)
    lines = []
    for event in campaign.events:
        if event is campaign.main_event:
            continue
        current = phase(event, now)
        if current is Phase.DURING:
            lines.append(
                f"📣 {event.name} đang diễn ra — còn {format_duration(event.end - now)}, "
                f"đến {format_end(event.end, zone)}."
            )
        elif current is Phase.BEFORE:
            lines.append(
                f"📅 {event.name}: từ {format_moment(event.start, zone)} đến {format_end(event.end, zone)} "
                f"(còn {format_duration(event.start - now)})."
            )
    return lines


def _next_lines(config: AppConfig, after: Campaign, now: datetime) -> list[str]:
    upcoming = next_campaign(config, after)
    if upcoming is None:
        return ["Lịch lần tới chưa được công bố; mình sẽ cập nhật khi có thông tin chính thức."]
    main = upcoming.main_event
    lines = [
        f"⏭ Lần tới: {main.name}, bắt đầu {format_moment(main.start, _zone(upcoming))} "
        f"— còn {format_duration(main.start - now)}."
    ]
    note = verify_line(upcoming)
    if note:
        lines.append(note)
    return lines


def countdown_text(config: AppConfig, now: datetime) -> str:
    """The Vietnamese countdown for ``now`` (aware): before, during or after the current campaign's window."""
    now = now.astimezone(UTC)
    campaign = current_campaign(config, now)
    lines: list[str] = []
    if campaign.start > now:
        previous = previous_campaign(config, now)
        if previous is not None and now - previous.end <= RECENT:
            lines += _main_lines(previous, now)
            lines += _next_lines(config, previous, now)
            return "\n".join(lines)
    lines += _main_lines(campaign, now)
    lines += _other_event_lines(campaign, now)
    note = verify_line(campaign)
    if note:
        lines.append(note)
    if campaign.end <= now or phase(campaign.main_event, now) is Phase.AFTER:
        lines += _next_lines(config, campaign, now)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# The reminder calendar
# ----------------------------------------------------------------------------------------------------------


class SlotKind(enum.StrEnum):
    BEFORE_START = "before_start"
    START = "start"
    DURING = "during"
    BEFORE_END = "before_end"
    END = "end"


@dataclass(frozen=True)
class ReminderSlot:
    """One reminder: ``at`` is when it fires (after quiet hours moved it), ``expires`` when it is stale."""

    campaign: str
    event: str
    offset: str  # start-7d, start, start+12h, end-1h, end
    kind: SlotKind
    nominal: datetime
    at: datetime
    expires: datetime

    @property
    def id(self) -> str:
        return f"{self.campaign}:{self.event}:{self.offset}"


def _event_slots(config: AppConfig, campaign: Campaign, event: CampaignEvent) -> list[tuple[str, SlotKind, datetime]]:
    rules = config.reminders
    is_main = event is campaign.main_event
    slots = [(f"start-{format_offset(d)}", SlotKind.BEFORE_START, event.start - d) for d in rules.before_start]
    if rules.at_start:
        slots.append(("start", SlotKind.START, event.start))
    if is_main:
        if rules.during_every is not None:
            at = event.start + rules.during_every
            while at < event.end:
                slots.append((f"start+{format_offset(at - event.start, hours_only=True)}", SlotKind.DURING, at))
                at += rules.during_every
        slots += [(f"end-{format_offset(d)}", SlotKind.BEFORE_END, event.end - d) for d in rules.before_end]
        if rules.at_end:
            slots.append(("end", SlotKind.END, event.end))
    return slots


def reminder_slots(config: AppConfig) -> list[ReminderSlot]:
    """Every reminder of every campaign, sorted by firing time; empty when reminders are disabled.

    A reminder falling in the quiet hours moves to their end, unless it belongs to the main window and
    lies within ``urgent_within`` of the window's start or end (those are sent at any hour). A moved
    reminder that would land at or after the next one of its event (or after the moment it announces)
    is dropped. Each reminder expires when the next one of its event fires.
    """
    rules = config.reminders
    if not rules.enabled:
        return []
    quiet = config.quiet_hours
    result: list[ReminderSlot] = []
    for campaign in config.campaigns:
        for event in campaign.events:
            is_main = event is campaign.main_event
            raw = sorted(_event_slots(config, campaign, event), key=lambda item: item[2])
            moved: list[tuple[str, SlotKind, datetime, datetime]] = []
            for i, (offset, kind, nominal) in enumerate(raw):
                urgent = is_main and min(abs(nominal - event.start), abs(nominal - event.end)) <= rules.urgent_within
                at = nominal if urgent else quiet.release(nominal)
                limit = raw[i + 1][2] if i + 1 < len(raw) else None
                if kind is SlotKind.BEFORE_START:
                    limit = min(limit, event.start) if limit else event.start
                if at != nominal and limit is not None and at >= limit:
                    continue
                moved.append((offset, kind, nominal, at))
            for i, (offset, kind, nominal, at) in enumerate(moved):
                expires = moved[i + 1][3] if i + 1 < len(moved) else at + LAST_REMINDER_TTL
                result.append(
                    ReminderSlot(
                        campaign.id,
                        event.id,
                        offset,
                        kind,
                        nominal.astimezone(UTC),
                        at.astimezone(UTC),
                        expires.astimezone(UTC),
                    )
                )
    result.sort(key=lambda slot: (slot.at, slot.id))
    return result


def find_event(config: AppConfig, campaign_id: str, event_id: str) -> tuple[Campaign, CampaignEvent] | None:
    for campaign in config.campaigns:
        if campaign.id == campaign_id:
            for event in campaign.events:
                if event.id == event_id:
                    return campaign, event
    return None


def reminder_text(config: AppConfig, slot: ReminderSlot, now: datetime) -> str:
    """The reminder for ``slot`` as it fires at ``now``; absolute times keep it right if delivered later."""
    found = find_event(config, slot.campaign, slot.event)
    if found is None:
        raise KeyError(slot.id)
    campaign, event = found
    zone = _zone(campaign)
    now = now.astimezone(UTC)
    if slot.kind is SlotKind.BEFORE_START:
        lines = [
            f"⏰ Nhắc lịch: còn {format_duration(event.start - now)} nữa đến {event.name} — "
            f"bắt đầu lúc {format_moment(event.start, zone)}.",
        ]
        if event.description:
            lines.append(f"ℹ️ {event.description}")
    elif slot.kind is SlotKind.START:
        lines = [f"🎉 {event.name} bắt đầu rồi! Diễn ra đến {format_end(event.end, zone)}."]
        if event.description:
            lines.append(f"ℹ️ {event.description}")
        lines.append("🛡 Mua sắm an toàn: chọn người bán rõ nguồn gốc, giữ hóa đơn và cẩn thận với giảm giá ảo.")
    elif slot.kind is SlotKind.DURING:
        lines = [
            f"🔥 {event.name} đang diễn ra — còn {format_hours(event.end - now)} nữa là kết thúc "
            f"({format_end(event.end, zone)})."
        ]
    elif slot.kind is SlotKind.BEFORE_END:
        lines = [
            f"⌛ {event.name} sắp kết thúc: còn {format_duration(event.end - now)} nữa ({format_end(event.end, zone)})."
        ]
    else:
        lines = [
            f"✅ {event.name} đã kết thúc. Cảm ơn bạn đã đồng hành!",
            "Nếu gặp hàng giả, hàng kém chất lượng, bạn có thể phản ánh qua mục 🚨 trong menu.",
        ]
    note = verify_line(campaign)
    if note:
        lines.append(note)
    lines.append("(Gõ /huynhacnho để tắt nhắc lịch.)")
    return "\n".join(lines)

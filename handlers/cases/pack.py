"""The evidence pack of one complaint (``python -m bot case pack``): a zip for the department's files.

The zip holds the original photos from the evidence store (the report's and those the reporter added later),
``record.json`` (the complaint, the case, its whole audit trail, its public history and the messages relayed
between the reporter and the agencies; the contact masked unless ``with_contact``, whose export is itself
written to the case's audit trail first) and ``manifest.sha256`` (``sha256sum -c`` lines for every other file
in the zip).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from handlers.cases.actions import AUDIT_LABELS
from handlers.cases.reports import report_zone
from handlers.cases.routing import agency_name
from handlers.cases.vocabulary import CASE_STATUS_LABELS, Audit, OutboxKind
from handlers.clock import as_utc
from handlers.complaints.records import complaint_fields
from handlers.complaints.vocabulary import KIND_UPDATED, contact_text, status_label
from handlers.config import AppConfig
from handlers.phone import format_phone, mask_phone
from handlers.text_safety import mask_contacts
from storage.cases import Case, CaseAction
from storage.complaints import Complaint, ComplaintEvent, ComplaintPhoto
from storage.db import UnitOfWork
from storage.media import CHUNK, MediaStore

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic", "image/heif": "heif"}
MESSAGE_KINDS = {  # outbox kind -> which way the message went
    KIND_UPDATED: "from_reporter",  # what the reporter added, as received
    OutboxKind.RELAY: "to_agency_chat",  # that addition relayed into the lead agency's chats
    OutboxKind.NOTICE: "to_reporter",  # the agency's replies, requests and status changes
}

Named = list[tuple[str, ComplaintPhoto]]  # each photo with its file name in the zip


@dataclass
class PackResult:
    """What writing the zip found: photos missing from the store, photos whose bytes no longer match."""

    missing: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return as_utc(value).astimezone(zone).isoformat(timespec="seconds") if value else None


def photo_name(index: int, photo: ComplaintPhoto) -> str:
    extension = EXTENSIONS.get(photo.mime, "bin")
    return f"photos/{index:02d}-{photo.source}-{photo.sha256[:12]}.{extension}"


def _reporter(c: Complaint, *, with_contact: bool) -> dict[str, Any]:
    """Who reported: the phone masked; in full, with the reporter's account, only ``with_contact``."""
    reporter: dict[str, Any] = {
        "anonymous": c.anonymous,
        "name": None if c.anonymous else (c.reporter_name if with_contact else mask_contacts(c.reporter_name)),
        "contact_consent": c.contact_consent,
        "phone_masked": mask_phone(c.phone) or None,
        "contact": contact_text(c.anonymous, c.phone, c.contact_consent, masked=not with_contact),
    }
    if with_contact:
        reporter |= {
            "phone": format_phone(c.phone) if c.phone else None,
            "phone_e164": c.phone,
            "channel": c.channel,
            "user_id": c.user_id,
            "chat_id": c.chat_id,
        }
    return reporter


def _complaint(config: AppConfig, c: Complaint, zone: ZoneInfo, *, with_contact: bool) -> dict[str, Any]:
    return {
        "code": c.code,
        "status": c.status,
        "status_label": status_label(c.status),
        "submitted_at": _iso(c.created_at, zone),
        "updated_at": _iso(c.updated_at, zone),
        "channel": c.channel,
        **complaint_fields(config, c, reveal=with_contact),
        "reporter": _reporter(c, with_contact=with_contact),
    }


def _photo(name: str, p: ComplaintPhoto, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "file": name,
        "sha256": p.sha256,
        "size": p.size,
        "mime": p.mime,
        "source": p.source,
        "received_at": _iso(p.received_at, zone),
    }


def _event(e: ComplaintEvent, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "at": _iso(e.at, zone),
        "kind": e.kind,
        "status": e.status,
        "note": e.note,
        "detail": e.detail,
        "actor": e.actor,
        "public": e.public,
    }


def _case(config: AppConfig, case: Case, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "code": case.code,
        "kind": case.kind,
        "lead": case.lead,
        "lead_name": agency_name(config, case.lead, names=case.names),
        "copies": [{"id": a, "name": agency_name(config, a, names=case.names)} for a in case.copies],
        "status": case.status,
        "status_label": CASE_STATUS_LABELS[case.state],
        "assignee": case.assignee_name,
        "ack_due": _iso(case.ack_due, zone),
        "resolve_due": _iso(case.resolve_due, zone),
        "sla_epoch": case.sla_epoch,
        "acknowledged_at": _iso(case.acknowledged_at, zone),
        "closed_at": _iso(case.closed_at, zone),
        "outcome": case.outcome,
        "created_at": _iso(case.created_at, zone),
        "updated_at": _iso(case.updated_at, zone),
    }


def _action(a: CaseAction, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "at": _iso(a.at, zone),
        "action": a.action,
        "label": AUDIT_LABELS.get(a.action, a.action),
        "actor_name": a.actor_name,
        "actor_agency": a.actor_agency,
        "actor_role": a.actor_role,
        "actor_channel": a.actor_channel,
        "actor_user_id": a.actor_user_id,
        "before": a.before,
        "after": a.after,
        "note": a.note,
    }


def _message(row, zone: ZoneInfo, *, with_contact: bool) -> dict[str, Any]:
    """An outbox row about the case: where it went (the reporter's chat only with the contact), what it said."""
    direction = MESSAGE_KINDS[row.kind]
    payload = row.payload or {}
    photos = [Path(p).name for p in payload.get("photos") or []]
    photos += [p for p in (payload.get("complaint") or {}).get("photos") or [] if isinstance(p, str)]
    reporter_chat = direction == "to_reporter"
    return {
        "at": _iso(row.created_at, zone),
        "sent_at": _iso(row.sent_at, zone),
        "direction": direction,
        "kind": row.kind,
        "channel": None if direction == "from_reporter" else row.channel,
        "chat_id": row.chat_id if direction == "to_agency_chat" or (reporter_chat and with_contact) else None,
        "status": row.status,
        "text": payload.get("text", ""),
        "photos": photos,
    }


def evidence_record(
    config: AppConfig,
    complaint: Complaint,
    case: Case | None,
    photos: Named,
    events: list[ComplaintEvent],
    actions: list[CaseAction],
    messages: list,
    *,
    with_contact: bool,
    now: datetime,
) -> dict[str, Any]:
    """What ``record.json`` holds; the phone and the reporter's account only ``with_contact``."""
    zone = report_zone(config, as_utc(complaint.created_at))
    return {
        "generated_at": _iso(now, zone),
        "generated_by": "python -m bot case pack",
        "timezone": zone.key,
        "with_contact": with_contact,
        "complaint": _complaint(config, complaint, zone, with_contact=with_contact),
        "photos": [_photo(name, p, zone) for name, p in photos],
        "case": _case(config, case, zone) if case is not None else None,
        "case_actions": [_action(a, zone) for a in actions] if case is not None else [],
        "history": [_event(e, zone) for e in events],
        "messages": [_message(m, zone, with_contact=with_contact) for m in messages],
    }


async def record_contact_export(uow: UnitOfWork, case: Case, user: str, target: Path, now: datetime) -> None:
    """Put the export of the full contact on the case's audit trail, by ``user`` at the command line."""
    await record_cli_contact(uow, case, user, f"Gói chứng cứ kèm liên hệ: {target.resolve()}", now)


async def record_cli_contact(
    uow: UnitOfWork, case: Case, user: str, note: str, now: datetime, audit: str = Audit.CONTACT_EXPORTED
) -> None:
    """A full contact shown or written at the command line by ``user``, on the case's audit trail."""
    await uow.cases.record(
        case,
        audit,
        now,
        role="admin",
        actor_channel="cli",
        actor_user_id=user,
        actor_name=f"{user} (dòng lệnh)",
        note=note,
    )


async def collect(
    uow: UnitOfWork, config: AppConfig, complaint: Complaint, case: Case | None, *, with_contact: bool, now: datetime
) -> tuple[dict[str, Any], Named]:
    """The pack's record and its photos (with their names in the zip), read in ``uow``."""
    assert complaint.id is not None
    photos = await uow.complaints.photos(complaint.id)
    events = await uow.complaints.events(complaint.id, public_only=False)
    actions = await uow.cases.actions(case.id) if case is not None and case.id is not None else []
    messages = await uow.outbox.by_ref(complaint.code, MESSAGE_KINDS)
    named = [(photo_name(i, p), p) for i, p in enumerate(photos, start=1)]
    record = evidence_record(
        config, complaint, case, named, events, actions, messages, with_contact=with_contact, now=now
    )
    return record, named


def _copy_hashed(source: Path, archive: zipfile.ZipFile, name: str, when: datetime) -> str:
    """Stream ``source`` into the archive as ``name``; return the SHA-256 of the bytes written."""
    digest = hashlib.sha256()
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED  # photos are compressed already
    with source.open("rb") as src, archive.open(info, "w") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def write_pack(path: Path, record: dict[str, Any], named: Named, media: MediaStore, now: datetime) -> PackResult:
    """The zip: the photos streamed from the store, record.json, and the manifest of both. Times in the zip
    are in the record's time zone; each photo's entry in the record says whether its file was missing."""
    result = PackResult()
    zone = ZoneInfo(record["timezone"])
    when = now.astimezone(zone)
    sums: list[tuple[str, str]] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, photo in named:
            source = media.path(photo.sha256)
            if not source.is_file():
                result.missing.append(photo.sha256)
                continue
            digest = _copy_hashed(source, archive, name, as_utc(photo.received_at).astimezone(zone))
            if digest != photo.sha256:
                result.altered.append(photo.sha256)
            sums.append((digest, name))
        for entry in record["photos"]:
            entry["missing"] = entry["sha256"] in result.missing
        data = (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()
        archive.writestr(zipfile.ZipInfo("record.json", date_time=when.timetuple()[:6]), data, zipfile.ZIP_DEFLATED)
        sums.append((hashlib.sha256(data).hexdigest(), "record.json"))
        manifest = "".join(f"{digest}  {name}\n" for digest, name in sums)
        archive.writestr(zipfile.ZipInfo("manifest.sha256", date_time=when.timetuple()[:6]), manifest)
    return result

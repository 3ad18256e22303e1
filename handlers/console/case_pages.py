"""A case on the web: every field, the photos (with their SHA-256), the audit timeline, the conversation with
the reporter, the card's actions, and the evidence pack. Each request checks the viewer's scope first; a case
outside it answers 403 and writes the attempt on the case's audit trail."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from handlers.cases.actions import ACTIONS, AUDIT_LABELS
from handlers.cases.cards import card_buttons
from handlers.cases.chat import refusal
from handlers.cases.pack import MESSAGE_KINDS, collect, write_pack
from handlers.cases.routing import agency_name
from handlers.cases.view import CaseView, load_view
from handlers.cases.vocabulary import CASE_STATUS_LABELS, Audit, CardView
from handlers.complaints.records import complaint_fields
from handlers.complaints.vocabulary import contact_text
from handlers.console.access import refuse_view, scope, web_context
from handlers.console.base import console_of, member_of, notify, refused_page, render, see_other
from handlers.console.web_actions import run_action
from handlers.core import Context
from handlers.text_safety import ascii_int
from storage.cases import Case
from storage.db import UnitOfWork
from storage.staff import StaffMember

HINTS = {  # what each action's text is, as the chat's prompt says it
    "more": "Nội dung cần người phản ánh bổ sung",
    "reply": "Nội dung trả lời người phản ánh (gửi dưới tên cơ quan)",
    "done": "Kết quả xử lý (gửi cho người phản ánh)",
    "rej": "Lý do từ chối (gửi cho người phản ánh)",
}
DELIVERY = {"pending": "chờ gửi", "sent": "đã gửi", "failed": "không gửi được", "skipped": "bỏ qua"}
DIRECTIONS = {
    "from_reporter": "Người phản ánh gửi",
    "to_agency_chat": "Chuyển vào nhóm",
    "to_reporter": "Gửi người phản ánh",
}


async def _case(request: web.Request, uow: UnitOfWork, what: str, *, lock: bool = False) -> Case | web.Response:
    """The case of the URL if the viewer may see it; else the page to answer (404, or 403 and an audit row)."""
    raw = request.match_info["case_id"]
    case = await uow.cases.get(n, for_update=lock) if (n := ascii_int(raw)) is not None else None
    if case is None:
        return render(request, "error.html", {"title": "Không tìm thấy", "text": "Không có phản ánh này."}, status=404)
    console, member = console_of(request), member_of(request)
    if not scope(console.web.services, member).covers(case):
        text = await refuse_view(uow, case, member, console.now(), what)
        await uow.commit()
        return refused_page(request, text)
    return case


def offered(ctx: Context, case: Case, view: CaseView, member: StaffMember) -> dict[str, Any]:
    """The card's buttons (the lead card's, and a copy agency's copy card) this viewer may press: the chat's own
    permission rule, so a supervisor who sees a copy is offered only «Đã nắm thông tin»."""
    lead = card_buttons(case, view.complaint, view=CardView.LEAD)
    copy = card_buttons(case, view.complaint, view=CardView.COPY) if member.agency in case.copies else []
    labels = {b.payload.split(":")[1]: b.label for row in lead + copy for b in row}
    codes = [
        code for code in labels
        if member.role == "admin" or refusal(ctx, ACTIONS[code].who, member, case) is None
    ]  # fmt: skip
    return {"codes": codes, "labels": labels, "prompted": {c for c in codes if ACTIONS[c].prompt}}


async def case_page(request: web.Request) -> web.Response:
    console, member = console_of(request), member_of(request)
    config = console.config
    async with console.db.unit_of_work() as uow:
        case = await _case(request, uow, "xem")
        if isinstance(case, web.Response):
            return case
        view = await load_view(uow, case)
        events = await uow.complaints.events(view.complaint.id, public_only=False)  # type: ignore[arg-type]
        messages = await uow.outbox.by_ref(case.code, MESSAGE_KINDS)
        staff = await uow.staff.list(agency=case.lead)
        actions = offered(web_context(uow, console.web.services, member, console.now()), case, view, member)
    complaint = view.complaint
    return render(
        request,
        "case.html",
        {
            "title": f"Phản ánh {case.code}",
            "case": case,
            "c": complaint,
            "fields": complaint_fields(config, complaint),
            "contact": contact_text(complaint.anonymous, complaint.phone, complaint.contact_consent, masked=True),
            "photos": view.photos,
            "history": view.history,
            "audit_labels": AUDIT_LABELS,
            "events": events,
            "messages": messages,
            "directions": {k: DIRECTIONS[v] for k, v in MESSAGE_KINDS.items()},
            "status_label": CASE_STATUS_LABELS[case.state],
            "lead_name": agency_name(config, case.lead),
            "copy_names": [agency_name(config, a) for a in case.copies],
            "actions": actions,
            "hints": HINTS,
            "delivery": DELIVERY,
            "assignees": staff,
            "agencies": [a for a in config.agencies if a.id != case.lead],
        },
    )


async def act(request: web.Request) -> web.Response:
    console, member = console_of(request), member_of(request)
    form = await request.post()
    code, arg, text = (str(form.get(k, "")).strip() for k in ("code", "arg", "text"))
    async with console.db.unit_of_work() as uow:
        case = await _case(request, uow, f"thao tác {code}", lock=True)
        if isinstance(case, web.Response):
            return case
        ctx = web_context(uow, console.web.services, member, console.now())
        outcome = await run_action(ctx, case, code, arg=arg, text=text)
        await uow.commit()
    if outcome.refused:
        return refused_page(request, " ".join(outcome.messages))
    notify(request, *outcome.messages)
    return see_other(request, f"/cases/{case.id}")


async def photo(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    async with console.db.unit_of_work() as uow:
        case = await _case(request, uow, "ảnh")
        if isinstance(case, web.Response):
            return case
        complaint = await uow.complaints.get(case.code)
        photos = await uow.complaints.photos(complaint.id) if complaint and complaint.id else []
    wanted = next((p for p in photos if p.sha256 == request.match_info["sha"]), None)
    media = console.web.services.media
    if wanted is None or media is None or not media.exists(wanted.sha256):
        return render(request, "error.html", {"title": "Không tìm thấy", "text": "Không có ảnh này."}, status=404)
    response = web.FileResponse(media.path(wanted.sha256), headers={"Content-Type": wanted.mime})
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


async def pack(request: web.Request) -> web.Response:
    """The evidence pack (zip); the contact only through the logged reveal's permission, and audited."""
    console, member = console_of(request), member_of(request)
    form = await request.post()
    now = console.now()
    async with console.db.unit_of_work() as uow:
        case = await _case(request, uow, "gói chứng cứ", lock=True)
        if isinstance(case, web.Response):
            return case
        with_contact = bool(form.get("contact"))
        if with_contact:
            ctx = web_context(uow, console.web.services, member, now)
            outcome = await run_action(ctx, case, "contact")  # the reveal: permission checked, audited
            if outcome.refused:
                await uow.commit()
                return refused_page(request, " ".join(outcome.messages))
        complaint = await uow.complaints.get(case.code)
        assert complaint is not None
        record, named = await collect(uow, console.config, complaint, case, with_contact=with_contact, now=now)
        audit = Audit.CONTACT_EXPORTED if with_contact else Audit.EXPORTED
        await uow.cases.record(case, audit, now, actor=member, note=f"Gói chứng cứ {case.code} (web)")
        await uow.commit()
    media = console.web.services.media
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{case.code}.zip"
        await asyncio.to_thread(write_pack, target, record, named, media, now)
        body = target.read_bytes()
    return web.Response(
        body=body,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="goi-chung-cu_{case.code}.zip"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/cases/{case_id}", case_page, name="case")
    app.router.add_post("/cases/{case_id}/action", act, name="case_action")
    app.router.add_get("/cases/{case_id}/photos/{sha}", photo, name="case_photo")
    app.router.add_post("/cases/{case_id}/pack", pack, name="case_pack")

"""The staff web console's state: one-time sign-in links, server-side sessions, and the folded search text of cases.

* ``web_login_tokens``: a link sent in the chat by ``/dangnhap``; only the SHA-256 of its secret is stored, it
  is valid for minutes and used at most once (the update that marks it used is conditional).
* ``web_sessions``: a signed-in browser; only the SHA-256 of the cookie is stored, with its CSRF token, its idle
  and absolute expiry and its revocation.
* ``console_search``: per case, its code, seller, link, product and description folded (no diacritics, lower
  case), filled lazily by the console for cases it has not indexed yet (they never change after submission).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Text, and_, cast, func, or_, select, update
from sqlmodel import Field, SQLModel

from storage.cases import OPEN_STATUSES, Case, CaseStatus
from storage.complaints import Complaint
from storage.models import utc_column
from storage.session import DbSession
from storage.staff import StaffMember

UNACKNOWLEDGED = tuple(s.value for s in CaseStatus if s.unacknowledged)


class WebLoginToken(SQLModel, table=True):
    __tablename__ = "web_login_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(
        sa_column=Column(Integer, ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    used_at: datetime | None = utc_column(nullable=True)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    csrf: str = Field(max_length=64)
    staff_id: int = Field(
        sa_column=Column(Integer, ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    created_at: datetime = utc_column()
    last_seen_at: datetime = utc_column()
    expires_at: datetime = utc_column()  # absolute: never valid after this, however active
    revoked_at: datetime | None = utc_column(nullable=True)
    user_agent: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=64)


class CaseSearch(SQLModel, table=True):
    __tablename__ = "console_search"

    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    folded: str = Field(sa_column=Column(Text, nullable=False))


@dataclass(frozen=True)
class CaseFilter:
    """What the cases list asks for; ``query`` is already folded. ``leads``/``copies``: the viewer's scope."""

    leads: frozenset[str] | None = None  # None: every case
    copies: frozenset[str] = frozenset()
    statuses: tuple[str, ...] = ()
    category: str = ""
    lead: str = ""
    area: str = ""
    platform: str = ""
    since: datetime | None = None
    until: datetime | None = None
    overdue_at: datetime | None = None  # only cases past a deadline at this moment
    query: str = ""
    sort: str = "new"
    offset: int = 0
    limit: int = 25
    extra: dict[str, str] = field(default_factory=dict)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


SORTS = {
    "new": (Complaint.created_at.desc(), Case.id.desc()),
    "old": (Complaint.created_at, Case.id),
    "due": (Case.resolve_due, Case.id),
    "code": (Case.code, Case.id),
    "status": (Case.status, Complaint.created_at.desc()),
}


class WebRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    # -- sign-in links ---------------------------------------------------------------------------------

    async def add_token(self, token_hash: str, staff_id: int, now: datetime, expires_at: datetime) -> None:
        self.session.add(WebLoginToken(token_hash=token_hash, staff_id=staff_id, created_at=now, expires_at=expires_at))
        await self.session.flush()

    async def use_token(self, token_hash: str, now: datetime) -> int | None:
        """Mark the link used and return its staff id; None when unknown, used already or expired."""
        table = WebLoginToken.__table__
        result = await self.session.execute(
            update(table)
            .where(table.c.token_hash == token_hash, table.c.used_at.is_(None), table.c.expires_at > now)
            .values(used_at=now)
            .returning(table.c.staff_id)
        )
        return result.scalar_one_or_none()

    # -- sessions --------------------------------------------------------------------------------------

    async def add_session(self, row: WebSession) -> WebSession:
        self.session.add(row)
        await self.session.flush()
        return row

    async def live_session(self, token_hash: str, now: datetime, idle_since: datetime) -> WebSession | None:
        result = await self.session.execute(
            select(WebSession).where(
                WebSession.token_hash == token_hash,
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
                WebSession.last_seen_at > idle_since,
            )
        )
        return result.scalar_one_or_none()

    async def sessions(self, now: datetime, idle_since: datetime) -> list[tuple[WebSession, StaffMember]]:
        result = await self.session.execute(
            select(WebSession, StaffMember)
            .join(StaffMember, StaffMember.id == WebSession.staff_id)
            .where(WebSession.revoked_at.is_(None), WebSession.expires_at > now, WebSession.last_seen_at > idle_since)
            .order_by(WebSession.last_seen_at.desc())
        )
        return [(s, m) for s, m in result.all()]

    async def revoke(self, session_id: int, now: datetime) -> bool:
        table = WebSession.__table__
        result = await self.session.execute(
            update(table).where(table.c.id == session_id, table.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return bool(result.rowcount)

    # -- the cases list --------------------------------------------------------------------------------

    async def unindexed(self, limit: int = 5000) -> list[tuple[int, str, Complaint]]:
        """Cases without a search row (a deleted case takes its row along, so equal counts mean none)."""
        cases = select(func.count()).select_from(Case).scalar_subquery()
        indexed = select(func.count()).select_from(CaseSearch).scalar_subquery()
        if not (await self.session.execute(select(cases - indexed))).scalar_one():
            return []
        result = await self.session.execute(
            select(Case.id, Case.code, Complaint)
            .join(Complaint, Complaint.id == Case.complaint_id)
            .outerjoin(CaseSearch, CaseSearch.case_id == Case.id)
            .where(CaseSearch.case_id.is_(None))
            .limit(limit)
        )
        return [(case_id, code, complaint) for case_id, code, complaint in result.all()]

    async def index(self, rows: Iterable[tuple[int, str]]) -> None:
        for case_id, folded in rows:
            self.session.add(CaseSearch(case_id=case_id, folded=folded))
        await self.session.flush()

    def _where(self, f: CaseFilter) -> list:
        where: list = []
        if f.leads is not None:
            seen = [Case.lead.in_(list(f.leads))]
            seen += [cast(Case.copies, String).like(_like(f'"{a}"'), escape="\\") for a in sorted(f.copies)]
            where.append(or_(*seen))
        if f.statuses:
            where.append(Case.status.in_(list(f.statuses)))
        for column, value in ((Complaint.category, f.category), (Case.lead, f.lead), (Complaint.area, f.area)):
            if value:
                where.append(column == value)
        if f.platform:
            where.append(Complaint.platform == f.platform)
        if f.since is not None:
            where.append(Complaint.created_at >= f.since)
        if f.until is not None:
            where.append(Complaint.created_at < f.until)
        if f.overdue_at is not None:
            late_ack = and_(Case.status.in_(UNACKNOWLEDGED), Case.ack_due <= f.overdue_at)
            where.append(and_(Case.status.in_(OPEN_STATUSES), or_(late_ack, Case.resolve_due <= f.overdue_at)))
        if f.query:
            where.append(CaseSearch.folded.like(_like(f.query), escape="\\"))
        return where

    async def find(self, f: CaseFilter) -> tuple[int, list[tuple[Case, Complaint]]]:
        """One page of the cases matching ``f`` and how many match in all."""
        base = select(Case, Complaint).join(Complaint, Complaint.id == Case.complaint_id)
        counted = select(func.count()).select_from(Case).join(Complaint, Complaint.id == Case.complaint_id)
        if f.query:
            base = base.join(CaseSearch, CaseSearch.case_id == Case.id)
            counted = counted.join(CaseSearch, CaseSearch.case_id == Case.id)
        where = self._where(f)
        total = (await self.session.execute(counted.where(*where))).scalar_one()
        page = base.where(*where).order_by(*SORTS.get(f.sort, SORTS["new"])).offset(f.offset).limit(f.limit)
        return total, [(case, complaint) for case, complaint in (await self.session.execute(page)).all()]

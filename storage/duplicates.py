"""Likely duplicates among open cases: what matches a new case, the suggestions shown on its card, the merges.

* ``case_duplicates``: one row per (case, other case) suggested, with why (same seller, shop link, photo,
  reporter, close description) and its state: suggested, dismissed («Không trùng») or merged.
* The searches use indexed keys (``cases.seller_key``, ``cases.link_key``, ``complaint_photos.sha256``, the
  reporter index of ``complaints``); the close-description search reads the newest open cases of one category.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint, func, or_, select, update
from sqlmodel import Field, SQLModel

from storage.cases import OPEN_STATUSES, Case
from storage.complaints import Complaint, ComplaintPhoto
from storage.models import utc_column
from storage.session import DbSession


class DuplicateState(enum.StrEnum):
    SUGGESTED = "suggested"
    DISMISSED = "dismissed"
    MERGED = "merged"


class CaseDuplicate(SQLModel, table=True):
    __tablename__ = "case_duplicates"
    __table_args__ = (UniqueConstraint("case_id", "other_id", name="uq_case_duplicates_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    other_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False))
    other_code: str = Field(max_length=16)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=DuplicateState.SUGGESTED.value, max_length=16)
    created_at: datetime = utc_column()


class DuplicateRepository:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    def _open_others(self, case_id: int):
        return select(Case.id, Case.code).where(Case.status.in_(OPEN_STATUSES), Case.id != case_id)

    async def same_keys(self, case: Case) -> list[tuple[int, str, list[str]]]:
        """Open cases with the same seller key or shop link: (id, code, which of "seller", "link")."""
        keys = [Case.seller_key == case.seller_key] if case.seller_key else []
        keys += [Case.link_key == case.link_key] if case.link_key else []
        if not keys:
            return []
        query = self._open_others(case.id).add_columns(Case.seller_key, Case.link_key).where(or_(*keys))
        found = []
        for other_id, code, seller, link in (await self.session.execute(query.limit(50))).all():
            same = [("seller", seller == case.seller_key), ("link", link is not None and link == case.link_key)]
            found.append((other_id, code, [name for name, hit in same if hit]))
        return found

    async def same_photos(self, case: Case, hashes: Iterable[str]) -> list[tuple[int, str]]:
        wanted = list(hashes)
        if not wanted:
            return []
        query = (
            self._open_others(case.id)
            .join(ComplaintPhoto, ComplaintPhoto.complaint_id == Case.complaint_id)
            .where(ComplaintPhoto.sha256.in_(wanted))
            .distinct()
        )
        return [(i, c) for i, c in (await self.session.execute(query.limit(50))).all()]

    async def same_reporter(self, case: Case, channel: str, user_id: str) -> list[tuple[int, str]]:
        query = (
            self._open_others(case.id)
            .join(Complaint, Complaint.id == Case.complaint_id)
            .where(Complaint.channel == channel, Complaint.user_id == user_id)
        )
        return [(i, c) for i, c in (await self.session.execute(query.limit(50))).all()]

    async def descriptions(self, case: Case, limit: int) -> list[tuple[int, str, str]]:
        """The newest open cases with a description to compare: (id, code, folded description). Core columns,
        not ORM entities: a thousand rows cost a third as much."""
        table = Case.__table__
        query = (
            select(table.c.id, table.c.code, table.c.description_key)
            # coalesce(): walk the primary key backwards and stop at ``limit`` rather than sort every open case
            # found through the status index (SQLite's choice otherwise: 4× the CPU at 10,000 open cases)
            .where(func.coalesce(table.c.status, "").in_(OPEN_STATUSES), table.c.id != case.id)
            .where(table.c.description_key.is_not(None))
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        return [(i, c, d) for i, c, d in (await self.session.execute(query)).all()]

    async def suggest(self, case_id: int, other_id: int, other_code: str, reasons: list[str], now: datetime) -> None:
        self.session.add(
            CaseDuplicate(case_id=case_id, other_id=other_id, other_code=other_code, reasons=reasons, created_at=now)
        )
        await self.session.flush()

    async def suggested(self, case_id: int) -> list[CaseDuplicate]:
        query = select(CaseDuplicate).where(
            CaseDuplicate.case_id == case_id, CaseDuplicate.state == DuplicateState.SUGGESTED.value
        )
        return list((await self.session.execute(query.order_by(CaseDuplicate.id))).scalars())

    async def settle(self, case_id: int, state: DuplicateState, other_id: int | None = None) -> None:
        """Mark the case's suggestions (or the one of ``other_id``) merged or dismissed."""
        table = CaseDuplicate.__table__
        query = update(table).where(table.c.case_id == case_id, table.c.state == DuplicateState.SUGGESTED.value)
        if other_id is not None:
            query = query.where(table.c.other_id == other_id)
        await self.session.execute(query.values(state=state.value))

    async def merged_into(self, target_id: int) -> list[tuple[Case, Complaint]]:
        """The cases merged into ``target_id``, with their complaints (oldest first)."""
        query = (
            select(Case, Complaint)
            .join(Complaint, Complaint.id == Case.complaint_id)
            .where(Case.merged_into == target_id)
            .order_by(Case.id)
        )
        return [(c, p) for c, p in (await self.session.execute(query)).all()]

    async def follow(self, old_target: int, new_target: int) -> None:
        """Cases merged into ``old_target`` now follow ``new_target`` (it was merged itself)."""
        table = Case.__table__
        await self.session.execute(
            update(table).where(table.c.merged_into == old_target).values(merged_into=new_target)
        )

"""Likely duplicates among open cases: what matches a new case, the suggestions shown on its card, the merges.

* ``case_duplicates``: one row per (case, other case) suggested, with why (same seller, shop link, photo,
  reporter, close description) and its state: suggested, dismissed («Không trùng») or merged.
* The search is one statement (:meth:`DuplicateRepository.candidates`): indexed keys (``cases.seller_key``,
  ``cases.link_key``, ``complaint_photos.sha256``, the reporter index of ``complaints``) and the newest open
  cases' folded descriptions, which the caller compares.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Integer,
    UniqueConstraint,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
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
    def __init__(self, session: DbSession, *, is_sqlite: bool = True) -> None:
        self.session = session
        self.is_sqlite = is_sqlite

    async def candidates(
        self, case: Case, hashes: Iterable[str], reporter: tuple[str, str], pool: int
    ) -> list[tuple[str, int, str, str | None]]:
        """Every open case that may be a duplicate of ``case``, in ONE statement (one round trip): rows of
        (kind, id, code, detail) where kind is "seller" or "link" (the same key), "photo" (a photo with one of
        ``hashes``), "reporter" (the same (channel, user)), or "text" (one of the newest ``pool`` open cases with
        a description; detail: its folded description, compared by the caller)."""
        table, photos, complaints = Case.__table__, ComplaintPhoto.__table__, Complaint.__table__
        is_open = table.c.status.in_(OPEN_STATUSES)
        others = (is_open, table.c.id != case.id)

        def found(kind: str, *where: Any, join: Any = None, detail: Any = None, distinct: bool = False):
            source = table.join(*join) if join is not None else table
            columns = [
                literal(kind).label("kind"),
                table.c.id,
                table.c.code,
                (detail if detail is not None else null()).label("detail"),
            ]
            query = select(*columns).select_from(source).where(*others, *where)
            return (query.distinct() if distinct else query).limit(50)

        parts = [
            found(name, getattr(table.c, f"{name}_key") == key)
            for name, key in (("seller", case.seller_key), ("link", case.link_key))
            if key
        ]
        wanted = list(hashes)
        if wanted:
            on_photo = (photos, photos.c.complaint_id == table.c.complaint_id)
            parts.append(found("photo", photos.c.sha256.in_(wanted), join=on_photo, distinct=True))
        on_complaint = (complaints, complaints.c.id == table.c.complaint_id)
        channel, user_id = reporter
        parts.append(
            found("reporter", complaints.c.channel == channel, complaints.c.user_id == user_id, join=on_complaint)
        )
        if case.description_key:
            # SQLite: coalesce() makes it walk the primary key backwards and stop at ``pool`` rather than sort
            # every open case found through the status index (4× the CPU at 10,000 open cases). PostgreSQL: the
            # plain condition, which is the predicate of the partial index ix_cases_open_described (migration
            # 0016), walked backwards (with coalesce() it read all 10,000 rows and sorted them: 7 ms a search).
            status = func.coalesce(table.c.status, "") if self.is_sqlite else table.c.status
            texts = (
                select(literal("text").label("kind"), table.c.id, table.c.code, table.c.description_key.label("detail"))
                .where(status.in_(OPEN_STATUSES), table.c.id != case.id)
                .where(table.c.description_key.is_not(None))
                .order_by(table.c.id.desc())
                .limit(pool)
            )
            parts.append(texts)
        statement = union_all(*(select(part.subquery()) for part in parts))
        return [(k, i, c, d) for k, i, c, d in (await self.session.execute(statement)).all()]

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

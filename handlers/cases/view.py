"""A case with what showing it needs (its complaint, photos and audit trail), loaded once per change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers.cases.vocabulary import CaseError
from storage.cases import Case, CaseAction
from storage.complaints import Complaint, ComplaintPhoto
from storage.db import UnitOfWork
from storage.duplicates import CaseDuplicate


@dataclass
class CaseView:
    """What rendering a case needs, loaded once per change."""

    case: Case
    complaint: Complaint
    photos: list[ComplaintPhoto]
    history: list[CaseAction]
    duplicates: list[CaseDuplicate] = field(default_factory=list)  # suggested, not settled
    merged: list[tuple[Case, Complaint]] = field(default_factory=list)  # duplicates merged into this case
    merged_code: str | None = None  # the case this one was merged into

    @property
    def complaints(self) -> list[Complaint]:
        """Every reporter's complaint the case now answers: its own, then those merged into it."""
        return [self.complaint, *(complaint for _, complaint in self.merged)]


async def load_view(uow: UnitOfWork, case: Case, complaint: Complaint | None = None) -> CaseView:
    if complaint is None:
        complaint = await uow.complaints.get(case.code)
        if complaint is None:
            raise CaseError(f"Không tìm thấy phản ánh {case.code}.")
    assert complaint.id is not None and case.id is not None
    photos = await uow.complaints.photos(complaint.id)
    history = await uow.cases.actions(case.id)
    target = await uow.cases.get(case.merged_into) if case.merged_into else None
    return CaseView(
        case, complaint, photos, history, duplicates=await uow.duplicates.suggested(case.id),
        merged=await uow.duplicates.merged_into(case.id), merged_code=target.code if target else None,
    )  # fmt: skip


def photo_paths(media: Any, photos: list[ComplaintPhoto], *, source: str | None = "report") -> list[str]:
    """Paths of the stored photos (those still in the media store), in the order they were received."""
    if media is None:
        return []
    chosen = [p for p in photos if source is None or p.source == source]
    return [str(media.path(p.sha256)) for p in chosen if media.exists(p.sha256)][:10]

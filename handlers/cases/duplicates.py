"""Likely duplicates, found when a report is routed and shown on its card («Có thể trùng: PA-…»).

A new case is compared with the open cases: the same seller (on the same platform, after folding), the same shop
link (normalised: no scheme, ``www.``, query or trailing slash, lower case), a photo with the same SHA-256, the
same reporter, or a close description (rapidfuzz token-sort ratio ≥ ``DESCRIPTION_SCORE`` over the folded
descriptions of the newest ``DESCRIPTION_POOL`` open cases, whatever their category: a reporter may file the
same problem under another one). Staff merge («Gộp vào PA-…», an action of the table) or dismiss
(«Không trùng»).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process

from handlers.matching import fold_text
from storage.cases import Case
from storage.complaints import Complaint
from storage.db import UnitOfWork

SHOWN = 3  # suggestions on a card
DESCRIPTION_SCORE = 85
DESCRIPTION_POOL = 1000
MIN_DESCRIPTION = 20  # characters: shorter descriptions are not compared
REASON_LABELS = {
    "seller": "cùng người bán",
    "link": "cùng đường link",
    "photo": "cùng ảnh",
    "reporter": "cùng người phản ánh",
    "description": "nội dung gần giống",
}
_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")


def seller_key(platform: str, seller: str) -> str | None:
    folded = _SPACES.sub(" ", fold_text(seller)).strip()
    return f"{platform}:{folded}"[:300] if len(folded) >= 3 else None


def link_key(where: str | None) -> str | None:
    """A shop link as duplicates compare it; None when ``where`` is not a link."""
    text = (where or "").strip().lower()
    if not re.match(r"^(https?://)?[\w-]+(\.[\w-]+)+(/|$)", text):
        return None
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = parts.netloc.removeprefix("www.").removeprefix("m.")
    return f"{host}{parts.path.rstrip('/')}"[:300] or None


def set_keys(case: Case, complaint: Complaint) -> None:
    case.seller_key = seller_key(complaint.platform, complaint.seller)
    case.link_key = link_key(complaint.seller_where)
    case.description_key = description_key(complaint.description)


def description_key(text: str) -> str | None:
    """The description folded, its words sorted: plain ``ratio`` on two keys is ``token_sort_ratio`` on the texts,
    at a tenth of the cost (nothing to sort or fold per comparison)."""
    if len(text) < MIN_DESCRIPTION:
        return None
    return " ".join(sorted(_WORDS.findall(fold_text(text))))[:2000]


async def find_duplicates(uow: UnitOfWork, case: Case, complaint: Complaint, hashes: list[str]) -> dict[int, dict]:
    """The open cases that look like ``case``: ``{id: {"code", "reasons"}}``, most reasons first."""
    found: dict[int, dict] = {}

    def add(other_id: int, code: str, reason: str) -> None:
        entry = found.setdefault(other_id, {"code": code, "reasons": []})
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)

    pool: list[tuple[int, str, str]] = []
    reporter = (complaint.channel, complaint.user_id)
    for kind, other_id, code, detail in await uow.duplicates.candidates(case, hashes, reporter, DESCRIPTION_POOL):
        if kind == "text":
            pool.append((other_id, code, detail or ""))
        else:
            add(other_id, code, kind)
    if case.description_key and pool:
        choices = {i: text for i, (_, _, text) in enumerate(pool) if text}
        close = process.extract(
            case.description_key, choices, scorer=fuzz.ratio, processor=None,
            score_cutoff=DESCRIPTION_SCORE, limit=None,
        )  # fmt: skip
        for _, _, index in close:
            add(pool[index][0], pool[index][1], "description")
    return dict(sorted(found.items(), key=lambda item: (-len(item[1]["reasons"]), item[0])))


async def suggest_duplicates(
    uow: UnitOfWork, case: Case, complaint: Complaint, hashes: list[str], now: datetime
) -> int:
    """Find and record the suggestions of a newly routed case (its card shows them)."""
    assert case.id is not None
    set_keys(case, complaint)
    found = await find_duplicates(uow, case, complaint, hashes)
    for other_id, entry in list(found.items())[:SHOWN]:
        await uow.duplicates.suggest(case.id, other_id, entry["code"], entry["reasons"], now)
    return len(found)


def reasons_text(reasons: list[str]) -> str:
    return "; ".join(REASON_LABELS.get(r, r) for r in reasons)

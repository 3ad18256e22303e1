"""Photos as evidence: fetched and stored before the step's transaction, then taken into a report (or added
to one later) with a reason for each one that could not be kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.core import Context, Services
from handlers.types import IncomingMessage, MediaRef
from storage.complaints import ComplaintPhoto
from storage.media import BrokenImage, MediaTooLarge, MediaUnavailable, NotAnImage, StoredMedia

logger = logging.getLogger(__name__)

MAX_PHOTOS = 10
NO_FILE = "Mình không nhận được tệp nào (có thể đường dẫn hoặc tệp bị lỗi). Bạn gửi lại ảnh nhé."


@dataclass(frozen=True, slots=True)
class Fetched:
    """One media item of a message after :func:`fetch_media`: stored, or the reason it was not."""

    file_id: str
    file_name: str | None
    stored: StoredMedia | None = None
    error: str | None = None  # too_large, not_image, broken, unavailable, over_limit
    size: int | None = None
    limit: int | None = None


def media_refs(msg: IncomingMessage) -> list[MediaRef]:
    if msg.photos:
        return list(msg.photos)
    return [msg.document] if msg.document is not None else []


async def fetch_media(msg: IncomingMessage, services: Services, room: int) -> list[Fetched]:
    """Download and store the message's photos one at a time (never all in memory); at most ``room``."""
    store = services.media
    download = services.downloaders.get(msg.channel)
    results: list[Fetched] = []
    for i, ref in enumerate(media_refs(msg)):
        if i >= room:
            results.append(Fetched(ref.file_id, ref.file_name, error="over_limit"))
            continue
        if store is None:
            results.append(Fetched(ref.file_id, ref.file_name, error="unavailable"))
            continue
        try:
            stored = await store.save(ref, download)
        except MediaTooLarge as exc:
            results.append(Fetched(ref.file_id, ref.file_name, error="too_large", size=exc.size, limit=exc.limit))
        except NotAnImage:
            results.append(Fetched(ref.file_id, ref.file_name, error="not_image"))
        except BrokenImage:
            results.append(Fetched(ref.file_id, ref.file_name, error="broken"))
        except MediaUnavailable as exc:
            logger.warning("could not fetch media from %s: %s", msg.channel, exc)
            results.append(Fetched(ref.file_id, ref.file_name, error="unavailable"))
        else:
            results.append(Fetched(ref.file_id, ref.file_name, stored=stored))
    return results


def _mb(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / 1024 / 1024:.1f}".replace(".", ",").removesuffix(",0")


def problem_text(item: Fetched, name: str, max_photos: int) -> str:
    if item.error == "too_large":
        return (
            f"• {name} quá lớn ({_mb(item.size)} MB; tối đa {_mb(item.limit)} MB) nên mình chưa lưu. Bạn gửi "
            "dạng ảnh thường (không gửi dạng tệp) hoặc chụp lại với dung lượng nhỏ hơn nhé."
        )
    if item.error == "not_image":
        return f"• {name} không phải ảnh (mình nhận ảnh JPEG, PNG, WebP, HEIC) nên chưa lưu."
    if item.error == "broken":
        return f"• {name} bị lỗi hoặc chưa tải trọn vẹn nên mình không mở được. Bạn gửi lại giúp mình nhé."
    if item.error == "over_limit":
        return f"• Mỗi phản ánh nhận tối đa {max_photos} ảnh nên {name[0].lower() + name[1:]} chưa được lưu."
    return f"• Mình chưa tải được {name[0].lower() + name[1:]} (lỗi kết nối). Bạn gửi lại giúp mình nhé."


@dataclass
class Intake:
    added: list[dict[str, Any]]
    problems: list[str]
    duplicates: int = 0


async def take_photos(ctx: Context, known: set[str], room: int, max_photos: int) -> Intake:
    """Turn the prepared (or, as a fallback, freshly fetched) media of ``ctx.msg`` into photo entries."""
    fetched = ctx.prepared if isinstance(ctx.prepared, list) else None
    if fetched is None:
        fetched = await fetch_media(ctx.msg, ctx.services, max(room, 0))
    intake = Intake([], [])
    several = len(fetched) > 1
    for i, item in enumerate(fetched, start=1):
        name = f"Tệp «{item.file_name}»" if item.file_name else (f"Ảnh thứ {i}" if several else "Ảnh này")
        if item.stored is None:
            intake.problems.append(problem_text(item, name, max_photos))
            continue
        if item.stored.sha256 in known:
            intake.duplicates += 1
            continue
        if len(intake.added) >= room:
            intake.problems.append(problem_text(Fetched(item.file_id, None, error="over_limit"), name, max_photos))
            continue
        known.add(item.stored.sha256)
        intake.added.append(
            {
                "sha256": item.stored.sha256,
                "size": item.stored.size,
                "mime": item.stored.mime,
                "file_id": item.file_id[:255],
                "file_name": (item.file_name or "")[:255] or None,
                "at": ctx.now.isoformat(),
            }
        )
    return intake


def photo_rows(entries: list[dict[str, Any]], source: str) -> list[ComplaintPhoto]:
    return [
        ComplaintPhoto(
            sha256=e["sha256"],
            size=e["size"],
            mime=e["mime"],
            platform_file_id=e.get("file_id"),
            file_name=e.get("file_name"),
            source=source,
            received_at=datetime.fromisoformat(e["at"]),
        )
        for e in entries
    ]

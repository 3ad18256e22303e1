"""A reporter's way through the complaint flow on the test channel, step by step."""

from __future__ import annotations

import csv
import hashlib
import io
import re

from sqlalchemy import func, select

from handlers.complaints.records import EXPORT_COLUMNS, EXPORT_HEADERS
from storage.complaints import Complaint, ComplaintPhoto
from storage.models import OutboxMessage
from tests.support.chat import ChatHarness, Person

CODE = re.compile(r"PA-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}")


async def to_photos(
    an: Person,
    seller: str = "Shop Mỹ Phẩm Hoa Hồng",
    product: str = "Son môi Dior",
    description: str = "Son bị chảy, mùi lạ, vỏ hộp in sai chính tả",
) -> None:
    """Answer the questions up to the photo step, mixing buttons and typed answers."""
    await an.say("/phananh")
    assert "vấn đề gì" in an.text
    await an.press("Hàng giả / hàng nhái")
    assert "mua hàng ở đâu" in an.text
    await an.press("Shopee")
    await an.say(seller)
    assert "đường link" in an.text
    await an.say("https://shopee.vn/hoahong")
    await an.say(product)
    assert "ngày nào" in an.text
    await an.press("Hôm qua")
    await an.say(description)
    assert "gửi ảnh" in an.text


async def to_summary(an: Person, phone: str = "0912 345 678") -> None:
    await an.press("Đồng Xoài")
    assert "Số điện thoại" in an.text
    await an.say(phone)
    assert "đồng ý để cán bộ gọi" in an.text
    await an.press("Đồng ý")
    assert "kiểm tra lại phản ánh" in an.text


async def submit(an: Person) -> str:
    await an.press("Gửi phản ánh")
    assert "Đã gửi phản ánh" in an.text, an.text
    match = CODE.search(an.text)
    assert match, an.text
    return match.group(0)


async def file_report(an: Person, seller: str = "Shop Mỹ Phẩm Hoa Hồng", product: str = "Son môi Dior") -> str:
    await to_photos(an, seller, product)
    await an.press("Bỏ qua")
    await to_summary(an)
    return await submit(an)


def read_export(text: str) -> list[dict[str, str]]:
    """The export's rows by column key, after checking the header row is the Vietnamese one."""
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == [EXPORT_HEADERS[key] for key in EXPORT_COLUMNS]
    return [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows]


async def complaint(chat: ChatHarness, code: str) -> tuple[Complaint, list[ComplaintPhoto]]:
    async with chat.app.db.unit_of_work() as uow:
        row = await uow.complaints.get(code)
        assert row is not None and row.id is not None
        return row, await uow.complaints.photos(row.id)


async def count(chat: ChatHarness, model) -> int:
    async with chat.app.db.unit_of_work() as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


async def outbox(chat: ChatHarness, kind: str) -> list[OutboxMessage]:
    async with chat.app.db.unit_of_work() as uow:
        result = await uow.session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind))
        return list(result.scalars())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def complaint_events(chat: ChatHarness, complaint_id: int):
    async with chat.app.db.unit_of_work() as uow:
        return await uow.complaints.events(complaint_id)

"""The complaint storage contract over SQLite and PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import IntegrityError

from handlers.clock import as_utc
from handlers.complaints.drafts import close_stale_drafts
from handlers.complaints.flow import FLOW
from storage.complaints import (
    CODE_ALPHABET,
    Complaint,
    ComplaintEvent,
    ComplaintPhoto,
    ComplaintStatus,
    EventKind,
    make_code,
)
from storage.db import Database

NOW = datetime(2024, 11, 29, 1, 2, 3, tzinfo=UTC)
SHA = ["a" * 64, "b" * 64, "c" * 64]


@pytest.fixture
async def db(db_url: str):
    database = Database(db_url)
    await asyncio.to_thread(database.upgrade)
    yield database
    await database.dispose()


def new_complaint(code: str, *, user: str = "42", at: datetime = NOW, status: str = "submitted", **fields) -> Complaint:
    values = {
        "code": code,
        "status": status,
        "channel": "telegram",
        "chat_id": user,
        "user_id": user,
        "anonymous": False,
        "reporter_name": "Lan",
        "phone": "+84912345678",
        "contact_consent": True,
        "category": "hang-gia",
        "platform": "shopee",
        "seller": "Shop Ánh Dương",
        "seller_where": "https://shopee.vn/anhduong",
        "product": "Nước hoa Chanel",
        "purchase_date": date(2024, 11, 28),
        "description": "Mùi khác hẳn hàng thật, vỏ hộp mờ, tem chống giả bóc ra được",
        "photo_note": "Ảnh tem",
        "area": "dong-xoai",
        "created_at": at,
        "updated_at": at,
    }
    values.update(fields)
    return Complaint(**values)


def photo(sha: str, at: datetime = NOW) -> ComplaintPhoto:
    return ComplaintPhoto(sha256=sha, size=1234, mime="image/jpeg", platform_file_id="AgAC-1", received_at=at)


def submitted(at: datetime = NOW) -> ComplaintEvent:
    return ComplaintEvent(at=at, kind=EventKind.SUBMITTED.value, status="submitted", note="Đã gửi phản ánh")


async def test_migrations_create_the_complaint_tables(db: Database) -> None:
    engine = create_engine(db.url)
    inspector = inspect(engine)
    names = set(inspector.get_table_names())
    uniques = {u["name"] for u in inspector.get_unique_constraints("complaints")}
    engine.dispose()
    assert {"complaints", "complaint_photos", "complaint_events"} <= names
    assert "uq_complaints_code" in uniques
    await asyncio.to_thread(db.upgrade)  # idempotent, with every branch head applied


async def test_a_complaint_round_trips_with_photos_and_history(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.complaints.add(new_complaint("PA-2345-67"), [photo(SHA[0]), photo(SHA[1])], [submitted()])
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.complaints.get("PA-2345-67")
        assert row is not None and row.id is not None
        photos = await uow.complaints.photos(row.id)
        events = await uow.complaints.events(row.id)
    assert row.seller == "Shop Ánh Dương" and row.purchase_date == date(2024, 11, 28)
    assert row.contact_consent is True and row.anonymous is False and row.open
    assert as_utc(row.created_at) == NOW
    assert [p.sha256 for p in photos] == SHA[:2] and as_utc(photos[0].received_at) == NOW
    assert [e.note for e in events] == ["Đã gửi phản ánh"]


async def test_the_code_is_unique_and_a_clash_saves_nothing(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.complaints.add(new_complaint("PA-2345-67"), [], [submitted()])
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as uow:
            await uow.complaints.add(new_complaint("PA-2345-67", user="43"), [photo(SHA[0])], [submitted()])
            await uow.commit()
    async with db.unit_of_work() as uow:
        assert len(await uow.complaints.search()) == 1
        assert await uow.complaints.count_since("telegram", "43", NOW - timedelta(days=1)) == 0


async def test_new_codes_skip_taken_ones(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.complaints.add(new_complaint("PA-2345-67"), [], [])
        await uow.commit()
    codes = iter(["PA-2345-67", "PA-2345-67", "PA-ABCD-EF"])
    async with db.unit_of_work() as uow:
        assert await uow.complaints.new_code(lambda: next(codes)) == "PA-ABCD-EF"
    code = make_code()
    assert len(code) == 10 and set(code[3:7] + code[8:]) <= set(CODE_ALPHABET)
    assert len({make_code() for _ in range(2000)}) == 2000


async def test_a_photo_is_attached_once_per_complaint(db: Database) -> None:
    async with db.unit_of_work() as uow:
        row = await uow.complaints.add(new_complaint("PA-2345-67"), [photo(SHA[0])], [])
        added = await uow.complaints.add_photos(row, [photo(SHA[0]), photo(SHA[1]), photo(SHA[1])], NOW)
        await uow.commit()
    assert added == 1
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as uow:
            row = await uow.complaints.get("PA-2345-67")
            uow.session.add(
                ComplaintPhoto(complaint_id=row.id, **photo(SHA[0]).model_dump(exclude={"id", "complaint_id"}))
            )
            await uow.session.flush()


async def test_queries_by_reporter_status_and_time(db: Database) -> None:
    async with db.unit_of_work() as uow:
        for i, (user, hours, status) in enumerate(
            [("42", 0, "submitted"), ("42", 5, "resolved"), ("42", 30, "submitted"), ("7", 1, "in_progress")]
        ):
            await uow.complaints.add(
                new_complaint(
                    f"PA-2345-{CODE_ALPHABET[i]}2", user=user, at=NOW - timedelta(hours=hours), status=status
                ),
                [photo(SHA[j]) for j in range(i % 3)],
                [],
            )
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.complaints.count_since("telegram", "42", NOW - timedelta(hours=24)) == 2
        mine = await uow.complaints.by_reporter("telegram", "42", limit=5)
        assert [c.code for c in mine] == ["PA-2345-22", "PA-2345-32", "PA-2345-42"]  # newest first
        assert [c.code for c in await uow.complaints.search(statuses=["submitted"])] == ["PA-2345-42", "PA-2345-22"]
        window = await uow.complaints.search(since=NOW - timedelta(hours=6), until=NOW)
        assert [c.code for c in window] == ["PA-2345-32", "PA-2345-52"]
        counts = await uow.complaints.photo_counts([c.id for c in mine])
        assert sorted(counts.values()) == [1, 2]


async def test_status_changes_are_public_history(db: Database) -> None:
    async with db.unit_of_work() as uow:
        row = await uow.complaints.add(new_complaint("PA-2345-67"), [], [submitted()])
        later = NOW + timedelta(hours=2)
        await uow.complaints.set_status(row, ComplaintStatus.RESOLVED, "Đã xử lý", later)
        hidden = ComplaintEvent(at=later, kind="note", note="Ghi chú nội bộ", public=False)
        await uow.complaints.add_event(row, hidden)
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.complaints.get("PA-2345-67")
        public = await uow.complaints.events(row.id)
        everything = await uow.complaints.events(row.id, public_only=False)
    assert row.status == "resolved" and not row.open and as_utc(row.updated_at) == later
    assert [e.note for e in public] == ["Đã gửi phản ánh", "Đã xử lý"]
    assert len(everything) == 3


async def test_stale_drafts_are_found_and_closed(db: Database) -> None:
    async with db.unit_of_work() as uow:
        for user, flow, hours in [("1", FLOW, -1), ("2", FLOW, 3), ("3", "qa", -1)]:
            await uow.conversations.save(
                "telegram",
                user,
                user,
                flow=flow,
                step="seller",
                data={},
                deadline=NOW + timedelta(hours=hours),
                now=NOW,
            )
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert [r.user_id for r in await uow.complaints.stale_drafts(FLOW, NOW)] == ["1"]
    assert await close_stale_drafts(db, NOW) == 1
    async with db.unit_of_work() as uow:
        assert await uow.conversations.get("telegram", "1", "1") is None
        assert await uow.conversations.get("telegram", "2", "2") is not None
        assert await uow.conversations.get("telegram", "3", "3") is not None
        assert await uow.outbox.counts(kind="complaint_draft_closed") == {"pending": 1}

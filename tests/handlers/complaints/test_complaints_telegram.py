"""A complaint with a photo album over Telegram: the real python-telegram-bot Application, the fake Bot API
(getFile and the file download included), the media store on disk."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import create_app
from handlers.clock import FixedClock
from storage.complaints import Complaint
from tests.support.chat import DEFAULT_NOW, shared_knowledge
from tests.support.configs import plan_2024
from tests.support.fakes.telegram_api import (
    FakeTelegramAPI,
    document_update,
    photo_update,
    text_update,
)
from tests.support.images import PDF, jpeg
from tests.support.telegram import QUIET, USER, ReporterRig, inbox_channel, make_settings, push_album, to_photos


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ReporterRig]:
    async with FakeTelegramAPI() as fake:
        settings = make_settings(
            fake,
            tmp_path,
            media_dir=tmp_path / "media",
            media_max_bytes=200_000,
            album_quiet_seconds=QUIET,
            album_max_wait_seconds=3,
        )
        async with create_app(
            settings, clock=FixedClock(DEFAULT_NOW), config=plan_2024(), knowledge=shared_knowledge()
        ) as app:
            channel = inbox_channel(settings, app)
            app.register_downloader(channel.name, channel.download_to)
            await channel.start()
            try:
                yield ReporterRig(fake, app, channel)
            finally:
                await channel.stop()


async def test_a_three_photo_album_makes_one_report_with_three_stored_files_and_one_ack(rig: ReporterRig) -> None:
    await to_photos(rig)
    served = [jpeg(f"tg-{i}", 30_000 + i) for i in range(3)]
    push_album(rig, served, "album-1")
    [ack] = await rig.expect(1)
    assert "Đã nhận 3 ảnh" in ack.params["text"] and "chú thích" in ack.params["text"]
    await asyncio.sleep(QUIET * 3)
    assert len(rig.sent()) == rig.replies  # one acknowledgement for the whole album, not one per photo
    assert sorted(c.params["file_id"] for c in rig.fake.calls_of("getFile")) == [f"album-1-big-{i}" for i in range(3)]
    assert sorted(rig.fake.downloads) == [f"photos/album-1_{i}.jpg" for i in range(3)]

    assert "địa bàn nào" in await rig.press("Xong")
    await rig.say("Đồng Xoài")
    await rig.say("0912 345 678")
    summary = await rig.press("Đồng ý")
    assert "• Ảnh: 3 ảnh" in summary and "Vỏ hộp in sai" in summary
    receipt = await rig.press("Gửi phản ánh")
    assert "Mã tra cứu của bạn: PA-" in receipt

    async with rig.app.db.unit_of_work() as uow:
        [complaint] = await uow.complaints.search()
        photos = await uow.complaints.photos(complaint.id)
    assert isinstance(complaint, Complaint) and complaint.channel == "telegram" and complaint.user_id == str(USER)
    expected = [hashlib.sha256(data).hexdigest() for data in served]
    assert [p.sha256 for p in photos] == expected  # in the album's order
    for photo, data in zip(photos, served, strict=True):
        stored = rig.app.media.path(photo.sha256)
        assert stored.read_bytes() == data
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == photo.sha256 == stored.name
        assert photo.platform_file_id.startswith("album-1-big-")
    assert complaint.photo_note == "Vỏ hộp in sai"


async def test_a_message_right_after_an_album_waits_for_the_album(rig: ReporterRig) -> None:
    await to_photos(rig)
    push_album(rig, [jpeg(f"fast-{i}") for i in range(3)], "album-2")
    rig.fake.push_update(text_update("xong", user_id=USER))  # before the album's quiet time is over
    ack, question = await rig.expect(2)
    assert "Đã nhận 3 ảnh" in ack.params["text"]
    assert "địa bàn nào" in question.params["text"]


async def test_oversized_and_non_image_files_get_clear_messages(rig: ReporterRig) -> None:
    await to_photos(rig)
    # Declared over the limit: refused without even asking for the file.
    rig.fake.push_update(photo_update([("huge", 4000, 3000, 25 * 1024 * 1024)], user_id=USER))
    [reply] = await rig.expect(1)
    assert "quá lớn" in reply.params["text"] and "25 MB" in reply.params["text"]
    assert rig.fake.calls_of("getFile") == []
    # Declared small, but getFile reports the real size: refused before the download.
    rig.fake.add_file("liar", jpeg("liar", 300_000), file_path="photos/liar.jpg")
    rig.fake.push_update(photo_update([("liar", 1280, 960, 1_000)], user_id=USER))
    [reply] = await rig.expect(1)
    assert "quá lớn" in reply.params["text"]
    assert len(rig.fake.calls_of("getFile")) == 1 and rig.fake.downloads == []
    # A PDF sent as a file: checked by its content, refused, and the flow goes on.
    rig.fake.add_file("pdf-1", PDF, file_path="documents/hoa-don.pdf")
    rig.fake.push_update(document_update("pdf-1", "hoa-don.pdf", "application/pdf", len(PDF), user_id=USER))
    [reply] = await rig.expect(1)
    assert "«hoa-don.pdf» không phải ảnh" in reply.params["text"]
    # A photo sent uncompressed, as a file, is evidence like any other.
    data = jpeg("as-file", 50_000)
    rig.fake.add_file("doc-jpg", data, file_path="documents/IMG_0001.JPG")
    rig.fake.push_update(document_update("doc-jpg", "IMG_0001.JPG", "image/jpeg", len(data), user_id=USER))
    [reply] = await rig.expect(1)
    assert "Đã nhận 1 ảnh" in reply.params["text"]
    assert rig.app.media.path(hashlib.sha256(data).hexdigest()).read_bytes() == data


async def test_a_failed_download_is_reported_and_can_be_sent_again(rig: ReporterRig) -> None:
    await to_photos(rig)
    data = jpeg("flaky")
    rig.fake.add_file("flaky", data, file_path="photos/flaky.jpg")
    rig.fake.fail_next("download", 500)
    rig.fake.push_update(photo_update([("flaky", 800, 600, len(data))], user_id=USER))
    [reply] = await rig.expect(1)
    assert "chưa tải được" in reply.params["text"]
    rig.fake.push_update(photo_update([("flaky", 800, 600, len(data))], user_id=USER))
    [reply] = await rig.expect(1)
    assert "Đã nhận 1 ảnh" in reply.params["text"]

"""The pinned countdown post in a Telegram channel, against the fake Bot API: posted and pinned once, edited
only when the text changes, continued after a restart, replaced when deleted, off without configuration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from bot.channels.telegram import TelegramChannel
from bot.leader import Leader, Timing
from handlers.clock import FixedClock
from handlers.config import AppConfig, ConfigError, load_config
from handlers.reminders import channel_post
from handlers.reminders.channel_post import JOB_ID, CountdownPoster
from handlers.reminders.countdown import countdown_text
from storage.db import Database
from tests.support.cases import FAST
from tests.support.chat import DEFAULT_NOW
from tests.support.configs import PLAN_2024, plan_2024
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.telegram import make_settings

ROOT = Path(__file__).resolve().parents[3]
CHANNEL = "@kenh_sct_online_friday"


def post_config(chat: str | None = CHANNEL, minutes: int = 15) -> AppConfig:
    base = plan_2024().model_dump(mode="python")
    if chat is not None:
        base["countdown_post"] = {"telegram_chat": chat, "every_minutes": minutes}
    return AppConfig.model_validate(base)


async def _no_replies(_message):
    return []


class Rig:
    def __init__(self, fake: FakeTelegramAPI, db: Database, channel: TelegramChannel, clock: FixedClock) -> None:
        self.fake, self.db, self.channel, self.clock = fake, db, channel, clock

    async def lead(self, config: AppConfig) -> Leader:
        """A leader process (a new one each call, over the same database) running the countdown post alone,
        after its first run."""
        app = SimpleNamespace(db=self.db, config=config, clock=self.clock, codec=None, media=None)
        leader = Leader(
            app,
            {"telegram": self.channel.deliver},
            edits={"telegram": self.channel.edit},
            pins={"telegram": self.channel.pin},
            features=[channel_post],
            timing=Timing(retry_seconds=0.05, sender=FAST),
        )
        await leader.start()
        await asyncio.wait_for(leader.became_leader.wait(), 10)
        while JOB_ID in leader.jobs and leader.runs[JOB_ID] < 1:
            await asyncio.sleep(0.02)
        return leader

    def poster(self, config: AppConfig, leader: Leader) -> CountdownPoster:
        """The post's job, to run by hand at the test's moments (its state is in the database)."""
        assert leader.sender is not None
        return CountdownPoster(self.db, config, self.clock, self.channel.pin, on_queued=leader.sender.wake)

    def sent(self, chat) -> list:
        return [c for c in self.fake.calls_of("sendMessage") if c.params.get("chat_id") == chat and c.status == 200]

    def edits(self, chat) -> list:
        return [c for c in self.fake.calls_of("editMessageText") if c.params.get("chat_id") == chat]


@pytest.fixture
async def rig(db_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeTelegramAPI() as fake:
        db = Database(db_url)
        await asyncio.to_thread(db.upgrade)
        channel = TelegramChannel(make_settings(fake, tmp_path), _no_replies)
        try:
            yield Rig(fake, db, channel, FixedClock(DEFAULT_NOW))
        finally:
            await channel.close_bulk()
            await db.dispose()


async def test_post_pinned_once_edited_on_change_and_continued_after_a_restart(rig: Rig) -> None:
    config = post_config()
    first = await rig.lead(config)
    try:
        [post] = rig.sent(CHANNEL)
        assert post.params["text"] == countdown_text(config, DEFAULT_NOW)
        assert post.params["text"].startswith("⏳ Còn ")
        message_id = post.result["message_id"]
        [pin] = rig.fake.calls_of("pinChatMessage")
        assert pin.params["chat_id"] == CHANNEL and pin.params["message_id"] == message_id
        assert pin.params["disable_notification"] is True
        assert rig.fake.pinned[CHANNEL] == message_id

        poster = rig.poster(config, first)
        assert (await poster.run()).action == "unchanged"  # same moment, same text: nothing sent
        assert rig.edits(CHANNEL) == []

        rig.clock.advance(timedelta(minutes=15))
        assert (await poster.run()).action == "edited"
        [edit] = rig.edits(CHANNEL)
        assert edit.params["message_id"] == message_id
        assert edit.params["text"] == countdown_text(config, rig.clock.now()) != post.params["text"]
        assert (await poster.run()).action == "unchanged"
        assert len(rig.edits(CHANNEL)) == 1
    finally:
        await first.stop()

    second = await rig.lead(config)  # a restart: same database, new process state
    try:
        assert len(rig.sent(CHANNEL)) == 1 and len(rig.edits(CHANNEL)) == 1  # nothing new at start
        rig.clock.advance(timedelta(hours=1))
        assert (await rig.poster(config, second).run()).action == "edited"
        edits = rig.edits(CHANNEL)
        assert len(edits) == 2 and edits[-1].params["message_id"] == message_id
        assert edits[-1].params["text"] == countdown_text(config, rig.clock.now())
        assert len(rig.sent(CHANNEL)) == 1 and len(rig.fake.calls_of("pinChatMessage")) == 1
    finally:
        await second.stop()


async def test_a_deleted_post_is_replaced_by_a_new_pinned_post(rig: Rig) -> None:
    chat = -1001112223334
    config = post_config(str(chat))
    leader = await rig.lead(config)
    try:
        [post] = rig.sent(chat)
        old_id = post.result["message_id"]
        assert rig.fake.pinned[chat] == old_id
        rig.fake.delete_message(chat, old_id)  # an admin deleted the post

        poster = rig.poster(config, leader)
        rig.clock.advance(timedelta(minutes=30))
        await poster.run()
        [failed] = rig.edits(chat)
        assert failed.status == 400
        posts = rig.sent(chat)
        assert len(posts) == 2 and posts[-1].params["text"] == countdown_text(config, rig.clock.now())
        new_id = posts[-1].result["message_id"]
        pins = rig.fake.calls_of("pinChatMessage")
        assert [p.params["message_id"] for p in pins] == [old_id, new_id]
        assert rig.fake.pinned[chat] == new_id

        rig.clock.advance(timedelta(minutes=30))  # later edits go to the new post
        await poster.run()
        edits = rig.edits(chat)
        assert len(edits) == 2 and edits[-1].params["message_id"] == new_id and edits[-1].status == 200
        assert len(rig.sent(chat)) == 2
    finally:
        await leader.stop()


async def test_an_edit_that_fails_for_good_makes_the_next_run_post_again(rig: Rig) -> None:
    config = post_config()
    leader = await rig.lead(config)
    try:
        poster = rig.poster(config, leader)
        poster.wait_seconds = 1  # the edit is not delivered: do not wait long for it
        rig.fake.fail_next("editMessageText", 400, description="Bad Request: chat is archived")
        rig.clock.advance(timedelta(minutes=15))
        assert (await poster.run()).action == "edited"
        assert [c.method for c in rig.fake.failed] == ["editMessageText"]  # tried (and refused) during the run
        async with rig.db.unit_of_work() as uow:  # the sender gave up on it after its attempts
            state = await uow.channel_posts.get("countdown")
            await uow.outbox.mark_failed(state.edit_row, "gave up after 8 attempts", permanent=True)
            await uow.commit()
        rig.clock.advance(timedelta(minutes=15))
        assert (await poster.run()).action == "posted"
        assert len(rig.sent(CHANNEL)) == 2 and len(rig.fake.calls_of("pinChatMessage")) == 2
    finally:
        await leader.stop()


async def test_off_without_the_configuration(rig: Rig) -> None:
    leader = await rig.lead(post_config(None))
    try:
        assert JOB_ID not in leader.jobs
        await asyncio.sleep(0.3)
        assert rig.fake.calls_of("sendMessage") == [] and rig.fake.calls_of("pinChatMessage") == []
    finally:
        await leader.stop()


@pytest.mark.parametrize("minutes", [4, 1441])
def test_a_bad_interval_is_a_clear_config_error(tmp_path: Path, minutes: int) -> None:
    data = yaml.safe_load(PLAN_2024.read_text(encoding="utf-8"))
    assert "countdown_post" not in data  # off by default
    data["countdown_post"] = {"telegram_chat": CHANNEL, "every_minutes": minutes}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"countdown_post\.every_minutes.*từ 5 đến 1440"):
        load_config(bad)


def test_a_bad_channel_is_a_clear_config_error() -> None:
    base = plan_2024().model_dump(mode="python")
    base["countdown_post"] = {"telegram_chat": "kenh không dấu @"}
    with pytest.raises(ValueError, match=r"telegram_chat phải là @ten_kenh"):
        AppConfig.model_validate(base)

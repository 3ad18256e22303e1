"""Benchmark: forum topic renames under a burst of status changes, at Telegram's limits enforced by the fake.

One agency with ``topics: true`` and a forum supergroup; C reporters file a report with one photo each over the
fake Bot API (global 30 messages/s, 20 messages a minute per group, ``createForumTopic`` and
``editForumTopic`` counted like messages, 429 with ``retry_after`` beyond). The cards and topics are
delivered, then a staff member changes every case's status S times in a burst (📥 Tiếp nhận, 🙋 Nhận xử lý…)
before the outbox sender runs again. Printed: status changes, topics, renames sent (a waiting rename is
updated, so a burst costs one per case), 429s met, and the time the sender took. Not a test.

    python -m tests.benchmarks.bench_topics [--cases 12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from handlers.config import AppConfig
from tests.benchmarks.bench_telegram import machine
from tests.support.fakes.telegram_api import Call, callback_update, chat_dict
from tests.support.images import jpeg
from tests.support.telegram import GROUP, STAFF, CaseRig, ReporterRig, case_rig, file_with_album, telegram_config

LIMITS = {"global_rate": 30.0, "group_per_minute": 20}
PRESSES = ["Tiếp nhận", "Nhận xử lý"]  # each one a status change: acknowledged, in progress


def forum_config() -> AppConfig:
    base = telegram_config().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltt":
            agency["topics"] = True
        elif agency["id"] == "qltm":
            agency["chats"] = {}  # one group only: the forum
    return AppConfig.model_validate(base)


def data_for(card: Call, label: str) -> str:
    rows = card.params["reply_markup"]["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if label in b["text"])


async def press_all(rig: CaseRig, label: str) -> int:
    """The staff member presses ``label`` on every card (as last drawn); returns the presses."""
    drawn = [c for m in ("editMessageText", "editMessageCaption") for c in rig.to(GROUP, m)]
    edits = {c.params["message_id"]: c for c in sorted(drawn, key=lambda c: c.at)}
    before = len(rig.fake.calls_of("answerCallbackQuery"))
    sent = [*rig.to(GROUP), *rig.to(GROUP, "sendPhoto")]
    cards = [c for c in sent if "PHẢN ÁNH" in (c.params.get("text") or c.params.get("caption") or "")]
    for card in cards:
        mid = int(card.result["message_id"])
        shown = edits.get(mid, card)
        text = shown.params.get("text") or shown.params.get("caption")
        update = callback_update(
            data_for(shown, label), user_id=STAFF, chat_id=GROUP, chat_type="supergroup", message_id=mid,
            message_text=text, reply_markup=shown.params["reply_markup"],
        )  # fmt: skip
        update["callback_query"]["message"]["chat"] = chat_dict(GROUP, "supergroup")
        rig.fake.push_update(update)
        await rig.fake.wait_for("answerCallbackQuery", count=before + 1)
        before += 1
    return len(cards)


async def run(cases: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with case_rig(Path(tmp), forum_config(), **LIMITS) as rig:
            for i in range(cases):
                reporter = ReporterRig(rig.fake, rig.app, rig.channel, user=4300 + i)
                await file_with_album(reporter, [jpeg(f"topic-{i}", 20_000 + i)], album=f"t{i}")
            started = time.perf_counter()
            await rig.deliver(timeout=900)
            first = time.perf_counter() - started
            changes = 0
            for label in PRESSES:
                changes += await press_all(rig, label)
            started = time.perf_counter()
            await rig.deliver(timeout=900)
            burst = time.perf_counter() - started
            report(rig, cases, changes, first, burst)


def report(rig: CaseRig, cases: int, changes: int, first: float, burst: float) -> None:
    fake = rig.fake
    topics = fake.forum.all(GROUP)
    renames = [c for c in fake.calls_of("editForumTopic") if c.status == 200]
    in_group = [c for c in fake.rejected if c.params.get("chat_id") == GROUP]
    print(f"machine: {machine()}")
    print(f"fake limits: {LIMITS} (createForumTopic/editForumTopic counted as messages)\n")
    print("| cases | status changes | topics created | renames sent | 429 (all) | 429 in the group | "
          "first delivery s | burst delivery s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {cases} | {changes} | {len(topics)} | {len(renames)} | {fake.count_429} | {len(in_group)} | "
          f"{first:.1f} | {burst:.1f} |")  # fmt: skip
    assert all(t.name.endswith("Đang xử lý") for t in topics), [t.name for t in topics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12)
    args = parser.parse_args()
    os.umask(0o077)  # the throwaway database is made owner-only, as `run` would leave it
    asyncio.run(run(args.cases))


if __name__ == "__main__":
    main()

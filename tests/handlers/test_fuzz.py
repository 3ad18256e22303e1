"""Property-based fuzzing: generated messages (digits of other scripts, NUL and other control characters, lone
surrogates, very long texts, commands with odd arguments) sent into every conversation state, reporter's and
staff's. Each must be answered without a handler failure, and the conversation must never be stuck: a cancel
afterwards always gets its answer and /start the greeting. At least 2,000 inputs per run, on each database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import texts
from handlers.types import MessageKind
from tests.support.cases import QLTT, Inbox, cases_config, deliver, member
from tests.support.chat import DEFAULT_NOW, ChatHarness, Person

EXAMPLES = 420
INPUTS_PER_EXAMPLE = 5  # 2,100 inputs per run

ODD = ["²", "①", "٣", "፩", "１２", "\x00", "\ud800", "\udfff", "\r", "\t", "\x1b[31m", "\u200b", "\ufeff", "🇻🇳", "₫"]
WORDS = ["1", "2", "3", "0", "99", "-1", "hủy", "quay lại", "xong", "bỏ qua", "không có", "gửi", "sửa", "ẩn danh"]
COMMANDS = ["/phananh", "/tracuu", "/kiemtra", "/hoidap", "/demnguoc", "/nhacnho", "/thongke", "/traloi", "/viec"]

texts_strategy = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(ODD + list("0123456789 /.-:")), max_size=12).map("".join),
    st.lists(st.sampled_from(ODD + WORDS), min_size=1, max_size=4).map(" ".join),
    st.tuples(st.sampled_from(COMMANDS), st.sampled_from(ODD + WORDS + ["", "PA-²①٣-٣٣", "12/٣", "2024-①-02"])).map(
        " ".join
    ),
    st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "á", "\x00", "²"]), st.integers(3000, 5000)),
)


async def reporter_at(person: Person, steps: list[str]) -> None:
    for step in steps:
        if step.startswith("press:"):
            await person.press(step.removeprefix("press:"))
        else:
            await person.say(step)


TO_SELLER = ["/phananh", "press:Hàng giả", "press:Shopee"]
TO_PHOTOS = [*TO_SELLER, "Shop Hoa", "https://shopee.vn/hoa", "Son môi", "press:Hôm qua", "Son bị chảy, mùi lạ"]
TO_CONFIRM = [*TO_PHOTOS, "press:Bỏ qua", "press:Đồng Xoài", "0912 345 678", "press:Đồng ý"]
REPORTER_STATES: dict[str, list[str]] = {
    "idle": [],
    "complaint:category": ["/phananh"],
    "complaint:platform": ["/phananh", "press:Hàng giả"],
    "complaint:seller": TO_SELLER,
    "complaint:seller_where": [*TO_SELLER, "Shop Hoa"],
    "complaint:product": [*TO_SELLER, "Shop Hoa", "https://shopee.vn/hoa"],
    "complaint:purchase_date": [*TO_SELLER, "Shop Hoa", "https://shopee.vn/hoa", "Son môi"],
    "complaint:description": [*TO_SELLER, "Shop Hoa", "https://shopee.vn/hoa", "Son môi", "press:Hôm qua"],
    "complaint:photos": TO_PHOTOS,
    "complaint:area": [*TO_PHOTOS, "press:Bỏ qua"],
    "complaint:contact": [*TO_PHOTOS, "press:Bỏ qua", "press:Đồng Xoài"],
    "complaint:consent": [*TO_PHOTOS, "press:Bỏ qua", "press:Đồng Xoài", "0912 345 678"],
    "complaint:confirm": TO_CONFIRM,
    "complaint:edit": [*TO_CONFIRM, "press:Sửa"],
    "complaint:set aside": [*TO_PHOTOS, "/demnguoc"],
    "tracking": ["/tracuu"],
    "promotion": ["/kiemtra"],
    "qa": ["/hoidap"],
    "reminders": ["/nhacnho"],
    "profile": ["/vaitro"],
}


class Failures(logging.Handler):
    """Counts handler failures: the dispatcher logs each one at ERROR with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_fuzz(
    db_url: str, make_target: Callable[[ChatHarness, int], Awaitable[Person]], states: list[str], examples: int
) -> int:
    """Drive generated inputs into each state; return how many inputs were sent. In a private chat every input
    is answered; in a staff group plain talk outside a flow is rightly left alone."""
    loop = asyncio.new_event_loop()
    failures = Failures()
    logging.getLogger("handlers").addHandler(failures)
    harness_cm = ChatHarness.create(db_url, now=DEFAULT_NOW, config=cases_config())
    chat = loop.run_until_complete(harness_cm.__aenter__())
    sent = 0
    counter = iter(range(10**9))
    try:

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(state=st.sampled_from(states), inputs=st.lists(texts_strategy, min_size=INPUTS_PER_EXAMPLE, max_size=5))
        def example(state: str, inputs: list[str]) -> None:
            nonlocal sent

            async def go() -> None:
                nonlocal sent
                person = await asyncio.wait_for(make_target(chat, next(counter)), 60)
                await reporter_at(person, REPORTER_STATES.get(state, []))
                for text in inputs:
                    replies = await asyncio.wait_for(person.say(text), 30)
                    sent += 1
                    assert replies or person.chat_id != person.user_id, f"no answer to {text!r} in {state}"
                    assert texts.APOLOGY not in person.text, f"handler failed on {text!r} in {state}"
                await person.send_kind(MessageKind.TEXT, text="/huy")
                assert person.text, f"stuck in {state} after {inputs!r}"
                await person.say("/start")
                assert "Xin chào" in person.text or "trợ lý" in person.text, f"stuck in {state}"

            loop.run_until_complete(go())

        example()
    finally:
        loop.run_until_complete(harness_cm.__aexit__(None, None, None))
        loop.close()
        logging.getLogger("handlers").removeHandler(failures)
    assert [r.getMessage() for r in failures.records if "handler failed" in r.getMessage()] == []
    return sent


async def reporter(chat: ChatHarness, n: int) -> Person:
    return chat.person(f"fuzz-{n}", name=f"Người \x00 thử {n} ²")


@pytest.mark.timeout(1200)
def test_fuzzed_messages_in_every_reporter_state(db_url: str) -> None:
    sent = run_fuzz(db_url, reporter, list(REPORTER_STATES), EXAMPLES)
    print(f"\nfuzz: {sent} generated inputs across {len(REPORTER_STATES)} reporter states, 0 handler failures")
    assert sent >= 2000


CARDS: dict[str, object] = {}


async def staff_member(chat: ChatHarness, n: int) -> Person:
    """A staff member of the lead agency in its group; every 10th example the member has just asked the
    reporter for more information, so the case waits for typed text."""
    son = member(chat, "qltt-2", QLTT, "Cúc")
    if n == 0:
        person = chat.person("rep-0", name="An")
        await reporter_at(person, [*TO_PHOTOS, "press:Bỏ qua", "press:Đồng Xoài", "press:Gửi ẩn danh"])
        await person.press("Gửi phản ánh")
        inbox = Inbox()
        await deliver(chat, inbox)
        CARDS["card"] = next(s for s in inbox.to(QLTT) if "PHẢN ÁNH" in s.text)
    if n % 10 == 0:
        await son.press_on(CARDS["card"], "Yêu cầu bổ sung")
        return son
    return member(chat, ["qltt-1", "qltt-2", "qltm-1"][n % 3], QLTT, "Cán bộ")


@pytest.mark.timeout(900)
def test_fuzzed_messages_from_staff(db_url: str) -> None:
    sent = run_fuzz(db_url, staff_member, ["idle"], 120)
    print(f"\nfuzz: {sent} generated inputs from staff (commands, a case waiting for typed text), 0 handler failures")
    assert sent >= 500

"""The staff web console through real HTTP requests: sign-in, sessions, CSRF, permissions, pages and actions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.cases import QLTT, cases_config
from tests.support.chat import DEFAULT_NOW, ChatHarness
from tests.support.console import Rig, console_rig, sign_in


@pytest.fixture
async def rig(sqlite_url: str) -> AsyncIterator[Rig]:
    async with ChatHarness.create(sqlite_url, now=DEFAULT_NOW, config=cases_config()) as chat:
        async with console_rig(chat) as rig:
            yield rig


async def test_a_staff_member_signs_in_and_sees_the_case(rig: Rig) -> None:
    code = await rig.report()
    async with rig.client() as client:
        await sign_in(rig, client, "qltt-1")
        page = await client.get("/console/cases", params={"q": "my pham hoa hong"})
        text = await page.text()
        assert code in text, text
    assert rig.inbox.to(QLTT)

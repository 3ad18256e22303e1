"""Fixtures shared by the Zalo OA channel's test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fakes.zalo_oa_api import FakeZaloOA
from tests.support.zalo_oa import Rig, close_rig, make_rig, make_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as server:
        yield server


@pytest.fixture
async def rig(fake: FakeZaloOA, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await make_rig(fake, make_settings(fake, tmp_path))
    try:
        yield rig
    finally:
        await close_rig(rig)

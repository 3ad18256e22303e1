"""The two shipped configurations for tests: today's Đồng Nai (the default) and the 2024 Bình Phước plan, which
most tests keep using because their expectations follow the plan (its 11 districts, its routing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from handlers.config import DEFAULT_CONFIG_PATH, PLAN_2024_CONFIG_PATH, AppConfig, load_config

PLAN_2024 = PLAN_2024_CONFIG_PATH
DONG_NAI = DEFAULT_CONFIG_PATH


@lru_cache(maxsize=1)
def plan_2024() -> AppConfig:
    """The 2024 Bình Phước plan's configuration (frozen, so one shared instance is safe)."""
    return load_config(PLAN_2024)


@lru_cache(maxsize=1)
def dong_nai() -> AppConfig:
    """Today's Đồng Nai configuration, the default of ``load_config()`` and ``make run``."""
    return load_config(DONG_NAI)


def live_campaign(base: AppConfig, start: datetime, **changes: Any) -> AppConfig:
    """``base`` with one campaign whose 60-hour window starts at ``start`` (the leader's APScheduler runs on the real
    clock), updated with ``changes`` (top-level keys of the configuration)."""
    data = base.model_dump(mode="json")
    window = {"id": "window", "name": "60 giờ thử", "start": start.isoformat(), "main": True}
    window["end"] = (start + timedelta(hours=60)).isoformat()
    data["campaigns"] = [{"id": "live", "name": "Chiến dịch thử", "year": start.year, "events": [window]}]
    return AppConfig.model_validate({**data, **changes})

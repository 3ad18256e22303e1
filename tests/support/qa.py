"""Q&A with a staffed agency on the test channel (the ``staffed`` fixture): a question no entry answers goes to
the staff."""

from __future__ import annotations

from handlers.config import AppConfig
from tests.support.configs import plan_2024

OUT_OF_SCOPE = "giá vàng SJC hôm nay bao nhiêu một lượng"


def config_with_staff() -> AppConfig:
    base = plan_2024().model_dump(mode="python")
    for agency in base["agencies"]:
        if agency["id"] == "qltm":
            agency["chats"] = {"console": ["-500"]}
    base["staff"] = [{"channel": "console", "user_id": "staff-1", "name": "Chị Hoa", "agency": "qltm", "role": "admin"}]
    return AppConfig.model_validate(base)

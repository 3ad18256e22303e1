"""How the features tell staff about delivery: the channels' names and why a message did not get through."""

from __future__ import annotations

from storage.outbox import FailureCause

CHANNEL_NAMES = {"telegram": "Telegram", "zalo_bot": "Zalo", "zalo_oa": "Zalo OA", "console": "console"}

UNREACHABLE_CAUSES = {
    FailureCause.OUTSIDE_WINDOW: (
        "họ không nhắn tin cho {channel} của Sở trong 7 ngày qua nên Zalo không cho gửi thêm tin (quy tắc 7 ngày)"
    ),
    FailureCause.BLOCKED: "họ đã chặn trợ lý hoặc không còn nhận tin nhắn trên {channel}",
    FailureCause.GAVE_UP: "trợ lý đã gửi nhiều lần qua {channel} nhưng không thành công",
}


def channel_name(channel: str) -> str:
    """The channel as staff know it (``zalo_oa`` → "Zalo OA")."""
    return CHANNEL_NAMES.get(channel, channel)


def unreachable_cause(cause: FailureCause, channel: str) -> str:
    """Why a message to a user on ``channel`` did not get through, as a clause for staff (Vietnamese)."""
    return UNREACHABLE_CAUSES.get(cause, UNREACHABLE_CAUSES[FailureCause.GAVE_UP]).format(channel=channel_name(channel))

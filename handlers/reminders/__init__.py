"""Reminders: the countdown (``countdown``), subscriptions (``subscriptions``), firing the reminders on time
(``firing``), the pinned channel post (``channel_post``)."""

from __future__ import annotations

from handlers import texts
from handlers.core import Router
from handlers.jobs import Job, LeaderContext
from handlers.reminders import channel_post, firing
from handlers.reminders.subscriptions import SubscribeFlow, countdown, unsubscribe
from handlers.reminders.subscriptions import on_button as subscription_button


def register(router: Router) -> None:
    router.command(["/demnguoc"], countdown)
    router.entry("countdown", countdown)
    router.phrase([texts.MENU_COUNTDOWN, "đếm ngược"], countdown)
    subscribe = SubscribeFlow()
    router.flow(subscribe)
    router.command(["/nhacnho"], subscribe.begin)
    router.command(["/huynhacnho"], unsubscribe, keeps_flow=True)  # a report being written stays
    router.button("sub", subscription_button(subscribe))
    router.phrase(["nhắc lịch", "nhắc nhở", "bật nhắc lịch"], subscribe.begin)
    router.phrase(["tắt nhắc lịch", "hủy nhắc lịch"], unsubscribe)
    # The same, as people say it (folded text, with or without diacritics): off before on ("tắt thông báo").
    router.intent(
        [
            r"\b(tat|huy|ngung|dung|bo)( het| cac)? (thong bao|nhac nho|nhac lich|nhac|tin nhac)\b",
            r"\bkhong (muon )?nhan (thong bao|tin nhac)( nua)?\b",
        ],
        unsubscribe,
    )
    router.intent(
        [r"\bnhac (toi|minh|em|giup|voi|cho (toi|minh|em))\b", r"\b(bat|dang ky|nhan) (thong bao|nhac)"],
        subscribe.begin,
    )
    router.intent(
        [
            r"\bbao lau\b.*\b(online friday|friday|ngay hoi|tuan le thuong mai)\b",
            r"\b(online friday|ngay hoi mua sam)\b.*\b(khi nao|bao gio|ngay nao|may gio|bao lau|bat dau)\b",
            r"\b(khi nao|bao gio|ngay nao|may gio)\b.*\bonline friday\b",
            r"\bcon (may|bao nhieu) (ngay|gio|tieng)\b",
        ],
        countdown,
    )


async def jobs(ctx: LeaderContext) -> list[Job]:
    """Every reminder slot still to fire, and the pinned countdown post when configured."""
    return [*await firing.jobs(ctx), *await channel_post.jobs(ctx)]

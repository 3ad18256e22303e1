"""Reminders: the countdown (``countdown``), subscriptions (``subscriptions``), the pinned channel post
(``channel_post``)."""

from __future__ import annotations

from handlers import texts
from handlers.core import Router
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

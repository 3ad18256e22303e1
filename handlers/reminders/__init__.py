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


async def jobs(ctx: LeaderContext) -> list[Job]:
    """Every reminder slot still to fire, and the pinned countdown post when configured."""
    return [*await firing.jobs(ctx), *await channel_post.jobs(ctx)]

"""The features the assistant is made of, and the one router they declare themselves on.

A feature is a module (or a package whose ``__init__`` is the module) under ``handlers/`` that offers:

* ``register(router)`` — its commands, buttons, flows, typed phrases, menu entries and free-text listeners;
* optionally ``async jobs(ctx)`` — the background work it needs in the leader process (see :mod:`handlers.jobs`);
* optionally ``on_undelivered(uow, config, failures, now)`` — told, in the sender's transaction, about the
  messages of its kinds that failed for good; returns how many outbox rows it queued in answer.
* optionally ``on_start(uow, config, now)`` — what it writes when the assistant starts, before the first
  message (e.g. the staff listed in the configuration), in the start's transaction.
* optionally ``web(ctx)`` — web pages it serves (see :mod:`handlers.web`), mounted by ``bot/`` on its HTTP server.

``bot/`` runs what the features declare and never names one; adding a feature is one line in
:data:`FEATURES`. Features are imported only when the router or the leader is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import ModuleType

from handlers.config import AppConfig
from handlers.core import Router
from handlers.jobs import Job, LeaderContext
from handlers.web import WebContext, WebMount
from storage.db import UnitOfWork
from storage.outbox import Undelivered

OnUndelivered = Callable[[UnitOfWork, list[Undelivered], datetime], Awaitable[int]]

# Order matters only where two features register the same name (none do) and for free-text listeners,
# which are tried in this order before the fallback.
FEATURES: tuple[str, ...] = (
    "handlers.menu",
    "handlers.profile",
    "handlers.promotion",
    "handlers.qa",
    "handlers.staff",
    "handlers.complaints",
    "handlers.cases",
    "handlers.reminders",
    "handlers.announcements",
    "handlers.console",
    "handlers.inbox",
)


def load_features() -> list[ModuleType]:
    return [importlib.import_module(name) for name in FEATURES]


def build_router() -> Router:
    """Every feature registers itself on one router."""
    router = Router()
    for feature in load_features():
        feature.register(router)
    return router


async def declared_jobs(features: Sequence[ModuleType], ctx: LeaderContext) -> dict[str, Job]:
    """Every job the features declare, by id."""
    jobs: dict[str, Job] = {}
    for feature in features:
        if not hasattr(feature, "jobs"):
            continue
        for job in await feature.jobs(ctx):
            if job.id in jobs:
                raise ValueError(f"two jobs are declared as {job.id!r}")
            jobs[job.id] = job
    return jobs


def web_mounts(features: Sequence[ModuleType], ctx: WebContext) -> list[WebMount]:
    """The web applications the features declare, each under its own prefix."""
    mounts = [feature.web(ctx) for feature in features if hasattr(feature, "web")]
    prefixes = [m.prefix for m in mounts]
    if len(prefixes) != len(set(prefixes)):
        raise ValueError(f"two features want the same web prefix: {prefixes}")
    return mounts


async def on_start(features: Sequence[ModuleType], uow: UnitOfWork, config: AppConfig, now: datetime) -> None:
    """Every feature's ``on_start``, in the caller's transaction (the caller commits)."""
    for feature in features:
        if hasattr(feature, "on_start"):
            await feature.on_start(uow, config, now)


def undelivered_hook(features: Sequence[ModuleType], config: AppConfig) -> OnUndelivered:
    """The sender's hook for messages that failed for good: every feature's ``on_undelivered`` in turn."""
    hooks = [feature.on_undelivered for feature in features if hasattr(feature, "on_undelivered")]

    async def on_undelivered(uow: UnitOfWork, failures: list[Undelivered], now: datetime) -> int:
        queued = 0
        for hook in hooks:
            queued += await hook(uow, config, failures, now)
        return queued

    return on_undelivered

"""The features the assistant is made of, and the one router they declare themselves on.

A feature is a module (or a package whose ``__init__`` is the module) under ``handlers/`` that offers:

* ``register(router)`` — its commands, buttons, flows, typed phrases, menu entries and free-text listeners;
* optionally ``jobs(ctx)`` — the background work it needs in the leader process (see :mod:`handlers.jobs`);
* optionally ``on_undelivered(uow, config, failures, now)`` — told, in the sender's transaction, about the
  messages of its kinds that failed for good; returns how many outbox rows it queued in answer.

``bot/`` runs what the features declare and never names one; adding a feature is one line in
:data:`FEATURES`. Features are imported only when the router or the leader is built.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from handlers.core import Router

# Order matters only where two features register the same name (none do) and for free-text listeners,
# which are tried in this order before the fallback.
FEATURES: tuple[str, ...] = (
    "handlers.menu",
    "handlers.profile",
    "handlers.qa",
    "handlers.staff",
    "handlers.complaints",
    "handlers.cases",
    "handlers.reminders",
    "handlers.announcements",
)


def load_features() -> list[ModuleType]:
    return [importlib.import_module(name) for name in FEATURES]


def build_router() -> Router:
    """Every feature registers itself on one router."""
    router = Router()
    for feature in load_features():
        feature.register(router)
    return router

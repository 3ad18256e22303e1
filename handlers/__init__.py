"""The conversations, as plain async functions over neutral types.

Shared pieces live flat here (``core``, ``types``, ``buttons``, ``clock``, ``config``, ``texts``…); each
feature is a module or a package that registers itself (:mod:`handlers.features`). Nothing is imported here,
so ``import handlers.types`` costs only what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.core import Router


def build_router() -> Router:
    """The router every feature has registered on (imported lazily)."""
    from handlers.features import build_router as build

    return build()

"""What every channel adapter offers the outbox sender, and the failures it reports in common terms."""

from __future__ import annotations

from typing import Protocol

from handlers.types import Reply


class DeliveryError(Exception):
    """A message could not be delivered."""


class RateLimited(DeliveryError):
    """The platform asked us to slow down: wait ``retry_after`` seconds before any further call."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__(message or f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


class Unreachable(DeliveryError):
    """Permanent: the user blocked the bot, left, or is outside the platform's messaging window."""


class OutsideMessagingWindow(Unreachable):
    """The platform lets us message the user only for a while after their last message, and that time is
    over (Zalo OA: 7 days, errors -230/-232). Permanent for this message: never retried."""


class TemporaryFailure(DeliveryError):
    """Network error or a 5xx: retry later with backoff."""


class ChannelSender(Protocol):
    """A channel adapter as seen by the outbox sender."""

    name: str

    async def deliver(self, chat_id: str, reply: Reply) -> str | None:
        """Send one reply; return the platform message id, or raise a :class:`DeliveryError`."""

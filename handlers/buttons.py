"""Button payloads: short, signed, so a forged or garbled one is recognised and refused."""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_CALLBACK_BYTES = 64  # Telegram's limit on callback_data
_SIG_CHARS = 8


class ButtonCodec:
    """Sign payloads like ``menu:qa`` into ``menu:qa~Xy12AbCd`` and check them on the way back."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("button signing key too short")
        self._key = key

    def _sig(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_SIG_CHARS]

    def encode(self, payload: str) -> str:
        data = f"{payload}~{self._sig(payload)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"button payload too long: {payload!r}")
        return data

    def decode(self, data: str) -> str | None:
        """Return the payload, or None when the data was not made by this assistant."""
        payload, sep, sig = data.rpartition("~")
        if not sep or not payload:
            return None
        return payload if hmac.compare_digest(sig, self._sig(payload)) else None

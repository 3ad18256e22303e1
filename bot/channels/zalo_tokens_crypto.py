"""Encryption at rest of the Zalo OA token pair (``zalo_tokens.access_token`` / ``refresh_token``).

A database dump must not hand out a usable OA token, so both values are stored as
``fernet:v1:<Fernet token>``: Fernet (AES-128-CBC + HMAC-SHA256, authenticated) from the ``cryptography``
package. The 32-byte Fernet key is derived with HKDF-SHA256 (no salt, ``info`` = :data:`HKDF_INFO`) from a
secret that never enters the database: ``ZALO_OA_TOKEN_KEY`` when it is set, else ``ZALO_OA_APP_SECRET`` (which
the refresh needs anyway). The channel chooses the secret (:func:`bot.channels.zalo_oa_tokens.token_cipher`); this
module knows nothing of settings and the repository (``storage/zalo.py``) nothing of encryption.

* A value without the prefix is a pair stored in plain text by an earlier version: it is read as it is and
  reported *stale*, so the caller saves it again, encrypted.
* A value encrypted under one of the ``previous`` secrets (the app secret, after ``ZALO_OA_TOKEN_KEY`` was
  introduced) is read and reported stale too: saved again under the current key.
* A value no key opens (the secret changed, or the value was tampered with) raises
  :class:`UndecryptableToken`; the caller treats the stored pair as missing.
"""

from __future__ import annotations

import base64
from typing import NamedTuple

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "fernet:v1:"
# Fixed: changing it changes every derived key, which makes every stored pair unreadable.
HKDF_INFO = b"sct-assistant/zalo-oa/token-pair/fernet-v1"


class UndecryptableToken(Exception):
    """A stored token carries the prefix but no known key opens it. The message never holds the value."""


class Decrypted(NamedTuple):
    value: str
    stale: bool  # plain text, or encrypted under a previous key: save it again


def derive_key(secret: str) -> bytes:
    """The Fernet key (url-safe base64 of 32 bytes) for a secret: HKDF-SHA256 with :data:`HKDF_INFO`."""
    if not secret:
        raise ValueError("an empty secret cannot key the token encryption")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class TokenCipher:
    """Encrypts with the key of ``secret``; decrypts with it, then with those of ``previous`` secrets."""

    def __init__(self, secret: str, *previous: str) -> None:
        keys = [derive_key(secret)]
        keys += [key for key in (derive_key(p) for p in previous if p) if key not in keys]
        self._fernets = [Fernet(key) for key in keys]

    def encrypt(self, value: str) -> str:
        """``fernet:v1:…`` for a token; an empty value (no token) stays empty."""
        if not value:
            return ""
        return PREFIX + self._fernets[0].encrypt(value.encode()).decode("ascii")

    def decrypt(self, stored: str) -> Decrypted:
        if not stored:
            return Decrypted("", False)
        if not stored.startswith(PREFIX):
            return Decrypted(stored, True)  # stored in plain text by an earlier version
        token = stored[len(PREFIX) :].encode("ascii", "replace")
        for index, fernet in enumerate(self._fernets):
            try:
                return Decrypted(fernet.decrypt(token).decode(), index > 0)
            except (InvalidToken, UnicodeDecodeError):
                continue
        raise UndecryptableToken("the stored token cannot be decrypted with the configured key")

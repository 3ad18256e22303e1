"""The Zalo OA token pair, and the POST both the OA API and Zalo's OAuth server answer.

The access token lives 25 hours; the refresh token is single-use and rotates on every refresh.
:class:`OATokens` keeps the pair in ``zalo_tokens``, refreshes ahead of expiry and when Zalo answers
-216/-220, and serialises refreshes with an asyncio lock (one per process) AND a database lock held while
the refresh call is made (PostgreSQL: advisory lock + ``SELECT … FOR UPDATE``; SQLite: the write lock), so
two processes never both spend the same refresh token. The new pair is committed before it is used.
Both tokens are stored encrypted (:mod:`bot.channels.zalo_tokens_crypto`, keyed by ``ZALO_OA_TOKEN_KEY`` or
else ``ZALO_OA_APP_SECRET``): a pair stored in plain text by an earlier version is read and saved again
encrypted at start; a pair no key opens (the secret changed) counts as missing, and the environment's pair is
stored instead, as on a first start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.channels.base import DeliveryError, RateLimited, TemporaryFailure
from bot.channels.zalo_common import Now, post_json, utc_now
from bot.channels.zalo_tokens_crypto import TokenCipher, UndecryptableToken
from bot.settings import Settings
from storage.db import Database

if TYPE_CHECKING:
    from storage.db import UnitOfWork
    from storage.zalo import ZaloToken

logger = logging.getLogger(__name__)

TOKEN_PATH = "/v4/oa/access_token"
ACCESS_TOKEN_LIFETIME = timedelta(hours=25)
TOKEN_LOCK = "zalo_oa_token"
RATE_LIMIT_PAUSE = 60.0  # -32 means the per-minute quota is used up


class ZaloOAError(DeliveryError):
    """The OA API answered an error (``error != 0``)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(f"Zalo OA API: error {code} {message}".rstrip())
        self.code = code


class TokenUnavailable(ZaloOAError):
    """No usable token pair: the operator must put a new one in ZALO_OA_ACCESS_TOKEN/ZALO_OA_REFRESH_TOKEN."""


def error_code(data: dict[str, Any]) -> int:
    """Zalo's error code in an answer's body (0: success; -1: unreadable)."""
    value = data.get("error", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


async def oa_post(session: aiohttp.ClientSession, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
    """A POST to Zalo's OA or OAuth servers: the JSON body; 429 → :class:`RateLimited`, 5xx or no JSON object
    → :class:`TemporaryFailure`. Zalo's own error codes are in the body, for the caller to read."""
    status, data = await post_json(session, url, what, **kwargs)
    if status == 429:
        raise RateLimited(RATE_LIMIT_PAUSE, f"{what}: HTTP 429")
    if status >= 500 or not isinstance(data, dict):
        raise TemporaryFailure(f"{what}: HTTP {status}")
    return data


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def token_cipher(settings: Settings) -> TokenCipher | None:
    """The cipher of the stored pair: keyed by ZALO_OA_TOKEN_KEY, else by ZALO_OA_APP_SECRET; None without both.

    With both set, a pair encrypted under the app secret's key (before ZALO_OA_TOKEN_KEY was set) is still read,
    and saved again under the explicit key.
    """
    key, app_secret = _secret(settings.zalo_oa_token_key), _secret(settings.zalo_oa_app_secret)
    if key:
        return TokenCipher(key, app_secret)
    return TokenCipher(app_secret) if app_secret else None


@dataclass(frozen=True)
class StoredPair:
    """The stored pair in clear. Never written back into the ORM row: the session would flush it as it is."""

    access: str
    refresh: str
    expires_at: datetime | None
    stale: bool = False  # stored in plain text or under a previous key: to be saved again


UNDECRYPTABLE = (
    "zalo oa: the stored token pair cannot be decrypted: ZALO_OA_APP_SECRET or ZALO_OA_TOKEN_KEY changed "
    "(or differs between processes)"
)


class OATokens:
    """The OA's token pair: kept in the database (encrypted), cached in memory, refreshed by one process at a time."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        http: Callable[[], aiohttp.ClientSession],
        *,
        now: Now = utc_now,
    ) -> None:
        assert settings.zalo_oa_app_id is not None
        self.settings = settings
        self.db = db
        self.http = http
        self.now = now
        self.app_id = settings.zalo_oa_app_id
        self.margin = timedelta(minutes=settings.zalo_oa_refresh_margin_minutes)
        self.url = settings.zalo_oa_oauth_base_url.rstrip("/") + TOKEN_PATH
        self.cipher = token_cipher(settings)
        self.refreshes = 0  # refresh calls made by this process (for logs and tests)
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._expires: datetime | None = None

    @staticmethod
    def _hash(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    def _due(self, expires_at: datetime | None) -> bool:
        if expires_at is None:
            return False  # unknown: used until Zalo says it expired
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return expires_at - self.now() <= self.margin

    def _cache(self, access: str, expires_at: datetime | None) -> None:
        self._access = access or None
        self._expires = expires_at.replace(tzinfo=UTC) if expires_at and expires_at.tzinfo is None else expires_at

    def _open(self, row: ZaloToken | None) -> StoredPair | None:
        """The pair in ``row``, decrypted; raises :class:`UndecryptableToken` when no configured key opens it."""
        if row is None:
            return None
        assert self.cipher is not None
        access, refresh = self.cipher.decrypt(row.access_token), self.cipher.decrypt(row.refresh_token)
        return StoredPair(access.value, refresh.value, row.expires_at, access.stale or refresh.stale)

    async def _save(
        self,
        uow: UnitOfWork,
        pair: StoredPair,
        *,
        seed_hash: str | None = None,
        refreshed: bool = False,
    ) -> None:
        """Store ``pair`` encrypted (the caller holds the token lock and commits)."""
        assert self.cipher is not None
        await uow.zalo.save_token(
            self.app_id,
            access_token=self.cipher.encrypt(pair.access),
            refresh_token=self.cipher.encrypt(pair.refresh),
            expires_at=pair.expires_at,
            now=self.now(),
            seed_hash=seed_hash,
            refreshed=refreshed,
        )

    async def seed(self) -> None:
        """Store the pair from the environment when it is new (a different refresh token than last seeded).

        A pair already in the database otherwise wins: after the first refresh the environment's refresh
        token is spent, and the live pair exists only in the database. A stored pair that cannot be decrypted
        (the key's secret changed) counts as missing: the environment's pair replaces it, as on a first start.
        A pair stored in plain text (by an earlier version) or under a previous key is saved again, encrypted.
        """
        env_access = _secret(self.settings.zalo_oa_access_token)
        env_refresh = _secret(self.settings.zalo_oa_refresh_token)
        seed_hash = self._hash(env_refresh or env_access) if (env_refresh or env_access) else None
        if self.cipher is None:
            # Nothing to key the encryption with, and no app secret to refresh with: keep the pair in memory.
            logger.warning(
                "zalo oa: ZALO_OA_APP_SECRET is not set: the token pair is neither stored nor refreshed, "
                "only the access token from ZALO_OA_ACCESS_TOKEN is used"
            )
            if not env_access:
                logger.error("zalo oa: no token pair: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN")
            self._cache(env_access, None)
            return
        async with self.db.unit_of_work() as uow:
            await uow.lock(TOKEN_LOCK, self.app_id)
            row = await uow.zalo.lock_token(self.app_id)
            try:
                pair = self._open(row)
            except UndecryptableToken:
                pair = None
                logger.warning(
                    "%s; %s",
                    UNDECRYPTABLE,
                    "the pair from ZALO_OA_ACCESS_TOKEN/ZALO_OA_REFRESH_TOKEN replaces it"
                    if seed_hash is not None
                    else "set a new pair in ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN and restart",
                )
            if seed_hash is not None and (row is None or pair is None or row.seed_hash != seed_hash):
                # The age of a pasted access token is unknown: with a refresh token, refresh at first use.
                pair = StoredPair(env_access, env_refresh, self.now() if env_refresh else None)
                await self._save(uow, pair, seed_hash=seed_hash)
                await uow.commit()
                logger.info("zalo oa: stored the token pair from the environment")
            elif pair is not None and pair.stale:
                await self._save(uow, pair)
                await uow.commit()
                logger.info("zalo oa: the stored token pair is now encrypted with the current key")
        if pair is None:
            logger.error("zalo oa: no usable token pair: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN")
            return
        self._cache(pair.access, pair.expires_at)

    async def get(self) -> str:
        """A usable access token, refreshed first when it expires within the margin."""
        if self._access and not self._due(self._expires):
            return self._access
        return await self.refresh()

    async def refresh(self, rejected: str | None = None) -> str:
        """Refresh the pair unless someone already did: ``rejected`` is the token Zalo just refused
        (None: refresh only when the stored token is due)."""
        async with self._lock:
            if self._access and self._access != rejected and not self._due(self._expires):
                return self._access  # another task of this process refreshed it while we waited
            if self.cipher is None:
                raise TokenUnavailable(0, "ZALO_OA_APP_SECRET is not set: the token cannot be refreshed")
            async with self.db.unit_of_work() as uow:
                await uow.lock(TOKEN_LOCK, self.app_id)
                row = await uow.zalo.lock_token(self.app_id)
                try:
                    pair = self._open(row)
                except UndecryptableToken:
                    logger.warning("%s; set the right key, or a new pair, and restart", UNDECRYPTABLE)
                    raise TokenUnavailable(0, "the stored token pair cannot be decrypted") from None
                if pair is None:
                    raise TokenUnavailable(0, "no token pair: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN")
                if pair.access and pair.access != rejected and not self._due(pair.expires_at):
                    self._cache(pair.access, pair.expires_at)  # another process refreshed it
                    return pair.access
                if not pair.refresh:
                    raise TokenUnavailable(0, "no refresh token: set a new ZALO_OA_REFRESH_TOKEN")
                access, refresh, expires_at = await self._exchange(pair.refresh)
                # Zalo has spent the old refresh token now: the new pair must be stored before anything else.
                await self._save(uow, StoredPair(access, refresh, expires_at), refreshed=True)
                await uow.commit()
            self.refreshes += 1
            self._cache(access, expires_at)
            logger.info("zalo oa: access token refreshed, valid until %s", expires_at.isoformat(timespec="minutes"))
            return access

    async def _exchange(self, refresh_token: str) -> tuple[str, str, datetime]:
        secret = self.settings.zalo_oa_app_secret
        if secret is None or not secret.get_secret_value():
            raise TokenUnavailable(0, "ZALO_OA_APP_SECRET is not set: the token cannot be refreshed")
        form = {"refresh_token": refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"}
        data = await oa_post(
            self.http(),
            self.url,
            "Zalo OA token refresh",
            total=8,
            connect=5,
            data=form,
            headers={"secret_key": secret.get_secret_value()},
        )
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not access or not refresh:
            code = error_code(data) or -1
            logger.error(
                "zalo oa: the refresh token was refused (error %s %s); put a new pair in ZALO_OA_ACCESS_TOKEN "
                "and ZALO_OA_REFRESH_TOKEN and restart",
                code,
                data.get("error_name") or "",
            )
            raise TokenUnavailable(code, str(data.get("error_description") or data.get("error_name") or ""))
        try:
            lifetime = timedelta(seconds=int(data.get("expires_in") or 0)) or ACCESS_TOKEN_LIFETIME
        except (TypeError, ValueError):
            lifetime = ACCESS_TOKEN_LIFETIME
        return str(access), str(refresh), self.now() + lifetime

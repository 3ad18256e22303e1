"""The Zalo OA channel's tokens: one refresh for concurrent sends and processes, and the pair encrypted at rest."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import App
from bot.channels.zalo_oa import (
    ZaloOAError,
)
from bot.channels.zalo_tokens_crypto import HKDF_INFO, PREFIX, TokenCipher, UndecryptableToken, derive_key
from handlers.types import Reply
from storage.db import Database
from tests.support.fakes.zalo_oa_api import FakeZaloOA
from tests.support.racers import race
from tests.support.zalo_oa import Rig, close_rig, make_rig, make_settings, set_expiry, stored_pair, stored_token

QUESTION = "Trong Online Friday được giảm giá tối đa bao nhiêu phần trăm?"


# --------------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------------


async def test_concurrent_sends_near_expiry_cause_exactly_one_refresh(rig: Rig) -> None:
    await rig.channel.deliver("u-h", Reply("khởi động"))  # the pasted pair is refreshed at first use
    assert len(rig.fake.refreshes) == 1
    # The stored token now expires within the margin (60 minutes): 30 sends at once.
    await set_expiry(rig.app, datetime.now(UTC) + timedelta(minutes=10))
    rig.channel.tokens._expires = datetime.now(UTC) + timedelta(minutes=10)
    await asyncio.gather(*(rig.channel.deliver(f"u-{i}", Reply(f"tin {i}")) for i in range(30)))
    assert len(rig.fake.refreshes) == 2
    assert {c.params["_token"] for c in rig.fake.calls_of("message")[-30:]} == {"access-2"}
    row = await stored_token(rig.app)
    assert await stored_pair(rig.app, TokenCipher(rig.fake.app_secret)) == ("access-2", "refresh-2")
    assert row.expires_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(hours=24)


async def test_an_expired_token_error_causes_one_refresh_for_all_concurrent_sends(rig: Rig) -> None:
    await rig.channel.deliver("u-i", Reply("khởi động"))
    rig.fake.expire("access-1")  # Zalo says -220 to everything sent with it
    results = await asyncio.gather(*(rig.channel.deliver(f"u-{i}", Reply("tin")) for i in range(20)))
    assert all(results)
    assert len(rig.fake.refreshes) == 2
    expired = [c for c in rig.fake.calls_of("message") if c.error_code == -220]
    assert 1 <= len(expired) <= 20
    rig.fake.valid_access.discard("access-2")  # now -216 (invalid): refreshed again, once
    await rig.channel.deliver("u-j", Reply("tin"))
    assert len(rig.fake.refreshes) == 3 and rig.fake.calls_of("message")[-1].params["_token"] == "access-3"


async def test_a_restart_after_a_refresh_uses_the_stored_pair(fake: FakeZaloOA, tmp_path: Path) -> None:
    settings = make_settings(fake, tmp_path)  # the environment still holds the original pair
    first = await make_rig(fake, settings)
    try:
        await first.channel.deliver("u-k", Reply("trước khi khởi động lại"))
    finally:
        await close_rig(first)
    assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-0"]
    assert "refresh-0" not in fake.valid_refresh  # spent: using it again would fail
    second = await make_rig(fake, settings)
    try:
        await second.channel.deliver("u-k", Reply("sau khi khởi động lại"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-1"
        assert len(fake.refreshes) == 1  # no refresh: the stored pair is still fresh
        fake.expire("access-1")
        await second.channel.deliver("u-k", Reply("lại"))
        assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-0", "refresh-1"]
        assert not [c for c in fake.calls_of("refresh") if c.error_code]  # never tried a spent token
    finally:
        await close_rig(second)


async def test_a_new_pair_in_the_environment_replaces_the_stored_one(fake: FakeZaloOA, tmp_path: Path) -> None:
    first = await make_rig(fake, make_settings(fake, tmp_path))
    try:
        await first.channel.deliver("u-l", Reply("một"))
    finally:
        await close_rig(first)
    fake.valid_refresh.add("refresh-pasted")
    fake.valid_access.add("access-pasted")
    settings = make_settings(
        fake, tmp_path, zalo_oa_access_token="access-pasted", zalo_oa_refresh_token="refresh-pasted"
    )
    second = await make_rig(fake, settings)
    try:
        await second.channel.deliver("u-l", Reply("hai"))
        assert fake.refreshes[-1].params["refresh_token"] == "refresh-pasted"
    finally:
        await close_rig(second)


async def test_a_refused_refresh_token_is_reported(rig: Rig) -> None:
    rig.fake.valid_refresh.clear()
    with pytest.raises(ZaloOAError) as caught:
        await rig.channel.deliver("u-m", Reply("tin"))
    assert caught.value.code == -14014
    assert not rig.fake.calls_of("message")


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="subprocesses with stdin pipes")
async def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(db_url: str, tmp_path: Path) -> None:
    async with FakeZaloOA(refresh_delay=0.5) as fake:
        db = Database(db_url)
        await asyncio.to_thread(db.upgrade)
        cipher = TokenCipher(fake.app_secret)
        async with db.unit_of_work() as uow:  # a pair about to expire, as another process left it (encrypted)
            await uow.zalo.save_token(
                fake.app_id,
                access_token=cipher.encrypt("access-0"),
                refresh_token=cipher.encrypt("refresh-0"),
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
                now=datetime.now(UTC),
            )
            await uow.commit()
        await db.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "DATABASE_URL"))}
        env.update(
            DATABASE_URL=db_url,
            ZALO_OA_APP_ID=fake.app_id,
            ZALO_OA_SECRET_KEY=fake.oa_secret_key,
            ZALO_OA_APP_SECRET=fake.app_secret,
            ZALO_OA_API_BASE_URL=fake.base_url,
            ZALO_OA_OAUTH_BASE_URL=fake.base_url,
        )
        reports = await race(["tests.support.zalo_oa_worker", "10"], env, tmp_path)
        assert [r["errors"] for r in reports] == [[], []]
        assert sum(r["delivered"] for r in reports) == 20
        assert sum(r["refreshes"] for r in reports) == 1
        assert len(fake.calls_of("refresh")) == 1 and len(fake.refreshes) == 1
        db = Database(db_url)
        try:
            async with db.unit_of_work() as uow:
                row = await uow.zalo.get_token(fake.app_id)
        finally:
            await db.dispose()
        assert row.access_token.startswith(PREFIX) and row.refresh_token.startswith(PREFIX)
        assert (cipher.decrypt(row.access_token).value, cipher.decrypt(row.refresh_token).value) == fake.issued[0]


# --------------------------------------------------------------------------------------------------------
# The token pair at rest: encrypted, so that a database dump gives no usable OA token
# --------------------------------------------------------------------------------------------------------


def seeded_from(token: str) -> str:
    """The ``seed_hash`` a start leaves for the environment's refresh token ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


async def raw_token_row(app: App) -> dict:
    """The ``zalo_tokens`` row as a dump would show it (plain SQL, no ORM)."""
    async with app.db.unit_of_work() as uow:
        rows = (await uow.session.execute(text("SELECT * FROM zalo_tokens"))).mappings().all()
    [row] = rows
    return dict(row)


def assert_encrypted(row: dict, *tokens: str) -> None:
    assert row["access_token"].startswith(PREFIX) and row["refresh_token"].startswith(PREFIX)
    dump = " ".join(str(value) for value in row.values())
    for token in tokens:
        assert token not in dump


def opened(row: dict, cipher: TokenCipher) -> tuple[str, str]:
    return cipher.decrypt(row["access_token"]).value, cipher.decrypt(row["refresh_token"]).value


async def prime_token_row(url: str, app_id: str, access: str, refresh: str, *, seed_hash: str | None) -> None:
    """A row left by an earlier run (the values are stored as given), valid for 10 more hours."""
    db = Database(url)
    try:
        await asyncio.to_thread(db.upgrade)
        async with db.unit_of_work() as uow:
            await uow.zalo.save_token(
                app_id,
                access_token=access,
                refresh_token=refresh,
                expires_at=datetime.now(UTC) + timedelta(hours=10),
                now=datetime.now(UTC),
                seed_hash=seed_hash,
            )
            await uow.commit()
    finally:
        await db.dispose()


def test_the_key_is_hkdf_sha256_of_the_secret_with_a_fixed_label() -> None:
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    # Changing the label (or the KDF) would make every stored pair unreadable: it is part of the format.
    assert HKDF_INFO == b"sct-assistant/zalo-oa/token-pair/fernet-v1" and PREFIX == "fernet:v1:"
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(b"app-secret-KEY")
    assert derive_key("app-secret-KEY") == base64.urlsafe_b64encode(raw)
    cipher = TokenCipher("app-secret-KEY")
    long_token = "Ab0_-" * 300  # OA tokens are long: the Text columns take any length
    stored = cipher.encrypt(long_token)
    assert stored.startswith(PREFIX) and long_token not in stored
    assert cipher.decrypt(stored) == (long_token, False)
    assert cipher.encrypt(stored) != stored and cipher.encrypt("") == "" and cipher.decrypt("") == ("", False)
    assert cipher.decrypt("plain-legacy") == ("plain-legacy", True)
    for wrong in (TokenCipher("another-secret"), TokenCipher("app-secret-KEY ")):
        with pytest.raises(UndecryptableToken):
            wrong.decrypt(stored)
    tampered = stored[:-6] + ("AAAAA=" if not stored.endswith("AAAAA=") else "BBBBB=")
    for bad in (tampered, PREFIX + "not-a-fernet-token", PREFIX + "ünïcode"):
        with pytest.raises(UndecryptableToken) as caught:
            cipher.decrypt(bad)
        assert bad not in str(caught.value)
    # Decrypted under a previous secret: readable, and reported stale so that it is saved again.
    assert TokenCipher("new-key", "app-secret-KEY").decrypt(stored) == (long_token, True)


async def test_the_stored_pair_is_encrypted_after_seeding_and_after_a_refresh(
    fake: FakeZaloOA, tmp_path: Path, db_url: str
) -> None:
    rig = await make_rig(fake, make_settings(fake, tmp_path, database_url=db_url))
    try:
        cipher = TokenCipher(fake.app_secret)
        seeded = await raw_token_row(rig.app)
        assert_encrypted(seeded, "access-0", "refresh-0")
        assert opened(seeded, cipher) == ("access-0", "refresh-0")
        assert seeded["seed_hash"] == seeded_from("refresh-0")
        with pytest.raises(UndecryptableToken):
            TokenCipher(fake.oa_secret_key).decrypt(seeded["refresh_token"])  # only the app secret's key
        await rig.channel.deliver("u-p", Reply("tin"))
        assert len(fake.refreshes) == 1 and fake.calls_of("message")[-1].params["_token"] == "access-1"
        refreshed = await raw_token_row(rig.app)
        assert_encrypted(refreshed, "access-0", "refresh-0", "access-1", "refresh-1")
        assert opened(refreshed, cipher) == ("access-1", "refresh-1") and refreshed["refreshes"] == 1
    finally:
        await close_rig(rig)


async def test_a_restart_reads_the_encrypted_pair(fake: FakeZaloOA, tmp_path: Path, db_url: str) -> None:
    settings = make_settings(fake, tmp_path, database_url=db_url)  # the environment still holds the spent pair
    first = await make_rig(fake, settings)
    try:
        await first.channel.deliver("u-r", Reply("trước"))
        before = await raw_token_row(first.app)
    finally:
        await close_rig(first)
    assert_encrypted(before, "access-1", "refresh-1")
    second = await make_rig(fake, settings)
    try:
        await second.channel.deliver("u-r", Reply("sau"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-1" and len(fake.refreshes) == 1
        assert await raw_token_row(second.app) == before  # read as it was, not written again
    finally:
        await close_rig(second)


async def test_a_plain_text_pair_of_an_earlier_version_is_read_and_saved_again_encrypted(
    fake: FakeZaloOA, tmp_path: Path, db_url: str
) -> None:
    fake.valid_access.add("access-old")
    fake.valid_refresh.add("refresh-old")
    # What the previous version left: the environment's pair seeded, refreshed since, stored in plain text.
    await prime_token_row(db_url, fake.app_id, "access-old", "refresh-old", seed_hash=seeded_from("refresh-0"))
    rig = await make_rig(fake, make_settings(fake, tmp_path, database_url=db_url))
    try:
        cipher = TokenCipher(fake.app_secret)
        row = await raw_token_row(rig.app)  # the start saved it again, encrypted, and changed nothing else
        assert_encrypted(row, "access-old", "refresh-old")
        assert opened(row, cipher) == ("access-old", "refresh-old")
        assert row["seed_hash"] == seeded_from("refresh-0") and row["refreshes"] == 0
        await rig.channel.deliver("u-s", Reply("tin"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-old" and not fake.refreshes
        # A plain pair written after the start (an old-version process still running) is read by the refresh.
        fake.valid_refresh.add("refresh-older")
        async with rig.app.db.unit_of_work() as uow:
            await uow.zalo.save_token(
                fake.app_id,
                access_token="access-old",
                refresh_token="refresh-older",
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
                now=datetime.now(UTC),
            )
            await uow.commit()
        assert (await raw_token_row(rig.app))["refresh_token"] == "refresh-older"
        rig.channel.tokens._expires = datetime.now(UTC) + timedelta(minutes=5)
        await rig.channel.deliver("u-s", Reply("tin"))
        assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-older"]
        row = await raw_token_row(rig.app)
        assert_encrypted(row, "access-old", "refresh-older", "access-1", "refresh-1")
        assert opened(row, cipher) == ("access-1", "refresh-1")
    finally:
        await close_rig(rig)


async def test_a_pair_encrypted_under_another_secret_falls_back_to_the_environment(
    fake: FakeZaloOA, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    previous = TokenCipher("the-previous-app-secret")  # the app secret was reset since this row was written
    await prime_token_row(
        db_url,
        fake.app_id,
        previous.encrypt("access-lost"),
        previous.encrypt("refresh-lost"),
        seed_hash=seeded_from("refresh-0"),  # seeded from the same environment: the stored pair would win
    )
    caplog.set_level(logging.INFO, logger="bot.channels.zalo_oa")
    rig = await make_rig(fake, make_settings(fake, tmp_path, database_url=db_url))
    try:
        [warning] = [r for r in caplog.records if "cannot be decrypted" in r.getMessage()]
        assert warning.levelno == logging.WARNING
        assert "ZALO_OA_APP_SECRET" in warning.getMessage() and "ZALO_OA_REFRESH_TOKEN" in warning.getMessage()
        for secret in (fake.app_secret, "the-previous-app-secret", "access-lost", "refresh-lost", "refresh-0"):
            assert secret not in caplog.text
        # As on a first start: the environment's pair, stored encrypted, refreshed at first use.
        row = await raw_token_row(rig.app)
        assert_encrypted(row, "access-0", "refresh-0")
        assert opened(row, TokenCipher(fake.app_secret)) == ("access-0", "refresh-0")
        await rig.channel.deliver("u-t", Reply("tin"))
        assert [c.params["refresh_token"] for c in fake.refreshes] == ["refresh-0"]
        assert fake.calls_of("message")[-1].params["_token"] == "access-1"
    finally:
        await close_rig(rig)


async def test_an_undecryptable_pair_without_an_environment_pair_is_reported(
    fake: FakeZaloOA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(fake, tmp_path, zalo_oa_access_token=None, zalo_oa_refresh_token=None)
    previous = TokenCipher("the-previous-app-secret")
    await prime_token_row(
        settings.database_url, fake.app_id, previous.encrypt("a"), previous.encrypt("r"), seed_hash=None
    )
    rig = await make_rig(fake, settings)
    try:
        before = await raw_token_row(rig.app)
        assert "cannot be decrypted" in caplog.text and "no usable token pair" in caplog.text
        with pytest.raises(ZaloOAError, match="cannot be decrypted"):
            await rig.channel.deliver("u-u", Reply("tin"))
        assert not fake.calls_of("refresh") and not fake.calls_of("message")
        assert await raw_token_row(rig.app) == before  # left for the right key to read
    finally:
        await close_rig(rig)


async def test_an_explicit_token_key_takes_over_a_pair_under_the_app_secret(fake: FakeZaloOA, tmp_path: Path) -> None:
    first = await make_rig(fake, make_settings(fake, tmp_path))
    try:
        await first.channel.deliver("u-v", Reply("một"))  # access-1/refresh-1, under the app secret's key
    finally:
        await close_rig(first)
    key = "an-explicit-token-key-0123456789abcdef"
    second = await make_rig(fake, make_settings(fake, tmp_path, zalo_oa_token_key=key))
    try:
        row = await raw_token_row(second.app)  # saved again under the explicit key at start
        assert_encrypted(row, "access-1", "refresh-1")
        assert TokenCipher(key).decrypt(row["access_token"]) == ("access-1", False)
        with pytest.raises(UndecryptableToken):
            TokenCipher(fake.app_secret).decrypt(row["refresh_token"])
        await second.channel.deliver("u-v", Reply("hai"))
        assert fake.calls_of("message")[-1].params["_token"] == "access-1" and len(fake.refreshes) == 1
    finally:
        await close_rig(second)


async def test_without_the_app_secret_the_pair_is_not_stored(fake: FakeZaloOA, tmp_path: Path) -> None:
    rig = await make_rig(fake, make_settings(fake, tmp_path, zalo_oa_app_secret=None))
    try:
        await rig.channel.deliver("u-w", Reply("tin"))  # the pasted access token, used as it is
        assert fake.calls_of("message")[-1].params["_token"] == "access-0"
        async with rig.app.db.unit_of_work() as uow:
            assert await uow.zalo.get_token(fake.app_id) is None  # nothing to encrypt it with: not stored
        fake.expire("access-0")
        with pytest.raises(ZaloOAError, match="ZALO_OA_APP_SECRET"):
            await rig.channel.deliver("u-w", Reply("tin"))
        assert not fake.calls_of("refresh")
    finally:
        await close_rig(rig)

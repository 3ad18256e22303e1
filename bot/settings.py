"""Typed settings from the environment (and ``.env`` when present), loaded once and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default="sqlite:///data/bot.db")
    bot_config: Path | None = None  # empty = today's Đồng Nai (handlers/configs/dong_nai_2026.yaml)
    media_dir: Path = Path("data/media")
    media_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="largest photo accepted (bytes)")
    album_quiet_seconds: float = Field(default=1.0, gt=0, description="album complete this long after its last item")
    album_max_wait_seconds: float = Field(default=4.0, gt=0, description="never wait longer than this for an album")
    log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8080
    telegram_webhook_path: str = "/telegram"
    # The staff web console, on WEBHOOK_PORT: PUBLIC_URL is how staff reach it (links sent by /dangnhap); an
    # https address also makes its cookies Secure. Empty = http://127.0.0.1:WEBHOOK_PORT (a local try-out).
    web_console: bool = Field(default=True, description="serve the staff web console")
    public_url: str | None = None
    telegram_overall_rate: float = Field(default=30, ge=0, description="messages/s over all chats; 0 = no limit")
    telegram_group_per_minute: float = Field(default=20, ge=0, description="messages/min per group; 0 = no limit")
    telegram_per_chat_rate: float = Field(default=1, ge=0, description="broadcast messages/s per chat; 0 = no limit")

    # Zalo Bot API (bot.zaloplatforms.com): long polling, or a webhook when ZALO_BOT_WEBHOOK_URL is set.
    zalo_bot_token: SecretStr | None = None
    zalo_bot_api_base_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_webhook_url: str | None = None
    zalo_bot_webhook_secret: SecretStr | None = None
    zalo_bot_webhook_path: str = "/zalo-bot"

    # Zalo Official Account API v3: a webhook; replies through the customer-service message endpoint.
    zalo_oa_app_id: str | None = None
    zalo_oa_secret_key: SecretStr | None = Field(default=None, description="OA secret key: webhook signatures")
    zalo_oa_app_secret: SecretStr | None = Field(default=None, description="app secret key: token refresh")
    zalo_oa_access_token: SecretStr | None = None  # the initial pair; the live pair is kept in the database
    zalo_oa_refresh_token: SecretStr | None = None
    zalo_oa_token_key: SecretStr | None = Field(
        default=None, description="encrypts the stored token pair; empty = derived from the app secret"
    )
    zalo_oa_api_base_url: str = "https://openapi.zalo.me"
    zalo_oa_oauth_base_url: str = "https://oauth.zaloapp.com"
    zalo_oa_webhook_path: str = "/zalo-oa"
    zalo_oa_webhook_max_age_seconds: float = Field(default=600, gt=0, description="older signed events: refused")
    zalo_oa_refresh_margin_minutes: float = Field(default=60, ge=0, description="refresh this long before expiry")

    # Broadcasts: reminders and announcements go out through the outbox sender (bot/sender.py).
    scheduler_enabled: bool = Field(default=True, description="run reminders and the outbox sender in `run`")
    sender_batch: int = Field(default=200, gt=0, description="outbox rows claimed at a time")
    sender_concurrency: int = Field(default=16, gt=0, description="messages on the way at once")
    sender_max_attempts: int = Field(default=8, gt=0, description="tries before a row fails for good")
    sender_progress_seconds: float = Field(default=10, gt=0, description="progress log line interval")
    leader_retry_seconds: float = Field(default=10, gt=0, description="how often a standby process checks")
    case_poll_seconds: float = Field(default=1, gt=0, description="how often new reports are routed to agencies")
    # The durable inbox (bot/inbox.py): updates stored before they are acknowledged, handled from there.
    inbox_workers: int = Field(default=16, gt=0, description="conversations handled side by side per process")
    inbox_reply_lease_seconds: float = Field(
        default=30, gt=0, description="a reply not marked sent by then is delivered by the outbox sender"
    )
    inbox_claim_lease_seconds: float = Field(
        default=30, gt=0, description="PostgreSQL: a process's claim on an update; past it another process takes it"
    )
    inbox_poll_seconds: float = Field(
        default=1, gt=0, description="PostgreSQL: how often idle workers look for updates nobody announced"
    )
    inbox_keep_days: float = Field(default=7, gt=0, description="handled inbox rows are purged after this")
    case_sla_seconds: float = Field(default=60, gt=0, description="how often case deadlines are checked")

    @field_validator("bot_config", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def web_url(self) -> str:
        """The base URL of the web console ("" when it is off)."""
        if not self.web_console:
            return ""
        return (self.public_url or f"http://127.0.0.1:{self.webhook_port}").rstrip("/")

    @property
    def any_messenger(self) -> bool:
        return self.telegram_enabled or self.zalo_bot_enabled or self.zalo_oa_enabled

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_bot_token.get_secret_value())

    @property
    def zalo_bot_enabled(self) -> bool:
        return bool(self.zalo_bot_token and self.zalo_bot_token.get_secret_value())

    @property
    def zalo_oa_enabled(self) -> bool:
        """An OA needs its app id and the secret that signs webhooks; its tokens may already be in the database."""
        return bool(self.zalo_oa_app_id and self.zalo_oa_secret_key and self.zalo_oa_secret_key.get_secret_value())

    def secrets(self) -> list[str]:
        """Every secret value, so logging can mask them wherever they appear."""
        values = [
            self.telegram_bot_token,
            self.telegram_webhook_secret,
            self.zalo_bot_token,
            self.zalo_bot_webhook_secret,
            self.zalo_oa_secret_key,
            self.zalo_oa_app_secret,
            self.zalo_oa_access_token,
            self.zalo_oa_refresh_token,
            self.zalo_oa_token_key,
        ]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

"""Typed settings from the environment (and ``.env`` when present), loaded once and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default="sqlite:///data/bot.db")
    bot_config: Path | None = None
    media_dir: Path = Path("data/media")
    log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8080
    telegram_webhook_path: str = "/telegram"
    telegram_overall_rate: float = Field(default=30, ge=0, description="messages/s over all chats; 0 = no limit")
    telegram_group_per_minute: float = Field(default=20, ge=0, description="messages/min per group; 0 = no limit")

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_bot_token.get_secret_value())

    def secrets(self) -> list[str]:
        """Every secret value, so logging can mask them wherever they appear."""
        values = [self.telegram_bot_token, self.telegram_webhook_secret]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

"""Settings from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/nastavnik.db"
SUPPORTED_DB_PREFIXES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class DatabaseSettings(BaseSettings):
    """The part of the settings that the admin CLI and Alembic need (no token)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL's connection pool per process (SQLite always uses one connection). An
    # update that finds every connection busy waits up to db_pool_timeout seconds in line
    # (as on SQLite) rather than fail.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=20, ge=0, le=500)
    db_pool_timeout: float = Field(default=60.0, gt=0, le=600)
    # Demos and tests only: the bot's time follows `python -m bot admin clock ...`.
    clock_control: bool = False

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(SUPPORTED_DB_PREFIXES):
            raise ValueError(
                "expected sqlite+aiosqlite:///path or postgresql+asyncpg://user:pass@host/db"
            )
        return value


class Settings(DatabaseSettings):
    bot_token: SecretStr
    telegram_api_base: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_timezone: str = "Europe/Moscow"
    log_level: str = "INFO"
    invite_ttl_days: int = Field(default=30, ge=1, le=3650)
    # Another folder of questionnaire files (the default is bot/data/questionnaires).
    questionnaires_dir: Path | None = None
    # Another consent document (the default is bot/data/consent.yaml).
    consent_file: Path | None = None
    # Where files attached to final reports are kept (created when first needed).
    files_dir: Path = Path("./data/files")
    # A developer check: fail any Telegram request made while a transaction is open.
    strict_transactions: bool = False
    # Pacing (bot/ratelimit.py): messages per second the bot sends on its own initiative
    # (the outbox; replies come first), and per chat.
    outbox_rate: float = Field(default=25.0, gt=0, le=1000)
    outbox_chat_rate: float = Field(default=1.0, gt=0, le=30)
    # Concurrent sends of the outbox sender, and how long a claimed row is held before
    # another sender may take it over (a crashed sender's rows come back after this).
    outbox_workers: int = Field(default=8, ge=1, le=64)
    outbox_lease_s: float = Field(default=30.0, ge=1, le=3600)

    # Several instances (bot/app.py, bot/webhook.py, scheduler/leader.py).
    # Redis for dialog state, per-user ordering across instances and update deduplication.
    redis_url: str | None = None
    redis_prefix: str = Field(default="nastavnik", min_length=1, max_length=64)
    # Webhook mode when both are set: Telegram POSTs updates to WEBHOOK_URL (the public HTTPS
    # address of the load balancer); the bot listens on WEBHOOK_HOST:WEBHOOK_PORT.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    # Seconds an update id is remembered to drop Telegram's re-sends (it retries for a day).
    webhook_dedup_ttl_s: int = Field(default=86400, ge=60, le=7 * 86400)
    # Seconds between attempts of a non-leader to take the scheduler lock over.
    leader_poll_s: float = Field(default=10.0, gt=0, le=30)
    # A name for this instance in logs and /healthz (default: host name and process id).
    instance_id: str = ""
    # "text" (default) or "json": one JSON object per line, ids as hashes only.
    log_format: str = "text"

    @field_validator("questionnaires_dir", "consent_file", mode="before")
    @classmethod
    def _empty_path(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("questionnaires_dir", "consent_file")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.exists():
            raise ValueError(f"{value} does not exist")
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            raise ValueError("expected the form 123456:ABC... from @BotFather")
        return SecretStr(token)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(
                    "expected comma-separated Telegram ids, e.g. 12345,67890"
                ) from None
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA timezone, e.g. Europe/Moscow") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("redis_url", "webhook_url", mode="before")
    @classmethod
    def _empty_url(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _empty_secret(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:6379/0")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("expected the public https:// address Telegram posts updates to")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram: 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None and not SECRET_SHAPE.fullmatch(value.get_secret_value()):
            raise ValueError("1-256 characters: letters, digits, _ and -")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"text", "json"}:
            raise ValueError("expected text or json")
        return value

    @model_validator(mode="after")
    def _webhook_pair(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required with WEBHOOK_URL")
        return self

    @property
    def webhook_mode(self) -> bool:
        return bool(self.webhook_url and self.webhook_secret)

    @field_validator("telegram_api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected a URL such as http://127.0.0.1:8081")
        return value


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


S = TypeVar("S", bound="DatabaseSettings")


@overload
def load_settings(cls: None = None, **overrides: object) -> Settings: ...
@overload
def load_settings(cls: type[S], **overrides: object) -> S: ...
def load_settings(cls: type[BaseSettings] | None = None, **overrides: object) -> BaseSettings:
    try:
        return (cls or Settings)(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            if err["type"] == "missing":
                lines.append(f"{name} is not set (see .env.example)")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                lines.append(f"{name} is invalid: {msg}")
        raise ConfigError("; ".join(lines)) from None


def ensure_sqlite_dir(database_url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix):].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

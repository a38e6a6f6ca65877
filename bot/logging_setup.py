"""Logging: readable lines by default, one JSON object per line with LOG_FORMAT=json.

JSON records carry: ts, level, logger, message, instance, and, while an update is handled,
`update` and `user`: keyed hashes of the update id and the Telegram user id (the same on every
instance, useless without the bot's token). Nothing personal: the code logs ids only, and the
text of an exception is stripped of the SQL parameters a database error quotes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# aiogram logs each update at INFO; ids only, but noisy. The database drivers log statements
# with their parameters at DEBUG: that would put personal data in the log.
QUIET_LOGGERS = ("aiogram.event", "aiosqlite", "asyncpg", "sqlalchemy.engine")
# SQLAlchemy quotes the statement and its parameters (names, answers) in its error texts.
# A Telegram chat or user id in a message ("flood control: chat 123 paused") becomes its hash.
_TELEGRAM_ID = re.compile(r"\b(chat|user) (-?\d+)\b")
_SQL_DETAIL = re.compile(r"\[(?:SQL|parameters): .*?\](?=\s*(?:\[|\(Background|$))", re.S)


@dataclass(frozen=True, slots=True)
class UpdateTag:
    """The ids of the update being handled. They stay in memory; a JSON record shows only
    their keyed hashes, computed when a record is written (most updates write none)."""

    update_id: int
    user_id: int | None


# The update being handled (a context variable: per task, nothing outlives the update).
current_update: ContextVar[UpdateTag | None] = ContextVar("current_update", default=None)


def id_hash(value: int, key: bytes) -> str:
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:12]


def hash_key(bot_token: str) -> bytes:
    """The key of the id hashes: derived from the token, so every instance agrees."""
    return hashlib.sha256(b"nastavnik-log:" + bot_token.encode()).digest()


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def scrub(text: str) -> str:
    return _SQL_DETAIL.sub("[…]", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, instance: str, key: bytes = b"") -> None:
        super().__init__()
        self._instance = instance
        self._key = key

    def _clean(self, text: str) -> str:
        text = _TELEGRAM_ID.sub(lambda m: f"{m[1]} #{id_hash(int(m[2]), self._key)}", text)
        return scrub(text)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._clean(record.getMessage()),
            "instance": self._instance,
        }
        tag = current_update.get()
        if tag is not None:
            entry["update"] = id_hash(tag.update_id, self._key)
            if tag.user_id:
                entry["user"] = id_hash(tag.user_id, self._key)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["exc_type"] = f"{type(exc).__module__}.{type(exc).__qualname__}"
            entry["exc"] = self._clean(str(exc))[:2000]
            entry["stack"] = "".join(traceback.format_tb(exc.__traceback__))[-4000:]
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str, fmt: str = "text", instance: str = "", key: bytes = b""
) -> None:
    """key: of the id hashes in JSON records (hash_key(token): the same on every instance)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(instance or default_instance_id(), key))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = max(logging.getLevelName(level), logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    logging.getLogger("aiohttp.access").setLevel(quiet)  # a line per webhook request


@contextmanager
def tagged(update_id: int, user_id: int | None) -> Iterator[None]:
    token = current_update.set(UpdateTag(update_id, user_id))
    try:
        yield
    finally:
        current_update.reset(token)


class LogTagMiddleware(BaseMiddleware):
    """Tags the log records of an update with the hashes of its id and its user's id."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        update_id = event.update_id if isinstance(event, Update) else 0
        with tagged(update_id, user.id if user else None):
            return await handler(event, data)

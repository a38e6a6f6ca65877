"""Delivers the outbox: pacing comes from the bot session's flood limiter."""

from __future__ import annotations

import datetime as dt
import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.render import chunks
from db.models import OutboxMessage, OutboxStatus, Participant, ParticipantStatus
from db.queries import outbox as q

log = logging.getLogger(__name__)
BATCH = 50
MAX_ATTEMPTS = 8


async def drain(bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Send everything due now; returns how many were delivered."""
    delivered = 0
    while True:
        async with sessionmaker() as session:
            batch = list(await q.due(session, clock.now(), BATCH))
            await session.commit()
        if not batch:
            return delivered
        for message in batch:
            delivered += await _deliver(bot, sessionmaker, clock, message)
        if len(batch) < BATCH:
            return delivered


async def _deliver(
    bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, message: OutboxMessage
) -> int:
    async with sessionmaker() as session:
        claimed = await q.claim(session, message.id)
        await session.commit()
    if not claimed:
        return 0
    payload = message.payload or {}
    values: dict[str, object]
    try:
        markup = payload.get("reply_markup")
        # A text over Telegram's limit goes out in well-formed pieces, the buttons on the last.
        *first, last = chunks([payload["text"]]) or [payload["text"]]
        for part in first:
            await bot.send_message(message.chat_id, part)
        await bot.send_message(
            message.chat_id,
            last,
            reply_markup=InlineKeyboardMarkup.model_validate(markup) if markup else None,
        )
        values = {"status": OutboxStatus.SENT, "sent_at": clock.now(), "payload": None}
        result = 1
    except TelegramRetryAfter as exc:
        values = _retry(clock, message, exc.retry_after, "flood control")
        log.warning("outbox message %s: flood control, retry in %ss", message.id, exc.retry_after)
        result = 0
    except TelegramForbiddenError as exc:
        values = {"status": OutboxStatus.PARKED, "last_error": exc.message[:300], "payload": None}
        log.info("outbox message %s parked: the chat cannot be reached", message.id)
        async with sessionmaker() as session:
            await session.execute(
                update(Participant)
                .where(Participant.telegram_id == message.chat_id)
                .values(status=ParticipantStatus.UNREACHABLE)
            )
            await session.commit()
        result = 0
    except TelegramBadRequest as exc:
        values = {"status": OutboxStatus.PARKED, "last_error": exc.message[:300]}
        log.error("outbox message %s rejected: %s", message.id, exc.message)
        result = 0
    except (TelegramNetworkError, TelegramServerError) as exc:
        values = _retry(clock, message, 2 ** min(message.attempts + 1, 8), type(exc).__name__)
        log.warning("outbox message %s failed (%s), will retry", message.id, type(exc).__name__)
        result = 0
    async with sessionmaker() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values)
        )
        await session.commit()
    return result


def _retry(clock: Clock, message: OutboxMessage, delay: float, why: str) -> dict[str, object]:
    if message.attempts + 1 >= MAX_ATTEMPTS:
        return {"status": OutboxStatus.PARKED, "last_error": f"gave up: {why}"}
    return {
        "status": OutboxStatus.PENDING,
        "not_before": clock.now() + dt.timedelta(seconds=delay),
        "last_error": why,
    }

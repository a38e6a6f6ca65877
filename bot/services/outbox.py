"""Messages that are not direct replies: stored first, delivered by the sender.

Enqueue inside the same transaction as the change that caused the message, so a
crash loses neither; the idempotency key makes a repeated enqueue harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OutboxMessage


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    text: str,
    key: str,
    now: dt.datetime,
    reply_markup: Mapping[str, Any] | None = None,
    not_before: dt.datetime | None = None,
) -> OutboxMessage | None:
    existing = await session.execute(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    )
    if existing.first() is not None:
        return None
    payload: dict[str, Any] = {"text": text}
    if reply_markup is not None:
        payload["reply_markup"] = dict(reply_markup)  # the Bot API's JSON form
    message = OutboxMessage(
        idempotency_key=key,
        chat_id=chat_id,
        method="sendMessage",
        payload=payload,
        not_before=not_before or now,
        created_at=now,
    )
    session.add(message)
    return message

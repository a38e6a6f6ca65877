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
    participant_id: int | None = None,
    organisation_id: int | None = None,
    kind: str | None = None,
    batch: str | None = None,
    expires_at: dt.datetime | None = None,
) -> OutboxMessage | None:
    """Queue one message; None if its key was queued before.

    participant_id: whose pause applies; organisation_id: whose quiet hours apply (the sender
    holds the message until they end); expires_at: not worth sending after this moment.
    """
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
        participant_id=participant_id,
        organisation_id=organisation_id,
        kind=kind,
        batch=batch,
        expires_at=expires_at,
    )
    session.add(message)
    return message

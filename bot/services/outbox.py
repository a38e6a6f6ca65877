"""Messages that are not direct replies: stored first, delivered by the sender.

Enqueue inside the same transaction as the change that caused the message, so a
crash loses neither; the idempotency key makes a repeated enqueue harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Membership, OutboxMessage, Participant, ParticipantStatus
from db.queries import participants as q_people


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
    payload: dict[str, Any] = {"text": text}
    if reply_markup is not None:
        payload["reply_markup"] = dict(reply_markup)  # the Bot API's JSON form
    return await _add(
        session, key=key, chat_id=chat_id, method="sendMessage", payload=payload, now=now,
        not_before=not_before, participant_id=participant_id, organisation_id=organisation_id,
        kind=kind, batch=batch, expires_at=expires_at,
    )


async def enqueue_document(
    session: AsyncSession,
    *,
    chat_id: int,
    filename: str,
    content: str,
    key: str,
    now: dt.datetime,
    caption: str | None = None,
    reply_markup: Mapping[str, Any] | None = None,
    not_before: dt.datetime | None = None,
    participant_id: int | None = None,
    organisation_id: int | None = None,
    kind: str | None = None,
    batch: str | None = None,
    expires_at: dt.datetime | None = None,
) -> OutboxMessage | None:
    """Queue a small text file (e.g. an .ics calendar entry), sent with its caption."""
    payload: dict[str, Any] = {
        "document": {"filename": filename, "content": content},
        "caption": caption,
        "reply_markup": dict(reply_markup) if reply_markup is not None else None,
    }
    return await _add(
        session, key=key, chat_id=chat_id, method="sendDocument", payload=payload, now=now,
        not_before=not_before, participant_id=participant_id, organisation_id=organisation_id,
        kind=kind, batch=batch, expires_at=expires_at,
    )


async def _add(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    method: str,
    payload: dict[str, Any],
    now: dt.datetime,
    not_before: dt.datetime | None,
    participant_id: int | None,
    organisation_id: int | None,
    kind: str | None,
    batch: str | None,
    expires_at: dt.datetime | None,
) -> OutboxMessage | None:
    existing = await session.execute(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    )
    if existing.first() is not None:
        return None
    message = OutboxMessage(
        idempotency_key=key,
        chat_id=chat_id,
        method=method,
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


@dataclass(slots=True)
class Unreachable:
    """A person the bot can no longer write to, and the curators to tell."""

    participant_id: int
    full_name: str
    roles: list[str]
    organisation_ids: list[int]
    curators: list[Participant] = field(default_factory=list)


async def mark_unreachable(
    session: AsyncSession, chat_id: int, participant_id: int | None
) -> Unreachable | None:
    """Telegram answered 403 for this chat: the person is marked unreachable. Returns who
    it is and their organisations' curators when the mark is new (None otherwise)."""
    stmt = select(Participant).where(
        Participant.id == participant_id
        if participant_id is not None
        else Participant.telegram_id == chat_id
    )
    person = (await session.execute(stmt)).scalars().first()
    if person is None or person.status in (
        ParticipantStatus.UNREACHABLE, ParticipantStatus.FORGOTTEN
    ):
        return None
    person.status = ParticipantStatus.UNREACHABLE
    memberships = (
        await session.execute(
            select(Membership.organisation_id, Membership.role).where(
                Membership.participant_id == person.id
            )
        )
    ).all()
    orgs = sorted({org for org, _ in memberships if org is not None})
    found = Unreachable(
        person.id, person.full_name or "", sorted({role for _, role in memberships}), orgs
    )
    seen: set[int] = set()
    for organisation_id in orgs:
        for curator in await q_people.curators_of(session, organisation_id):
            if curator.id != person.id and curator.id not in seen and curator.telegram_id:
                seen.add(curator.id)
                found.curators.append(curator)
    await session.flush()
    return found

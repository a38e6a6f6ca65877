"""The movable clock's offset, kept in the database so every process shares it."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ServiceError
from db.models import ClockOffset

_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(raw: str) -> dt.timedelta:
    """'1d', '3h', '90m', '1d12h', '-2h' → a timedelta."""
    text = raw.strip().lower()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-").replace(" ", "")
    parts = _DURATION.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ServiceError("duration_invalid", raw=raw)
    delta = dt.timedelta()
    for number, unit in parts:
        delta += dt.timedelta(**{_UNITS[unit]: int(number)})
    return sign * delta


def parse_moment(raw: str) -> dt.datetime:
    """An ISO datetime; without a zone it is taken as UTC."""
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ServiceError("moment_invalid", raw=raw) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def read_offset(session: AsyncSession) -> dt.timedelta:
    row = await session.scalar(select(ClockOffset.offset_seconds).where(ClockOffset.id == 1))
    return dt.timedelta(seconds=row or 0.0)


async def write_offset(session: AsyncSession, offset: dt.timedelta, now: dt.datetime) -> None:
    row = await session.get(ClockOffset, 1)
    if row is None:
        session.add(ClockOffset(id=1, offset_seconds=offset.total_seconds(), updated_at=now))
    else:
        row.offset_seconds = offset.total_seconds()
        row.updated_at = now

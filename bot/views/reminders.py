"""Reminders and nudges in words, each in its recipient's language and local time, and
queued in the outbox in bulk (one statement per few hundred rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.render import clip
from bot.services.nudges import PairCard
from bot.services.reminders import Notice, NoticeKind
from db.models import OutboxStatus
from db.queries import reminders as q
from keyboards import nudges as kb


def days_text(t: Translator, n: int) -> str:
    """"5 дней", "2 дня", "21 день"; "5 days" in English."""
    return t.plural("nudges.days", n)


def local_when(t: Translator, moment: dt.datetime, tz: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return t("nudges.when", date=local.strftime("%d.%m.%Y"), time=local.strftime("%H:%M"))


def _name(t: Translator, name: str) -> str:
    return escape(clip(name, 60)) if name else t("nudges.someone")


def render(notice: Notice) -> tuple[str, dict[str, Any] | None]:
    """The text and the keyboard (Bot API JSON)."""
    t = translator(notice.language)
    kind = notice.kind
    if kind in (NoticeKind.REMINDER_24H, NoticeKind.REMINDER_1H):
        assert notice.starts_at is not None
        meeting = (t(f"meeting_kind.{notice.meeting_kind}")
                   if t.has(f"meeting_kind.{notice.meeting_kind}") else notice.meeting_kind)
        whom = (t("nudges.with_group", n=notice.group_size) if notice.group_size
                else t("nudges.with_person", name=_name(t, notice.other)))
        text = t(f"nudges.{kind.value}", when=local_when(t, notice.starts_at, notice.timezone),
                 kind=meeting, with_whom=whom)
        if notice.place:
            text += "\n" + t("nudges.place", place=escape(clip(notice.place, 200)))
        return text, None
    if kind in (NoticeKind.NUDGE_FIRST, NoticeKind.NUDGE_IDLE, NoticeKind.REMIND):
        if kind == NoticeKind.REMIND:
            key = "nudges.remind_idle" if notice.held else "nudges.remind_first"
        else:
            key = f"nudges.{kind.value}"
        text = t(key, other=_name(t, notice.other), days=days_text(t, notice.days))
        assert notice.pair_id is not None
        return text, kb.propose_meeting(t, notice.pair_id)
    if kind == NoticeKind.ESCALATE:
        assert notice.pair_id is not None
        state = t("nudges.escalate_idle" if notice.held else "nudges.escalate_first",
                  days=days_text(t, notice.days))
        text = t("nudges.escalate", id=notice.pair_id, mentee=_name(t, notice.mentee),
                 mentor=_name(t, notice.mentor), state=state)
        return text, kb.escalation(t, notice.pair_id)
    if kind == NoticeKind.PAUSE_END:
        return t("nudges.pause_end"), None
    raise ValueError(f"cannot render {kind}")


def outbox_row(notice: Notice, now: dt.datetime) -> dict[str, Any]:
    text, markup = render(notice)
    payload: dict[str, Any] = {"text": text}
    if markup is not None:
        payload["reply_markup"] = markup
    return {
        "idempotency_key": notice.key, "chat_id": notice.telegram_id, "method": "sendMessage",
        "payload": payload, "status": OutboxStatus.PENDING, "attempts": 0, "not_before": now,
        "created_at": now, "participant_id": notice.participant_id,
        "organisation_id": notice.organisation_id, "kind": notice.kind.value,
        "expires_at": notice.expires_at,
    }


async def queue(session: AsyncSession, notices: Iterable[Notice], now: dt.datetime) -> int:
    """Put the notices in the outbox; returns how many were new."""
    return await q.enqueue_many(session, [outbox_row(n, now) for n in notices])


def card_text(t: Translator, card: PairCard) -> str:
    form = t(f"form.{card.form}") if t.has(f"form.{card.form}") else card.form
    status = (t(f"nudges.status.{card.status}") if t.has(f"nudges.status.{card.status}")
              else card.status)
    return t(
        "nudges.card", id=card.pair_id, mentee=_name(t, card.mentee), mentor=_name(t, card.mentor),
        form=escape(form), status=status,
        decided=local_date(card.decided_at, card.timezone), held=card.held,
        last=local_date(card.last_held, card.timezone) if card.last_held else t("nudges.never"),
    )


def local_date(moment: dt.datetime | None, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y") if moment else "—"

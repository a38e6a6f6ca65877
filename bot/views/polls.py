"""Feedback polls in words: invitations, the reminder, the curator's alerts (with the pair's
card), a pair's poll answers. Each notice in its recipient's language, queued in the outbox
(the sender keeps the organisation's quiet hours and the person's pause)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.render import clip
from bot.services import outbox
from bot.services.nudges import PairCard
from bot.services.polls import NoticeKind, PairPoll, PollNotice, Satisfaction, default_polls
from bot.services.questionnaires import Question
from bot.views.reminders import card_text
from db.models import ACTIVE_PAIR_STATUSES
from keyboards import polls as kb


def _partner(t: Translator, name: str) -> str:
    return escape(clip(name, 60)) if name else t("polls.someone")


def _title(t: Translator, poll_id: str) -> str:
    poll = default_polls().get(poll_id)
    return escape(t.pick(poll.questionnaire.title)) if poll else poll_id


def render(notice: PollNotice) -> tuple[str, dict[str, Any] | None]:
    t = translator(notice.language)
    if notice.kind == NoticeKind.INVITE:
        key = f"polls.invite.{notice.poll_id}"
        text = (t(key, partner=_partner(t, notice.partner)) if t.has(key)
                else _title(t, notice.poll_id))
        return text, kb.invitation(t, notice.survey_response_id)
    if notice.kind == NoticeKind.REMINDER:
        return (t("polls.reminder", title=_title(t, notice.poll_id)),
                kb.invitation(t, notice.survey_response_id))
    assert notice.reason is not None
    who = t(f"polls.who.{notice.role}") if t.has(f"polls.who.{notice.role}") else notice.role
    text = t(f"polls.alert.{notice.reason.value}", id=notice.pair_id, who=who, value=notice.value)
    can_end = False
    if notice.card is not None:
        text += "\n\n" + card_text(t, notice.card)
        can_end = notice.card.status in ACTIVE_PAIR_STATUSES
    return text, kb.alert(t, notice.pair_id, can_end=can_end)


async def queue(session: AsyncSession, notices: Iterable[PollNotice], now: dt.datetime) -> int:
    """Put the notices in the outbox; returns how many were new (a repeated key is not)."""
    queued = 0
    for notice in notices:
        text, markup = render(notice)
        row = await outbox.enqueue(
            session, chat_id=notice.telegram_id, text=text, key=notice.key, now=now,
            reply_markup=markup, participant_id=notice.participant_id,
            organisation_id=notice.organisation_id, kind=notice.kind.value,
        )
        queued += row is not None
    return queued


def _value(t: Translator, question: Question | None, value: Any) -> str:
    if question is None:
        return escape(str(value))
    if isinstance(value, bool):
        return t("polls.answer_yes") if value else t("polls.answer_no")
    if isinstance(value, list):
        return ", ".join(_value(t, question, v) for v in value)
    option = question.option(value) if isinstance(value, str) else None
    if option is not None:
        return escape(t.pick(option.text))
    return escape(clip(str(value), 300))


def answers_text(
    t: Translator, card: PairCard, polls: list[PairPoll], satisfaction: Satisfaction | None = None
) -> str:
    lines = [t("polls.answers_title", id=card.pair_id), card_text(t, card)]
    if not polls:
        lines.append(t("polls.answers_none"))
    tz = ZoneInfo(card.timezone)
    for item in polls:
        if item.submitted_at is not None:
            state = t("polls.state_answered",
                      date=item.submitted_at.astimezone(tz).strftime("%d.%m.%Y"))
        elif item.closed:
            state = t("polls.state_closed")
        else:
            state = t("polls.state_waiting")
        who = t(f"polls.who.{item.role}") if t.has(f"polls.who.{item.role}") else item.role
        lines.append(t("polls.answers_head", title=escape(t.pick(item.poll.questionnaire.title)),
                       who=who, state=state))
        for question in item.poll.questionnaire.questions:
            if question.id in item.answers:
                lines.append(t("polls.answer_line", label=escape(t.pick(question.label)),
                               value=_value(t, question, item.answers[question.id])))
    if satisfaction is not None and satisfaction.answered:
        lines.append("")
        lines.append(t("polls.satisfaction", threshold=satisfaction.threshold,
                       satisfied=satisfaction.satisfied, answered=satisfaction.answered))
    return "\n".join(lines)


def satisfaction_text(t: Translator, by_org: list[tuple[str, Satisfaction]]) -> str:
    lines = [
        f"<b>{escape(name)}</b>: " + t("polls.satisfaction", threshold=kpi.threshold,
                                       satisfied=kpi.satisfied, answered=kpi.answered)
        for name, kpi in by_org
    ]
    return "\n".join([*lines, t("polls.usage")])

"""Texts of the mentor journal: the log request, the logging dialog, the mentee's
confirmation, and /journal's pages. People's texts are escaped for HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.messaging import enqueue
from bot.services.journal import FeedbackAsk
from db.models import Meeting, MeetingFeedback, MeetingStatus, Pair, Participant, PlanGoal
from keyboards import journal as kb

PAGE_SIZE = 8


def local(moment: dt.datetime, timezone: str) -> dt.datetime:
    try:
        return moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return moment


def when(moment: dt.datetime, timezone: str) -> str:
    return local(moment, timezone).strftime("%d.%m.%Y %H:%M")


def kind_name(t: Translator, kind: str) -> str:
    return t(f"meeting_kind.{kind}")


def name_of(t: Translator, person: Participant | None) -> str:
    if person is None or not person.full_name:
        return t("journal.someone")
    return escape(person.full_name)


def pair_label(
    t: Translator, pair: Pair, mentor: Participant | None, mentee: Participant | None
) -> str:
    return t("journal.pair_label", id=pair.id, mentor=name_of(t, mentor),
             mentee=name_of(t, mentee))


def ask_text(
    t: Translator, meeting: Meeting, timezone: str, mentees: Sequence[Participant | None]
) -> str:
    return t(
        "journal.ask", kind=kind_name(t, meeting.kind), when=when(meeting.starts_at, timezone),
        who=", ".join(name_of(t, m) for m in mentees),
    )


def not_held_text(t: Translator, meeting: Meeting, timezone: str) -> str:
    return t("journal.not_held_done", kind=kind_name(t, meeting.kind),
             when=when(meeting.starts_at, timezone))


def progress_question(t: Translator, goal: PlanGoal, index: int, total: int) -> str:
    return t("journal.ask_progress", title=escape(goal.title or "—"), progress=goal.progress,
             n=index, total=total)


def logged_text(t: Translator, meeting: Meeting, timezone: str, reached: str | None) -> str:
    text = t("journal.held_done", kind=kind_name(t, meeting.kind),
             when=when(meeting.starts_at, timezone), minutes=meeting.actual_minutes or 0)
    if reached:
        text += "\n" + t("journal.stage_reached", stage=t(f"journal.stage_{reached}"))
    return text


def feedback_text(t: Translator, meeting: Meeting, timezone: str) -> str:
    return t("journal.feedback_ask", kind=kind_name(t, meeting.kind),
             when=when(meeting.starts_at, timezone))


async def enqueue_feedback_asks(
    session: AsyncSession, asks: Iterable[FeedbackAsk], meeting: Meeting, timezone: str,
    now: dt.datetime,
) -> int:
    """"Did it take place? Rate it" to each mentee, in their language, through the outbox."""
    queued = 0
    for ask in asks:
        t = translator(ask.language)
        message = await enqueue(
            session, chat_id=ask.chat_id, text=feedback_text(t, meeting, timezone),
            key=f"journal_rate:{ask.meeting_id}:{ask.membership_id}", now=now,
            reply_markup=kb.took_place(t, ask.meeting_id, ask.membership_id),
            participant_id=ask.participant_id, organisation_id=ask.organisation_id,
            kind="journal_rate",
        )
        queued += message is not None
    return queued


def _entry(
    t: Translator, meeting: Meeting, timezone: str, feedback: Sequence[MeetingFeedback]
) -> str:
    head = t("journal.entry_head", when=when(meeting.starts_at, timezone),
             kind=kind_name(t, meeting.kind))
    if meeting.status == MeetingStatus.NOT_HELD:
        return head + "\n" + t("journal.entry_not_held")
    lines = [head, t("journal.entry_minutes", n=meeting.actual_minutes or 0)]
    lines.append(t("journal.entry_topics", text=escape(meeting.topics) if meeting.topics
                   else "—"))
    if meeting.next_steps:
        lines.append(t("journal.entry_next", text=escape(meeting.next_steps)))
    for row in feedback:
        if row.took_place is False:
            lines.append(t("journal.entry_disputed"))
        elif row.rating is not None:
            lines.append(t("journal.entry_rating", n=row.rating))
        elif row.took_place:
            lines.append(t("journal.entry_confirmed"))
        else:
            lines.append(t("journal.entry_waiting"))
    return "\n".join(lines)


def journal_text(
    t: Translator, label: str, meetings: Sequence[Meeting], timezone: str,
    feedback: Mapping[int, Sequence[MeetingFeedback]], *, page: int, total: int,
    stage: str,
) -> str:
    head = t("journal.title", pair=label, stage=t(f"journal.stage_{stage}"))
    if not meetings:
        return head + "\n\n" + t("journal.empty")
    pages = max(1, -(-total // PAGE_SIZE))
    entries = [_entry(t, m, timezone, feedback.get(m.id, ())) for m in meetings]
    text = head + "\n\n" + "\n\n".join(entries)
    if pages > 1:
        text += "\n\n" + t("journal.page", n=page + 1, total=pages)
    return text

"""Meetings in words and buttons: the proposal dialog, meeting cards, /meetings, and the
messages (and calendar files) that go to the other side through the outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.messaging import enqueue
from bot.render import clip
from bot.services import meetings as svc
from bot.services.meetings import Event, IcsFile, Member, Outcome, Party
from bot.services.meetings.when import day_code
from db.models import MEETING_SEQUENCE, Meeting, MeetingKind, MeetingStatus, Pair, Role
from db.queries import meetings as q
from keyboards.meetings import MeetingAction as A
from keyboards.meetings import MeetingCb

PAGE_SIZE = 8
NAME_LIMIT = 60


# -- words ------------------------------------------------------------------------------------
def kind_name(t: Translator, kind: str) -> str:
    return t(f"meeting_kind.{kind}")


def when_text(t: Translator, moment: dt.datetime, tz: ZoneInfo) -> str:
    """"пн, 25.11.2026, 15:30" in the organisation's time."""
    at = moment.astimezone(tz)
    return t("meetings.when", wd=t(f"meetings.wd_{at.weekday()}"), date=at.strftime("%d.%m.%Y"),
             time=at.strftime("%H:%M"))


def day_label(t: Translator, day: dt.date) -> str:
    return f"{t(f'meetings.wd_{day.weekday()}')} {day.strftime('%d.%m')}"


def _name(member: Member) -> str:
    return escape(clip(member.name, NAME_LIMIT))


def with_whom(party: Party, viewer_id: int | None) -> str:
    return ", ".join(_name(m) for m in party.others(viewer_id or 0)) or "—"


def status_text(t: Translator, meeting: Meeting) -> str:
    if meeting.status == MeetingStatus.PROPOSED:
        return t(f"meetings.status_awaiting_{meeting.awaiting_role or 'mentee'}")
    return t(f"meetings.status_{meeting.status}")


def card(t: Translator, meeting: Meeting, party: Party, viewer_id: int | None) -> str:
    lines = [
        t("meetings.card_kind", kind=kind_name(t, meeting.kind))
        + (" " + t("meetings.card_group") if party.group_key else ""),
        t("meetings.card_when", when=when_text(t, meeting.starts_at, party.timezone),
          tz=escape(party.timezone.key)),
        t("meetings.card_place", place=escape(meeting.place) if meeting.place
          else t("meetings.no_place")),
        t("meetings.card_with", who=with_whom(party, viewer_id)),
        t("meetings.card_status", status=status_text(t, meeting)),
    ]
    return "\n".join(lines)


def list_line(t: Translator, meeting: Meeting, party: Party | None, viewer_id: int) -> str:
    if party is None:
        return ""
    return t("meetings.list_line", when=when_text(t, meeting.starts_at, party.timezone),
             kind=kind_name(t, meeting.kind), who=with_whom(party, viewer_id),
             status=status_text(t, meeting))


# -- the proposal dialog ----------------------------------------------------------------------
def choices_keyboard(
    t: Translator, options: Sequence[tuple[Pair, bool, str]]
) -> InlineKeyboardMarkup:
    """(pair, whole group?, the other person's name) -> one button each."""
    builder = InlineKeyboardBuilder()
    for pair, group, name in options:
        if group:
            builder.button(text=t("meetings.whole_group"),
                           callback_data=MeetingCb(a=A.GROUP, id=pair.id))
        else:
            builder.button(text=clip(name, 40),
                           callback_data=MeetingCb(a=A.NEW, id=pair.id, v="1"))
    builder.button(text=t("meetings.quit"), callback_data=MeetingCb(a=A.QUIT, id=0))
    builder.adjust(1)
    return builder.as_markup()


def group_choice_keyboard(t: Translator, pair_id: int, mentee: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("meetings.only_with", name=clip(mentee, 40)),
                   callback_data=MeetingCb(a=A.NEW, id=pair_id, v="1"))
    builder.button(text=t("meetings.whole_group"), callback_data=MeetingCb(a=A.GROUP, id=pair_id))
    builder.button(text=t("meetings.quit"), callback_data=MeetingCb(a=A.QUIT, id=pair_id))
    builder.adjust(1)
    return builder.as_markup()


def days_text(t: Translator, head: str) -> str:
    return f"{head}\n\n{t('meetings.pick_day')}"


def proposal_head(t: Translator, party: Party, viewer_id: int, kind: str | None) -> str:
    """"Meeting: intro — with X" for a new proposal; "Another time for ..." when kind is None."""
    who = with_whom(party, viewer_id)
    if kind is None:
        return t("meetings.retime_head", who=who)
    group = " " + t("meetings.card_group") if party.group_key else ""
    return t("meetings.new_head", kind=kind_name(t, kind), who=who) + group


def days_keyboard(
    t: Translator, target: int, days: Sequence[dt.date],
    kinds: Sequence[str] = (), kind: str | None = None,
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    widths: list[int] = []
    if len(kinds) > 1:
        order = [k.value for k in MEETING_SEQUENCE]
        for option in sorted(kinds, key=order.index):  # in sequence, whatever the default
            mark = "✅ " if option == kind else ""
            builder.button(text=mark + kind_name(t, option),
                           callback_data=MeetingCb(a=A.KIND, id=target, v=option))
        widths.append(len(kinds))
    for day in days:
        builder.button(text=day_label(t, day),
                       callback_data=MeetingCb(a=A.DAY, id=target, v=day_code(day)))
    widths += [4] * ((len(days) + 3) // 4)
    builder.button(text=t("meetings.quit"), callback_data=MeetingCb(a=A.QUIT, id=target))
    widths.append(1)
    builder.adjust(*widths)
    return builder.as_markup()


def slots_text(t: Translator, head: str, day: dt.date, any_left: bool) -> str:
    ask = t("meetings.pick_time") if any_left else t("meetings.no_slots")
    return f"{head}\n\n{t('meetings.day_chosen', day=day_label(t, day))}\n{ask}"


def slots_keyboard(
    t: Translator, target: int, day: dt.date, times: Sequence[tuple[int, int]]
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    code = day_code(day)
    for hour, minute in times:
        value = f"{code}{hour:02d}{minute:02d}"
        builder.button(text=f"{hour:02d}:{minute:02d}",
                       callback_data=MeetingCb(a=A.SLOT, id=target, v=value))
    widths = [4] * ((len(times) + 3) // 4)
    builder.button(text=t("meetings.other_day"), callback_data=MeetingCb(a=A.DAYS, id=target))
    builder.button(text=t("meetings.quit"), callback_data=MeetingCb(a=A.QUIT, id=target))
    builder.adjust(*widths, 2)
    return builder.as_markup()


def place_keyboard(t: Translator, target: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("meetings.no_place_button"),
                   callback_data=MeetingCb(a=A.NO_PLACE, id=target))
    builder.button(text=t("meetings.quit"), callback_data=MeetingCb(a=A.QUIT, id=target))
    builder.adjust(1)
    return builder.as_markup()


# -- a meeting's buttons ----------------------------------------------------------------------
def answer_keyboard(t: Translator, meeting_id: int, version: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("meetings.confirm"),
                   callback_data=MeetingCb(a=A.CONFIRM, id=meeting_id, v=str(version)))
    builder.button(text=t("meetings.other_time"),
                   callback_data=MeetingCb(a=A.RESCHEDULE, id=meeting_id))
    builder.button(text=t("meetings.decline"),
                   callback_data=MeetingCb(a=A.DECLINE, id=meeting_id, v=str(version)))
    builder.adjust(1, 2)
    return builder.as_markup()


def manage_keyboard(t: Translator, meeting_id: int, version: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("meetings.reschedule"),
                   callback_data=MeetingCb(a=A.RESCHEDULE, id=meeting_id))
    builder.button(text=t("meetings.cancel"),
                   callback_data=MeetingCb(a=A.CANCEL, id=meeting_id, v=str(version)))
    builder.adjust(2)
    return builder.as_markup()


def cancel_sure_keyboard(t: Translator, meeting_id: int, version: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("meetings.cancel_yes"),
                   callback_data=MeetingCb(a=A.CANCEL_OK, id=meeting_id, v=str(version)))
    builder.button(text=t("meetings.cancel_no"),
                   callback_data=MeetingCb(a=A.SHOW, id=meeting_id, v="e"))
    builder.adjust(2)
    return builder.as_markup()


def buttons_for(
    t: Translator, meeting: Meeting, party: Party, viewer: Member, version: int
) -> InlineKeyboardMarkup | None:
    """What this person can do with the meeting now."""
    if meeting.status == MeetingStatus.PROPOSED and viewer.role == meeting.awaiting_role:
        return answer_keyboard(t, meeting.id, version)
    if meeting.status not in svc.OPEN:
        return None
    if party.group_key and viewer.role != Role.MENTOR:
        return None
    return manage_keyboard(t, meeting.id, version)


def list_keyboard(
    t: Translator, shown: Sequence[tuple[Meeting, Party | None]], page: int, pages: int
) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    widths: list[int] = []
    for meeting, party in shown:
        if party is None or meeting.status not in svc.OPEN:
            continue
        at = meeting.starts_at.astimezone(party.timezone)
        builder.button(text=t("meetings.open", at=at.strftime("%d.%m %H:%M")),
                       callback_data=MeetingCb(a=A.SHOW, id=meeting.id))
        widths.append(1)
    nav = 0
    if page > 0:
        builder.button(text="←", callback_data=MeetingCb(a=A.PAGE, id=page - 1))
        nav += 1
    if page + 1 < pages:
        builder.button(text="→", callback_data=MeetingCb(a=A.PAGE, id=page + 1))
        nav += 1
    if nav:
        widths.append(nav)
    if not widths:
        return None
    builder.adjust(*widths)
    return builder.as_markup()


def list_text(
    t: Translator, coming: Sequence[str], past: Sequence[str], page: int, pages: int
) -> str:
    lines = [t("meetings.list_title")]
    if coming:
        lines += ["", t("meetings.list_coming"), *coming]
    if past:
        lines += ["", t("meetings.list_past"), *past]
    if pages > 1:
        lines += ["", t("meetings.page", n=page + 1, total=pages)]
    return "\n".join(lines)


# -- calendar files ---------------------------------------------------------------------------
def ics_for(t: Translator, outcome: Outcome, viewer_id: int, now: dt.datetime) -> IcsFile:
    meeting, party = outcome.meeting, outcome.party
    names = ", ".join(m.name for m in party.others(viewer_id))
    return svc.meeting_ics(
        meeting_id=meeting.id, starts_at=meeting.starts_at,
        duration_minutes=meeting.duration_minutes,
        summary=t("meetings.ics_summary", kind=kind_name(t, meeting.kind), who=names),
        description=t("meetings.ics_description"), location=meeting.place,
        sequence=outcome.version, now=now,
        cancelled=meeting.status == MeetingStatus.CANCELLED,
    )


def document_payload(
    ics: IcsFile, caption: str, markup: InlineKeyboardMarkup | None
) -> dict[str, Any]:
    """The outbox row the sender turns into sendDocument:
    {"document": {"filename", "content"}, "caption", "reply_markup"?}."""
    payload: dict[str, Any] = {"document": {"filename": ics.filename, "content": ics.content},
                     "caption": caption}
    if markup is not None:
        payload["reply_markup"] = markup.model_dump(mode="json", exclude_none=True)
    return payload


# -- telling the other side -------------------------------------------------------------------
HEADS = {
    Event.PROPOSED: "meetings.told_proposed",
    Event.RETIMED: "meetings.told_retimed",
    Event.CONFIRMED: "meetings.told_confirmed",
    Event.DECLINED: "meetings.told_declined",
    Event.DECLINED_ONE: "meetings.told_declined_one",
    Event.CANCELLED: "meetings.told_cancelled",
}


def told_text(t: Translator, outcome: Outcome, viewer: Member) -> str:
    head = t(HEADS[outcome.event], who=_name(outcome.actor))
    text = f"{head}\n\n{card(t, outcome.meeting, outcome.party, viewer.participant_id)}"
    if outcome.event in (Event.DECLINED, Event.CANCELLED):
        text += "\n\n" + t("meetings.propose_again")
    return text


async def tell(session: AsyncSession, outcome: Outcome, now: dt.datetime) -> int:
    """Queue the news for everyone it concerns (with a calendar file once it stands, and a
    cancelling one for a meeting that had stood). Returns how many messages were queued."""
    if not outcome.changed:
        return 0
    meeting, party = outcome.meeting, outcome.party
    queued = 0
    for member in outcome.to:
        if not member.reachable or member.telegram_id is None:
            continue
        t = translator(member.language)
        base = f"mt:{meeting.id}:{outcome.version}:{member.participant_id}"
        message = await enqueue(
            session, chat_id=member.telegram_id, text=told_text(t, outcome, member),
            key=f"{base}:{outcome.event}", now=now,
            reply_markup=buttons_for(t, meeting, party, member, outcome.version),
            participant_id=member.participant_id, organisation_id=party.organisation_id or None,
            kind=f"meeting_{outcome.event}",
        )
        queued += message is not None
        calendar = outcome.event == Event.CONFIRMED or (
            outcome.event in (Event.CANCELLED, Event.DECLINED)
            and meeting.confirmed_at is not None
        )
        if calendar:
            ics = ics_for(t, outcome, member.participant_id, now)
            document = await q.enqueue_document(
                session, chat_id=member.telegram_id, key=f"{base}:ics",
                payload=document_payload(ics, t("meetings.ics_caption"), None), now=now,
                participant_id=member.participant_id,
                organisation_id=party.organisation_id or None, kind="meeting_ics",
            )
            queued += document is not None
    return queued


def is_kind(value: str) -> bool:
    return value in {k.value for k in MeetingKind}

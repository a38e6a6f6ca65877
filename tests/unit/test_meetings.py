"""Meetings: typed times and the picker in the organisation's timezone, calendar files,
next kinds, and who may do what (strangers, forged ids, repeated and stale presses)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import meetings as svc
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.meetings import Event
from bot.services.meetings.when import parse_slot, zone
from bot.views import meetings as views
from db.models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    Organisation,
    OutboxMessage,
    Pair,
    PairStatus,
    Participant,
    Programme,
    Role,
)
from tests.backends import schema_sessions

VLAD = zone("Asia/Vladivostok")  # UTC+10, no daylight saving
# 23 Nov 15:30 UTC is already 24 Nov 01:30 in Vladivostok
NOW = dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# -- typed times and the picker ---------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("25.11 15:30", utc(2026, 11, 25, 5, 30)),
    ("25.11.2026 15:30", utc(2026, 11, 25, 5, 30)),
    ("25/11/26 15.30", utc(2026, 11, 25, 5, 30)),
    # "tomorrow" is Vladivostok's tomorrow (25 Nov), though in UTC it is still 23 Nov
    ("завтра 10:00", utc(2026, 11, 25, 0, 0)),
    ("Завтра в 9:00", utc(2026, 11, 24, 23, 0)),
    ("послезавтра 10:00", utc(2026, 11, 26, 0, 0)),
    ("сегодня 09:00", utc(2026, 11, 23, 23, 0)),
    ("tomorrow 10:00", utc(2026, 11, 25, 0, 0)),
    ("today at 18:00", utc(2026, 11, 24, 8, 0)),
    # a date already behind this year means next year's
    ("01.02 10:00", utc(2027, 2, 1, 0, 0)),
])
def test_typed_times_in_the_organisations_timezone(text: str, expected: dt.datetime) -> None:
    assert svc.parse_when(text, VLAD, NOW) == expected


@pytest.mark.parametrize(("text", "code"), [
    ("сегодня 01:00", "meeting_time_past"),  # 01:00 local has passed (it is 01:30)
    ("24.11 01:00", "meeting_time_past"),
    ("25.11.2028 10:00", "meeting_time_far"),
    ("когда-нибудь", "meeting_time_format"),
    ("25.11", "meeting_time_format"),
    ("завтра 25:00", "meeting_time_format"),
    ("31.02 10:00", "meeting_time_bad_date"),
])
def test_typed_times_refused(text: str, code: str) -> None:
    with pytest.raises(ServiceError) as error:
        svc.parse_when(text, VLAD, NOW)
    assert error.value.code == code


def test_picker_days_and_slots_follow_local_today() -> None:
    days = svc.picker_days(NOW, VLAD)
    assert len(days) == 14 and days[0] == dt.date(2026, 11, 24)  # UTC is still the 23rd
    assert days[-1] == dt.date(2026, 12, 7)
    assert len(svc.slots(days[0], NOW, VLAD)) == 28  # 08:00-21:30, every 30 minutes
    later = utc(2026, 11, 24, 5, 10)  # 15:10 local
    assert svc.slots(days[0], later, VLAD)[0] == (15, 30)
    assert svc.parse_day("20261124", NOW, VLAD) == dt.date(2026, 11, 24)
    assert svc.parse_day("20261123", NOW, VLAD) is None  # yesterday, local
    assert svc.parse_day("20261208", NOW, VLAD) is None  # beyond 14 days
    assert svc.parse_day("garbage", NOW, VLAD) is None
    assert parse_slot("0800") == (8, 0) and parse_slot("2130") == (21, 30)
    assert parse_slot("0815") is None and parse_slot("2200") is None and parse_slot("x") is None
    day = dt.date(2026, 11, 25)
    assert svc.parse_time_on("15:30", day, VLAD, NOW) == utc(2026, 11, 25, 5, 30)
    assert svc.parse_time_on("завтра 15:30", day, VLAD, NOW) is None


def test_callback_data_stays_under_64_bytes() -> None:
    from keyboards.meetings import MeetingAction, MeetingCb

    packed = MeetingCb(a=MeetingAction.SLOT, id=2**31 - 1, v="202611242130").pack()
    assert len(packed.encode()) <= 64


# -- calendar files ---------------------------------------------------------------------------
def test_ics_times_in_utc_with_a_stable_uid() -> None:
    ics = svc.meeting_ics(
        meeting_id=5, starts_at=utc(2026, 11, 25, 5, 30), duration_minutes=90,
        summary="Наставничество: знакомство", description="d", location="Каб. 12",
        sequence=3, now=NOW,
    )
    assert ics.filename == "meeting-5.ics"
    assert "METHOD:REQUEST" in ics.content
    assert "DTSTART:20261125T053000Z" in ics.content
    assert "DTEND:20261125T070000Z" in ics.content
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(event["uid"]) == "meeting-5@nastavnik.bot"
    assert int(event["sequence"]) == 3 and str(event["location"]) == "Каб. 12"
    assert event.decoded("dtstart") == utc(2026, 11, 25, 5, 30)
    cancelled = svc.meeting_ics(
        meeting_id=5, starts_at=utc(2026, 11, 25, 5, 30), duration_minutes=60, summary="s",
        description="", location=None, sequence=4, now=NOW, cancelled=True,
    )
    assert "METHOD:CANCEL" in cancelled.content and "STATUS:CANCELLED" in cancelled.content
    assert "UID:meeting-5@nastavnik.bot" in cancelled.content


def test_next_kinds() -> None:
    assert svc.next_kinds(set()) == (MeetingKind.INTRO,)
    assert svc.next_kinds({"intro"}) == (MeetingKind.TRIAL,)
    assert svc.next_kinds({"intro", "trial"}) == (MeetingKind.PLANNING,)
    assert svc.next_kinds({"intro", "trial", "planning"}) == (
        MeetingKind.REGULAR, MeetingKind.FINAL)


# -- a pair's meetings in the database --------------------------------------------------------
class World:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.ids = iter(range(7000, 8000))

    async def setup(self) -> World:
        self.org = Organisation(name="Школа", timezone="Asia/Vladivostok")
        self.session.add(self.org)
        await self.session.flush()
        self.programme = Programme(
            organisation_id=self.org.id, name="П", forms=["student-student"],
            start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 5, 31),
        )
        self.session.add(self.programme)
        await self.session.flush()
        self.mentor = await self.member("Наставник Пётр", Role.MENTOR)
        self.mentee = await self.member("Ученик Иван", Role.MENTEE)
        self.stranger = await self.member("Чужой Человек", Role.MENTEE)
        self.pair = await self.pair_of(self.mentee, self.mentor)
        return self

    async def member(self, name: str, role: Role) -> Membership:
        person = Participant(telegram_id=next(self.ids), full_name=name, language="ru")
        self.session.add(person)
        await self.session.flush()
        membership = Membership(
            participant_id=person.id, organisation_id=self.org.id,
            programme_id=self.programme.id, role=role, form="student-student",
            status=MembershipStatus.PAIRED, capacity=3,
        )
        self.session.add(membership)
        await self.session.flush()
        return membership

    async def pair_of(self, mentee: Membership, mentor: Membership) -> Pair:
        pair = Pair(programme_id=self.programme.id, mentee_membership_id=mentee.id,
                    mentor_membership_id=mentor.id, form="student-student",
                    status=PairStatus.APPROVED)
        self.session.add(pair)
        await self.session.flush()
        return pair

    async def outbox(self) -> list[OutboxMessage]:
        return list((await self.session.execute(
            select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with schema_sessions(tmp_path / "meetings.db") as sessions, sessions() as session:
        yield await World(session).setup()


WHEN = utc(2026, 11, 25, 5, 30)  # 25 Nov 15:30 in Vladivostok


async def test_propose_confirm_and_who_may(world: World) -> None:
    s = world.session
    mentor_id, mentee_id = world.mentor.participant_id, world.mentee.participant_id
    stranger_id = world.stranger.participant_id
    with pytest.raises(NotYoursError):
        await svc.start(s, world.pair.id, stranger_id)
    with pytest.raises(StaleError):
        await svc.start(s, 999_999, mentee_id)  # a forged pair id

    proposed = await svc.propose(s, pair_id=world.pair.id, actor_id=mentee_id, kind="intro",
                                 starts_at=WHEN, place="Библиотека", now=NOW)
    meeting = proposed.meeting
    assert meeting.status == MeetingStatus.PROPOSED and meeting.awaiting_role == Role.MENTOR
    assert [m.participant_id for m in proposed.to] == [mentor_id]
    assert await views.tell(s, proposed, NOW) == 1
    [told] = await world.outbox()
    assert told.participant_id == mentor_id and told.organisation_id == world.org.id
    assert told.kind == "meeting_proposed" and told.payload is not None
    assert "25.11.2026, 15:30" in told.payload["text"]  # local time, not UTC
    assert "Библиотека" in told.payload["text"]
    buttons = [b["text"] for row in told.payload["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["✅ Подтвердить", "🕒 Другое время", "❌ Отклонить"]

    with pytest.raises(NotYoursError):
        await svc.confirm(s, meeting.id, stranger_id, now=NOW)
    with pytest.raises(StaleError):
        await svc.confirm(s, 999_999, mentor_id, now=NOW)  # a forged meeting id
    with pytest.raises(ServiceError) as error:
        await svc.confirm(s, meeting.id, mentee_id, now=NOW)  # the proposer
    assert error.value.code == "meeting_wait_other"
    with pytest.raises(StaleError):
        await svc.confirm(s, meeting.id, mentor_id, now=NOW, seen_version=proposed.version + 5)

    confirmed = await svc.confirm(s, meeting.id, mentor_id, now=NOW,
                                  seen_version=proposed.version)
    assert confirmed.changed and meeting.status == MeetingStatus.CONFIRMED
    assert meeting.confirmed_at == NOW
    assert await views.tell(s, confirmed, NOW) == 2  # the text and the calendar file
    document = (await world.outbox())[-1]
    assert document.method == "sendDocument" and document.participant_id == mentee_id
    assert document.payload is not None
    assert document.payload["document"]["filename"] == f"meeting-{meeting.id}.ics"
    assert "DTSTART:20261125T053000Z" in document.payload["document"]["content"]
    assert document.payload["caption"]

    again = await svc.confirm(s, meeting.id, mentor_id, now=NOW,
                              seen_version=proposed.version)  # a repeated tap
    assert not again.changed and await views.tell(s, again, NOW) == 0
    assert await svc.next_kind(s, world.pair.id) == MeetingKind.TRIAL


async def test_retime_decline_cancel(world: World) -> None:
    s = world.session
    mentor_id, mentee_id = world.mentor.participant_id, world.mentee.participant_id
    proposed = await svc.propose(s, pair_id=world.pair.id, actor_id=mentor_id, kind="intro",
                                 starts_at=WHEN, place=None, now=NOW)
    meeting = proposed.meeting
    # the mentee proposes another time: the proposal now waits for the mentor
    countered = await svc.retime(s, meeting.id, mentee_id, WHEN + dt.timedelta(hours=2),
                                 now=NOW)
    assert countered.event == Event.RETIMED and meeting.awaiting_role == Role.MENTOR
    assert meeting.starts_at == WHEN + dt.timedelta(hours=2)
    with pytest.raises(StaleError):  # the mentee's old "confirm" names the older version
        await svc.confirm(s, meeting.id, mentee_id, now=NOW, seen_version=proposed.version)
    confirmed = await svc.confirm(s, meeting.id, mentor_id, now=NOW,
                                  seen_version=countered.version)
    meeting.reminded_24h_at = NOW
    # a confirmed meeting moved: it waits again, reminders start over, the version grows
    moved = await svc.retime(s, meeting.id, mentor_id, WHEN + dt.timedelta(days=1), now=NOW)
    assert meeting.status == MeetingStatus.PROPOSED and meeting.reminded_24h_at is None
    assert meeting.confirmed_at is None and moved.version > confirmed.version
    with pytest.raises(ServiceError):
        await svc.retime(s, meeting.id, mentor_id, NOW - dt.timedelta(hours=1), now=NOW)

    cancelled = await svc.cancel(s, meeting.id, mentee_id, now=NOW, seen_version=moved.version)
    assert meeting.status == MeetingStatus.CANCELLED and meeting.cancelled_by == mentee_id
    await views.tell(s, cancelled, NOW)
    told = (await world.outbox())[-1]
    assert told.kind == "meeting_cancelled" and told.participant_id == mentor_id
    assert not (await svc.cancel(s, meeting.id, mentee_id, now=NOW)).changed
    with pytest.raises(StaleError):
        await svc.confirm(s, meeting.id, mentor_id, now=NOW)

    other = await svc.propose(s, pair_id=world.pair.id, actor_id=mentor_id, kind="intro",
                              starts_at=WHEN, place=None, now=NOW)
    with pytest.raises(ServiceError):  # only the side it waits for declines
        await svc.decline(s, other.meeting.id, mentor_id, now=NOW)
    declined = await svc.decline(s, other.meeting.id, mentee_id, now=NOW)
    assert declined.changed and other.meeting.status == MeetingStatus.CANCELLED
    listing = await svc.list_for(s, mentee_id, NOW)
    assert listing.coming == [] and len(listing.past) == 2

    # the journal marks a confirmed meeting not held; "reschedule" then starts a new proposal
    with pytest.raises(StaleError):
        await svc.start_again(s, other.meeting.id, mentor_id)  # cancelled, not "not held"
    other.meeting.status = MeetingStatus.NOT_HELD
    other.meeting.kind = "intro"
    again = await svc.start_again(s, other.meeting.id, mentor_id)
    assert again.kinds == (MeetingKind.INTRO,) and again.party.pair.id == world.pair.id
    with pytest.raises(NotYoursError):
        await svc.start_again(s, other.meeting.id, world.stranger.participant_id)


async def test_group_meeting(world: World) -> None:
    s = world.session
    mentee2 = await world.member("Ученица Мария", Role.MENTEE)
    pair2 = await world.pair_of(mentee2, world.mentor)
    mentor_id = world.mentor.participant_id
    begun = await svc.start(s, world.pair.id, mentor_id)
    assert begun.group_possible
    assert not (await svc.start(s, world.pair.id, world.mentee.participant_id)).group_possible
    with pytest.raises(StaleError):  # a mentee cannot make a group meeting
        await svc.start(s, world.pair.id, world.mentee.participant_id, group=True)

    proposed = await svc.propose(s, pair_id=pair2.id, actor_id=mentor_id, kind="intro",
                                 starts_at=WHEN, place="Актовый зал", now=NOW, group=True)
    meeting = proposed.meeting
    key = f"g{world.mentor.id}"
    assert meeting.group_key == key and meeting.pair_id == world.pair.id
    pairs = (await s.execute(select(Pair.group_key).order_by(Pair.id))).scalars().all()
    assert list(pairs) == [key, key]
    assert {m.participant_id for m in proposed.to} == {
        world.mentee.participant_id, mentee2.participant_id}
    assert await views.tell(s, proposed, NOW) == 2

    with pytest.raises(NotYoursError):
        await svc.confirm(s, meeting.id, world.stranger.participant_id, now=NOW)
    # one mentee cannot come: the mentor is told, the meeting stands for the others
    for _ in range(2):
        declined = await svc.decline(s, meeting.id, world.mentee.participant_id, now=NOW,
                                     seen_version=proposed.version)
        assert declined.event == Event.DECLINED_ONE and declined.to == [proposed.party.mentor]
        await views.tell(s, declined, NOW)
    told = [m for m in await world.outbox() if m.kind == "meeting_declined_one"]
    assert len(told) == 1 and meeting.status == MeetingStatus.PROPOSED
    first = await svc.confirm(s, meeting.id, mentee2.participant_id, now=NOW,
                              seen_version=proposed.version)
    assert first.changed and meeting.status == MeetingStatus.CONFIRMED
    assert {m.participant_id for m in first.to} == {mentor_id, world.mentee.participant_id}
    later = await svc.confirm(s, meeting.id, world.mentee.participant_id, now=NOW)
    assert not later.changed
    with pytest.raises(ServiceError) as error:
        await svc.cancel(s, meeting.id, world.mentee.participant_id, now=NOW)
    assert error.value.code == "meeting_group_mentor_cancels"
    listed = await svc.list_for(s, mentee2.participant_id, NOW)
    assert [m.id for m in listed.coming] == [meeting.id]
    assert await svc.next_kind(s, world.pair.id, key) == MeetingKind.TRIAL
    assert await svc.next_kind(s, pair2.id) == MeetingKind.TRIAL  # the group's count for it


async def test_forgetting_erases_typed_places(world: World) -> None:
    from bot.services import privacy

    s = world.session
    proposed = await svc.propose(s, pair_id=world.pair.id, actor_id=world.mentee.participant_id,
                                 kind="intro", starts_at=WHEN, place="Мой адрес", now=NOW)
    person = await s.get(Participant, world.mentee.participant_id)
    assert person is not None
    await privacy.forget(s, person, now=NOW, version=1)
    place = (await s.execute(
        select(Meeting.place).where(Meeting.id == proposed.meeting.id))).scalar_one()
    assert place is None

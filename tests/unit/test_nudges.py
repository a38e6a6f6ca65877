"""Reminders, nudges, pause, broadcasts and /remind on a real SQLite file, with a moved
clock: each job is a function of (database, now)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.services import broadcast, nudges, pairing, pause, reminders
from bot.services.errors import ServiceError
from bot.services.reminders import NoticeKind
from bot.views.reminders import days_text, queue, render
from db.models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    Membership,
    Organisation,
    OutboxMessage,
    Pair,
    PairStatus,
    Participant,
    ParticipantStatus,
    Role,
)
from tests.unit.test_pairing import (  # noqa: F401 (fixtures)
    CATALOG,
    MENTEE_ANSWERS,
    MENTOR_ANSWERS,
    NOW,
    TT,
    World,
    _scope,
    db,
    world,
)

DAY = dt.timedelta(days=1)


async def _approved(world: World, name: str = "Иванов Иван") -> tuple[Pair, Membership,
                                                                       Membership]:
    tee = await world.member(name, Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS, capacity=3)
    proposal = await world.proposal(tee, tor)
    result = await pairing.approve(world.session, proposal.id, org_ids=_scope(world),
                                   actor_id=world.curator.id, now=NOW)
    return result.pair, tee, tor


async def _fresh(world: World, pair_id: int) -> Pair:
    stmt = select(Pair).where(Pair.id == pair_id).execution_options(populate_existing=True)
    return (await world.session.execute(stmt)).scalar_one()


async def _confirm_curators(world: World) -> None:
    for membership in (await world.session.execute(
        select(Membership).where(Membership.role == Role.CURATOR)
    )).scalars():
        membership.confirmed_at = NOW
    await world.session.flush()


async def _person(world: World, membership: Membership) -> Participant:
    person = await world.session.get(Participant, membership.participant_id)
    assert person is not None
    return person


# -- nudges -----------------------------------------------------------------------------------
async def test_approval_schedules_the_first_check(world: World) -> None:
    pair, _, _ = await _approved(world)
    assert pair.next_check_at == NOW + 10 * DAY and pair.nudge_level == 0
    world.org.nudge_first_days = 5
    tee = await world.member("Сидоров Сидор", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Наставник Два", Role.MENTOR, MENTOR_ANSWERS)
    result = await pairing.manual_pair(world.session, CATALOG, tee.id, tor.id,
                                       org_ids=_scope(world), actor_id=world.curator.id,
                                       now=NOW, confirmed=True)
    assert result.pair is not None and result.pair.next_check_at == NOW + 5 * DAY


async def test_first_nudge_at_day_10_then_the_curator_at_day_17(world: World) -> None:
    await _confirm_curators(world)
    pair, tee, tor = await _approved(world)
    assert await nudges.due_nudges(world.session, NOW + 9 * DAY) == []

    at = NOW + 10 * DAY
    sent = await nudges.due_nudges(world.session, at)
    assert {n.participant_id for n in sent} == {tee.participant_id, tor.participant_id}
    assert {n.kind for n in sent} == {NoticeKind.NUDGE_FIRST} and sent[0].days == 10
    assert await queue(world.session, sent, at) == 2
    fresh = await _fresh(world, pair.id)
    assert fresh.nudge_level == 1 and fresh.next_check_at == at + 7 * DAY
    # a tick a few minutes late does not delay the curator (7 days after the nudge was due)
    assert await nudges.due_nudges(world.session, at + dt.timedelta(minutes=5)) == []
    assert await nudges.due_nudges(world.session, at) == []  # a second tick: nothing
    assert await queue(world.session, sent, at) == 0  # the same keys again: nothing

    mentee_text = render(next(n for n in sent if n.participant_id == tee.participant_id))[0]
    assert "Петров Пётр" in mentee_text and "10 дней" in mentee_text

    assert await nudges.due_nudges(world.session, NOW + 16 * DAY) == []
    told = await nudges.due_nudges(world.session, NOW + 17 * DAY)
    assert {n.participant_id for n in told} == {world.curator.id, world.curator2.id}
    assert {n.kind for n in told} == {NoticeKind.ESCALATE}
    text, markup = render(told[0])
    assert f"#{pair.id}" in text and "Иванов Иван" in text and "17 дней" in text
    assert markup is not None and len(markup["inline_keyboard"][0]) == 2
    fresh = await _fresh(world, pair.id)
    assert fresh.nudge_level == 2 and fresh.next_check_at is None
    assert await nudges.due_nudges(world.session, NOW + 60 * DAY) == []


async def test_idle_nudge_14_days_after_the_last_meeting(world: World) -> None:
    pair, tee, _ = await _approved(world)
    held_at = NOW + 3 * DAY
    world.session.add(Meeting(pair_id=pair.id, kind=MeetingKind.INTRO,
                              status=MeetingStatus.HELD, starts_at=held_at))
    # what the journal does when a meeting is held
    fresh = await _fresh(world, pair.id)
    fresh.next_check_at = held_at + dt.timedelta(hours=1) + 14 * DAY
    fresh.nudge_level = 0
    await world.session.flush()
    assert await nudges.due_nudges(world.session, NOW + 16 * DAY) == []
    sent = await nudges.due_nudges(world.session, held_at + 15 * DAY)
    assert {n.kind for n in sent} == {NoticeKind.NUDGE_IDLE} and sent[0].days == 15
    assert "не встречались уже 15 дней" in render(sent[0])[0]


async def test_a_paused_persons_pair_is_not_nudged(world: World) -> None:
    pair, tee, _ = await _approved(world)
    person = await _person(world, tee)
    await pause.pause(world.session, person, reason="holidays",
                      until=dt.date(2026, 10, 21), now=NOW)
    assert await nudges.due_nudges(world.session, NOW + 10 * DAY) == []
    fresh = await _fresh(world, pair.id)
    assert fresh.next_check_at == person.paused_until and fresh.nudge_level == 0
    # the pause ends by itself: the person is told, and the pair is looked at again
    until = person.paused_until
    assert until is not None
    ended = await pause.resume_due(world.session, until)
    assert [n.kind for n in ended] == [NoticeKind.PAUSE_END]
    assert person.status == ParticipantStatus.ACTIVE
    sent = await nudges.due_nudges(world.session, until)
    assert len(sent) == 2


async def test_a_meeting_agreed_postpones_the_nudge(world: World) -> None:
    pair, _, _ = await _approved(world)
    starts = NOW + 12 * DAY
    world.session.add(Meeting(pair_id=pair.id, kind=MeetingKind.INTRO,
                              status=MeetingStatus.CONFIRMED, starts_at=starts,
                              confirmed_at=NOW + 8 * DAY))
    await world.session.flush()
    assert await nudges.due_nudges(world.session, NOW + 10 * DAY) == []
    fresh = await _fresh(world, pair.id)
    assert fresh.next_check_at == starts + DAY and fresh.nudge_level == 0
    # not held, not logged: the nudge comes a day after it
    sent = await nudges.due_nudges(world.session, starts + DAY)
    assert {n.kind for n in sent} == {NoticeKind.NUDGE_FIRST}


async def test_ended_pairs_lose_their_check(world: World) -> None:
    pair, _, _ = await _approved(world)
    await pairing.unpair(world.session, pair.id, org_ids=_scope(world),
                         actor_id=world.curator.id, now=NOW)
    assert await nudges.due_nudges(world.session, NOW + 10 * DAY) == []
    assert (await _fresh(world, pair.id)).next_check_at is None


# -- reminders --------------------------------------------------------------------------------
async def test_reminders_at_24h_and_1h_once(world: World) -> None:
    pair, tee, tor = await _approved(world)
    starts = NOW + 5 * DAY
    meeting = Meeting(pair_id=pair.id, kind=MeetingKind.INTRO, status=MeetingStatus.CONFIRMED,
                      starts_at=starts, place="Кабинет 12", confirmed_at=NOW)
    world.session.add(meeting)
    await world.session.flush()
    assert await reminders.due_reminders(world.session, starts - 25 * dt.timedelta(hours=1)) == []
    day_before = await reminders.due_reminders(world.session, starts - DAY)
    assert {n.kind for n in day_before} == {NoticeKind.REMINDER_24H}
    assert {n.participant_id for n in day_before} == {tee.participant_id, tor.participant_id}
    assert all(n.expires_at == starts for n in day_before)
    text = render(day_before[0])[0]
    # 09:00 UTC is 12:00 in Moscow
    assert "06.10.2026 в 12:00" in text and "Кабинет 12" in text
    assert await reminders.due_reminders(world.session, starts - DAY) == []
    assert await reminders.due_reminders(world.session, starts - 2 * dt.timedelta(hours=1)) == []
    hour = await reminders.due_reminders(world.session, starts - dt.timedelta(minutes=59))
    assert {n.kind for n in hour} == {NoticeKind.REMINDER_1H} and len(hour) == 2
    await queue(world.session, [*day_before, *hour], starts - DAY)
    rows = (await world.session.execute(select(OutboxMessage))).scalars().all()
    assert len(rows) == 4 and all(r.expires_at == starts for r in rows)
    assert {r.kind for r in rows} == {"reminder_24h", "reminder_1h"}
    assert all(r.organisation_id == world.org.id and r.participant_id for r in rows)


async def test_confirmed_less_than_a_day_ahead_gets_only_the_hour_reminder(
    world: World,
) -> None:
    pair, _, _ = await _approved(world)
    starts = NOW + 5 * DAY
    world.session.add(Meeting(pair_id=pair.id, kind=MeetingKind.INTRO,
                              status=MeetingStatus.CONFIRMED, starts_at=starts,
                              confirmed_at=starts - dt.timedelta(hours=5)))
    await world.session.flush()
    assert await reminders.due_reminders(world.session, starts - dt.timedelta(hours=5)) == []
    hour = await reminders.due_reminders(world.session, starts - dt.timedelta(minutes=30))
    assert {n.kind for n in hour} == {NoticeKind.REMINDER_1H}


# -- pause ------------------------------------------------------------------------------------
def test_pause_dates() -> None:
    today = dt.date(2026, 12, 20)
    assert pause.parse_date("25.12", today) == dt.date(2026, 12, 25)
    assert pause.parse_date("10.01", today) == dt.date(2027, 1, 10)
    assert pause.parse_date("25.12.2027", today) == dt.date(2027, 12, 25)
    assert pause.parse_date("31.02", today) is None and pause.parse_date("завтра", today) is None
    assert pause.quick_date("1w", today) == dt.date(2026, 12, 27)
    assert pause.quick_date("1m", dt.date(2027, 1, 31)) == dt.date(2027, 2, 28)
    assert pause.day_start(dt.date(2026, 12, 25), "Europe/Moscow") == dt.datetime(
        2026, 12, 24, 21, 0, tzinfo=dt.UTC)


async def test_pause_and_resume(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    person = await _person(world, tee)
    with pytest.raises(ServiceError) as error:
        await pause.pause(world.session, person, reason="illness", until=dt.date(2026, 10, 1),
                          now=NOW)
    assert error.value.code == "pause_date_past"
    with pytest.raises(ServiceError):
        await pause.pause(world.session, person, reason="illness",
                          until=dt.date(2027, 12, 1), now=NOW)
    until = await pause.pause(world.session, person, reason="illness",
                              until=dt.date(2026, 10, 8), now=NOW)
    assert person.status == ParticipantStatus.PAUSED and person.pause_reason == "illness"
    rows = await pause.paused_people(world.session, [world.org.id])
    assert [(r.name, r.until, r.reason, r.roles) for r in rows] == [
        ("Иванов Иван", until, "illness", ("mentee",))
    ]
    assert await pause.paused_people(world.session, [world.org.id + 1]) == []
    assert await pause.resume_due(world.session, until - dt.timedelta(seconds=1)) == []
    assert await pause.resume(world.session, person) is True
    assert person.status == ParticipantStatus.ACTIVE and person.paused_until is None
    assert await pause.resume(world.session, person) is False


# -- broadcasts -------------------------------------------------------------------------------
async def test_broadcast_segments_counts_and_one_send(world: World) -> None:
    pair, tee, tor = await _approved(world)
    other = await world.member("Учитель", Role.MENTEE, {"experience": 1}, form=TT)
    await world.member("Без пары", Role.MENTOR, MENTOR_ANSWERS)
    paused = await _person(world, other)
    paused.status = ParticipantStatus.PAUSED
    await world.session.flush()
    org = world.org.id

    async def count(segment: str, at: dt.datetime = NOW) -> int:
        return len(await broadcast.recipients(world.session, org, segment, at))

    assert await count("all") == 4 and await count("mentors") == 2
    assert await count("mentees") == 2 and await count(f"f:{TT}") == 1
    assert await count("idle") == 0  # approved just now
    assert await count("idle", NOW + 15 * DAY) == 2
    world.session.add(Meeting(pair_id=pair.id, kind=MeetingKind.INTRO,
                              status=MeetingStatus.HELD, starts_at=NOW + 5 * DAY))
    await world.session.flush()
    assert await count("idle", NOW + 15 * DAY) == 0
    assert await count("idle", NOW + 20 * DAY) == 2
    with pytest.raises(ServiceError):
        await count("f:nonsense")

    draft, left_out = await broadcast.draft(world.session, org_id=org,
                                            created_by=world.curator.id, segment="all",
                                            text="Собрание в пятницу", now=NOW)
    assert draft.total == 3 and left_out == 1
    header = {"ru": "📢", "en": "📢"}
    started = await broadcast.start(world.session, draft.id, org_ids=[org], chat_id=1,
                                    message_id=2, header=header, now=NOW)
    assert started is not None and started.total == 3
    again = await broadcast.start(world.session, draft.id, org_ids=[org], chat_id=1,
                                  message_id=2, header=header, now=NOW)
    assert again is None
    rows = (await world.session.execute(
        select(OutboxMessage).where(OutboxMessage.batch == f"bc:{draft.id}")
    )).scalars().all()
    assert len(rows) == 3 and all(r.organisation_id == org and r.participant_id for r in rows)
    assert "Собрание в пятницу" in (rows[0].payload or {})["text"]
    state = await broadcast.progress(world.session, started)
    assert (state.sent, state.waiting, state.done) == (0, 3, False)
    rows[0].status, rows[1].status, rows[2].status = "sent", "sent", "parked"
    await world.session.flush()
    state = await broadcast.progress(world.session, started)
    assert (state.sent, state.unreachable, state.done) == (2, 1, True)
    assert await broadcast.finish(world.session, draft.id, NOW) is True
    assert await broadcast.finish(world.session, draft.id, NOW) is False
    with pytest.raises(ServiceError):
        await broadcast.start(world.session, draft.id, org_ids=[org + 1], chat_id=1,
                              message_id=2, header=header, now=NOW)


async def test_bulk_broadcast_is_quick(world: World) -> None:
    people = [
        Participant(telegram_id=900000 + i, full_name=f"P{i}", language="ru")
        for i in range(2000)
    ]
    world.session.add_all(people)
    await world.session.flush()
    world.session.add_all([
        Membership(participant_id=p.id, organisation_id=world.org.id,
                   programme_id=world.programme.id, role=Role.MENTEE, form="student-student",
                   status="in_base")
        for p in people
    ])
    await world.session.flush()
    draft, _ = await broadcast.draft(world.session, org_id=world.org.id, created_by=None,
                                     segment="mentees", text="Привет", now=NOW)
    started = await broadcast.start(world.session, draft.id, org_ids=[world.org.id],
                                    chat_id=1, message_id=None, header={"ru": "x"}, now=NOW)
    assert started is not None and started.total == 2000
    assert (await world.session.execute(
        select(func.count()).select_from(OutboxMessage)
    )).scalar_one() == 2000


# -- /remind ----------------------------------------------------------------------------------
async def test_remind_rights_and_double_taps(world: World) -> None:
    pair, tee, tor = await _approved(world)
    other_org = Organisation(name="Другая", timezone="Asia/Yekaterinburg")
    world.session.add(other_org)
    await world.session.flush()
    with pytest.raises(ServiceError) as error:
        await nudges.remind_pair(world.session, pair.id, org_ids=[other_org.id], now=NOW)
    assert error.value.code == "remind_no_pair"
    sent = await nudges.remind_pair(world.session, pair.id, org_ids=_scope(world), now=NOW)
    assert {n.kind for n in sent} == {NoticeKind.REMIND} and len(sent) == 2
    assert "первую встречу" in render(sent[0])[0]
    assert await queue(world.session, sent, NOW) == 2
    again = await nudges.remind_pair(world.session, pair.id, org_ids=_scope(world),
                                     now=NOW + dt.timedelta(seconds=20))
    assert await queue(world.session, again, NOW) == 0
    later = await nudges.remind_pair(world.session, pair.id, org_ids=_scope(world),
                                     now=NOW + dt.timedelta(minutes=5))
    assert await queue(world.session, later, NOW) == 2
    await pairing.unpair(world.session, pair.id, org_ids=_scope(world),
                         actor_id=world.curator.id, now=NOW)
    with pytest.raises(ServiceError) as error:
        await nudges.remind_pair(world.session, pair.id, org_ids=_scope(world), now=NOW)
    assert error.value.code == "remind_not_active"


def test_russian_day_counts() -> None:
    from bot.i18n import translator

    t = translator("ru")
    assert [days_text(t, n) for n in (1, 2, 5, 11, 14, 21, 22, 25)] == [
        "1 день", "2 дня", "5 дней", "11 дней", "14 дней", "21 день", "22 дня", "25 дней",
    ]
    assert days_text(translator("en"), 1) == "1 day" and days_text(translator("en"), 3) == "3 days"
    assert PairStatus.APPROVED  # the vocabulary the card words


async def test_forget_erases_a_curators_unsent_announcement(world: World) -> None:
    from bot.services import privacy
    from db.models import Broadcast

    await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    draft, _ = await broadcast.draft(world.session, org_id=world.org.id,
                                     created_by=world.curator.id, segment="all",
                                     text="Личный текст куратора", now=NOW)
    other, _ = await broadcast.draft(world.session, org_id=world.org.id,
                                     created_by=world.curator2.id, segment="all",
                                     text="Текст другого куратора", now=NOW)
    await privacy.forget(world.session, world.curator, now=NOW, version=1)
    texts = dict((await world.session.execute(
        select(Broadcast.id, Broadcast.text).execution_options(populate_existing=True)
    )).all())
    assert texts == {draft.id: None, other.id: "Текст другого куратора"}
    await broadcast.drop_drafts(world.session, before=NOW + 2 * DAY)
    assert (await world.session.execute(select(Broadcast.text).where(
        Broadcast.id == other.id))).scalar_one() is None


def test_callback_data_fits_and_forged_ids_are_refused() -> None:
    from bot.ids import MAX_ID
    from keyboards.broadcast import BroadcastAction, BroadcastCb
    from keyboards.nudges import NudgeAction, NudgeCb
    from keyboards.pause import PauseAction, PauseCb

    for data in (
        BroadcastCb(a=BroadcastAction.FORM, id=MAX_ID, v="employer-student"),
        NudgeCb(a=NudgeAction.REMIND, p=MAX_ID),
        PauseCb(a=PauseAction.QUICK, v="1m", r="holidays"),
    ):
        assert len(data.pack().encode()) <= 64


async def test_forged_ids_never_reach_the_driver(world: World) -> None:
    huge = 10**30
    with pytest.raises(ServiceError) as error:
        await broadcast.start(world.session, huge, org_ids=[world.org.id], chat_id=1,
                              message_id=None, header={"ru": "x"}, now=NOW)
    assert error.value.code == "broadcast_not_found"
    with pytest.raises(ServiceError) as error:
        await nudges.remind_pair(world.session, huge, org_ids=[world.org.id], now=NOW)
    assert error.value.code == "remind_no_pair"

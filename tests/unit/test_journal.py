"""The journal's rules: who may log and confirm, repeated and forged presses, the ask job,
the plan's limits and dates, and /forget erasing the texts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.ids import MAX_ID
from bot.services import journal
from bot.services import plan as plans
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.journal import Outcome
from bot.services.privacy import forget
from db.models import (
    Meeting,
    MeetingFeedback,
    MeetingKind,
    MeetingStatus,
    OutboxMessage,
    PairStatus,
    PlanGoal,
    PlanTask,
    Role,
)
from scheduler import journal as job
from tests.unit.journal_world import (  # noqa: F401 - fixtures used by name
    NOW,
    World,
    db,
    world,
)

TODAY = dt.date(2026, 11, 20)


async def _log(world: World, meeting_id: int, telegram_id: int | None = None,
               goal_progress: dict[int, int] | None = None) -> journal.LogResult:
    return await journal.log_held(
        world.session, meeting_id, telegram_id or world.mentor.telegram_id or 0, NOW,
        minutes=50, topics="Адаптация", next_steps="Прочитать книгу",
        goal_progress=goal_progress,
    )


async def test_only_the_mentor_logs(world: World) -> None:
    meeting = await world.meeting()
    for presser in (world.mentee, world.stranger):
        with pytest.raises(NotYoursError):
            await _log(world, meeting.id, presser.telegram_id)
        with pytest.raises(NotYoursError):
            await journal.log_not_held(world.session, meeting.id, presser.telegram_id or 0, NOW)
    for forged in (0, -1, MAX_ID, meeting.id + 100):
        with pytest.raises(StaleError):
            await journal.start_log(world.session, forged, world.mentor.telegram_id or 0, NOW)
    assert meeting.status == MeetingStatus.CONFIRMED

    future = await world.meeting(starts_at=NOW + dt.timedelta(hours=1))
    with pytest.raises(ServiceError) as error:
        await _log(world, future.id)
    assert error.value.code == "journal_not_yet"


async def test_held_repeated_and_stale_presses(world: World) -> None:
    meeting = await world.meeting()
    first = await _log(world, meeting.id)
    assert first.outcome == Outcome.DONE
    assert meeting.status == MeetingStatus.HELD and meeting.actual_minutes == 50
    assert meeting.topics == "Адаптация" and meeting.logged_by == world.mentor.id
    assert world.pair.status == PairStatus.INTRO and first.stage is not None
    assert [a.membership_id for a in first.asks] == [world.mentee_m.id]
    again = await _log(world, meeting.id)
    assert again.outcome == Outcome.REPEATED and not again.asks and again.stage is None
    count = await world.session.scalar(select(func.count(MeetingFeedback.id)))
    assert count == 1
    with pytest.raises(StaleError):
        await journal.log_not_held(world.session, meeting.id, world.mentor.telegram_id or 0, NOW)
    with pytest.raises(StaleError):
        await journal.start_log(world.session, meeting.id, world.mentor.telegram_id or 0, NOW)

    missed = await world.meeting(MeetingKind.TRIAL)
    for _ in range(2):
        result = await journal.log_not_held(
            world.session, missed.id, world.mentor.telegram_id or 0, NOW
        )
    assert result.outcome == Outcome.REPEATED and missed.status == MeetingStatus.NOT_HELD
    assert world.pair.status == PairStatus.INTRO  # a missed meeting moves nothing
    with pytest.raises(StaleError):
        await _log(world, missed.id)
    cancelled = await world.meeting(status=MeetingStatus.CANCELLED)
    with pytest.raises(StaleError):
        await _log(world, cancelled.id)


async def test_only_the_mentee_confirms_and_rates_once(world: World) -> None:
    meeting = await world.meeting()
    await _log(world, meeting.id)
    mentee_tg = world.mentee.telegram_id or 0
    with pytest.raises(NotYoursError):
        await journal.confirm(world.session, meeting.id, world.mentee_m.id,
                              world.stranger.telegram_id or 0, True, NOW)
    with pytest.raises(NotYoursError):
        await journal.rate(world.session, meeting.id, world.mentee_m.id,
                           world.mentor.telegram_id or 0, 5, NOW)
    with pytest.raises(StaleError):  # a membership that was never asked
        await journal.confirm(world.session, meeting.id, world.mentor_m.id,
                              world.mentor.telegram_id or 0, True, NOW)
    with pytest.raises(StaleError):  # a rating before the confirmation
        await journal.rate(world.session, meeting.id, world.mentee_m.id, mentee_tg, 4, NOW)
    row, outcome = await journal.confirm(
        world.session, meeting.id, world.mentee_m.id, mentee_tg, True, NOW
    )
    assert outcome == Outcome.DONE and row.took_place is True
    _, outcome = await journal.confirm(
        world.session, meeting.id, world.mentee_m.id, mentee_tg, True, NOW
    )
    assert outcome == Outcome.REPEATED
    with pytest.raises(StaleError):
        await journal.rate(world.session, meeting.id, world.mentee_m.id, mentee_tg, 9, NOW)
    row, outcome = await journal.rate(
        world.session, meeting.id, world.mentee_m.id, mentee_tg, 4, NOW
    )
    assert outcome == Outcome.DONE and row.rating == 4
    row, outcome = await journal.rate(
        world.session, meeting.id, world.mentee_m.id, mentee_tg, 1, NOW
    )
    assert outcome == Outcome.REPEATED and row.rating == 4
    with pytest.raises(StaleError):  # no change of mind after the rating
        await journal.confirm(world.session, meeting.id, world.mentee_m.id, mentee_tg, False,
                              NOW)


async def test_goal_progress_marked_while_logging(world: World) -> None:
    goal = await plans.add_goal(
        world.session, world.mentor, world.pair.id, title="Олимпиада",
        target_date=TODAY + dt.timedelta(days=30), tasks=["Задачник"], today=TODAY,
    )
    _, other_mentee = await world.member("Ученица Анна", Role.MENTEE)
    other_pair = await world.pair_of(world.mentor_m, other_mentee)
    foreign = await plans.add_goal(
        world.session, world.mentor, other_pair.id, title="Чужая цель",
        target_date=TODAY, tasks=[], today=TODAY,
    )
    meeting = await world.meeting()
    await _log(world, meeting.id, goal_progress={goal.id: 100, foreign.id: 50})
    assert goal.progress == 100 and goal.done_at == NOW
    assert foreign.progress == 0  # a goal of another pair is not touched
    assert meeting.goal_progress == {str(goal.id): 100}


async def test_plan_limits_dates_and_rights(world: World) -> None:
    async def add(title: str, date: dt.date = TODAY) -> PlanGoal:
        return await plans.add_goal(world.session, world.mentee, world.pair.id, title=title,
                                    target_date=date, tasks=[], today=TODAY)

    goals = [await add(f"Цель {i}") for i in range(1, 6)]
    with pytest.raises(ServiceError) as error:
        await add("Шестая")
    assert error.value.code == "plan_full"
    with pytest.raises(NotYoursError):  # a stranger, or a curator, does not edit
        await plans.add_goal(world.session, world.stranger, world.pair.id, title="x",
                             target_date=TODAY, tasks=[], today=TODAY)
    with pytest.raises(NotYoursError):
        await plans.set_progress(world.session, world.stranger, goals[0].id, 50, NOW)
    pair_id = await plans.delete_goal(world.session, world.mentor, goals[1].id)
    positions = (await world.session.execute(
        select(PlanGoal.position, PlanGoal.title).order_by(PlanGoal.position)
    )).all()
    assert pair_id == world.pair.id
    assert positions == [(1, "Цель 1"), (2, "Цель 3"), (3, "Цель 4"), (4, "Цель 5")]
    world.pair.status = PairStatus.ENDED
    with pytest.raises(StaleError):
        await add("Поздно")

    assert plans.parse_date("25.12", TODAY) == dt.date(2026, 12, 25)
    assert plans.parse_date("1.2", TODAY) == dt.date(2027, 2, 1)  # the next 1 February
    assert plans.parse_date("20.11", TODAY) == TODAY
    assert plans.parse_date("25.12.2027", TODAY) == dt.date(2027, 12, 25)
    for text, code in (("31.02", "plan_date_format"), ("завтра", "plan_date_format"),
                       ("19.11.2026", "plan_date_past"), ("1.1.2040", "plan_date_far")):
        with pytest.raises(ServiceError) as error:
            plans.parse_date(text, TODAY)
        assert error.value.code == code
    for bad in ("", "   ", "x" * 301):
        with pytest.raises(ServiceError):
            plans.check_title(bad)
    with pytest.raises(ServiceError):
        plans.check_tasks([f"t{i}" for i in range(11)])


async def test_tick_asks_only_about_ended_meetings_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        world = await World(session).setup()
        ended = await world.meeting(starts_at=NOW - dt.timedelta(minutes=61))
        await world.meeting(starts_at=NOW - dt.timedelta(minutes=30))  # still going on
        await world.meeting(starts_at=NOW - dt.timedelta(hours=3), status=MeetingStatus.PROPOSED)
        asked_before = await world.meeting(starts_at=NOW - dt.timedelta(hours=3))
        asked_before.log_requested_at = NOW - dt.timedelta(hours=1)
        await world.meeting(starts_at=NOW - dt.timedelta(days=40))  # beyond the look-back
        await session.commit()
        mentor_chat = world.mentor.telegram_id
        ended_id = ended.id

    clock = FrozenClock(NOW)
    assert await job.tick(db, clock) == 1
    assert await job.tick(db, clock) == 0
    async with db() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
        assert [(r.chat_id, r.kind, r.idempotency_key) for r in rows] == [
            (mentor_chat, "journal_ask", f"journal_ask:{ended_id}")
        ]
        assert "встреча-знакомство" in (rows[0].payload or {})["text"]
        marked = await session.get(Meeting, ended_id)
        assert marked is not None and marked.log_requested_at == NOW
    clock.advance(dt.timedelta(minutes=31))  # the second meeting has ended now
    assert await job.tick(db, clock) == 1


async def test_forget_erases_journal_and_plan_texts(world: World) -> None:
    meeting = await world.meeting()
    await _log(world, meeting.id)
    await plans.add_goal(world.session, world.mentor, world.pair.id, title="Личная цель",
                         target_date=TODAY, tasks=["Личная задача"], today=TODAY)
    await forget(world.session, world.mentee, now=NOW, version=1)
    await world.session.flush()
    stored = await world.session.get(Meeting, meeting.id)
    assert stored is not None
    await world.session.refresh(stored)
    assert stored.topics is None and stored.next_steps is None
    assert stored.actual_minutes == 50 and stored.status == MeetingStatus.HELD
    titles = (await world.session.execute(select(PlanGoal.title))).scalars().all()
    tasks = (await world.session.execute(select(PlanTask.title))).scalars().all()
    assert titles == [""] and tasks == [""]

"""Stages follow held meetings: the sequence, never backwards, groups, history, nudges."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.services.stages import Milestone, advance_on_held
from db.models import MeetingKind, PairEvent, PairStatus, Role
from tests.unit.journal_world import (  # noqa: F401 - fixtures used by name
    NOW,
    World,
    db,
    world,
)


async def _events(world: World, pair_id: int) -> list[tuple[str | None, str]]:
    rows = await world.session.execute(
        select(PairEvent.from_status, PairEvent.to_status)
        .where(PairEvent.pair_id == pair_id).order_by(PairEvent.id)
    )
    return [(a, b) for a, b in rows.all()]


async def test_sequence_history_and_never_backwards(world: World) -> None:
    pair = world.pair
    seen = []
    for kind in (MeetingKind.INTRO, MeetingKind.TRIAL, MeetingKind.PLANNING,
                 MeetingKind.REGULAR, MeetingKind.REGULAR, MeetingKind.TRIAL):
        meeting = await world.meeting(kind)
        change = await advance_on_held(world.session, meeting, world.mentor.id, NOW)
        seen.append(change.milestones if change else None)
    assert pair.status == PairStatus.REGULAR
    first = seen[0]
    assert first is not None and first == (Milestone(pair.id, PairStatus.INTRO, first[0].meeting_id),)
    assert seen[4] is None and seen[5] is None  # a second regular, a late trial: no change
    assert await _events(world, pair.id) == [
        ("approved", "intro"), ("intro", "trial"), ("trial", "planning"),
        ("planning", "regular"),
    ]
    final = await world.meeting(MeetingKind.FINAL)
    change = await advance_on_held(world.session, final, world.mentor.id, NOW)
    assert change is not None and change.milestones[0].reached == PairStatus.FINAL
    event = (await world.session.execute(
        select(PairEvent).where(PairEvent.pair_id == pair.id).order_by(PairEvent.id.desc())
    )).scalars().first()
    assert event is not None and event.actor_id == world.mentor.id and event.at == NOW


async def test_skipping_ahead_and_ended_pairs(world: World) -> None:
    # a planning meeting held first moves straight to PLANNING (the sequence is a ceiling
    # of progress, not a gate); an ended pair never moves
    meeting = await world.meeting(MeetingKind.PLANNING)
    await advance_on_held(world.session, meeting, world.mentor.id, NOW)
    assert world.pair.status == PairStatus.PLANNING
    world.pair.status = PairStatus.ENDED
    later = await world.meeting(MeetingKind.FINAL)
    assert await advance_on_held(world.session, later, world.mentor.id, NOW) is None
    assert world.pair.status == PairStatus.ENDED


async def test_group_meeting_moves_every_active_pair(world: World) -> None:
    _, mentee2 = await world.member("Ученица Анна", Role.MENTEE)
    _, mentee3 = await world.member("Ученик Борис", Role.MENTEE)
    world.pair.group_key = "g1"
    second = await world.pair_of(world.mentor_m, mentee2, "g1", PairStatus.REGULAR)
    ended = await world.pair_of(world.mentor_m, mentee3, "g1", PairStatus.ENDED)
    other = await world.pair_of(world.mentor_m, mentee3)  # not in the group
    meeting = await world.meeting(MeetingKind.TRIAL, group_key="g1")
    change = await advance_on_held(world.session, meeting, world.mentor.id, NOW)
    assert change is not None
    assert [m.pair_id for m in change.milestones] == [world.pair.id]
    assert world.pair.status == PairStatus.TRIAL
    assert second.status == PairStatus.REGULAR  # never backwards
    assert ended.status == PairStatus.ENDED and other.status == PairStatus.APPROVED
    # every active pair of the group counts the meeting for its inactivity clock
    assert second.next_check_at == world.pair.next_check_at
    assert other.next_check_at is None


async def test_held_meeting_resets_the_nudge_state(world: World) -> None:
    world.org.nudge_idle_days = 14
    world.pair.nudge_level = 2
    world.pair.next_check_at = NOW - dt.timedelta(days=1)
    meeting = await world.meeting(MeetingKind.INTRO, minutes=90)
    await advance_on_held(world.session, meeting, world.mentor.id, NOW)
    end = meeting.starts_at + dt.timedelta(minutes=90)
    assert world.pair.nudge_level == 0
    assert world.pair.next_check_at == end + dt.timedelta(days=14)
    # a regular meeting keeps REGULAR but still resets the clock
    world.pair.status = PairStatus.REGULAR
    world.pair.nudge_level = 1
    later = await world.meeting(MeetingKind.REGULAR, starts_at=NOW + dt.timedelta(days=20))
    assert await advance_on_held(world.session, later, world.mentor.id, NOW) is None
    assert world.pair.nudge_level == 0
    assert world.pair.next_check_at == later.starts_at + dt.timedelta(minutes=60, days=14)

"""A pair's stage follows the meetings logged as held.

approved → intro → trial → planning → regular → final: a held meeting of a kind moves the
pair (for a group meeting, every active pair of the group) to that kind's stage when it is
further along; never backwards, and a second regular meeting keeps REGULAR. Each move is a
PairEvent (from, to, who, when). A held meeting also resets the pair's inactivity state
(`next_check_at`, `nudge_level`), which the nudge job reads.

The hook for feedback polls (next issue): `advance_on_held` returns a `StageChange` whose
`milestones` name every pair that reached a new stage through this meeting
(`Milestone(pair_id, reached, meeting_id)`). `journal.log_held` hands it back to its caller
in `LogResult.stage`; the poll service is to be called with those milestones there, in the
same transaction (e.g. `await polls.on_milestones(session, change.milestones, now)` that
enqueues the milestone's poll with an idempotency key per (membership, pair, milestone)).
Milestones are produced once per transition, so a repeated log never asks twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ACTIVE_PAIR_STATUSES, Meeting, PairEvent, PairStatus
from db.queries import journal as q

# The working stages in order; a pair's index here only grows.
STAGE_SEQUENCE = (
    PairStatus.APPROVED,
    PairStatus.INTRO,
    PairStatus.TRIAL,
    PairStatus.PLANNING,
    PairStatus.REGULAR,
    PairStatus.FINAL,
)


@dataclass(frozen=True, slots=True)
class Milestone:
    pair_id: int
    reached: PairStatus
    meeting_id: int


@dataclass(frozen=True, slots=True)
class StageChange:
    meeting_id: int
    milestones: tuple[Milestone, ...]


def stage_of_kind(kind: str) -> PairStatus:
    return PairStatus(kind)  # meeting kinds are named after the stages they open


def is_further(target: PairStatus, current: str) -> bool:
    if current not in STAGE_SEQUENCE:
        return False  # proposed, completed, rejected, ended: not moved by meetings
    return STAGE_SEQUENCE.index(target) > STAGE_SEQUENCE.index(PairStatus(current))


async def advance_on_held(
    session: AsyncSession, meeting: Meeting, actor_id: int | None, now: dt.datetime
) -> StageChange | None:
    """Move the meeting's pair(s) on; None when no pair changed stage."""
    target = stage_of_kind(meeting.kind)
    milestones: list[Milestone] = []
    pairs = await q.pairs_of_meeting(session, meeting)
    if not pairs:
        return None
    org = await q.organisation_of(session, pairs[0])
    quiet_until = q.ends_at(meeting) + dt.timedelta(days=org.nudge_idle_days)
    for pair in pairs:
        if pair.status not in ACTIVE_PAIR_STATUSES:
            continue
        pair.nudge_level = 0
        if pair.next_check_at is None or pair.next_check_at < quiet_until:
            pair.next_check_at = quiet_until
        if not is_further(target, pair.status):
            continue
        session.add(
            PairEvent(pair_id=pair.id, from_status=pair.status, to_status=target,
                      actor_id=actor_id, at=now)
        )
        pair.status = target
        milestones.append(Milestone(pair.id, target, meeting.id))
    await session.flush()
    return StageChange(meeting.id, tuple(milestones)) if milestones else None

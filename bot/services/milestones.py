"""What a held meeting sets off: the milestone polls, and "is this a good fit?" asked again.

Called by the journal's handler with `LogResult.stage` (see bot/services/stages.py), in the
same transaction as the log, only when the log is new (a repeated log sets off nothing):
- a pair that reached intro: both sides get the intro poll (first impression, comfort,
  good fit?);
- planning: both sides get the planning poll (is the plan clear and realistic?);
- final: the satisfaction survey, the mentee's and the mentor's version;
- whatever the stage: a side whose latest answer to "good fit?" about the pair was "not sure
  yet" is asked again after this meeting (milestone "fit-again:<meeting id>").
Each poll is given once per (person, poll, pair, milestone): the envelope is unique, so a
repeated milestone queues nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import closing, polls
from bot.services.polls import Milestone, PollNotice
from bot.services.stages import Milestone as Reached
from bot.services.stages import StageChange
from db.models import ACTIVE_PAIR_STATUSES, Meeting, Pair, PairStatus
from db.queries import journal as q_journal
from db.queries import polls as q_polls

POLLED_STAGES = {
    PairStatus.INTRO: Milestone.INTRO,
    PairStatus.PLANNING: Milestone.PLANNING,
    PairStatus.FINAL: Milestone.FINAL,
}


async def on_milestones(
    session: AsyncSession, milestones: Iterable[Reached], now: dt.datetime
) -> list[PollNotice]:
    notices: list[PollNotice] = []
    for reached in milestones:
        milestone = POLLED_STAGES.get(reached.reached)
        if milestone is None:
            continue
        pair = await session.get(Pair, reached.pair_id)
        if pair is None:
            continue
        notices += await polls.ask_both(
            session, pair.id, pair.mentee_membership_id, pair.mentor_membership_id,
            milestone.value, now,
        )
        if milestone == Milestone.FINAL:
            # After the satisfaction survey: the exit self-assessment, the final reports and
            # the curator's review (bot/services/closing.py).
            await closing.on_final(session, pair.id, now)
    return notices


async def fit_again(session: AsyncSession, meeting: Meeting, now: dt.datetime) -> list[PollNotice]:
    """Sides whose latest "good fit?" answer about the pair is "not sure yet"."""
    poll = polls.poll_for(Milestone.FIT_AGAIN, "any")
    if poll is None:
        return []
    notices: list[PollNotice] = []
    milestone = f"{Milestone.FIT_AGAIN.value}:{meeting.id}"
    for pair in await q_journal.pairs_of_meeting(session, meeting):
        if pair.status not in ACTIVE_PAIR_STATUSES:
            continue
        for member, partner in ((pair.mentee_membership_id, pair.mentor_membership_id),
                                (pair.mentor_membership_id, pair.mentee_membership_id)):
            if await polls.last_fit(session, pair.id, member) != polls.NOT_SURE:
                continue
            if await q_polls.has_open(session, pair.id, member, poll.id):
                continue  # asked again already, not answered yet
            notice = await polls.ask(session, pair.id, member, partner, poll, milestone, now)
            if notice is not None:
                notices.append(notice)
    return notices


async def on_held(
    session: AsyncSession, meeting: Meeting, change: StageChange | None, now: dt.datetime
) -> list[PollNotice]:
    """Everything a newly logged held meeting sets off (the notices to queue)."""
    notices = await fit_again(session, meeting, now)
    if change is not None:
        notices += await on_milestones(session, change.milestones, now)
    return notices

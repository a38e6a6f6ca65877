"""Nudges for pairs that do not meet, and the curator's /remind.

Each active pair carries `next_check_at` (indexed) and `nudge_level`:
- approval sets next_check_at = approval + the organisation's nudge_first_days, level 0;
- a meeting held resets it to the meeting's end + nudge_idle_days, level 0 (the journal);
- at next_check_at, level 0: the mentor and the mentee are nudged ("no first meeting yet"
  or "no meeting for N days"), level 1, next check = now + escalate_days;
- at next_check_at, level 1: the organisation's curators are told (buttons: remind the
  pair, open its card), level 2, no further check until a meeting is held.
A pair with a paused member is not nudged: its check moves to the end of the pause; nor is
a pair with a confirmed meeting ahead: its check moves to a day after that meeting.
Pairs that are no longer active lose their check when the job meets them.
Approved pairs from before this feature (next_check_at NULL) are not picked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import valid_id
from bot.services.errors import ServiceError, StaleError
from bot.services.reminders import Notice, NoticeKind, reachable, timezone_of
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Organisation,
    Participant,
    ParticipantStatus,
    Role,
)
from db.queries import pairs as q_pairs
from db.queries import participants as q_people
from db.queries import reminders as q

BATCH = 1000  # pairs per tick
PAUSE_RECHECK = dt.timedelta(days=1)  # a pause without an end is looked at daily
AFTER_MEETING = dt.timedelta(days=1)  # a confirmed meeting postpones the check till after it
MIN_GAP = dt.timedelta(days=1)  # between the pair's nudge and the curator's message


async def first_check_at(
    session: AsyncSession, organisation_id: int | None, decided_at: dt.datetime
) -> dt.datetime:
    """When a pair approved at `decided_at` is first looked at: the organisation's
    "no first meeting" threshold later."""
    org = await session.get(Organisation, organisation_id) if organisation_id else None
    days = org.nudge_first_days if org is not None else 10
    return decided_at + dt.timedelta(days=days)


async def schedule_first_check(
    session: AsyncSession, pair_id: int, decided_at: dt.datetime
) -> None:
    """An approved pair gets its first nudge check (called by the pairing service)."""
    org_id = await q.organisation_of_pair(session, pair_id)
    at = await first_check_at(session, org_id, decided_at)
    pair = await q_pairs.get(session, pair_id)
    if pair is not None:
        pair.next_check_at = at
        pair.nudge_level = 0
        await session.flush()


def pause_end(members: Collection[q.Member], now: dt.datetime) -> dt.datetime | None:
    """When the pair's pause ends, if one of its members is paused now."""
    ends: list[dt.datetime] = []
    for member in members:
        if member.status != ParticipantStatus.PAUSED:
            continue
        if member.paused_until is None:
            ends.append(now + PAUSE_RECHECK)
        elif member.paused_until > now:
            ends.append(member.paused_until)
    return max(ends) if ends else None


def _days(since: dt.datetime | None, now: dt.datetime) -> int:
    return max(0, (now - since).days) if since is not None else 0


async def due_nudges(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[Notice]:
    """Look at every pair whose check is due; return the nudges to send."""
    due = await q.pairs_due(session, now, limit)
    if not due:
        return []
    people = await q.members(session, {i for p in due for i in (p.mentor_id, p.mentee_id)})
    orgs = await q.organisations(session, {m.organisation_id for m in people.values()})
    keys = {p.group_key for p in due if p.group_key}
    held_pair, held_group = await q.last_held(session, [p.id for p in due], keys)
    soon_pair, soon_group = await q.next_confirmed(session, [p.id for p in due], keys, now)
    curators: dict[int, list[Participant]] = {}
    changes: list[tuple[q.DuePair, dt.datetime | None, int]] = []
    out: list[Notice] = []
    for pair in due:
        mentor, mentee = people.get(pair.mentor_id), people.get(pair.mentee_id)
        if pair.status not in ACTIVE_PAIR_STATUSES or mentor is None or mentee is None:
            changes.append((pair, None, pair.nudge_level))
            continue
        paused = pause_end((mentor, mentee), now)
        if paused is not None:
            changes.append((pair, paused, pair.nudge_level))
            continue
        soon = soon_group.get(pair.group_key or "") or soon_pair.get(pair.id)
        if soon is not None and pair.nudge_level < 2:
            # a meeting is agreed: look again after it (the journal resets the check when it
            # is held; if it is not, the nudge comes a day after it)
            changes.append((pair, soon + AFTER_MEETING, pair.nudge_level))
            continue
        org = orgs.get(mentee.organisation_id)
        last = held_group.get(pair.group_key or "") or held_pair.get(pair.id)
        days = _days(last or pair.decided_at, now)
        stamp = int(pair.next_check_at.timestamp()) if pair.next_check_at else 0
        tz = timezone_of(orgs, mentee.organisation_id)
        if pair.nudge_level == 0:
            kind = NoticeKind.NUDGE_IDLE if last is not None else NoticeKind.NUDGE_FIRST
            out += pair_notices(pair, mentor, mentee, kind, f"nudge:{pair.id}:{{}}:{stamp}",
                                tz, days, held=last is not None)
            escalate = dt.timedelta(days=org.escalate_days if org is not None else 7)
            # counted from when the nudge was due, so a late tick does not delay the curator;
            # but never sooner than a day after the pair actually heard
            due_at = pair.next_check_at or now
            changes.append((pair, max(due_at + escalate, now + MIN_GAP), 1))
        elif pair.nudge_level == 1:
            org_id = mentee.organisation_id
            if org_id not in curators:
                curators[org_id] = list(await q_people.curators_of(session, org_id))
            for curator in curators[org_id]:
                if curator.telegram_id is None or curator.status == ParticipantStatus.FORGOTTEN:
                    continue
                out.append(Notice(
                    kind=NoticeKind.ESCALATE, key=f"esc:{pair.id}:{curator.id}:{stamp}",
                    telegram_id=curator.telegram_id, participant_id=curator.id,
                    language=curator.language or "ru", organisation_id=org_id, timezone=tz,
                    pair_id=pair.id, role=Role.CURATOR, mentee=mentee.name,
                    mentor=mentor.name, days=days, held=last is not None,
                ))
            changes.append((pair, None, 2))
        else:
            changes.append((pair, None, pair.nudge_level))
    await q.set_checks(session, changes)
    return out


def pair_notices(
    pair: q.DuePair, mentor: q.Member, mentee: q.Member, kind: NoticeKind, key: str,
    tz: str, days: int, *, held: bool,
) -> list[Notice]:
    """The same message to both sides of a pair; `key` has a {} for the participant id."""
    out = []
    for person, other in ((mentor, mentee), (mentee, mentor)):
        if not reachable(person):
            continue
        assert person.telegram_id is not None
        out.append(Notice(
            kind=kind, key=key.format(person.participant_id), telegram_id=person.telegram_id,
            participant_id=person.participant_id, language=person.language,
            organisation_id=person.organisation_id, timezone=tz, pair_id=pair.id,
            role=person.role, other=other.name, days=days, held=held,
        ))
    return out


async def remind_pair(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int], now: dt.datetime
) -> list[Notice]:
    """A curator's nudge to both sides now. The key holds the minute: a double tap does not
    send twice, a /remind later does."""
    pair = (await q_pairs.get_in_orgs(session, pair_id, org_ids)
            if org_ids and valid_id(pair_id) else None)
    if pair is None:
        raise StaleError("remind_no_pair", id=pair_id)
    if pair.status not in ACTIVE_PAIR_STATUSES:
        raise ServiceError("remind_not_active", id=pair_id)
    [due] = await q.pairs_by_id(session, [pair.id])
    people = await q.members(session, [due.mentor_id, due.mentee_id])
    mentor, mentee = people[due.mentor_id], people[due.mentee_id]
    orgs = await q.organisations(session, {mentee.organisation_id})
    held_pair, held_group = await q.last_held(
        session, [pair.id], {pair.group_key} if pair.group_key else set()
    )
    last = held_group.get(pair.group_key or "") or held_pair.get(pair.id)
    minute = now.strftime("%Y%m%d%H%M")
    return pair_notices(
        due, mentor, mentee, NoticeKind.REMIND, f"remind:{pair.id}:{{}}:{minute}",
        timezone_of(orgs, mentee.organisation_id), _days(last or pair.decided_at, now),
        held=last is not None,
    )


@dataclass(frozen=True, slots=True)
class PairCard:
    """What a curator sees when a nudge's "card" button is pressed."""

    pair_id: int
    mentee: str
    mentor: str
    form: str
    status: str
    decided_at: dt.datetime | None
    held: int
    last_held: dt.datetime | None
    timezone: str


async def pair_card(
    session: AsyncSession, pair_id: int, *, org_ids: Collection[int]
) -> PairCard:
    pair = (await q_pairs.get_in_orgs(session, pair_id, org_ids)
            if org_ids and valid_id(pair_id) else None)
    if pair is None:
        raise StaleError("remind_no_pair", id=pair_id)
    people = await q.members(session, [pair.mentor_membership_id, pair.mentee_membership_id])
    mentor, mentee = people[pair.mentor_membership_id], people[pair.mentee_membership_id]
    orgs = await q.organisations(session, {mentee.organisation_id})
    held_pair, held_group = await q.last_held(
        session, [pair.id], {pair.group_key} if pair.group_key else set()
    )
    return PairCard(
        pair.id, mentee.name, mentor.name, pair.form, pair.status, pair.decided_at,
        await q.held_count(session, pair.id, pair.group_key),
        held_group.get(pair.group_key or "") or held_pair.get(pair.id),
        timezone_of(orgs, mentee.organisation_id),
    )

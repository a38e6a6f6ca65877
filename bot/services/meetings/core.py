"""Meetings of a pair or of a mentor's group: proposing, answering, moving, cancelling.

Every action re-checks who acts: only people of the pair (or group) touch its meetings,
only the side a proposal waits for confirms it, and a button under something that moved on
raises StaleError. A repeated confirm or cancel changes nothing and says so (`changed`).
Nothing here commits or talks to Telegram: the caller renders the outcome and queues the
messages to the other side in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.meetings.when import check_when, zone
from db.models import (
    ACTIVE_PAIR_STATUSES,
    MEETING_SEQUENCE,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Pair,
    Participant,
    ParticipantStatus,
    Role,
)
from db.queries import audit
from db.queries import meetings as q

OPEN = (MeetingStatus.PROPOSED, MeetingStatus.CONFIRMED)
PLACE_LIMIT = 300


class Event(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    RETIMED = "retimed"  # another time proposed (a counter-proposal or a reschedule)
    DECLINED = "declined"
    DECLINED_ONE = "declined_one"  # one mentee of a group will not come
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Member:
    """One person of a pair or group, as the messages need them."""

    participant_id: int
    telegram_id: int | None
    language: str
    name: str  # plain text, not escaped
    role: Role  # mentor or mentee
    pair_id: int
    reachable: bool


@dataclass(slots=True)
class Party:
    """Who a meeting is for: one pair, or a mentor's group of pairs."""

    pair: Pair  # the pair, or the group's first pair
    mentor: Member
    mentees: list[Member]
    organisation_id: int
    timezone: ZoneInfo
    group_key: str | None = None

    @property
    def members(self) -> list[Member]:
        return [self.mentor, *self.mentees]

    def member(self, participant_id: int | None) -> Member | None:
        return next((m for m in self.members if m.participant_id == participant_id), None)

    def others(self, participant_id: int) -> list[Member]:
        return [m for m in self.members if m.participant_id != participant_id]


@dataclass(slots=True)
class Outcome:
    meeting: Meeting
    party: Party
    event: Event
    actor: Member
    version: int
    changed: bool = True
    to: list[Member] = field(default_factory=list)  # who is told


@dataclass(frozen=True, slots=True)
class Start:
    """What a proposal may be: the kinds to pick from (the first is the default), and
    whether the mentor may make it a meeting of the whole group."""

    party: Party
    actor: Member
    kinds: tuple[MeetingKind, ...]
    group_possible: bool


def display_name(person: Participant) -> str:
    return person.full_name or person.tg_first_name or f"#{person.id}"


def _member(person: Participant, role: Role, pair_id: int) -> Member:
    return Member(
        participant_id=person.id, telegram_id=person.telegram_id, language=person.language,
        name=display_name(person), role=role, pair_id=pair_id,
        reachable=person.telegram_id is not None
        and person.status not in (ParticipantStatus.UNREACHABLE, ParticipantStatus.FORGOTTEN),
    )


async def _party(session: AsyncSession, pairs: list[Pair], group_key: str | None) -> Party:
    first = pairs[0]
    people = await q.people_of(
        session, {first.mentor_membership_id, *(p.mentee_membership_id for p in pairs)}
    )
    org = await q.org_of(session, first.programme_id)
    return Party(
        pair=first,
        mentor=_member(people[first.mentor_membership_id], Role.MENTOR, first.id),
        mentees=[_member(people[p.mentee_membership_id], Role.MENTEE, p.id) for p in pairs],
        organisation_id=org.id if org else 0,
        timezone=zone(org.timezone if org else None),
        group_key=group_key,
    )


async def pair_members(session: AsyncSession, pair_id: int) -> Party | None:
    """The pair's mentor and mentee (with the organisation's timezone); None if no pair."""
    pair = await q.pair(session, pair_id)
    return await _party(session, [pair], None) if pair is not None else None


async def group_pairs(session: AsyncSession, pair: Pair, key: str) -> list[Pair]:
    """The mentor's active pairs of the programme that share the group key."""
    pairs = await q.mentor_pairs(session, pair.mentor_membership_id, pair.programme_id)
    return [p for p in pairs if p.group_key == key]


async def meeting_party(session: AsyncSession, meeting: Meeting) -> Party | None:
    """Who a meeting is for: its pair, or every pair of its group still active."""
    pair = await q.pair(session, meeting.pair_id)
    if pair is None:
        return None
    if meeting.group_key:
        pairs = await group_pairs(session, pair, meeting.group_key)
        if pairs:
            return await _party(session, pairs, meeting.group_key)
    return await _party(session, [pair], None)


def next_kinds(taken: set[str]) -> tuple[MeetingKind, ...]:
    """Intro, trial and planning come in order; after them, regular or final by choice."""
    for kind in MEETING_SEQUENCE[:3]:
        if kind not in taken:
            return (kind,)
    return (MeetingKind.REGULAR, MeetingKind.FINAL)


async def next_kind(
    session: AsyncSession, pair_id: int, group_key: str | None = None
) -> MeetingKind:
    """The default kind of the next meeting of a pair (its group's meetings count for it),
    or with group_key, of the group."""
    return next_kinds(await _taken(session, pair_id, group_key))[0]


async def _taken(session: AsyncSession, pair_id: int, group_key: str | None) -> set[str]:
    if group_key:
        return await q.kinds_taken(session, pair_id, group_key)
    pair = await q.pair(session, pair_id)
    return await q.kinds_taken(session, pair_id, None,
                               pair_group=pair.group_key if pair else None)


async def _active_pair(session: AsyncSession, pair_id: int, actor_id: int | None) -> Party:
    pair = await q.pair(session, pair_id)
    if pair is None:
        raise StaleError("meeting_pair_gone")
    party = await _party(session, [pair], None)
    if party.member(actor_id) is None:
        raise NotYoursError("meeting_not_yours")
    if pair.status not in ACTIVE_PAIR_STATUSES:
        raise StaleError("meeting_pair_gone")
    return party


async def start(
    session: AsyncSession, pair_id: int, actor_id: int | None, *, group: bool = False
) -> Start:
    """Check a proposal may begin for this pair (or, with `group`, its mentor's group)."""
    party = await _active_pair(session, pair_id, actor_id)
    actor = party.member(actor_id)
    assert actor is not None
    siblings = await q.mentor_pairs(
        session, party.pair.mentor_membership_id, party.pair.programme_id
    )
    group_possible = actor.role == Role.MENTOR and len(siblings) >= 2
    if group:
        if not group_possible:
            raise StaleError("meeting_no_group")
        key = _group_key(party.pair, siblings)
        members = [p for p in siblings if p.group_key in (None, key)]
        party = await _party(session, members, key)
    kinds = next_kinds(await _taken(session, party.pair.id, party.group_key))
    return Start(party, actor, kinds, group_possible)


def _group_key(pair: Pair, siblings: Sequence[Pair]) -> str:
    keys = sorted({p.group_key for p in siblings if p.group_key})
    return keys[0] if keys else f"g{pair.mentor_membership_id}"


async def choices(session: AsyncSession, actor_id: int) -> list[tuple[Pair, bool]]:
    """What /meeting offers: (pair, whole group?) for each of the person's active pairs,
    plus one "whole group" entry per programme where they mentor two or more."""
    pairs = list(await q.pairs_of(session, actor_id))
    out: list[tuple[Pair, bool]] = [(p, False) for p in pairs]
    seen: set[tuple[int, int]] = set()
    for pair in pairs:
        group = (pair.mentor_membership_id, pair.programme_id)
        if group in seen:
            continue
        seen.add(group)
        mates = [p for p in pairs if (p.mentor_membership_id, p.programme_id) == group]
        people = await q.people_of(session, [pair.mentor_membership_id])
        mentor = people.get(pair.mentor_membership_id)
        if len(mates) >= 2 and mentor is not None and mentor.id == actor_id:
            out.append((mates[0], True))
    return out


async def propose(
    session: AsyncSession,
    *,
    pair_id: int,
    actor_id: int,
    kind: str,
    starts_at: dt.datetime,
    place: str | None,
    now: dt.datetime,
    group: bool = False,
    duration_minutes: int = 60,
) -> Outcome:
    begun = await start(session, pair_id, actor_id, group=group)
    if kind not in begun.kinds:
        raise StaleError("meeting_kind_taken")
    check_when(starts_at, now)
    party = begun.party
    if party.group_key:
        await q.set_group_key(session, [m.pair_id for m in party.mentees], party.group_key)
    place = (place or "").strip()[:PLACE_LIMIT] or None
    meeting = Meeting(
        pair_id=party.pair.id, group_key=party.group_key, kind=kind,
        status=MeetingStatus.PROPOSED, starts_at=starts_at, duration_minutes=duration_minutes,
        place=place, proposed_by=actor_id,
        awaiting_role=Role.MENTEE if begun.actor.role == Role.MENTOR else Role.MENTOR,
        created_at=now, updated_at=now,
    )
    session.add(meeting)
    await session.flush()
    version = await _record(session, meeting, party, actor_id, "propose")
    return Outcome(meeting, party, Event.PROPOSED, begun.actor, version,
                   to=party.others(actor_id))


async def _load(session: AsyncSession, meeting_id: int, actor_id: int | None) -> (
    tuple[Meeting, Party, Member]
):
    meeting = await q.get(session, meeting_id)
    if meeting is None:
        raise StaleError("meeting_gone")
    party = await meeting_party(session, meeting)
    actor = party.member(actor_id) if party else None
    if party is None or actor is None:
        raise NotYoursError("meeting_not_yours")
    return meeting, party, actor


async def _record(
    session: AsyncSession, meeting: Meeting, party: Party, actor_id: int, action: str
) -> int:
    audit.record(
        session, actor_id=actor_id, organisation_id=party.organisation_id or None,
        action=f"meeting.{action}", target_type=q.AUDIT_TARGET, target_id=meeting.id,
        details={"pair": meeting.pair_id, "status": meeting.status},
    )
    await session.flush()
    return await q.version(session, meeting.id)


def _check_version(meeting: Meeting, current: int, seen: int | None) -> None:
    if seen is not None and seen != current:
        raise StaleError("meeting_moved")


async def view(session: AsyncSession, meeting_id: int, actor_id: int | None) -> Outcome:
    """A meeting as its member sees it (for /meetings)."""
    meeting, party, actor = await _load(session, meeting_id, actor_id)
    return Outcome(meeting, party, Event.PROPOSED, actor, await q.version(session, meeting.id),
                   changed=False)


async def confirm(
    session: AsyncSession, meeting_id: int, actor_id: int, *, now: dt.datetime,
    seen_version: int | None = None,
) -> Outcome:
    meeting, party, actor = await _load(session, meeting_id, actor_id)
    current = await q.version(session, meeting.id)
    if meeting.status == MeetingStatus.CONFIRMED and actor.role == meeting_confirmer(meeting):
        return Outcome(meeting, party, Event.CONFIRMED, actor, current, changed=False)
    if meeting.status != MeetingStatus.PROPOSED:
        raise StaleError(f"meeting_{meeting.status}")
    _check_version(meeting, current, seen_version)
    if actor.role != meeting.awaiting_role:
        raise ServiceError("meeting_wait_other")
    if meeting.starts_at <= now:
        raise StaleError("meeting_time_gone")
    meeting.status = MeetingStatus.CONFIRMED
    meeting.confirmed_at = now
    meeting.updated_at = now
    version = await _record(session, meeting, party, actor_id, "confirm")
    return Outcome(meeting, party, Event.CONFIRMED, actor, version, to=party.others(actor_id))


def meeting_confirmer(meeting: Meeting) -> str | None:
    """The side whose answer confirmed it (the awaiting role stays as it was)."""
    return meeting.awaiting_role


async def retime(
    session: AsyncSession, meeting_id: int, actor_id: int, starts_at: dt.datetime, *,
    now: dt.datetime,
) -> Outcome:
    """Another time: a counter-proposal to a proposal, or a confirmed meeting moved. Either
    way it waits again, now for the other side."""
    meeting, party, actor = await _load(session, meeting_id, actor_id)
    if meeting.status not in OPEN:
        raise StaleError(f"meeting_{meeting.status}")
    check_when(starts_at, now)
    meeting.starts_at = starts_at
    meeting.status = MeetingStatus.PROPOSED
    meeting.confirmed_at = None
    meeting.proposed_by = actor_id
    meeting.awaiting_role = Role.MENTEE if actor.role == Role.MENTOR else Role.MENTOR
    meeting.reminded_24h_at = None
    meeting.reminded_1h_at = None
    meeting.updated_at = now
    version = await _record(session, meeting, party, actor_id, "retime")
    return Outcome(meeting, party, Event.RETIMED, actor, version, to=party.others(actor_id))


async def check_retime(session: AsyncSession, meeting_id: int, actor_id: int | None) -> Outcome:
    """Before the picker opens for "another time": the meeting must still be open."""
    meeting, party, actor = await _load(session, meeting_id, actor_id)
    if meeting.status not in OPEN:
        raise StaleError(f"meeting_{meeting.status}")
    return Outcome(meeting, party, Event.RETIMED, actor, await q.version(session, meeting.id),
                   changed=False)


async def start_again(session: AsyncSession, meeting_id: int, actor_id: int | None) -> Start:
    """"Reschedule" under a meeting the journal marked not held: a new proposal for the
    same pair (or group), its kind first when it is still to come."""
    meeting, _, _ = await _load(session, meeting_id, actor_id)
    if meeting.status != MeetingStatus.NOT_HELD:
        raise StaleError(f"meeting_{meeting.status}")
    begun = await start(session, meeting.pair_id, actor_id, group=bool(meeting.group_key))
    kinds = tuple(sorted(begun.kinds, key=lambda k: k != meeting.kind))
    return Start(begun.party, begun.actor, kinds, begun.group_possible)


async def decline(
    session: AsyncSession, meeting_id: int, actor_id: int, *, now: dt.datetime,
    seen_version: int | None = None,
) -> Outcome:
    """The side a proposal waits for says no. In a group, one mentee's no only tells the
    mentor: the meeting stays for the others."""
    meeting, party, actor = await _load(session, meeting_id, actor_id)
    current = await q.version(session, meeting.id)
    if meeting.status == MeetingStatus.CANCELLED and meeting.cancelled_by == actor_id:
        return Outcome(meeting, party, Event.DECLINED, actor, current, changed=False)
    if meeting.status != MeetingStatus.PROPOSED:
        raise StaleError(f"meeting_{meeting.status}")
    _check_version(meeting, current, seen_version)
    if actor.role != meeting.awaiting_role:
        raise ServiceError("meeting_wait_other")
    if party.group_key and actor.role == Role.MENTEE:
        # Not a change of the meeting: the others' buttons stay valid (same version), and a
        # repeated tap queues nothing new (same outbox key).
        audit.record(
            session, actor_id=actor_id, organisation_id=party.organisation_id or None,
            action="meeting.decline_one", target_type="meeting_answer", target_id=meeting.id,
        )
        return Outcome(meeting, party, Event.DECLINED_ONE, actor, current, to=[party.mentor])
    _close(meeting, actor_id, now)
    version = await _record(session, meeting, party, actor_id, "decline")
    return Outcome(meeting, party, Event.DECLINED, actor, version, to=party.others(actor_id))


async def cancel(
    session: AsyncSession, meeting_id: int, actor_id: int, *, now: dt.datetime,
    seen_version: int | None = None,
) -> Outcome:
    """Either side calls a meeting off (a group's meeting: its mentor)."""
    meeting, party, actor = await _load(session, meeting_id, actor_id)
    current = await q.version(session, meeting.id)
    if meeting.status == MeetingStatus.CANCELLED:
        return Outcome(meeting, party, Event.CANCELLED, actor, current, changed=False)
    if meeting.status not in OPEN:
        raise StaleError(f"meeting_{meeting.status}")
    _check_version(meeting, current, seen_version)
    if party.group_key and actor.role != Role.MENTOR:
        raise ServiceError("meeting_group_mentor_cancels")
    _close(meeting, actor_id, now)
    version = await _record(session, meeting, party, actor_id, "cancel")
    return Outcome(meeting, party, Event.CANCELLED, actor, version, to=party.others(actor_id))


def _close(meeting: Meeting, actor_id: int, now: dt.datetime) -> None:
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_at = now
    meeting.cancelled_by = actor_id
    meeting.awaiting_role = None
    meeting.updated_at = now


@dataclass(frozen=True, slots=True)
class Listing:
    coming: list[Meeting]  # soonest first
    past: list[Meeting]  # latest first


async def list_for(session: AsyncSession, participant_id: int, now: dt.datetime) -> Listing:
    """The person's meetings: open ones not yet over, then everything else."""
    pairs = await q.all_pair_ids_of(session, participant_id)
    if not pairs:
        return Listing([], [])
    meetings = await q.listed(
        session, [pid for pid, _ in pairs], {key for _, key in pairs if key}
    )
    coming, past = [], []
    for meeting in meetings:
        ends = meeting.starts_at + dt.timedelta(minutes=meeting.duration_minutes)
        if meeting.status in OPEN and ends > now:
            coming.append(meeting)
        else:
            past.append(meeting)
    coming.sort(key=lambda m: m.starts_at)
    return Listing(coming, past)

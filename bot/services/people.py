"""The curator's view of a programme's base: who is there and how far they got."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import valid_id
from bot.services.consent import state_for
from bot.services.errors import ServiceError
from db.models import (
    ConsentKind,
    Membership,
    MembershipStatus,
    Participant,
    Programme,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from db.queries import organisations as q_orgs
from db.queries import pairs as q_pairs
from db.queries import participants as q_people
from db.queries import responses as q_responses

PAGE_SIZE = 8


class Progress(StrEnum):
    CONSENT_PENDING = "consent_pending"
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WITHDRAWN = "withdrawn"


@dataclass(slots=True)
class Row:
    membership: Membership
    progress: Progress
    partners: list[tuple[int, Membership]] = field(default_factory=list)  # (pair id, other)


async def curator_scope(
    session: AsyncSession, participant: Participant | None, is_coordinator: bool
) -> list[int]:
    """Organisations a curator (or coordinator: all) may see."""
    if is_coordinator:
        return [org.id for org in await q_orgs.all_orgs(session)]
    if participant is None:
        return []
    return await q_people.curator_org_ids(session, participant.id)


async def acting(session: AsyncSession, telegram_id: int, language: str) -> Participant:
    """The person acting, as a participant row (a coordinator by ADMIN_IDS may have none)."""
    return await q_people.get_or_create(session, telegram_id, language)


async def choose_programme(session: AsyncSession, me: Participant, programme_id: int) -> None:
    me.current_programme_id = programme_id
    await session.flush()


async def programmes(session: AsyncSession, org_ids: list[int]) -> Sequence[Programme]:
    return await q_orgs.programmes_of(session, org_ids)


async def current_programme(
    session: AsyncSession, participant: Participant | None, org_ids: list[int]
) -> Programme:
    programmes = await q_orgs.programmes_of(session, org_ids)
    if not programmes:
        raise ServiceError("no_programme")
    if participant is not None and participant.current_programme_id:
        chosen = next((p for p in programmes if p.id == participant.current_programme_id), None)
        if chosen is not None:
            return chosen
    if len(programmes) == 1:
        return programmes[0]
    raise ServiceError("choose_programme")


def progress_of(membership: Membership, response_status: str | None) -> Progress:
    if membership.status in (MembershipStatus.WITHDRAWN, MembershipStatus.DECLINED):
        return Progress.WITHDRAWN
    if membership.status in (MembershipStatus.CONSENT_PENDING, MembershipStatus.GUARDIAN_PENDING):
        return Progress.CONSENT_PENDING
    if response_status == ResponseStatus.DONE:
        return Progress.DONE
    if response_status == ResponseStatus.IN_PROGRESS:
        return Progress.IN_PROGRESS
    return Progress.NOT_STARTED


async def page(
    session: AsyncSession, programme_id: int, role: Role, page_no: int
) -> tuple[list[Row], int, int]:
    """Rows of one page, the number of pages and the page shown (clamped into range)."""
    total = await count(session, programme_id, role)
    pages = max(1, -(-total // PAGE_SIZE))
    page_no = min(max(page_no, 0), pages - 1)
    people = await q_people.programme_people(
        session, programme_id, role, offset=page_no * PAGE_SIZE, limit=PAGE_SIZE
    )
    ids = [m.id for m in people]
    statuses: dict[int, str] = {}
    if ids:
        stmt = select(QuestionnaireResponse.membership_id, QuestionnaireResponse.status).where(
            QuestionnaireResponse.membership_id.in_(ids),
            QuestionnaireResponse.stage == "onboarding",
        )
        statuses = {mid: status for mid, status in (await session.execute(stmt)).all()}
    rows = [Row(m, progress_of(m, statuses.get(m.id))) for m in people]
    partners = await paired_with(session, ids)
    for row in rows:
        row.partners = partners.get(row.membership.id, [])
    return rows, pages, page_no


async def paired_with(
    session: AsyncSession, membership_ids: Collection[int]
) -> dict[int, list[tuple[int, Membership]]]:
    """Membership -> its working pairs as (pair id, the other side's membership)."""
    pairs = await q_pairs.active_of(session, membership_ids)
    others = await q_pairs.memberships(
        session, {p.mentor_membership_id for p in pairs} | {p.mentee_membership_id for p in pairs}
    )
    out: dict[int, list[tuple[int, Membership]]] = {}
    for pair in pairs:
        for me, other in ((pair.mentee_membership_id, pair.mentor_membership_id),
                          (pair.mentor_membership_id, pair.mentee_membership_id)):
            if me in membership_ids and other in others:
                out.setdefault(me, []).append((pair.id, others[other]))
    return out


async def consent_kinds(session: AsyncSession, membership: Membership, version: int) -> list[str]:
    """Accepted consents of the current version that count for this membership."""
    state = await state_for(session, membership, version)
    return [
        kind for kind, ok in (
            (ConsentKind.SELF, state.self_ok),
            (ConsentKind.GUARDIAN, state.guardian_ok),
            (ConsentKind.PAPER, state.paper_ok),
        ) if ok
    ]


async def paper_consent_target(
    session: AsyncSession, membership_id: int, org_ids: Collection[int], version: int
) -> Membership:
    """The membership a curator may record a paper consent for: a mentee or mentor of the
    curator's organisations whose consent is still missing (so a repeat records nothing)."""
    membership = await q_people.membership(session, membership_id)
    if (
        membership is None
        or membership.organisation_id not in org_ids
        or membership.role not in (Role.MENTEE, Role.MENTOR)
    ):
        raise ServiceError("member_not_found", id=membership_id)
    state = await state_for(session, membership, version)
    if state.paper_ok:
        raise ServiceError("paper_consent_recorded", id=membership_id)
    if state.satisfied(membership.participant.age_group):
        raise ServiceError("paper_consent_not_needed", id=membership_id)
    return membership


async def count(session: AsyncSession, programme_id: int, role: Role) -> int:
    stmt = select(func.count(Membership.id)).where(
        Membership.programme_id == programme_id,
        Membership.role == role,
        Membership.status != MembershipStatus.DECLINED,
    )
    return int((await session.execute(stmt)).scalar_one())


class Access(StrEnum):
    """May a curator act on the object a button names?"""

    OK = "ok"
    NOT_YOURS = "not_yours"  # it exists, in another organisation
    STALE = "stale"  # it does not exist (any more)


async def pair_access(session: AsyncSession, pair_id: int, org_ids: Collection[int]) -> Access:
    if not valid_id(pair_id):
        return Access.STALE
    pair = await q_pairs.get(session, pair_id)
    if pair is None:
        return Access.STALE
    programme = await q_orgs.get_programme(session, pair.programme_id)
    if programme is None or programme.organisation_id not in org_ids:
        return Access.NOT_YOURS
    return Access.OK


async def members_access(
    session: AsyncSession, membership_ids: Collection[int], org_ids: Collection[int]
) -> Access:
    """Mentee and mentor memberships of the curator's organisations."""
    if not all(valid_id(i) for i in membership_ids):
        return Access.STALE
    found = await q_pairs.memberships(session, membership_ids)
    if len(found) != len(set(membership_ids)):
        return Access.STALE
    if any(
        m.organisation_id not in org_ids or m.role not in (Role.MENTEE, Role.MENTOR)
        for m in found.values()
    ):
        return Access.NOT_YOURS
    return Access.OK


async def programme_access(
    session: AsyncSession, programme_id: int, org_ids: Collection[int]
) -> tuple[Access, Programme | None]:
    programme = (
        await q_orgs.get_programme(session, programme_id) if valid_id(programme_id) else None
    )
    if programme is None:
        return Access.STALE, None
    if programme.organisation_id not in org_ids:
        return Access.NOT_YOURS, programme
    return Access.OK, programme


async def card_access(
    session: AsyncSession, membership_id: int, org_ids: Collection[int]
) -> tuple[Access, Membership | None]:
    """A mentee's or mentor's membership whose card a curator may open."""
    membership = (
        await q_people.membership(session, membership_id) if valid_id(membership_id) else None
    )
    if membership is None or membership.role not in (Role.MENTEE, Role.MENTOR):
        return Access.STALE, None
    if membership.organisation_id not in org_ids:
        return Access.NOT_YOURS, membership
    return Access.OK, membership


@dataclass(slots=True)
class Card:
    """What a curator sees of one person: consents, working pairs, answers by questionnaire."""

    membership: Membership
    consent_kinds: list[str]
    partners: list[tuple[int, Membership]]
    answers: list[tuple[str, dict[str, object]]]  # (questionnaire id, question id -> value)


async def card(session: AsyncSession, membership: Membership, consent_version: int) -> Card:
    responses: Sequence[QuestionnaireResponse] = await q_responses.of_memberships(
        session, [membership.id]
    )
    return Card(
        membership=membership,
        consent_kinds=await consent_kinds(session, membership, consent_version),
        partners=(await paired_with(session, [membership.id])).get(membership.id, []),
        answers=[(r.questionnaire_id, q_responses.answer_map(r)) for r in responses],
    )

"""From an invitation link to a participant ready for the questionnaire.

Consent comes first: until it is given, only the Telegram id, the membership being
joined and (on a decline) the refusal are stored. The age group chosen before consent
lives in the dialog state, not in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import organisations as orgs
from bot.services.consent import state_for
from bot.services.errors import ServiceError
from db.models import (
    AgeGroup,
    Category,
    Consent,
    ConsentDecision,
    ConsentKind,
    Form,
    Invite,
    InviteKind,
    Membership,
    MembershipStatus,
    Participant,
    Role,
)
from db.queries import audit
from db.queries import organisations as q_orgs
from db.queries import participants as q


class Next(StrEnum):
    """What the participant has to do next."""

    AGE = "age"
    CONSENT = "consent"
    GUARDIAN = "guardian"
    FORM = "form"
    QUESTIONNAIRE = "questionnaire"
    READY = "ready"  # questionnaire done, or a curator with nothing to fill


CATEGORIES: dict[tuple[str, str], str] = {}
for _form in Form:
    _mentor_side, _mentee_side = _form.value.split("-")
    CATEGORIES[(Role.MENTEE, _form)] = _mentee_side
    CATEGORIES[(Role.MENTOR, _form)] = _mentor_side
assert all(c in {c.value for c in Category} for c in CATEGORIES.values())

GUARDIAN_TTL_DAYS = 30


@dataclass(slots=True)
class Joined:
    membership: Membership
    next: Next
    is_new: bool


def _needs_age(membership: Membership) -> bool:
    return membership.role in (Role.MENTEE, Role.MENTOR)


def join_refusal(invite: Invite | None, now: dt.datetime) -> ServiceError | None:
    """Why `join` would refuse this invitation (None: it would not), for a caller that
    has more to say than the refusal itself."""
    try:
        invite = orgs.check_usable(invite, now)
    except ServiceError as exc:
        return exc
    if invite.kind == InviteKind.GUARDIAN:
        return ServiceError("guardian_link_here")
    return None


async def join(
    session: AsyncSession,
    *,
    telegram_id: int,
    language: str,
    code: str,
    now: dt.datetime,
    consent_version: int,
) -> Joined:
    invite = await q_orgs.invite_by_code(session, code)
    refusal = join_refusal(invite, now)
    if refusal is not None:
        raise refusal
    assert invite is not None
    participant = await q.get_or_create(session, telegram_id, language)
    role = Role(invite.kind)
    programme_id = invite.programme_id if role != Role.CURATOR else None
    membership = await q.find_membership(
        session, participant.id, programme_id, role, organisation_id=invite.organisation_id
    )
    is_new = membership is None
    if membership is None:
        membership = Membership(
            participant_id=participant.id,
            organisation_id=invite.organisation_id,
            programme_id=programme_id,
            role=role,
            status=MembershipStatus.CONSENT_PENDING,
            invite_id=invite.id,
        )
        session.add(membership)
        invite.uses += 1
        await session.flush()
    elif membership.status in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN):
        membership.status = MembershipStatus.CONSENT_PENDING
        if role == Role.CURATOR:
            _rejoin_curator(membership, invite)
    if role == Role.CURATOR and invite.programme_id is not None:
        participant.current_programme_id = invite.programme_id
    return Joined(
        membership, await next_step(session, membership, participant, consent_version), is_new
    )


def _rejoin_curator(membership: Membership, invite: Invite) -> None:
    """A returning curator uses up the new link and is confirmed afresh by its maker."""
    membership.invite_id = invite.id
    membership.confirmed_at = None
    membership.confirmed_by = None
    invite.uses += 1


async def next_step(
    session: AsyncSession,
    membership: Membership,
    participant: Participant,
    version: int,
) -> Next:
    consent = await state_for(session, membership, version)
    if not consent.satisfied(participant.age_group):
        # A child's age group is not stored before the guardian consents: the pending
        # guardian request itself says where the person is.
        if membership.status == MembershipStatus.GUARDIAN_PENDING and (
            consent.self_ok or participant.age_group in (None, AgeGroup.CHILD)
        ):
            return Next.GUARDIAN
        if participant.age_group is None and _needs_age(membership) and not consent.paper_ok:
            return Next.AGE
        return Next.CONSENT
    if membership.role == Role.CURATOR:
        return Next.READY
    if membership.form is None:
        return Next.FORM
    if membership.status in (
        MembershipStatus.CONSENT_PENDING,
        MembershipStatus.GUARDIAN_PENDING,
        MembershipStatus.QUESTIONNAIRE,
    ):
        return Next.QUESTIONNAIRE
    return Next.READY


def _record(
    session: AsyncSession,
    membership: Membership,
    kind: ConsentKind,
    decision: ConsentDecision,
    version: int,
    *,
    guardian_telegram_id: int | None = None,
    recorded_by: int | None = None,
) -> Consent:
    consent = Consent(
        participant_id=membership.participant_id,
        organisation_id=membership.organisation_id,
        membership_id=membership.id,
        kind=kind,
        decision=decision,
        version=version,
        guardian_telegram_id=guardian_telegram_id,
        recorded_by=recorded_by,
    )
    session.add(consent)
    return consent


@dataclass(slots=True)
class ConsentOutcome:
    next: Next
    guardian_invite: Invite | None = None


async def _after_consent(
    session: AsyncSession,
    membership: Membership,
    participant: Participant,
    version: int,
    now: dt.datetime,
) -> ConsentOutcome:
    consent = await state_for(session, membership, version)
    if consent.satisfied(participant.age_group):
        if membership.status in (
            MembershipStatus.CONSENT_PENDING,
            MembershipStatus.GUARDIAN_PENDING,
        ):
            membership.status = (
                MembershipStatus.IN_BASE
                if membership.role == Role.CURATOR
                else MembershipStatus.QUESTIONNAIRE
            )
        return ConsentOutcome(await next_step(session, membership, participant, version))
    membership.status = MembershipStatus.GUARDIAN_PENDING
    invite = await orgs.create_invite(
        session,
        kind=InviteKind.GUARDIAN,
        now=now,
        ttl_days=GUARDIAN_TTL_DAYS,
        organisation_id=membership.organisation_id,
        membership_id=membership.id,
        max_uses=1,
    )
    return ConsentOutcome(Next.GUARDIAN, invite)


async def accept_self(
    session: AsyncSession,
    membership: Membership,
    participant: Participant,
    *,
    age_group: str | None,
    first_name: str | None,
    username: str | None,
    version: int,
    now: dt.datetime,
) -> ConsentOutcome:
    """The participant's own consent: only now their age group and Telegram names are kept."""
    if self_consent_age(membership, participant, age_group) == AgeGroup.CHILD:
        raise ServiceError("child_needs_guardian")
    participant.age_group = self_consent_age(membership, participant, age_group)
    participant.tg_first_name = first_name
    participant.tg_username = username
    _record(session, membership, ConsentKind.SELF, ConsentDecision.ACCEPTED, version)
    await session.flush()
    return await _after_consent(session, membership, participant, version, now)


def self_consent_age(
    membership: Membership, participant: Participant, age_group: str | None
) -> AgeGroup | None:
    """The age group the person's own consent records (a child's own consent counts not)."""
    if age_group is not None:
        return AgeGroup(age_group)
    if participant.age_group is None:
        return None if _needs_age(membership) else AgeGroup.ADULT
    return AgeGroup(participant.age_group)


async def request_guardian(
    session: AsyncSession, membership: Membership, *, now: dt.datetime
) -> Invite:
    """For a child under 14: nothing is stored about them, the guardian link is issued."""
    membership.status = MembershipStatus.GUARDIAN_PENDING
    return await orgs.create_invite(
        session,
        kind=InviteKind.GUARDIAN,
        now=now,
        ttl_days=GUARDIAN_TTL_DAYS,
        organisation_id=membership.organisation_id,
        membership_id=membership.id,
        max_uses=1,
    )


async def decline(session: AsyncSession, membership: Membership, *, version: int) -> None:
    _record(session, membership, ConsentKind.SELF, ConsentDecision.DECLINED, version)
    membership.status = MembershipStatus.DECLINED


@dataclass(slots=True)
class GuardianRequest:
    invite: Invite
    membership: Membership
    organisation_name: str


async def open_guardian_link(
    session: AsyncSession, code: str, *, telegram_id: int, now: dt.datetime
) -> GuardianRequest:
    invite = orgs.check_usable(await q_orgs.invite_by_code(session, code), now)
    if invite.kind != InviteKind.GUARDIAN or invite.membership_id is None:
        raise ServiceError("invite_invalid")
    membership = await q.membership(session, invite.membership_id)
    if membership is None or membership.status != MembershipStatus.GUARDIAN_PENDING:
        raise ServiceError("invite_used")
    if membership.participant.telegram_id == telegram_id:
        raise ServiceError("guardian_not_self")
    if invite.opened_by is None:
        invite.opened_by = telegram_id
    elif invite.opened_by != telegram_id:
        raise ServiceError("guardian_link_taken")
    return GuardianRequest(invite, membership, membership.organisation.name)


async def guardian_decision_made(
    session: AsyncSession, code: str, *, telegram_id: int
) -> bool | None:
    """For a repeated tap: True/False when this guardian already decided, None otherwise."""
    invite = await q_orgs.invite_by_code(session, code)
    if invite is None or invite.kind != InviteKind.GUARDIAN or invite.opened_by != telegram_id:
        return None
    if invite.membership_id is None:
        return None
    membership = await q.membership(session, invite.membership_id)
    if membership is None or membership.status == MembershipStatus.GUARDIAN_PENDING:
        return None
    return membership.status != MembershipStatus.DECLINED


async def self_consent_given(session: AsyncSession, membership: Membership, version: int) -> bool:
    return (await state_for(session, membership, version)).self_ok


async def accept_guardian(
    session: AsyncSession,
    code: str,
    *,
    guardian_telegram_id: int,
    version: int,
    now: dt.datetime,
) -> Membership:
    request = await open_guardian_link(session, code, telegram_id=guardian_telegram_id, now=now)
    membership, participant = request.membership, request.membership.participant
    consent = await state_for(session, membership, version)
    if participant.age_group is None:
        # Without the minor's own consent on record, the guardian consents for a child.
        participant.age_group = AgeGroup.TEEN if consent.self_ok else AgeGroup.CHILD
    _record(
        session, membership, ConsentKind.GUARDIAN, ConsentDecision.ACCEPTED, version,
        guardian_telegram_id=guardian_telegram_id,
    )
    request.invite.uses += 1
    await session.flush()
    await _after_consent(session, membership, participant, version, now)
    return membership


async def decline_guardian(
    session: AsyncSession, code: str, *, guardian_telegram_id: int, version: int, now: dt.datetime
) -> Membership:
    request = await open_guardian_link(session, code, telegram_id=guardian_telegram_id, now=now)
    _record(
        session, request.membership, ConsentKind.GUARDIAN, ConsentDecision.DECLINED, version,
        guardian_telegram_id=guardian_telegram_id,
    )
    request.invite.revoked_at = now
    request.membership.status = MembershipStatus.DECLINED
    return request.membership


async def record_paper_consent(
    session: AsyncSession,
    membership_id: int,
    *,
    curator: Participant,
    curator_org_ids: list[int],
    version: int,
    now: dt.datetime,
) -> Membership:
    membership = await q.membership(session, membership_id)
    if membership is None or membership.organisation_id not in curator_org_ids:
        raise ServiceError("member_not_found", id=membership_id)
    if membership.status in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN):
        raise ServiceError("member_withdrawn")
    _record(
        session, membership, ConsentKind.PAPER, ConsentDecision.ACCEPTED, version,
        recorded_by=curator.id,
    )
    audit.record(
        session, actor_id=curator.id, organisation_id=membership.organisation_id,
        action="consent.paper", target_type="membership", target_id=membership.id,
    )
    await session.flush()
    await _after_consent(session, membership, membership.participant, version, now)
    return membership


async def choose_form(session: AsyncSession, membership: Membership, form: str) -> None:
    programme = membership.programme
    if programme is None or form not in programme.forms:
        raise ServiceError("form_not_in_programme")
    membership.form = form
    membership.category = CATEGORIES[(membership.role, form)]


def auto_form(membership: Membership) -> None:
    """A programme with a single form needs no question."""
    programme = membership.programme
    if membership.form is None and programme is not None and len(programme.forms) == 1:
        membership.form = programme.forms[0]
        membership.category = CATEGORIES[(membership.role, membership.form)]


"""Organisations, programmes and invitations (deep links)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import MAX_ID
from bot.services.errors import ServiceError
from db.models import Form, Invite, InviteKind, Organisation, Programme
from db.queries import audit
from db.queries import organisations as q

CODE_BYTES = 12  # 16 url-safe characters, 96 bits: not guessable
GUARDIAN_PREFIX = "g"
# A curator invitation opens participants' data (after the curator's terms and the
# inviter's confirmation): it is short-lived and single-use unless a small number is stated.
CURATOR_TTL_DAYS = 7
CURATOR_MAX_USES = 5


def parse_forms(raw: str | Iterable[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    forms = [item.strip() for item in items if item.strip()]
    known = {f.value for f in Form}
    unknown = [f for f in forms if f not in known]
    if not forms:
        raise ServiceError("forms_empty", known=", ".join(sorted(known)))
    if unknown:
        raise ServiceError("form_unknown", form=unknown[0], known=", ".join(sorted(known)))
    return list(dict.fromkeys(forms))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ServiceError("timezone_unknown", tz=name) from None
    return name


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not 2 <= len(name) <= 200:
        raise ServiceError("name_length")
    return name


async def create_organisation(
    session: AsyncSession, name: str, timezone: str, *, actor_id: int | None = None
) -> Organisation:
    org = Organisation(name=check_name(name), timezone=check_timezone(timezone))
    session.add(org)
    await session.flush()
    audit.record(
        session, actor_id=actor_id, organisation_id=org.id, action="organisation.create",
        target_type="organisation", target_id=org.id,
    )
    return org


async def create_programme(
    session: AsyncSession,
    org_id: int,
    name: str,
    forms: str | Iterable[str],
    start: dt.date,
    end: dt.date,
    *,
    actor_id: int | None = None,
) -> Programme:
    if await q.get_org(session, org_id) is None:
        raise ServiceError("org_not_found", id=org_id)
    if end < start:
        raise ServiceError("dates_order")
    programme = Programme(
        organisation_id=org_id,
        name=check_name(name),
        forms=parse_forms(forms),
        start_date=start,
        end_date=end,
        created_by=actor_id,
    )
    session.add(programme)
    await session.flush()
    audit.record(
        session, actor_id=actor_id, organisation_id=org_id, action="programme.create",
        target_type="programme", target_id=programme.id, details={"forms": programme.forms},
    )
    return programme


def new_code(kind: str) -> str:
    # The kind is decided by the invite row, not by the code; the prefix only lets a
    # person tell a guardian link from a role invitation at a glance.
    code = secrets.token_urlsafe(CODE_BYTES)
    return f"{GUARDIAN_PREFIX}{code}" if kind == InviteKind.GUARDIAN else code


async def create_invite(
    session: AsyncSession,
    *,
    kind: InviteKind,
    now: dt.datetime,
    ttl_days: int | None,
    programme_id: int | None = None,
    organisation_id: int | None = None,
    membership_id: int | None = None,
    actor_id: int | None = None,
    max_uses: int | None = None,
) -> Invite:
    if programme_id is not None:
        programme = await q.get_programme(session, programme_id)
        if programme is None:
            raise ServiceError("programme_not_found", id=programme_id)
        organisation_id = programme.organisation_id
    if organisation_id is None or await q.get_org(session, organisation_id) is None:
        raise ServiceError("org_not_found", id=organisation_id)
    if kind in (InviteKind.MENTEE, InviteKind.MENTOR) and programme_id is None:
        raise ServiceError("programme_required")
    if kind == InviteKind.CURATOR:
        ttl_days = min(ttl_days or CURATOR_TTL_DAYS, CURATOR_TTL_DAYS)
        max_uses = min(max(max_uses or 1, 1), CURATOR_MAX_USES)
    invite = Invite(
        code=new_code(kind),
        kind=kind,
        organisation_id=organisation_id,
        programme_id=programme_id,
        membership_id=membership_id,
        created_by=actor_id,
        max_uses=max_uses,
        expires_at=now + dt.timedelta(days=ttl_days) if ttl_days else None,
    )
    session.add(invite)
    await session.flush()
    if kind != InviteKind.GUARDIAN:
        audit.record(
            session, actor_id=actor_id, organisation_id=organisation_id, action="invite.create",
            target_type="invite", target_id=invite.id,
            details={"kind": kind.value, "programme_id": programme_id},
        )
    return invite


async def programme_invites(
    session: AsyncSession,
    programme_id: int,
    kinds: Iterable[InviteKind],
    *,
    now: dt.datetime,
    ttl_days: int | None,
    actor_id: int | None,
) -> list[Invite]:
    """The newest usable invitation of each kind, made only where there is none."""
    found = []
    for kind in kinds:
        usable = [
            i for i in await q.open_invites(session, programme_id, kind)
            if (i.expires_at is None or i.expires_at > now)
            and (i.max_uses is None or i.uses < i.max_uses)
        ]
        found.append(usable[-1] if usable else await create_invite(
            session, kind=kind, now=now, ttl_days=ttl_days, programme_id=programme_id,
            actor_id=actor_id,
        ))
    return found


async def revoke_invite(
    session: AsyncSession, invite_id: int, *, now: dt.datetime, actor_id: int | None,
    allowed_org_ids: Iterable[int] | None = None,
) -> Invite:
    if not 1 <= invite_id <= MAX_ID:  # beyond the integer column: no such invite
        raise ServiceError("invite_not_found")
    invite = await session.get(Invite, invite_id)
    if invite is None or (
        allowed_org_ids is not None and invite.organisation_id not in set(allowed_org_ids)
    ):
        raise ServiceError("invite_not_found")
    if invite.revoked_at is None:
        invite.revoked_at = now
        audit.record(
            session, actor_id=actor_id, organisation_id=invite.organisation_id,
            action="invite.revoke", target_type="invite", target_id=invite.id,
        )
    return invite


def check_usable(invite: Invite | None, now: dt.datetime) -> Invite:
    if invite is None:
        raise ServiceError("invite_invalid")
    if invite.revoked_at is not None:
        raise ServiceError("invite_revoked")
    if invite.expires_at is not None and invite.expires_at <= now:
        raise ServiceError("invite_expired")
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise ServiceError("invite_used")
    return invite


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


# A programme is often entered after the school year began, so a recent start is normal;
# one already over, or begun more than this long ago, is most likely a typo.
PAST_START_GRACE = dt.timedelta(days=365)


def past_dates(start: dt.date, end: dt.date, today: dt.date) -> list[dt.date]:
    """The dates to confirm with the creator: [] when the programme's dates look current."""
    if end < today or start < today - PAST_START_GRACE:
        return [day for day in (start, end) if day < today]
    return []


def today_in(timezone: str, now: dt.datetime) -> dt.date:
    try:
        return now.astimezone(ZoneInfo(timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return now.date()


ORGS_PAGE_SIZE = 8


@dataclass(frozen=True, slots=True)
class OrgRow:
    organisation: Organisation
    curators: int
    open_invites: list[Invite]


async def orgs_page(
    session: AsyncSession, page_no: int, *, now: dt.datetime, size: int = ORGS_PAGE_SIZE
) -> tuple[list[OrgRow], int]:
    """One page of organisations with their curators and open curator invitations.

    Reads only: listing never creates invitations. Raises for a page out of range.
    """
    total = await q.count_orgs(session)
    pages = max(1, -(-total // size))
    if not 0 <= page_no < pages:
        raise ServiceError("page_out_of_range", pages=pages)
    items = await q.orgs_slice(session, offset=page_no * size, limit=size)
    ids = [org.id for org in items]
    curators = await q.curator_counts(session, ids)
    invites = await q.open_curator_invites(session, ids, now)
    rows = [
        OrgRow(org, curators.get(org.id, 0), [i for i in invites if i.organisation_id == org.id])
        for org in items
    ]
    return rows, pages


async def find_organisation(session: AsyncSession, org_id: int) -> Organisation | None:
    return await q.get_org(session, org_id) if 1 <= org_id <= MAX_ID else None


async def organisation(session: AsyncSession, org_id: int) -> Organisation:
    org = await find_organisation(session, org_id)
    if org is None:
        raise ServiceError("org_not_found", id=org_id)
    return org


async def organisations(session: AsyncSession, org_ids: Iterable[int]) -> list[Organisation]:
    """The organisations that still exist, in the order asked."""
    found = [await find_organisation(session, org_id) for org_id in org_ids]
    return [org for org in found if org is not None]


async def curator_invite(
    session: AsyncSession, org_id: int, *, now: dt.datetime, actor_id: int | None
) -> Invite:
    """A fresh single-use curator invitation, made only when someone asks for one."""
    if not 1 <= org_id <= MAX_ID or await q.get_org(session, org_id) is None:
        raise ServiceError("org_not_found", id=org_id)
    return await create_invite(
        session, kind=InviteKind.CURATOR, now=now, ttl_days=CURATOR_TTL_DAYS,
        organisation_id=org_id, actor_id=actor_id, max_uses=1,
    )


def parse_quiet(raw: str) -> tuple[int, int]:
    """'22:00-08:00' → (1320, 480), minutes after local midnight; '-' for none: (0, 0)."""
    text = raw.strip()
    if text in {"-", "none", "off"}:
        return 0, 0
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ServiceError("quiet_invalid", raw=raw) from None
    return start.hour * 60 + start.minute, end.hour * 60 + end.minute


async def update_settings(
    session: AsyncSession,
    org_id: int,
    *,
    quiet: str | None = None,
    first_days: int | None = None,
    idle_days: int | None = None,
    escalate_days: int | None = None,
    satisfied_from: int | None = None,
) -> dict[str, object]:
    """Change an organisation's quiet hours and nudge thresholds; returns them all."""
    org = await organisation(session, org_id)
    if quiet is not None:
        org.quiet_from_min, org.quiet_to_min = parse_quiet(quiet)
    for name, value in (
        ("nudge_first_days", first_days),
        ("nudge_idle_days", idle_days),
        ("escalate_days", escalate_days),
    ):
        if value is None:
            continue
        if not 1 <= value <= 365:
            raise ServiceError("days_range", name=name)
        setattr(org, name, value)
    if satisfied_from is not None:
        if not 1 <= satisfied_from <= 10:
            raise ServiceError("satisfied_range")
        org.satisfied_from = satisfied_from
    return {
        "quiet": f"{org.quiet_from_min // 60:02d}:{org.quiet_from_min % 60:02d}-"
        f"{org.quiet_to_min // 60:02d}:{org.quiet_to_min % 60:02d}",
        "nudge_first_days": org.nudge_first_days,
        "nudge_idle_days": org.nudge_idle_days,
        "escalate_days": org.escalate_days,
        "satisfied_from": org.satisfied_from,
    }

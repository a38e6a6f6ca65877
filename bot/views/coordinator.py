"""Coordinator texts and keyboards: organisations, curator invitations, curator access."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup

from bot.i18n import Translator
from bot.services import organisations as orgs
from bot.services.curator_access import Decision
from db.models import Invite, Membership, Organisation, Participant
from keyboards import coordinator as kb
from keyboards.common import column

INVITES_SHOWN = 3


def expires(invite: Invite) -> str:
    return f"{invite.expires_at:%d.%m.%Y}" if invite.expires_at else "—"


def revoke_button(t: Translator, invite: Invite) -> InlineKeyboardMarkup:
    return column([(t("coordinator.invite_revoke_button", no=invite.id),
                    kb.InviteRevokeCb(i=invite.id))])


def org_created(
    t: Translator, org: Organisation, invite: Invite, bot_username: str
) -> tuple[str, InlineKeyboardMarkup]:
    return (
        t("coordinator.org_created_invite", id=org.id, name=escape(org.name),
          tz=escape(org.timezone), no=invite.id, expires=expires(invite),
          link=escape(orgs.deep_link(bot_username, invite.code))),
        revoke_button(t, invite),
    )


def invite_created(
    t: Translator, org: Organisation, invite: Invite, bot_username: str
) -> tuple[str, InlineKeyboardMarkup]:
    return (
        t("coordinator.invite_created", name=escape(org.name), no=invite.id,
          expires=expires(invite), link=escape(orgs.deep_link(bot_username, invite.code))),
        revoke_button(t, invite),
    )


def orgs_page(
    t: Translator, rows: Sequence[orgs.OrgRow], page: int, pages: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The registry of organisations, read-only: invitations are made by its buttons."""
    if not rows:
        return t("coordinator.no_orgs"), None
    lines = [t("coordinator.orgs_page_header", page=page + 1, pages=pages)]
    for row in rows:
        org = row.organisation
        line = t("coordinator.org_row", id=org.id, name=escape(org.name), tz=escape(org.timezone),
                 curators=row.curators)
        if row.open_invites:
            shown = [f"№ {i.id} ({expires(i)})" for i in row.open_invites[-INVITES_SHOWN:]]
            hidden = len(row.open_invites) - len(shown)
            numbers = ", ".join(shown) + (f" +{hidden}" if hidden > 0 else "")
            line += "\n" + t("coordinator.org_row_invites", numbers=numbers)
        lines.append(line)
    lines.append(t("coordinator.orgs_hint"))
    markup = kb.orgs_page(
        [(t("coordinator.org_invite_button", id=row.organisation.id), row.organisation.id)
         for row in rows],
        page, pages, t("common.back"), t("common.next"),
    )
    return "\n\n".join(lines), markup


# -- a new curator: terms, then the inviter's confirmation ------------------------------------
def person(membership: Membership) -> str:
    who = membership.participant
    name = who.full_name or who.tg_first_name or f"#{who.id}"
    return name + (f" (@{who.tg_username})" if who.tg_username else "")


def terms_accepted(t: Translator, inviter: Participant | None) -> str:
    who = t("curator_access.inviter" if inviter else "curator_access.coordinators")
    return t("curator_access.accepted", who=who)


def curator_request(t: Translator, membership: Membership) -> tuple[str, InlineKeyboardMarkup]:
    """To an approver, in their language: confirm or reject the new curator."""
    text = t("curator_access.request", name=escape(person(membership)),
             org=escape(membership.organisation.name), no=membership.invite_id or "—")
    buttons = kb.two(
        (t("curator_access.confirm"), kb.CuratorConfirmCb(m=membership.id, v=kb.Verdict.CONFIRM)),
        (t("curator_access.reject"), kb.CuratorConfirmCb(m=membership.id, v=kb.Verdict.REJECT)),
    )
    return text, buttons


def decided(t: Translator, decision: Decision, membership: Membership) -> str:
    """To the approver: what their tap did."""
    return t(f"curator_access.{decision.value}", name=escape(person(membership)),
             org=escape(membership.organisation.name))


def decision_notice(t: Translator, decision: Decision, membership: Membership) -> str:
    """To the curator, in their language: access granted or refused."""
    key = "curator_access.granted" if decision == Decision.CONFIRMED else "curator_access.refused"
    return t(key, org=escape(membership.organisation.name))

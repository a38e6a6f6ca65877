"""Curator texts and keyboards: programmes, invitations, the bases, a person's card."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.ids import first_invalid
from bot.render import answer_html, chunks
from bot.services import organisations as orgs
from bot.services.people import Access, Card, Row
from bot.services.questionnaires import Catalog
from db.models import Form, Invite, Membership, Organisation, Programme, Role
from keyboards.callbacks import (
    CardCb,
    FormsAction,
    NewProgFormCb,
    PeopleCb,
    ProgrammeCb,
    StartQCb,
)
from keyboards.common import column, short
from keyboards.coordinator import DatesAnswer, NewProgDatesCb, NewProgOrgCb, two
from keyboards.reports import ovz_button

FORMS = [f.value for f in Form]
BASE_ROLES = (Role.MENTEE, Role.MENTOR)


def display_name(t: Translator, membership: Membership) -> str:
    """Plain name; without one, the membership number (the one number curators see)."""
    person = membership.participant
    return person.full_name or person.tg_first_name or t("people.anonymous", id=membership.id)


def label(t: Translator, membership: Membership) -> str:
    """"#13 Иванов Иван", or "Участник #13" for someone without a name (plain text)."""
    person = membership.participant
    if person.full_name or person.tg_first_name:
        return f"#{membership.id} {display_name(t, membership)}"
    return display_name(t, membership)


def bad_number(t: Translator, raw: str, usage_key: str) -> str:
    bad = first_invalid(raw) if raw else None
    if bad is None:
        return t(usage_key)
    return t("curator.number_invalid", value=escape(bad[:30])) + "\n" + t(usage_key)


def refusal(t: Translator, access: Access) -> str:
    """A button naming something gone, or something of another organisation."""
    return t("curator.button_not_yours" if access == Access.NOT_YOURS else "curator.button_stale")


# -- programmes ---------------------------------------------------------------------------
def programmes(
    t: Translator, items: Sequence[Programme], current: int | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not items:
        return t("curator.no_programmes"), None
    lines = [t("curator.programmes_header")]
    buttons = []
    for programme in items:
        mark = "▶️ " if programme.id == current else ""
        forms = ", ".join(t(f"form.{f}") for f in programme.forms)
        lines.append(
            f"{mark}<b>#{programme.id} {escape(programme.name)}</b> — "
            f"{escape(programme.organisation.name)}\n{escape(forms)}; "
            f"{programme.start_date:%d.%m.%Y}–{programme.end_date:%d.%m.%Y}"
        )
        buttons.append((f"{mark}#{programme.id} {programme.name}", ProgrammeCb(p=programme.id)))
    return "\n\n".join(lines), column(buttons)


def programme_chosen(t: Translator, programme: Programme) -> str:
    return t("curator.programme_chosen", name=short(programme.name, 60))


def org_chosen(t: Translator, org: Organisation) -> str:
    return t("curator.org_chosen", name=escape(org.name))


def orgs_keyboard(items: Sequence[Organisation]) -> InlineKeyboardMarkup:
    return column([(f"#{o.id} {o.name}", NewProgOrgCb(o=o.id)) for o in items])


def forms_keyboard(t: Translator, chosen: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for i, form in enumerate(FORMS):
        mark = "✅ " if form in chosen else "▫️ "
        builder.button(text=mark + t(f"form.{form}"),
                       callback_data=NewProgFormCb(a=FormsAction.TOGGLE, i=i))
    builder.button(text=t("common.done"), callback_data=NewProgFormCb(a=FormsAction.DONE))
    builder.adjust(1)
    return builder.as_markup()


def past_dates(t: Translator, past: Sequence[dt.date]) -> tuple[str, InlineKeyboardMarkup]:
    return (
        t("curator.past_dates", dates=", ".join(f"{day:%d.%m.%Y}" for day in past)),
        two(
            (t("curator.past_dates_keep"), NewProgDatesCb(a=DatesAnswer.KEEP)),
            (t("curator.past_dates_change"), NewProgDatesCb(a=DatesAnswer.CHANGE)),
        ),
    )


def programme_created(t: Translator, programme: Programme) -> str:
    return t("curator.programme_created", id=programme.id, name=escape(programme.name))


# -- invitations --------------------------------------------------------------------------
def invites(
    t: Translator, programme: Programme, items: Sequence[Invite], bot_username: str
) -> str:
    lines = [t("curator.invites_header", name=escape(programme.name))]
    for invite in items:
        expires = f"{invite.expires_at:%d.%m.%Y}" if invite.expires_at else "—"
        lines.append(t(
            f"curator.invite_{invite.kind}", id=invite.id, expires=expires,
            link=escape(orgs.deep_link(bot_username, invite.code)),
        ))
    lines.append(t("curator.invite_revoke_hint"))
    return "\n\n".join(lines)


# -- bases --------------------------------------------------------------------------------
def _paired(t: Translator, partners: Sequence[tuple[int, Membership]]) -> str:
    return ", ".join(
        t("people.paired_with", pair=pair_id, who=escape(label(t, other)))
        for pair_id, other in partners
    )


def people_page(
    t: Translator, programme: Programme, role: Role, rows: Sequence[Row], pages: int,
    page_no: int,
) -> tuple[str, InlineKeyboardMarkup | None]:
    header = t(f"people.header_{role.value}", name=escape(programme.name),
               page=page_no + 1, pages=pages)
    if not rows:
        return header + "\n\n" + t("people.empty"), None
    builder = InlineKeyboardBuilder()
    lines = [header]
    for row in rows:
        status = t(f"people.progress_{row.progress.value}")
        form = t(f"form.{row.membership.form}") if row.membership.form else "—"
        line = f"{escape(label(t, row.membership))} — {status} ({escape(form)})"
        if row.partners:
            line += "; " + _paired(t, row.partners)
        lines.append(line)
        builder.button(
            text=short(label(t, row.membership), 40),
            callback_data=CardCb(m=row.membership.id, page=page_no),
        )
    nav = []
    if page_no > 0:
        nav.append((t("common.back"), PeopleCb(role=role.value, page=page_no - 1)))
    if page_no + 1 < pages:
        nav.append((t("common.next"), PeopleCb(role=role.value, page=page_no + 1)))
    for text, data in nav:
        builder.button(text=text, callback_data=data)
    sizes = [2] * (len(rows) // 2) + ([1] if len(rows) % 2 else []) + ([len(nav)] if nav else [])
    builder.adjust(*sizes)
    return "\n".join(lines), builder.as_markup()


def _card_facts(t: Translator, card: Card) -> str:
    """Age group and consents (who consented matters for minors), working pairs."""
    membership = card.membership
    lines = []
    if membership.participant.age_group:
        lines.append(t("people.card_age", age=t(f"age.{membership.participant.age_group}")))
    lines.append(t("people.card_consents", kinds=", ".join(
        t(f"people.consent_{kind}") for kind in card.consent_kinds
    ) or t("people.consent_none")))
    if card.partners:
        lines.append(t("people.card_pairs", pairs=_paired(t, card.partners)))
    lines.append(t("reports.ovz_line", value=t(  # ОВЗ: set by a curator, never asked in chat
        "reports.ovz_yes" if membership.is_disabled_student else "reports.ovz_no")))
    return "\n" + "\n".join(lines)


def card(
    t: Translator, catalog: Catalog, card: Card, page_no: int
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The card as messages (a long one is split); the last one leads back to the list."""
    membership = card.membership
    person = membership.participant
    blocks = [
        t("people.card", id=membership.id,
          name=escape(person.full_name or person.tg_first_name or t("people.unnamed")),
          role=t(f"role.{membership.role}"),
          form=escape(t(f"form.{membership.form}") if membership.form else "—"),
          status=t(f"status.{membership.status}"),
          username=escape("@" + person.tg_username if person.tg_username else "—"))
        + _card_facts(t, card)
    ]
    for questionnaire_id, answers in card.answers:
        questionnaire = catalog.get(questionnaire_id)
        if questionnaire is None:
            continue
        lines = [f"<b>{escape(t.pick(questionnaire.title))}</b>"]
        lines += [
            f"• {escape(t.pick(q.label))}: <i>{answer_html(t, q, answers[q.id])}</i>"
            for q in questionnaire.questions if q.id in answers
        ]
        blocks.append("\n".join(lines))
    page_no = min(max(page_no, 0), 10_000)  # the list clamps to its last page
    back = column([ovz_button(t, membership.id, membership.is_disabled_student),
                   (t("common.back"), PeopleCb(role=membership.role, page=page_no))])
    parts = chunks(blocks)
    return [(part, back if i == len(parts) - 1 else None) for i, part in enumerate(parts)]


def paper_accepted(t: Translator, membership_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """To the participant, in their language: the curator recorded their paper consent."""
    return (
        t("consent.paper_accepted"),
        column([(t("consent.start_button"), StartQCb(m=membership_id))]),
    )

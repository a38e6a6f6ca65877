"""Texts and keyboards of onboarding: the consent papers, age, form, guardian links."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.messaging import enqueue
from bot.services.consent import CURATOR, ConsentDocument
from bot.services.organisations import deep_link
from db.models import AgeGroup, Membership
from keyboards.callbacks import AgeCb, ConsentCb, FormCb, GuardianCb, StartQCb
from keyboards.common import column
from keyboards.coordinator import CuratorTermsCb, TermsAnswer, two


@dataclass(frozen=True, slots=True)
class Paper:
    """A consent or the curator's terms: a file to keep, then the text with its buttons.

    It is its own document and its own message, never part of a questionnaire.
    """

    filename: str
    content: bytes
    caption: str
    text: str
    buttons: InlineKeyboardMarkup


def _paper(
    t: Translator,
    document: ConsentDocument,
    kind: str,
    org_name: str,
    filename: str,
    buttons: InlineKeyboardMarkup,
) -> Paper:
    title = document.title(kind, t.language)
    text = document.text(kind, t.language, org_name)
    return Paper(
        filename=filename,
        content=f"{title}\n\n{text}\n".encode(),
        caption=escape(title),
        text=(
            f"<b>{escape(title)}</b>\n\n{escape(text)}\n\n"
            f"{t('consent.version', v=document.version)}"
        ),
        buttons=buttons,
    )


def consent_paper(
    t: Translator,
    document: ConsentDocument,
    kind: str,
    org_name: str,
    buttons: InlineKeyboardMarkup,
) -> Paper:
    return _paper(t, document, kind, org_name, t("consent.filename"), buttons)


def own_consent(
    t: Translator, document: ConsentDocument, org_name: str, membership_id: int
) -> Paper:
    version = document.version
    buttons = column(
        [
            (t("consent.accept"), ConsentCb(m=membership_id, ok=True, v=version)),
            (t("consent.decline"), ConsentCb(m=membership_id, ok=False, v=version)),
        ],
        width=2,
    )
    return consent_paper(t, document, "self", org_name, buttons)


def guardian_consent(t: Translator, document: ConsentDocument, org_name: str, code: str) -> Paper:
    buttons = column(
        [
            (t("consent.accept"), GuardianCb(c=code, ok=True)),
            (t("consent.decline"), GuardianCb(c=code, ok=False)),
        ],
        width=2,
    )
    return consent_paper(t, document, "guardian", org_name, buttons)


def curator_terms(
    t: Translator, document: ConsentDocument, org_name: str, membership_id: int
) -> Paper:
    buttons = two(
        (t("consent.accept"), CuratorTermsCb(m=membership_id, a=TermsAnswer.ACCEPT)),
        (t("consent.decline"), CuratorTermsCb(m=membership_id, a=TermsAnswer.DECLINE)),
    )
    return _paper(t, document, CURATOR, org_name, t("curator_access.filename"), buttons)


def age_question(t: Translator, membership: Membership) -> tuple[str, InlineKeyboardMarkup]:
    ages = [(t(f"age.{age.value}"), AgeCb(m=membership.id, age=age)) for age in AgeGroup]
    return t("age.ask", org=escape(membership.organisation.name)), column(ages)


def form_question(t: Translator, membership: Membership) -> tuple[str, InlineKeyboardMarkup]:
    programme = membership.programme
    assert programme is not None
    buttons = [
        (t(f"form.{form}"), FormCb(m=membership.id, i=i)) for i, form in enumerate(programme.forms)
    ]
    return t("form.ask"), column(buttons)


def guardian_link(t: Translator, bot_username: str, code: str) -> str:
    return t("consent.guardian_link", link=escape(deep_link(bot_username, code)))


def waiting_guardian(t: Translator, bot_username: str, code: str) -> str:
    return f"{t('onboarding.waiting_guardian')}\n\n{guardian_link(t, bot_username, code)}"


def joined(t: Translator, membership: Membership) -> str:
    return t(
        f"onboarding.joined_{membership.role}",
        org=escape(membership.organisation.name),
        programme=escape(membership.programme.name if membership.programme else ""),
    )


async def tell_minor(
    session: AsyncSession, membership: Membership, invite_id: int, *, accepted: bool,
    now: dt.datetime,
) -> None:
    """The guardian decided: the minor learns it in their own language (the outbox)."""
    minor = membership.participant
    mt = translator(minor.language)
    if accepted:
        button = column([(mt("consent.start_button"), StartQCb(m=membership.id))])
        await enqueue(
            session, chat_id=minor.telegram_id or 0, text=mt("consent.guardian_accepted"),
            reply_markup=button, key=f"guardian-accepted:{invite_id}", now=now,
        )
    else:
        await enqueue(
            session, chat_id=minor.telegram_id or 0, text=mt("consent.guardian_declined"),
            key=f"guardian-declined:{invite_id}", now=now,
        )

"""Texts and keyboards of the cycle's closing: invitations, entry vs exit, the attachment
dialog, /complete's answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.messaging import enqueue
from bot.render import answer_html
from bot.services.closing import Change, Invitation, Item, Missing, Section
from keyboards import closing as kb
from keyboards.closing import CloseAction

_ACTIONS = {Item.EXIT: CloseAction.EXIT, Item.REPORT: CloseAction.REPORT,
            Item.REVIEW: CloseAction.REVIEW}


def invitation_text(t: Translator, invitation: Invitation) -> str:
    partner = escape(invitation.partner) if invitation.partner else t("journal.someone")
    return t(f"closing.invite_{invitation.item.value}", pair=invitation.pair_id, partner=partner)


async def enqueue_invitation(
    session: AsyncSession, invitation: Invitation, now: dt.datetime
) -> bool:
    t = translator(invitation.language)
    markup = kb.start(t, _ACTIONS[invitation.item], invitation.target_id)
    queued = await enqueue(
        session, chat_id=invitation.chat_id, text=invitation_text(t, invitation),
        key=invitation.key, now=now, reply_markup=markup,
        participant_id=invitation.participant_id, organisation_id=invitation.organisation_id,
        kind=f"closing_{invitation.item.value}",
    )
    return queued is not None


def change_text(t: Translator, changes: Sequence[Change]) -> str:
    """Each scale: "entry → exit (±change)"."""
    compared = any(change.delta is not None for change in changes)
    lines = [t("closing.change_head" if compared else "closing.exit_head")]
    for change in changes:
        label = escape(t.pick(change.label))
        if change.delta is None:
            value = "—" if change.exit is None else str(change.exit)
            lines.append(t("closing.change_no_entry", label=label, exit=value))
            continue
        sign = "+" if change.delta > 0 else ("±" if change.delta == 0 else "−")
        lines.append(t("closing.change_line", label=label, entry=change.entry,
                       exit=change.exit, delta=f"{sign}{abs(change.delta)}"))
    lines.append(t("closing.change_note"))
    return "\n".join(lines)


def attach_offer(t: Translator, response_id: int) -> tuple[str, InlineKeyboardMarkup]:
    return t("closing.attach_offer"), kb.attach(t, response_id)


def attach_prompt(t: Translator, response_id: int, count: int, limit: int) -> tuple[
    str, InlineKeyboardMarkup
]:
    return t("closing.attach_prompt", n=count, max=limit), kb.files_done(t, response_id)


def attached(t: Translator, response_id: int, count: int, limit: int) -> tuple[
    str, InlineKeyboardMarkup
]:
    return t("closing.attached", n=count, max=limit), kb.files_done(t, response_id)


def reports_text(t: Translator, pair_id: int, sections: Sequence[Section]) -> str:
    """The pair's final reports and reviews, answer by answer, for its curator."""
    lines = [t("closing.reports_head", pair=pair_id)]
    for section in sections:
        lines.append("")
        lines.append(f"<b>{escape(t.pick(section.questionnaire.title))}</b>")
        if section.answers is None:
            lines.append(t("closing.reports_missing"))
            continue
        for question in section.questionnaire.questions:
            if question.id in section.answers:
                value = answer_html(t, question, section.answers[question.id])
                lines.append(f"{escape(t.pick(question.label))}: {value}")
        if section.files:
            lines.append(t("closing.reports_files", n=len(section.files)))
    return "\n".join(lines)


def missing_text(t: Translator, pair_id: int, missing: Sequence[Missing]) -> str:
    lines = [t("closing.not_ready", pair=pair_id)]
    lines += [t(f"closing.missing_{m.value}") for m in missing]
    lines.append(t("closing.override_hint"))
    return "\n".join(lines)

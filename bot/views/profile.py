"""/me: one's data and answers with edit buttons; /forget: the notices to others."""

from __future__ import annotations

import datetime as dt
from html import escape

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.messaging import enqueue
from bot.render import answer_html, chunks, clip
from bot.services.answering import Answered, Filled
from bot.services.privacy import Forgotten
from bot.services.questionnaires import first_sentence
from db.models import MembershipStatus, Participant
from keyboards.callbacks import EditCb, ForgetCb
from keyboards.common import column

# Telegram allows 100 buttons under a message; a few stay free for the layout.
MAX_EDIT_BUTTONS = 90


def profile(
    t: Translator, participant: Participant, filled: list[Filled]
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    """The message parts of /me and the edit buttons under the last one."""
    blocks = [t("profile.header", name=escape(participant.full_name or "—"))]
    buttons: list[tuple[str, EditCb]] = []
    for item in filled:
        membership = item.membership
        programme = membership.programme.name if membership.programme else ""
        blocks.append(
            t(
                "profile.membership",
                role=t(f"role.{membership.role}"),
                org=escape(membership.organisation.name),
                programme=escape(programme),
                status=t(f"status.{membership.status}"),
            )
        )
        editable = membership.status not in (
            MembershipStatus.WITHDRAWN, MembershipStatus.DECLINED
        )
        for answered in item.responses:
            blocks.append(_answers(t, answered, buttons if editable else None))
    if buttons:
        blocks.append(t("profile.edit_hint"))
    # Long answers full of "&" or '"' are several times longer as HTML: split by what shows.
    parts = chunks(blocks)
    return parts, column(buttons[:MAX_EDIT_BUTTONS]) if buttons else None


def _answers(
    t: Translator, answered: Answered, buttons: list[tuple[str, EditCb]] | None
) -> str:
    questionnaire, answers = answered.questionnaire, answered.answers
    lines = [f"<b>{escape(t.pick(questionnaire.title))}</b>"]
    for index, question in enumerate(questionnaire.questions):
        if question.id not in answers:
            continue
        label = t.pick(question.label)
        lines.append(
            f"• {escape(label)}\n  <i>{answer_html(t, question, answers[question.id])}</i>"
        )
        if buttons is not None:
            # The question without its instruction: "✏️ В каком классе вы учитесь?"
            prompt = clip(first_sentence(t.pick(question.text)), 40)
            buttons.append((f"✏️ {prompt}", EditCb(r=answered.response_id, q=index)))
    return "\n".join(lines)


def forget_question(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    buttons = column(
        [(t("forget.answer_yes"), ForgetCb(ok=True)), (t("forget.answer_no"), ForgetCb(ok=False))],
        width=1,
    )
    return t("forget.confirm"), buttons


async def tell_partners(session: AsyncSession, result: Forgotten, *, now: dt.datetime) -> None:
    """The other side of each ended pair learns it ended (nothing about the leaver)."""
    for notice in result.partners:
        await enqueue(
            session, chat_id=notice.chat_id,
            key=f"forget-ended:{notice.pair_id}:{notice.membership_id}",
            text=translator(notice.language)("forget.partner_notice"), now=now,
        )


async def tell_curators(session: AsyncSession, result: Forgotten, *, now: dt.datetime) -> None:
    """The curators learn which of their numbers left, and the pairs that closed."""
    pairs = ", ".join(f"#{p.id}" for p in result.closed_pairs) or "—"
    for notice in result.curators:
        ct = translator(notice.language)
        await enqueue(
            session, chat_id=notice.chat_id,
            text=ct(
                "forget.curator_notice", id=result.numbers(notice.organisation_id), pairs=pairs
            ),
            key=f"forget:{result.participant_id}:{notice.curator_id}", now=now,
        )

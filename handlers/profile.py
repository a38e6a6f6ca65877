"""/me: one's data and answers, with editing; /forget: withdraw consent."""

from __future__ import annotations

from html import escape
from typing import Final

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.commands import set_user_commands
from bot.i18n import Translator, translator
from bot.messaging import drop_buttons_of, enqueue
from bot.render import answer_html, chunks, clip
from bot.services import answering, privacy
from bot.services.consent import current_document
from bot.services.errors import ServiceError
from bot.services.questionnaires import Catalog, first_sentence
from db.models import MembershipStatus, Participant, ParticipantStatus
from db.queries import participants as q_people
from db.queries import responses as q_responses
from handlers import questionnaire
from keyboards.callbacks import EditCb, ForgetCb
from keyboards.common import column

router: Final[Router] = Router(name=__name__)


@router.message(Command("me"))
async def me(
    message: Message,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    participant: Participant | None,
) -> None:
    if participant is None or not participant.memberships:
        await message.answer(t("profile.unknown"))
        return
    blocks = [t("profile.header", name=escape(participant.full_name or "—"))]
    buttons: list[tuple[str, EditCb]] = []
    for item in participant.memberships:
        membership = await q_people.membership(session, item.id)
        assert membership is not None
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
        for response in await q_responses.of_memberships(session, [membership.id]):
            questionnaire_ = catalog.get(response.questionnaire_id)
            if questionnaire_ is None:
                continue
            answers = q_responses.answer_map(response)
            lines = [f"<b>{escape(t.pick(questionnaire_.title))}</b>"]
            for index, question in enumerate(questionnaire_.questions):
                if question.id not in answers:
                    continue
                label = t.pick(question.label)
                lines.append(
                    f"• {escape(label)}\n  <i>{answer_html(t, question, answers[question.id])}</i>"
                )
                if membership.status not in (MembershipStatus.WITHDRAWN, MembershipStatus.DECLINED):
                    # The question without its instruction: "✏️ В каком классе вы учитесь?"
                    prompt = clip(first_sentence(t.pick(question.text)), 40)
                    buttons.append((f"✏️ {prompt}", EditCb(r=response.id, q=index)))
            blocks.append("\n".join(lines))
    await session.commit()
    if buttons:
        blocks.append(t("profile.edit_hint"))
    # Long answers full of "&" or '"' are several times longer as HTML: split by what shows.
    parts = chunks(blocks)
    for part in parts[:-1]:
        await message.answer(part)
    await message.answer(parts[-1], reply_markup=column(buttons[:90]) if buttons else None)


@router.callback_query(EditCb.filter())
async def edit_answer(
    query: CallbackQuery,
    callback_data: EditCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    state: FSMContext,
    participant: Participant | None,
) -> None:
    try:
        cursor, membership = await answering.load(session, catalog, callback_data.r)
        if participant is None or membership.participant_id != participant.id:
            raise ServiceError("response_missing")
        await answering.require_consent(session, membership)
        question = cursor.questionnaire.questions[callback_data.q]
        cursor = answering.goto(cursor, question.id)
    except (ServiceError, IndexError) as exc:
        key = exc.text_key() if isinstance(exc, ServiceError) else "common.stale_button"
        await query.answer(t(key), show_alert=True)
        return
    await session.commit()
    await query.answer()
    await questionnaire.show(bot, query.from_user.id, t, cursor, state, edit=True)


@router.message(Command("forget"))
async def forget_ask(message: Message, t: Translator, participant: Participant | None) -> None:
    if participant is None or not participant.memberships:
        await message.answer(t("profile.unknown"))
        return
    await message.answer(
        t("forget.confirm"),
        reply_markup=column(
            [(t("forget.answer_yes"), ForgetCb(ok=True)), (t("forget.answer_no"), ForgetCb(ok=False))], width=1
        ),
    )


@router.callback_query(ForgetCb.filter())
async def forget_do(
    query: CallbackQuery,
    callback_data: ForgetCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    clock: Clock,
    participant: Participant | None,
) -> None:
    assert query.message is not None
    chat_id = query.message.chat.id
    await drop_buttons_of(bot, query.message)
    if participant is None or participant.status == ParticipantStatus.FORGOTTEN:
        # A repeated tap after the data is gone: say so, whichever button it was.
        await query.answer(t("onboarding.forget_already"))
        return
    if not callback_data.ok:
        await query.answer()
        await bot.send_message(chat_id, t("forget.kept"))
        return
    result = await privacy.forget(
        session, participant, now=clock.now(), version=current_document().version
    )
    for organisation_id in result.organisation_ids:
        for curator in await q_people.curators_of(session, organisation_id):
            if curator.telegram_id is None or curator.id == participant.id:
                continue
            ct = translator(curator.language)
            pairs = ", ".join(f"#{p.id}" for p in result.closed_pairs) or "—"
            await enqueue(
                session, chat_id=curator.telegram_id,
                text=ct("forget.curator_notice", id=result.numbers(organisation_id), pairs=pairs),
                key=f"forget:{participant.id}:{curator.id}", now=clock.now(),
            )
    await session.commit()
    await query.answer()
    await bot.send_message(chat_id, t("forget.done"))
    await set_user_commands(bot, chat_id, frozenset(), t.language)

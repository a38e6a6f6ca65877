"""The questionnaire engine in chat: one state, the cursor in the database."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any, Final

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import Translator
from bot.render import answer_html, question_html
from bot.services import answering
from bot.services.answering import Cursor
from bot.services.errors import ServiceError
from bot.services.questionnaires import Catalog, InvalidAnswer
from bot.states import Answering
from db.models import Membership, Participant
from keyboards.callbacks import QCb
from keyboards.questionnaire import question_keyboard

router: Final[Router] = Router(name=__name__)


def render(t: Translator, cursor: Cursor, selected: list[str] | None) -> tuple[str, Any]:
    question = cursor.question
    assert question is not None
    progress = cursor.progress()
    title = escape(t.pick(cursor.questionnaire.title))
    counter = f"{progress.number}/{progress.total}"
    if progress.follow_up:
        counter += " · " + t("questionnaire.follow_up")
    text = f"<b>{title}</b> · {counter}\n\n{question_html(t, question)}"
    current = cursor.current_value()
    if current is not None and question.type not in ("multi",):
        text += "\n\n" + t("answer.current", value=answer_html(t, question, current))
    index = cursor.questionnaire.position(question.id)
    can_go_back = cursor.questionnaire.previous_before(question.id, cursor.answers) is not None
    markup = question_keyboard(
        t, question, response_id=cursor.response.id, index=index,
        selected=selected, can_go_back=can_go_back,
    )
    return text, markup


def _initial_selection(cursor: Cursor) -> list[str]:
    value = cursor.current_value()
    return list(value) if cursor.question and cursor.question.type == "multi" and value else []


async def show(
    bot: Bot,
    chat_id: int,
    t: Translator,
    cursor: Cursor,
    state: FSMContext,
    *,
    edit_message_id: int | None = None,
    edit: bool = False,
) -> None:
    selected = _initial_selection(cursor)
    text, markup = render(t, cursor, selected)
    message_id = None
    if edit_message_id is not None:
        try:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=edit_message_id, reply_markup=markup
            )
            message_id = edit_message_id
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                message_id = edit_message_id
    if message_id is None:
        message_id = (await bot.send_message(chat_id, text, reply_markup=markup)).message_id
    await state.set_state(Answering.active)
    await state.set_data(
        {"r": cursor.response.id, "q": cursor.question.id if cursor.question else None,
         "msg": message_id, "kb": markup is not None, "sel": selected, "edit": edit}
    )


async def begin(
    bot: Bot,
    chat_id: int,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    state: FSMContext,
    stage: str = answering.ONBOARDING,
) -> None:
    """Start or resume a questionnaire; the intro is shown only before the first answer."""
    cursor = await answering.start(session, catalog, membership, stage)
    await session.commit()
    if cursor.finished:
        await state.clear()
        await finished(bot, chat_id, t, session, catalog, membership, cursor, state)
        return
    if not cursor.answers:
        intro = cursor.questionnaire.intro
        if stage == answering.ENTRY:
            await bot.send_message(chat_id, t("questionnaire.assessment_intro"))
        elif intro:
            await bot.send_message(chat_id, escape(t.pick(intro)))
    else:
        await bot.send_message(chat_id, t("questionnaire.resume"))
    await show(bot, chat_id, t, cursor, state)


async def finished(
    bot: Bot,
    chat_id: int,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    cursor: Cursor,
    state: FSMContext,
) -> None:
    await state.clear()
    if cursor.response.stage == answering.ONBOARDING:
        await bot.send_message(chat_id, t("questionnaire.done"))
        await begin(bot, chat_id, t, session, catalog, membership, state, answering.ENTRY)
    elif cursor.response.stage == answering.ENTRY:
        await bot.send_message(chat_id, t(f"questionnaire.in_base_{membership.role}"))
    else:
        await bot.send_message(chat_id, t("questionnaire.assessment_done"))


async def _load(
    session: AsyncSession, catalog: Catalog, state: FSMContext
) -> tuple[Cursor, Membership, dict[str, Any]] | None:
    data = await state.get_data()
    if "r" not in data:
        return None
    try:
        cursor, membership = await answering.load(session, catalog, data["r"])
        if data.get("q") and (cursor.question is None or cursor.question.id != data["q"]):
            # The question on screen (an edit from /me, or one reached with Back).
            cursor = answering.goto(cursor, data["q"])
    except ServiceError:
        return None
    return cursor, membership, data


async def _after_answer(
    bot: Bot,
    chat_id: int,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    cursor: Cursor,
    state: FSMContext,
    data: dict[str, Any],
    *,
    edit_message_id: int | None,
) -> None:
    await session.commit()
    if cursor.finished:
        if data.get("edit") and cursor.response.stage != answering.ENTRY:
            await state.clear()
            await bot.send_message(chat_id, t("profile.saved"))
            return
        if edit_message_id is not None:
            await _close_message(bot, chat_id, edit_message_id, t("questionnaire.saved"))
        await finished(bot, chat_id, t, session, catalog, membership, cursor, state)
        return
    await show(bot, chat_id, t, cursor, state, edit_message_id=edit_message_id,
               edit=bool(data.get("edit")))


async def _consent_again(
    bot: Bot,
    chat_id: int,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    state: FSMContext,
    *,
    now: dt.datetime,
    bot_username: str,
) -> None:
    """The consent text changed (a new version): ask again before storing anything new."""
    from handlers.onboarding import continue_onboarding

    await state.clear()
    await bot.send_message(chat_id, t("consent.new_version"))
    await continue_onboarding(
        bot, chat_id, t, session, catalog, membership.participant, state, membership=membership,
        now=now, bot_username=bot_username,
    )


async def _close_message(bot: Bot, chat_id: int, message_id: int, text: str) -> None:
    try:
        await bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
    except TelegramBadRequest:
        pass


@router.message(Command("questionnaire"))
async def resume_command(
    message: Message,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    participant: Participant | None,
    state: FSMContext,
    clock: Clock,
    bot_username: str,
) -> None:
    from handlers.onboarding import continue_onboarding

    if participant is None:
        await message.answer(t("start.no_code"))
        return
    if not await continue_onboarding(
        bot, message.chat.id, t, session, catalog, participant, state, announce_done=True,
        now=clock.now(), bot_username=bot_username,
    ):
        await message.answer(t("questionnaire.nothing"))


@router.callback_query(QCb.filter())
async def on_button(
    query: CallbackQuery,
    callback_data: QCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    bot_username: str,
    state: FSMContext,
) -> None:
    loaded = await _load(session, catalog, state)
    message = query.message
    if loaded is None or message is None:
        await query.answer(t("common.stale_button"))
        return
    cursor, membership, data = loaded
    question = cursor.question
    if (
        question is None
        or data["r"] != callback_data.r
        or cursor.questionnaire.position(question.id) != callback_data.q
    ):
        await query.answer(t("common.stale_button"))
        return
    action, value = callback_data.a, callback_data.v
    chat_id = message.chat.id
    try:
        if action == "t":
            selected: list[str] = list(data.get("sel") or [])
            option = question.options[value].id
            if option in selected:
                selected.remove(option)
            elif len(selected) >= question.choices_limit():
                await query.answer(t("answer.too_many", max=question.choices_limit()))
                return
            else:
                selected.append(option)
            await state.update_data(sel=selected)
            await query.answer()
            text, markup = render(t, cursor, selected)
            await bot.edit_message_text(text, chat_id=chat_id, message_id=message.message_id,
                                        reply_markup=markup)
            return
        if action == "b":
            cursor = answering.back(cursor)
            await session.commit()
            await query.answer()
            await show(bot, chat_id, t, cursor, state, edit_message_id=message.message_id,
                       edit=bool(data.get("edit")))
            return
        if action == "k":
            cursor = await answering.skip(session, cursor, membership, now=clock.now())
        else:
            raw: Any = {
                "o": lambda: question.options[value].id,
                "d": lambda: list(data.get("sel") or []),
                "s": lambda: value,
                "y": lambda: bool(value),
            }[action]()
            checked = question.check_choice(raw)
            cursor = await answering.answer(
                session, cursor, membership, checked, now=clock.now(),
                edit_only=bool(data.get("edit")),
            )
    except InvalidAnswer as exc:
        await query.answer(t(exc.key, **exc.params), show_alert=True)
        return
    except (ServiceError, IndexError, KeyError) as exc:
        if isinstance(exc, ServiceError) and exc.code == "consent_required":
            await query.answer()
            await _consent_again(bot, chat_id, t, session, catalog, membership, state,
                                 now=clock.now(), bot_username=bot_username)
            return
        key = exc.text_key() if isinstance(exc, ServiceError) else "common.stale_button"
        await query.answer(t(key), show_alert=True)
        return
    await query.answer()
    await _after_answer(bot, chat_id, t, session, catalog, membership, cursor, state, data,
                        edit_message_id=message.message_id)


@router.message(StateFilter(Answering.active), F.text, ~F.text.startswith("/"))
async def on_text(
    message: Message,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    bot_username: str,
    state: FSMContext,
) -> None:
    loaded = await _load(session, catalog, state)
    if loaded is None or loaded[0].question is None:
        await state.clear()
        await message.answer(t("questionnaire.nothing"))
        return
    cursor, membership, data = loaded
    question = cursor.question
    assert question is not None
    try:
        value = question.parse_text(message.text or "", today=clock.now().date())
        cursor = await answering.answer(
            session, cursor, membership, value, now=clock.now(), edit_only=bool(data.get("edit"))
        )
    except InvalidAnswer as exc:
        await message.answer(t(exc.key, **exc.params))
        return
    except ServiceError as exc:
        if exc.code == "consent_required":
            await _consent_again(bot, message.chat.id, t, session, catalog, membership, state,
                                 now=clock.now(), bot_username=bot_username)
            return
        await message.answer(t(exc.text_key(), **exc.params))
        return
    # Keep the chat readable: the previous question loses its buttons once answered by text.
    if data.get("msg") and data.get("kb"):
        try:
            await bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=data["msg"], reply_markup=None
            )
        except TelegramBadRequest:
            pass
    await _after_answer(bot, message.chat.id, t, session, catalog, membership, cursor, state,
                        data, edit_message_id=None)


@router.message(StateFilter(Answering.active), ~F.text.startswith("/"))
async def on_other(message: Message, t: Translator) -> None:
    await message.answer(t("answer.text_expected"))


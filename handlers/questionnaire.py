"""The questionnaire engine in chat: one state, the cursor in the database.

Each button action has its own handler; showing questions and what follows the last one
is `bot.flows`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.types import CallbackQuery, Message

from bot import flows
from bot.context import LIGHT, Ctx
from bot.services import answering
from bot.services.answering import Cursor
from bot.services.questionnaires import InvalidAnswer, Question
from bot.states import Answering
from bot.views.questionnaire import render
from db.queries.participants import MembershipRow
from keyboards.callbacks import QAction, QCb


@dataclass(slots=True)
class Screen:
    """The question on screen, as the dialog remembers it."""

    cursor: Cursor
    membership: MembershipRow
    data: dict[str, Any]

    @property
    def question(self) -> Question:
        assert self.cursor.question is not None
        return self.cursor.question

    @property
    def editing(self) -> bool:
        return bool(self.data.get("edit"))


async def _load(ctx: Ctx) -> Screen | None:
    data = await ctx.state.get_data()
    if "r" not in data:
        return None
    found = await answering.find_own(ctx.session, ctx.catalog, data["r"], ctx.who)
    if found is None:
        return None
    cursor, membership = found
    if data.get("q") and (cursor.question is None or cursor.question.id != data["q"]):
        # The question on screen (an edit from /me, or one reached with Back).
        reopened = answering.reopen(cursor, data["q"])
        if reopened is None:
            return None
        cursor = reopened
    return Screen(cursor, membership, data)


async def _pressed(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> Screen | None:
    """The screen a button belongs to; None (and the person told) for an outdated one."""
    screen = await _load(ctx)
    question = screen.cursor.question if screen else None
    if (
        screen is None
        or query.message is None
        or question is None
        or screen.data["r"] != callback_data.r
        or screen.cursor.questionnaire.position(question.id) != callback_data.q
    ):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return None
    return screen


def _option(question: Question, index: int) -> str | None:
    return question.options[index].id if 0 <= index < len(question.options) else None


async def resume_command(message: Message, ctx: Ctx) -> None:
    if ctx.participant is None:
        await ctx.send(ctx.t("start.no_code"))
        return
    if not await flows.continue_onboarding(ctx, ctx.participant, announce_done=True):
        await ctx.send(ctx.t("questionnaire.nothing"))


async def on_toggle(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is None:
        return
    question = screen.question
    option = _option(question, callback_data.v)
    if option is None:
        await ctx.answer(query, ctx.t("common.stale_button"), alert=True)
        return
    selected: list[str] = list(screen.data.get("sel") or [])
    if option in selected:
        selected.remove(option)
    elif len(selected) >= question.choices_limit():
        await ctx.answer(query, ctx.t("answer.too_many", max=question.choices_limit()))
        return
    else:
        selected.append(option)
    await ctx.state.update_data(sel=selected)
    await ctx.answer(query)
    text, markup = render(ctx.t, screen.cursor, selected)
    assert query.message is not None
    await ctx.edit(query.message.message_id, text, markup)


async def on_back(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is None:
        return
    cursor = await answering.back(ctx.session, screen.cursor)
    assert query.message is not None
    await flows.show(ctx, cursor, message_id=query.message.message_id, edit=screen.editing)
    await ctx.answer(query)  # after the screen: its dialog is written in the same commit


async def on_skip(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is None:
        return
    cursor = await answering.skip(ctx.session, screen.cursor, screen.membership, now=ctx.now)
    assert query.message is not None
    await flows.after_answer(
        ctx, screen.membership, cursor, screen.data, message_id=query.message.message_id
    )
    await ctx.answer(query)


async def on_option(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is None:
        return
    option = _option(screen.question, callback_data.v)
    if option is None:
        await ctx.answer(query, ctx.t("common.stale_button"), alert=True)
        return
    await _choose(query, ctx, screen, option)


async def on_done(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is not None:
        await _choose(query, ctx, screen, list(screen.data.get("sel") or []))


async def on_scale(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is not None:
        await _choose(query, ctx, screen, callback_data.v)


async def on_yes_no(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    screen = await _pressed(query, callback_data, ctx)
    if screen is not None:
        await _choose(query, ctx, screen, bool(callback_data.v))


async def _choose(query: CallbackQuery, ctx: Ctx, screen: Screen, raw: Any) -> None:
    """An answer given with a button: checked, stored, and the next question shown."""
    try:
        checked = screen.question.check_choice(raw)
    except InvalidAnswer as exc:
        await ctx.answer(query, ctx.t(exc.key, **exc.params), alert=True)
        return
    if not await answering.consent_valid(ctx.session, screen.membership, ctx.consent.version):
        await ctx.answer(query)
        await flows.consent_again(ctx, screen.membership)
        return
    cursor = await answering.answer(
        ctx.session, screen.cursor, screen.membership, checked, now=ctx.now,
        consent_version=ctx.consent.version, edit_only=screen.editing,
    )
    assert query.message is not None
    # The next screen first: the answer and the dialog are written in one commit.
    await flows.after_answer(
        ctx, screen.membership, cursor, screen.data, message_id=query.message.message_id
    )
    await ctx.answer(query)


async def on_text(message: Message, ctx: Ctx) -> None:
    screen = await _load(ctx)
    if screen is None or screen.cursor.question is None:
        await ctx.state.clear()
        await ctx.send(ctx.t("questionnaire.nothing"))
        return
    try:
        value = screen.question.parse_text(message.text or "", today=ctx.now.date())
    except InvalidAnswer as exc:
        await ctx.send(ctx.t(exc.key, **exc.params))
        return
    if not await answering.consent_valid(ctx.session, screen.membership, ctx.consent.version):
        await flows.consent_again(ctx, screen.membership)
        return
    cursor = await answering.answer(
        ctx.session, screen.cursor, screen.membership, value, now=ctx.now,
        consent_version=ctx.consent.version, edit_only=screen.editing,
    )
    # The next question first: the answer and the dialog are written in one commit.
    await flows.after_answer(ctx, screen.membership, cursor, screen.data, message_id=None)
    if screen.data.get("msg") and screen.data.get("kb"):
        await flows.drop_keyboard(ctx, screen.data["msg"])


async def on_other(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("answer.text_expected"))


_BUTTONS: dict[QAction, Callable[[CallbackQuery, QCb, Ctx], Awaitable[None]]] = {
    QAction.TOGGLE: on_toggle,
    QAction.BACK: on_back,
    QAction.SKIP: on_skip,
    QAction.OPTION: on_option,
    QAction.DONE: on_done,
    QAction.SCALE: on_scale,
    QAction.YESNO: on_yes_no,
}


async def on_button(query: CallbackQuery, callback_data: QCb, ctx: Ctx) -> None:
    """Every questionnaire button: its data is unpacked once, then its action's handler
    runs (one filter instead of one per action: each would unpack the data again)."""
    await _BUTTONS[callback_data.a](query, callback_data, ctx)


def create_router() -> Router:
    router = Router(name=__name__)
    # The answers read the person as rows (`ctx.who`): no participant object per answer.
    router.callback_query.register(on_button, QCb.filter(), flags={LIGHT: True})
    # Answers first: they take no commands, so a typed answer is not parsed as a command.
    router.message.register(
        on_text, StateFilter(Answering.active), F.text, ~F.text.startswith("/"),
        flags={LIGHT: True},
    )
    router.message.register(
        on_other, StateFilter(Answering.active), ~F.text.startswith("/"), flags={LIGHT: True}
    )
    router.message.register(resume_command, Command("questionnaire"))
    return router

"""Quarterly reports in chat: the mentor's "fill in" / "edit and resubmit" button starts or
re-opens the report in the questionnaire engine (what follows the last answer is
bot/flows_quarterly.py); the curator's Accept, and Return with a typed comment.
Every press re-checks the presser (bot/services/quarterly.py)."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import flows, flows_quarterly
from bot.context import Ctx
from bot.services import answering, quarterly
from bot.services.errors import ServiceError
from bot.views import quarterly as views
from keyboards import quarterly as kb
from keyboards.quarterly import QuarterAction, QuarterCb


class Quarterly(StatesGroup):
    comment = State()  # data: r (the report), v (the submission)


def _me(ctx: Ctx) -> int | None:
    return ctx.participant.id if ctx.participant is not None else None


async def on_open(query: CallbackQuery, callback_data: QuarterCb, ctx: Ctx) -> None:
    questionnaire = ctx.catalog.get(quarterly.QUESTIONNAIRE_ID)
    response_id = await quarterly.open_report(
        ctx.session, callback_data.id, _me(ctx), callback_data.v, ctx.now,
        questionnaire_version=questionnaire.version if questionnaire else 1,
    )
    found = await answering.find(ctx.session, ctx.catalog, response_id)
    if found is None:
        await ctx.answer(query, ctx.t("errors.quarterly_stale"))
        return
    cursor, membership = found
    await answering.require_consent(ctx.session, membership, ctx.consent.version)
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    if cursor.finished:
        await flows_quarterly.finished(ctx, cursor)
        return
    if cursor.answers:
        await ctx.send(ctx.t("questionnaire.resume"))
    elif cursor.questionnaire.intro:
        await ctx.send(escape(ctx.t.pick(cursor.questionnaire.intro)))
    await flows.show(ctx, cursor)


async def on_accept(query: CallbackQuery, callback_data: QuarterCb, ctx: Ctx) -> None:
    report = await quarterly.reviewable(ctx.session, callback_data.id, callback_data.v, _me(ctx))
    notices = await quarterly.review(
        ctx.session, report.id, callback_data.v, _me(ctx), comment=None, now=ctx.now
    )
    await views.queue(ctx.session, notices, ctx.now)
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("quarterly.accepted_curator", pair=report.pair_id))


async def on_return(query: CallbackQuery, callback_data: QuarterCb, ctx: Ctx) -> None:
    report = await quarterly.reviewable(ctx.session, callback_data.id, callback_data.v, _me(ctx))
    await ctx.state.set_state(Quarterly.comment)
    await ctx.state.set_data({"r": report.id, "v": callback_data.v})
    await ctx.answer(query)
    markup = InlineKeyboardMarkup.model_validate(kb.cancel(ctx.t, report.id))
    await ctx.send(ctx.t("quarterly.ask_comment", pair=report.pair_id), markup)


async def on_comment(message: Message, ctx: Ctx) -> None:
    text = (message.text or "").strip()
    if len(text) < quarterly.MIN_COMMENT:
        await ctx.send(ctx.t("quarterly.comment_expected"))
        return
    data = await ctx.state.get_data()
    await ctx.state.clear()
    try:
        report = await quarterly.reviewable(
            ctx.session, int(data.get("r") or 0), int(data.get("v") or 0), _me(ctx)
        )
        notices = await quarterly.review(
            ctx.session, report.id, report.submissions, _me(ctx), comment=text, now=ctx.now
        )
    except ServiceError as refusal:  # decided meanwhile (another curator): leave the dialog
        await ctx.send(ctx.t(refusal.text_key(), **refusal.params))
        return
    await views.queue(ctx.session, notices, ctx.now)
    await ctx.send(ctx.t("quarterly.returned_curator", pair=report.pair_id))


async def on_not_comment(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("quarterly.comment_expected"))


async def on_cancel(query: CallbackQuery, callback_data: QuarterCb, ctx: Ctx) -> None:
    if await ctx.state.get_state() == Quarterly.comment.state:
        await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("common.cancelled"))


def create_router() -> Router:
    router = Router(name=__name__)
    for handler, action in (
        (on_open, QuarterAction.OPEN),
        (on_accept, QuarterAction.ACCEPT),
        (on_return, QuarterAction.RETURN),
        (on_cancel, QuarterAction.CANCEL),
    ):
        router.callback_query.register(handler, QuarterCb.filter(F.a == action))
    router.message.register(
        on_comment, StateFilter(Quarterly.comment), F.text, ~F.text.startswith("/")
    )
    router.message.register(
        on_not_comment, StateFilter(Quarterly.comment), ~F.text.startswith("/")
    )
    return router

"""/me: one's data and answers, with editing; /forget: withdraw consent."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import flows
from bot.commands import update_menu
from bot.context import Ctx
from bot.services import answering, attachments, polls, privacy, quarterly
from bot.services.errors import ServiceError
from bot.views import profile as views
from db.models import ParticipantStatus
from keyboards.callbacks import EditCb, ForgetCb


async def me(message: Message, ctx: Ctx) -> None:
    participant = ctx.participant
    if participant is None or not participant.memberships:
        await ctx.send(ctx.t("profile.unknown"))
        return
    filled = await answering.filled(ctx.session, ctx.catalog, participant)
    for item in filled:  # feedback polls and quarterly reports are not part of the profile
        item.responses = [r for r in item.responses if not polls.is_poll(r.questionnaire.id)
                          and r.questionnaire.id != quarterly.QUESTIONNAIRE_ID]
    parts, buttons = views.profile(ctx.t, participant, filled)
    for part in parts[:-1]:
        await ctx.send(part)
    await ctx.send(parts[-1], buttons)


async def edit_answer(query: CallbackQuery, callback_data: EditCb, ctx: Ctx) -> None:
    cursor, membership = await answering.load(ctx.session, ctx.catalog, callback_data.r)
    if ctx.participant is None or membership.participant_id != ctx.participant.id:
        raise ServiceError("response_missing")
    if quarterly.is_quarterly_stage(cursor.response.stage):  # changed only when returned
        await ctx.answer(query, ctx.t("common.stale_button"), alert=True)
        return
    await answering.require_consent(ctx.session, membership, ctx.consent.version)
    questions = cursor.questionnaire.questions
    if not 0 <= callback_data.q < len(questions):
        await ctx.answer(query, ctx.t("common.stale_button"), alert=True)
        return
    cursor = answering.goto(cursor, questions[callback_data.q].id)
    await ctx.answer(query)
    await flows.show(ctx, cursor, edit=True)


async def forget_ask(message: Message, ctx: Ctx) -> None:
    participant = ctx.participant
    if participant is None or not participant.memberships:
        await ctx.send(ctx.t("profile.unknown"))
        return
    await ctx.send(*views.forget_question(ctx.t))


async def forget_do(query: CallbackQuery, callback_data: ForgetCb, ctx: Ctx) -> None:
    t, participant = ctx.t, ctx.participant
    await ctx.drop_buttons(query.message)
    if participant is None or participant.status == ParticipantStatus.FORGOTTEN:
        # A repeated tap after the data is gone: say so, whichever button it was.
        await ctx.answer(query, t("onboarding.forget_already"))
        return
    if not callback_data.ok:
        await ctx.answer(query)
        await ctx.send(t("forget.kept"))
        return
    result = await privacy.forget(
        ctx.session, participant, now=ctx.now, version=ctx.consent.version
    )
    await ctx.state.clear()  # the dialog, wherever it is kept (Redis with REDIS_URL)
    await views.tell_partners(ctx.session, result, now=ctx.now)
    await views.tell_curators(ctx.session, result, now=ctx.now)
    await ctx.answer(query)  # commits: the attachment rows are gone, now their files
    attachments.remove_files(ctx.settings.files_dir, result.files)
    await ctx.send(t("forget.done"))
    await update_menu(ctx, frozenset())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(me, Command("me"))
    router.callback_query.register(edit_answer, EditCb.filter())
    router.message.register(forget_ask, Command("forget"))
    router.callback_query.register(forget_do, ForgetCb.filter())
    return router

"""Feedback polls in chat: a poll's "answer" button starts (or resumes) it in the
questionnaire engine; the curator's alert buttons end a pair for a re-match or keep it;
/polls <pair> shows a pair's poll answers to its curator."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import flows
from bot.context import Ctx
from bot.ids import parse_ids
from bot.roles import HasRole
from bot.services import answering, pairing, people, polls
from bot.services.people import Access
from bot.views import polls as views
from bot.views.matching import deliver
from db.models import Role
from db.queries import audit
from keyboards.polls import PollAction, PollCb


async def on_start(query: CallbackQuery, callback_data: PollCb, ctx: Ctx) -> None:
    participant_id = ctx.participant.id if ctx.participant else None
    _, response_id = await polls.open_poll(ctx.session, callback_data.id, participant_id, ctx.now)
    found = await answering.find(ctx.session, ctx.catalog, response_id)
    if found is None:
        await ctx.answer(query, ctx.t("errors.poll_gone"))
        return
    cursor, _ = found
    await ctx.answer(query)
    if cursor.finished:
        alerts = await polls.submit(ctx.session, cursor.response, ctx.now, cursor.answers)
        await views.queue(ctx.session, alerts, ctx.now)
        await ctx.send(ctx.t("polls.thanks"))
        return
    if cursor.answers:
        await ctx.send(ctx.t("polls.resume"))
    elif cursor.questionnaire.intro:
        await ctx.send(escape(ctx.t.pick(cursor.questionnaire.intro)))
    await flows.show(ctx, cursor)


async def _scope(ctx: Ctx) -> list[int]:
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _curated(query: CallbackQuery, ctx: Ctx, pair_id: int) -> list[int] | None:
    """The presser's organisations, or None (and told) when the pair is not theirs."""
    org_ids = await _scope(ctx)
    access = await people.pair_access(ctx.session, pair_id, org_ids)
    if access == Access.OK:
        return org_ids
    key = "curator.button_not_yours" if access == Access.NOT_YOURS else "curator.button_stale"
    await ctx.answer(query, ctx.t(key))
    return None


async def on_end(query: CallbackQuery, callback_data: PollCb, ctx: Ctx) -> None:
    """One tap: the pair ends, the mentor's place is freed, the mentee goes back to the base;
    an ended couple is never proposed again by /match."""
    org_ids = await _curated(query, ctx, callback_data.id)
    if org_ids is None:
        return
    actor = ctx.participant.id if ctx.participant else None
    result = await pairing.unpair(
        ctx.session, callback_data.id, org_ids=org_ids, actor_id=actor, now=ctx.now
    )
    audit.record(
        ctx.session, actor_id=actor, organisation_id=None, action="pair.rematch",
        target_type="pair", target_id=result.pair.id, details={"reason": "not_a_fit"},
    )
    await deliver(ctx.session, ctx.catalog, result.notices, ctx.clock)
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("polls.ended", id=result.pair.id))


async def on_keep(query: CallbackQuery, callback_data: PollCb, ctx: Ctx) -> None:
    if await _curated(query, ctx, callback_data.id) is None:
        return
    await ctx.answer(query, ctx.t("polls.kept", id=callback_data.id))
    await ctx.drop_buttons(query.message)


async def _show_answers(ctx: Ctx, pair_id: int, org_ids: list[int]) -> None:
    card, found = await polls.pair_polls(ctx.session, pair_id, org_ids=org_ids)
    await ctx.send(views.answers_text(ctx.t, card, found))


async def on_answers(query: CallbackQuery, callback_data: PollCb, ctx: Ctx) -> None:
    org_ids = await _curated(query, ctx, callback_data.id)
    if org_ids is None:
        return
    await ctx.answer(query)
    await _show_answers(ctx, callback_data.id, org_ids)


async def answers_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    ids = parse_ids(command.args, 1)
    org_ids = await _scope(ctx)
    if ids is None:  # no pair named: the satisfaction KPI and how to name a pair
        kpi = await polls.satisfaction_by_org(ctx.session, org_ids)
        await ctx.send(views.satisfaction_text(ctx.t, kpi))
        return
    if await people.pair_access(ctx.session, ids[0], org_ids) != Access.OK:
        await ctx.send(ctx.t("errors.poll_pair_unknown", id=ids[0]))
        return
    await _show_answers(ctx, ids[0], org_ids)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_start, PollCb.filter(F.a == PollAction.START))
    curators = HasRole(Role.CURATOR, Role.COORDINATOR)
    router.callback_query.register(on_end, PollCb.filter(F.a == PollAction.END), curators)
    router.callback_query.register(on_keep, PollCb.filter(F.a == PollAction.KEEP), curators)
    router.callback_query.register(
        on_answers, PollCb.filter(F.a == PollAction.ANSWERS), curators
    )
    router.message.register(answers_command, Command("polls"), curators)
    return router

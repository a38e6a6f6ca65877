"""Curator tools: /broadcast (segment → text → preview → confirm, progress by a job),
/remind <pair> and the buttons of a curator's "pair is not meeting" message."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from bot.ids import parse_ids
from bot.roles import HasRole
from bot.services import broadcast as svc
from bot.services import nudges, people
from bot.views.broadcast import headers, preview, progress_text, segment_name
from bot.views.reminders import card_text, queue
from db.models import Role
from db.queries import organisations as q_orgs
from keyboards import broadcast as kb
from keyboards.broadcast import BroadcastAction
from keyboards.nudges import NudgeAction, NudgeCb


class Broadcasting(StatesGroup):
    segment = State()  # data: org_id
    text = State()  # data: org_id, segment


async def _scope(ctx: Ctx) -> list[int]:
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


# -- /broadcast -------------------------------------------------------------------------------
async def start(message: Message, ctx: Ctx) -> None:
    programme = await people.current_programme(ctx.session, ctx.participant, await _scope(ctx))
    org = await q_orgs.get_org(ctx.session, programme.organisation_id)
    assert org is not None
    await ctx.state.set_state(Broadcasting.segment)
    await ctx.state.set_data({"org_id": org.id})
    await ctx.send(ctx.t("broadcast.choose", org=escape(org.name)),
                   reply_markup=kb.segments(ctx.t))


async def _org_in_state(query: CallbackQuery, ctx: Ctx) -> int | None:
    """The organisation this dialog is about, if it still is the presser's."""
    org_id = (await ctx.state.get_data()).get("org_id")
    if not isinstance(org_id, int) or org_id not in await _scope(ctx):
        await ctx.answer(query, ctx.t("curator.button_stale"))
        return None
    return org_id


async def _ask_text(query: CallbackQuery, ctx: Ctx, segment: str) -> None:
    await ctx.state.update_data(segment=segment)
    await ctx.state.set_state(Broadcasting.text)
    await ctx.answer(query)
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id,
                       ctx.t("broadcast.ask_text", segment=segment_name(ctx.t, segment)))


async def on_segment(query: CallbackQuery, callback_data: kb.BroadcastCb, ctx: Ctx) -> None:
    org_id = await _org_in_state(query, ctx)
    if org_id is None:
        return
    if callback_data.v == "forms":
        forms = await svc.forms_of(ctx.session, org_id)
        await ctx.answer(query)
        if isinstance(query.message, Message):
            text = ctx.t("broadcast.choose_form" if forms else "broadcast.no_forms")
            await ctx.edit(query.message.message_id, text, kb.forms(ctx.t, forms))
        return
    if not svc.valid_segment(callback_data.v) or callback_data.v.startswith(svc.FORM_PREFIX):
        await ctx.answer(query, ctx.t("curator.button_stale"))
        return
    await _ask_text(query, ctx, callback_data.v)


async def on_form(query: CallbackQuery, callback_data: kb.BroadcastCb, ctx: Ctx) -> None:
    if await _org_in_state(query, ctx) is None:
        return
    segment = svc.FORM_PREFIX + callback_data.v
    if not svc.valid_segment(segment):
        await ctx.answer(query, ctx.t("curator.button_stale"))
        return
    await _ask_text(query, ctx, segment)


async def on_text(message: Message, ctx: Ctx) -> None:
    data = await ctx.state.get_data()
    org_id, segment = data.get("org_id"), str(data.get("segment") or "")
    if not isinstance(org_id, int) or org_id not in await _scope(ctx):
        await ctx.state.clear()
        await ctx.send(ctx.t("errors.broadcast_not_found"))
        return
    text = message.html_text if message.text else ""
    if not text:
        await ctx.send(ctx.t("broadcast.text_only"))
        return
    broadcast, paused = await svc.draft(
        ctx.session, org_id=org_id, created_by=ctx.participant.id if ctx.participant else None,
        segment=segment, text=text, now=ctx.now,
    )
    await ctx.state.clear()
    if broadcast.total == 0:
        await ctx.send(ctx.t("broadcast.nobody"))
        return
    await ctx.send(preview(ctx.t, text, segment, broadcast.total, paused),
                   reply_markup=kb.confirm(ctx.t, broadcast.id))


async def on_go(query: CallbackQuery, callback_data: kb.BroadcastCb, ctx: Ctx) -> None:
    message = query.message if isinstance(query.message, Message) else None
    started = await svc.start(
        ctx.session, callback_data.id, org_ids=await _scope(ctx),
        chat_id=message.chat.id if message else ctx.chat_id,
        message_id=message.message_id if message else None, header=headers(), now=ctx.now,
    )
    if started is None:
        await ctx.answer(query, ctx.t("broadcast.already"))
        return
    await ctx.answer(query)
    text = progress_text(ctx.t, started.id, svc.Progress(started.total, 0, 0, started.total))
    await ctx.edit(message.message_id if message else None, text)


async def on_cancel(query: CallbackQuery, callback_data: kb.BroadcastCb, ctx: Ctx) -> None:
    if not await svc.cancel(ctx.session, callback_data.id, org_ids=await _scope(ctx)):
        await ctx.answer(query, ctx.t("broadcast.already"))
        return
    await ctx.answer(query)
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, ctx.t("broadcast.cancelled"))


# -- /remind and the nudge buttons ------------------------------------------------------------
async def _remind(ctx: Ctx, pair_id: int) -> str:
    notices = await nudges.remind_pair(ctx.session, pair_id, org_ids=await _scope(ctx),
                                       now=ctx.now)
    queued = await queue(ctx.session, notices, ctx.now)
    if notices and not queued:
        return ctx.t("nudges.reminded_already", id=pair_id)
    return ctx.t("nudges.reminded", id=pair_id, n=queued)


async def remind(message: Message, command: CommandObject, ctx: Ctx) -> None:
    ids = parse_ids(command.args, 1)
    if ids is None:
        await ctx.send(ctx.t("nudges.remind_usage"))
        return
    await ctx.send(await _remind(ctx, ids[0]))


async def _pair_refused(query: CallbackQuery, pair_id: int, ctx: Ctx) -> bool:
    """Answer a button naming a pair the presser may not touch; True if refused."""
    access = await people.pair_access(ctx.session, pair_id, await _scope(ctx))
    if access == people.Access.OK:
        return False
    key = "curator.button_not_yours" if access == people.Access.NOT_YOURS else (
        "curator.button_stale")
    await ctx.answer(query, ctx.t(key))
    return True


async def on_nudge_remind(query: CallbackQuery, callback_data: NudgeCb, ctx: Ctx) -> None:
    if await _pair_refused(query, callback_data.p, ctx):
        return
    text = await _remind(ctx, callback_data.p)
    await ctx.answer(query, text[:200])


async def on_nudge_card(query: CallbackQuery, callback_data: NudgeCb, ctx: Ctx) -> None:
    if await _pair_refused(query, callback_data.p, ctx):
        return
    card = await nudges.pair_card(ctx.session, callback_data.p, org_ids=await _scope(ctx))
    await ctx.answer(query)
    await ctx.send(card_text(ctx.t, card))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
    router.callback_query.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
    router.message.register(start, Command("broadcast"))
    router.message.register(remind, Command("remind"))
    router.message.register(on_text, StateFilter(Broadcasting.text), ~F.text.startswith("/"))
    cb = router.callback_query
    cb.register(on_segment, kb.BroadcastCb.filter(F.a == BroadcastAction.SEGMENT))
    cb.register(on_form, kb.BroadcastCb.filter(F.a == BroadcastAction.FORM))
    cb.register(on_go, kb.BroadcastCb.filter(F.a == BroadcastAction.GO))
    cb.register(on_cancel, kb.BroadcastCb.filter(F.a == BroadcastAction.CANCEL))
    cb.register(on_nudge_remind, NudgeCb.filter(F.a == NudgeAction.REMIND))
    cb.register(on_nudge_card, NudgeCb.filter(F.a == NudgeAction.CARD))
    return router

"""/pause, /resume for participants; /paused for curators.

The rules are in bot/services/pause.py; the end date is typed ("25.12", "25.12.2026") or
chosen with a button, as a day in the organisation's timezone.
"""

from __future__ import annotations

import datetime as dt

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from bot.roles import HasRole
from bot.services import pause, people
from bot.views.pause import local_date, paused_list, reason_word
from db.models import Participant, PauseReason, Role
from keyboards import pause as kb
from keyboards.pause import PauseAction


class Pausing(StatesGroup):
    until = State()  # the reason chosen; waiting for the end date


def _participant(ctx: Ctx) -> Participant | None:
    return ctx.participant if ctx.roles & {Role.MENTEE, Role.MENTOR, Role.CURATOR} else None


async def ask(message: Message, ctx: Ctx) -> None:
    if _participant(ctx) is None:
        await ctx.send(ctx.t("pause.no_profile"))
        return
    await ctx.send(ctx.t("pause.ask_reason"), reply_markup=kb.reasons(ctx.t))


async def on_reason(query: CallbackQuery, callback_data: kb.PauseCb, ctx: Ctx) -> None:
    if _participant(ctx) is None or callback_data.v not in set(PauseReason):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    await ctx.state.set_state(Pausing.until)
    await ctx.state.set_data({"reason": callback_data.v})
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("pause.ask_until"), reply_markup=kb.quick(ctx.t, callback_data.v))


async def _apply(ctx: Ctx, participant: Participant, reason: str, day: dt.date) -> str:
    until = await pause.pause(ctx.session, participant, reason=reason, until=day, now=ctx.now)
    await ctx.state.clear()
    tz = await pause.timezone_for(ctx.session, participant.id)
    return ctx.t("pause.paused", date=local_date(until, tz), reason=reason_word(ctx.t, reason))


async def on_quick(query: CallbackQuery, callback_data: kb.PauseCb, ctx: Ctx) -> None:
    participant = _participant(ctx)
    if participant is None or callback_data.r not in set(PauseReason):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    tz = await pause.timezone_for(ctx.session, participant.id)
    day = pause.quick_date(callback_data.v, pause.local_today(ctx.now, tz))
    if day is None:
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    text = await _apply(ctx, participant, callback_data.r, day)
    await ctx.answer(query)
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, text)


async def on_date(message: Message, ctx: Ctx) -> None:
    participant = _participant(ctx)
    reason = (await ctx.state.get_data()).get("reason")
    if participant is None or reason not in set(PauseReason):
        await ctx.state.clear()
        await ctx.send(ctx.t("pause.no_profile"))
        return
    tz = await pause.timezone_for(ctx.session, participant.id)
    day = pause.parse_date(message.text or "", pause.local_today(ctx.now, tz))
    if day is None:
        await ctx.send(ctx.t("pause.bad_date"))
        return
    await ctx.send(await _apply(ctx, participant, str(reason), day))


async def resume(message: Message, ctx: Ctx) -> None:
    participant = ctx.participant
    if participant is None or not await pause.resume(ctx.session, participant):
        await ctx.send(ctx.t("pause.not_paused"))
        return
    await ctx.send(ctx.t("pause.resumed"))


async def paused(message: Message, ctx: Ctx) -> None:
    org_ids = await people.curator_scope(
        ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles
    )
    rows = await pause.paused_people(ctx.session, org_ids)
    tz = (await pause.timezone_for(ctx.session, ctx.participant.id)
          if ctx.participant is not None else pause.DEFAULT_TZ)
    await ctx.send(paused_list(ctx.t, rows, tz))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(ask, Command("pause"))
    router.message.register(resume, Command("resume"))
    router.message.register(paused, Command("paused"), HasRole(Role.CURATOR, Role.COORDINATOR))
    router.message.register(
        on_date, StateFilter(Pausing.until), F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(on_reason, kb.PauseCb.filter(F.a == PauseAction.REASON))
    router.callback_query.register(on_quick, kb.PauseCb.filter(F.a == PauseAction.QUICK))
    return router

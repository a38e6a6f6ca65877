"""The pair's plan in chat (/plan): goals with target dates and tasks, progress marks.
Both sides of a working pair edit it; curators read it (/plan <pair id>).

Rules live in bot/services/plan.py; texts in bot/views/plan.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from bot.ids import parse_id
from bot.services import journal, people
from bot.services import plan as plans
from bot.services.errors import ServiceError
from bot.services.organisations import today_in
from bot.views import journal as jviews
from bot.views import plan as views
from db.models import ACTIVE_PAIR_STATUSES, Pair, Role
from db.queries import journal as q_journal
from db.queries import plans as q
from keyboards import plan as kb
from keyboards.plan import PlanAction, PlanCb


class PlanEdit(StatesGroup):
    goal_title = State()
    goal_date = State()
    goal_tasks = State()
    task_title = State()


async def _curated(ctx: Ctx) -> list[int]:
    if not ctx.roles & {Role.CURATOR, Role.COORDINATOR}:
        return []
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _label(ctx: Ctx, pair: Pair) -> str:
    mentor = await q_journal.person_of(ctx.session, pair.mentor_membership_id)
    mentee = await q_journal.person_of(ctx.session, pair.mentee_membership_id)
    return jviews.pair_label(ctx.t, pair, mentor, mentee)


async def _plan_view(ctx: Ctx, pair: Pair, side: journal.Side) -> tuple[str, Any]:
    plan = await q.of_pair(ctx.session, pair.id)
    editable = side != journal.Side.CURATOR and pair.status in ACTIVE_PAIR_STATUSES
    goals = plan.goals if plan else []
    text = views.plan_text(ctx.t, await _label(ctx, pair), plan, editable=editable)
    markup = kb.plan(ctx.t, pair.id, goals, editable=editable, room=len(goals) < plans.MAX_GOALS)
    return text, markup


async def _edit_or_send(query: CallbackQuery, ctx: Ctx, text: str, markup: Any) -> None:
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, text, markup)
    else:
        await ctx.send(text, reply_markup=markup)


# -- /plan ------------------------------------------------------------------------------------
async def show_plan(message: Message, command: CommandObject, ctx: Ctx) -> None:
    args = (command.args or "").strip()
    if args:
        pair_id = parse_id(args)
        if pair_id is None:
            await ctx.send(ctx.t("plan.usage"))
            return
        pair, side = await journal.pair_for(
            ctx.session, ctx.participant, pair_id, await _curated(ctx)
        )
        text, markup = await _plan_view(ctx, pair, side)
        await ctx.send(text, reply_markup=markup)
        return
    own = await journal.own_pairs(ctx.session, ctx.participant)
    if not own:
        await ctx.send(ctx.t("plan.usage" if await _curated(ctx) else "journal.no_pairs"))
        return
    if len(own) == 1:
        text, markup = await _plan_view(ctx, *own[0])
        await ctx.send(text, reply_markup=markup)
        return
    choices = [(pair.id, await _label(ctx, pair)) for pair, _ in own]
    await ctx.send(ctx.t("journal.choose"), reply_markup=kb.pairs(choices))


async def on_open(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    if await ctx.state.get_state() in PlanEdit.__all_states_names__:
        await ctx.state.clear()  # "back to the plan" leaves a goal's dialog
    pair, side = await journal.pair_for(
        ctx.session, ctx.participant, callback_data.id, await _curated(ctx)
    )
    text, markup = await _plan_view(ctx, pair, side)
    await ctx.answer(query)
    await _edit_or_send(query, ctx, text, markup)


# -- a new goal: title, date, tasks -----------------------------------------------------------
async def on_add_goal(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    pair, _ = await plans.editable_pair(ctx.session, ctx.participant, callback_data.id)
    plan = await q.of_pair(ctx.session, pair.id)
    if plan is not None and len(plan.goals) >= plans.MAX_GOALS:
        raise ServiceError("plan_full", limit=plans.MAX_GOALS)
    await ctx.state.set_state(PlanEdit.goal_title)
    await ctx.state.set_data({"pair": pair.id})
    await ctx.answer(query)
    await ctx.send(ctx.t("plan.ask_title"), reply_markup=kb.cancel_only(ctx.t))


async def _say(ctx: Ctx, error: ServiceError, hint: str) -> None:
    await ctx.send(ctx.t(error.text_key(), **error.params) + "\n" + ctx.t(hint))


async def on_goal_title(message: Message, ctx: Ctx) -> None:
    try:
        title = plans.check_title(message.text or "")
    except ServiceError as error:
        await _say(ctx, error, "plan.title_hint")
        return
    await ctx.state.update_data(title=title)
    await ctx.state.set_state(PlanEdit.goal_date)
    await ctx.send(ctx.t("plan.ask_date"), reply_markup=kb.cancel_only(ctx.t))


async def _today(ctx: Ctx, pair_id: int) -> dt.date:
    pair = await ctx.session.get(Pair, pair_id)
    if pair is None:
        return ctx.now.date()
    org = await q_journal.organisation_of(ctx.session, pair)
    return today_in(org.timezone, ctx.now)


async def on_goal_date(message: Message, ctx: Ctx) -> None:
    values = await ctx.state.get_data()
    try:
        date = plans.parse_date(message.text or "", await _today(ctx, values["pair"]))
    except ServiceError as error:
        await _say(ctx, error, "plan.date_hint")
        return
    await ctx.state.update_data(date=date.isoformat())
    await ctx.state.set_state(PlanEdit.goal_tasks)
    await ctx.send(ctx.t("plan.ask_tasks", max=plans.MAX_TASKS),
                   reply_markup=kb.no_tasks(ctx.t, values["pair"]))


async def _save_goal(ctx: Ctx, tasks: list[str]) -> None:
    values = await ctx.state.get_data()
    pair_id = values["pair"]
    await plans.add_goal(
        ctx.session, ctx.participant, pair_id, title=values["title"],
        target_date=dt.date.fromisoformat(values["date"]), tasks=tasks,
        today=await _today(ctx, pair_id),
    )
    await ctx.state.clear()
    pair, side = await plans.editable_pair(ctx.session, ctx.participant, pair_id)
    text, markup = await _plan_view(ctx, pair, side)
    await ctx.send(ctx.t("plan.goal_added") + "\n\n" + text, reply_markup=markup)


async def on_goal_tasks(message: Message, ctx: Ctx) -> None:
    try:
        tasks = plans.check_tasks((message.text or "").splitlines())
    except ServiceError as error:
        await _say(ctx, error, "plan.tasks_hint")
        return
    if not tasks:
        await ctx.send(ctx.t("plan.tasks_hint"))
        return
    await _save_goal(ctx, tasks)


async def on_no_tasks(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    values = await ctx.state.get_data()
    if (await ctx.state.get_state() != PlanEdit.goal_tasks.state
            or values.get("pair") != callback_data.id):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await _save_goal(ctx, [])


# -- a goal's card ----------------------------------------------------------------------------
async def _goal_card(ctx: Ctx, goal_id: int) -> tuple[str, Any]:
    goal, pair_id = await plans.goal_of(ctx.session, ctx.participant, goal_id)
    return views.goal_text(ctx.t, goal), kb.goal(ctx.t, pair_id, goal)


async def on_goal(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    text, markup = await _goal_card(ctx, callback_data.id)
    await ctx.answer(query)
    await _edit_or_send(query, ctx, text, markup)


async def on_progress(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    await plans.set_progress(
        ctx.session, ctx.participant, callback_data.id, callback_data.v, ctx.now
    )
    text, markup = await _goal_card(ctx, callback_data.id)
    await ctx.answer(query)
    await _edit_or_send(query, ctx, text, markup)


async def on_toggle(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    _, goal_id = await plans.toggle_task(ctx.session, ctx.participant, callback_data.id, ctx.now)
    text, markup = await _goal_card(ctx, goal_id)
    await ctx.answer(query)
    await _edit_or_send(query, ctx, text, markup)


async def on_add_task(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    await plans.goal_of(ctx.session, ctx.participant, callback_data.id)
    await ctx.state.set_state(PlanEdit.task_title)
    await ctx.state.set_data({"goal": callback_data.id})
    await ctx.answer(query)
    await ctx.send(ctx.t("plan.ask_task"), reply_markup=kb.cancel_only(ctx.t))


async def on_task_title(message: Message, ctx: Ctx) -> None:
    goal_id = (await ctx.state.get_data())["goal"]
    try:
        await plans.add_task(ctx.session, ctx.participant, goal_id, message.text or "")
    except ServiceError as error:
        if error.code != "plan_title_empty" and error.code != "plan_title_long":
            await ctx.state.clear()
            raise
        await _say(ctx, error, "plan.title_hint")
        return
    await ctx.state.clear()
    text, markup = await _goal_card(ctx, goal_id)
    await ctx.send(text, reply_markup=markup)


async def on_delete(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    goal, pair_id = await plans.goal_of(ctx.session, ctx.participant, callback_data.id)
    await ctx.answer(query)
    await _edit_or_send(
        query, ctx, ctx.t("plan.delete_ask", n=goal.position),
        kb.delete_confirm(ctx.t, pair_id, goal.id),
    )


async def on_delete_ok(query: CallbackQuery, callback_data: PlanCb, ctx: Ctx) -> None:
    pair_id = await plans.delete_goal(ctx.session, ctx.participant, callback_data.id)
    pair, side = await plans.editable_pair(ctx.session, ctx.participant, pair_id)
    text, markup = await _plan_view(ctx, pair, side)
    await ctx.answer(query, ctx.t("plan.deleted"))
    await _edit_or_send(query, ctx, text, markup)


async def on_cancel(query: CallbackQuery, ctx: Ctx) -> None:
    in_plan = await ctx.state.get_state() in PlanEdit.__all_states_names__
    if in_plan:
        await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    if in_plan:
        await ctx.send(ctx.t("journal.cancelled"))


async def command_in_dialog(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("journal.in_dialog"))


def create_router() -> Router:
    router = Router(name=__name__)
    cb = router.callback_query
    actions = {
        PlanAction.OPEN: on_open, PlanAction.ADD_GOAL: on_add_goal, PlanAction.GOAL: on_goal,
        PlanAction.PROGRESS: on_progress, PlanAction.ADD_TASK: on_add_task,
        PlanAction.TOGGLE: on_toggle, PlanAction.DELETE: on_delete,
        PlanAction.DELETE_OK: on_delete_ok, PlanAction.NO_TASKS: on_no_tasks,
    }
    for action, handler in actions.items():
        cb.register(handler, PlanCb.filter(F.a == action))
    cb.register(on_cancel, PlanCb.filter(F.a == PlanAction.CANCEL))
    msg = router.message
    msg.register(command_in_dialog, StateFilter(PlanEdit), F.text.startswith("/"))
    # Not StateFilter(None): a questionnaire left open must not hide the command.
    msg.register(show_plan, Command("plan"))
    msg.register(on_goal_title, StateFilter(PlanEdit.goal_title))
    msg.register(on_goal_date, StateFilter(PlanEdit.goal_date))
    msg.register(on_goal_tasks, StateFilter(PlanEdit.goal_tasks))
    msg.register(on_task_title, StateFilter(PlanEdit.task_title))
    return router

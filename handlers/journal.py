"""The mentor journal in chat: the mentor logs a meeting (held: minutes, topics, next steps,
progress on the plan's goals; or not held: offer to reschedule), the mentee confirms and
rates it, and /journal shows a pair's entries to both sides and the curators.

Rules live in bot/services/journal.py; texts in bot/views/journal.py. Every button is
re-checked against the presser; refusals are raised and answered by the error router.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from bot.ids import parse_id
from bot.services import journal, milestones, people
from bot.services.errors import ServiceError
from bot.views import journal as views
from bot.views import polls as poll_views
from db.models import Pair, PairStatus, Role
from db.queries import journal as q
from db.queries import plans as q_plans
from keyboards import journal as kb
from keyboards.journal import FeedbackAction, FeedbackCb, JournalAction, JournalCb


class JournalLog(StatesGroup):
    minutes = State()
    topics = State()
    next_steps = State()
    progress = State()


# -- the mentor logs a meeting ----------------------------------------------------------------
async def on_not_held(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    result = await journal.log_not_held(
        ctx.session, callback_data.id, query.from_user.id, ctx.now
    )
    found = await journal.context_of(ctx.session, callback_data.id)
    assert found is not None
    text = views.not_held_text(ctx.t, result.meeting, found.organisation.timezone)
    repeated = result.outcome == journal.Outcome.REPEATED
    await ctx.answer(query, ctx.t("journal.already") if repeated else None)
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, text, kb.reschedule(ctx.t, callback_data.id))
    else:
        await ctx.send(text, reply_markup=kb.reschedule(ctx.t, callback_data.id))


async def on_held(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    found = await journal.start_log(ctx.session, callback_data.id, query.from_user.id, ctx.now)
    await ctx.state.set_state(JournalLog.minutes)
    await ctx.state.set_data({"meeting": callback_data.id, "marks": {}})
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(
        ctx.t("journal.ask_minutes", planned=found.meeting.duration_minutes),
        reply_markup=kb.minutes(ctx.t, callback_data.id, found.meeting.duration_minutes),
    )


async def _dialog(query: CallbackQuery, data: JournalCb, ctx: Ctx) -> dict[str, Any] | None:
    """The dialog's data, if this button belongs to the dialog going on now."""
    values = await ctx.state.get_data()
    if await ctx.state.get_state() is None or values.get("meeting") != data.id:
        await ctx.answer(query, ctx.t("common.stale_button"))
        return None
    return values


async def _minutes_given(ctx: Ctx, minutes: int) -> None:
    journal.check_minutes(minutes)
    await ctx.state.update_data(minutes=minutes)
    await ctx.state.set_state(JournalLog.topics)
    meeting_id = (await ctx.state.get_data())["meeting"]
    await ctx.send(ctx.t("journal.ask_topics"), reply_markup=kb.cancel_only(ctx.t, meeting_id))


async def on_minutes_button(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    if await _dialog(query, callback_data, ctx) is None:
        return
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await _minutes_given(ctx, callback_data.v)


async def on_minutes_text(message: Message, ctx: Ctx) -> None:
    text = (message.text or "").strip()
    if not text.isdigit() or len(text) > 4:
        await ctx.send(ctx.t("journal.minutes_hint"))
        return
    try:
        await _minutes_given(ctx, int(text))
    except ServiceError as error:
        await ctx.send(ctx.t(error.text_key(), **error.params))


async def on_topics(message: Message, ctx: Ctx) -> None:
    try:
        topics = journal.check_text(message.text or "")
    except ServiceError as error:
        await ctx.send(ctx.t(error.text_key(), **error.params) + "\n" + ctx.t("journal.text_hint"))
        return
    await ctx.state.update_data(topics=topics)
    await ctx.state.set_state(JournalLog.next_steps)
    meeting_id = (await ctx.state.get_data())["meeting"]
    await ctx.send(ctx.t("journal.ask_next"), reply_markup=kb.next_steps(ctx.t, meeting_id))


async def on_next_steps(message: Message, ctx: Ctx) -> None:
    try:
        steps = journal.check_text(message.text or "")
    except ServiceError as error:
        await ctx.send(ctx.t(error.text_key(), **error.params) + "\n" + ctx.t("journal.text_hint"))
        return
    await ctx.state.update_data(next=steps)
    await _to_progress(ctx)


async def on_skip(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    if await _dialog(query, callback_data, ctx) is None:
        return
    if await ctx.state.get_state() != JournalLog.next_steps.state:
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.state.update_data(next=None)
    await _to_progress(ctx)


async def _to_progress(ctx: Ctx) -> None:
    """Ask about each open goal of the pair's plan, then save."""
    values = await ctx.state.get_data()
    found = await journal.context_of(ctx.session, values["meeting"])
    plan = await q_plans.of_pair(ctx.session, found.pair.id) if found else None
    goals = [g.id for g in plan.goals if g.done_at is None] if plan else []
    if not goals:
        await _finish(ctx)
        return
    await ctx.state.update_data(goals=goals, i=0)
    await ctx.state.set_state(JournalLog.progress)
    await _ask_progress(ctx, values["meeting"], goals, 0)


async def _ask_progress(ctx: Ctx, meeting_id: int, goals: list[int], index: int) -> None:
    found = await q_plans.goal(ctx.session, goals[index])
    if found is None:
        await _next_goal(ctx, meeting_id, goals, index)
        return
    await ctx.send(
        views.progress_question(ctx.t, found[0], index + 1, len(goals)),
        reply_markup=kb.progress(ctx.t, meeting_id, goals[index]),
    )


async def _next_goal(ctx: Ctx, meeting_id: int, goals: list[int], index: int) -> None:
    if index + 1 < len(goals):
        await ctx.state.update_data(i=index + 1)
        await _ask_progress(ctx, meeting_id, goals, index + 1)
    else:
        await _finish(ctx)


async def on_progress(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    values = await _dialog(query, callback_data, ctx)
    if values is None:
        return
    goals, index = values.get("goals", []), values.get("i", 0)
    if await ctx.state.get_state() != JournalLog.progress.state or (
        index >= len(goals) or goals[index] != callback_data.g
    ):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    if callback_data.v >= 0:
        marks = dict(values.get("marks", {}))
        marks[str(callback_data.g)] = callback_data.v
        await ctx.state.update_data(marks=marks)
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await _next_goal(ctx, callback_data.id, goals, index)


async def _finish(ctx: Ctx) -> None:
    values = await ctx.state.get_data()
    await ctx.state.clear()
    marks = {int(k): int(v) for k, v in (values.get("marks") or {}).items()}
    result = await journal.log_held(
        ctx.session, values["meeting"], ctx.user.id, ctx.now, minutes=values["minutes"],
        topics=values["topics"], next_steps=values.get("next"), goal_progress=marks,
    )
    found = await journal.context_of(ctx.session, result.meeting.id)
    assert found is not None
    timezone = found.organisation.timezone
    await views.enqueue_feedback_asks(ctx.session, result.asks, result.meeting, timezone, ctx.now)
    if result.outcome == journal.Outcome.DONE:  # the milestone polls (bot/services/milestones)
        notices = await milestones.on_held(ctx.session, result.meeting, result.stage, ctx.now)
        await poll_views.queue(ctx.session, notices, ctx.now)
    reached = result.stage.milestones[0].reached.value if result.stage is not None else None
    if result.outcome == journal.Outcome.REPEATED:
        await ctx.send(ctx.t("journal.already"))
        return
    await ctx.send(views.logged_text(ctx.t, result.meeting, timezone, reached))


async def on_cancel(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    if await _dialog(query, callback_data, ctx) is None:
        return
    await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("journal.cancelled"))


async def press_a_button(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("journal.progress_hint"))


async def command_in_dialog(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("journal.in_dialog"))


# -- the mentee confirms and rates ------------------------------------------------------------
async def on_feedback(query: CallbackQuery, callback_data: FeedbackCb, ctx: Ctx) -> None:
    data, t = callback_data, ctx.t
    if data.a == FeedbackAction.RATE:
        row, outcome = await journal.rate(
            ctx.session, data.id, data.m, query.from_user.id, data.v, ctx.now
        )
        if outcome == journal.Outcome.DONE:  # a rating of 1-2 alerts the curator (polls)
            await poll_views.queue(ctx.session, await journal.low_rating_alerts(
                ctx.session, row, ctx.now), ctx.now)
        text, markup = t("journal.rated", n=data.v), None
    else:
        took_place = data.a == FeedbackAction.YES
        _, outcome = await journal.confirm(
            ctx.session, data.id, data.m, query.from_user.id, took_place, ctx.now
        )
        if took_place:
            text, markup = t("journal.ask_rating"), kb.rating(data.id, data.m)
        else:
            text, markup = t("journal.disputed"), None
    await ctx.answer(query, t("journal.already") if outcome == journal.Outcome.REPEATED else None)
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, text, markup)


# -- /journal ---------------------------------------------------------------------------------
async def _curated(ctx: Ctx) -> list[int]:
    if not ctx.roles & {Role.CURATOR, Role.COORDINATOR}:
        return []
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _label(ctx: Ctx, pair: Pair) -> str:
    mentor = await q.person_of(ctx.session, pair.mentor_membership_id)
    mentee = await q.person_of(ctx.session, pair.mentee_membership_id)
    return views.pair_label(ctx.t, pair, mentor, mentee)


async def _page(ctx: Ctx, pair: Pair, page: int) -> tuple[str, Any]:
    total = await q.logged_count(ctx.session, pair)
    pages = max(1, -(-total // views.PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    meetings = await q.logged(
        ctx.session, pair, offset=page * views.PAGE_SIZE, limit=views.PAGE_SIZE
    )
    rows = await q.feedback(ctx.session, [m.id for m in meetings], pair.mentee_membership_id)
    by_meeting: dict[int, list[Any]] = {}
    for row in rows:
        by_meeting.setdefault(row.meeting_id, []).append(row)
    org = await q.organisation_of(ctx.session, pair)
    text = views.journal_text(
        ctx.t, await _label(ctx, pair), meetings, org.timezone, by_meeting, page=page,
        total=total, stage=PairStatus(pair.status).value,
    )
    return text, kb.pages(ctx.t, pair.id, page, pages)


async def show_journal(message: Message, command: CommandObject, ctx: Ctx) -> None:
    args = (command.args or "").strip()
    if args:
        pair_id = parse_id(args)
        if pair_id is None:
            await ctx.send(ctx.t("journal.usage"))
            return
        curated = await _curated(ctx)
        pair, _ = await journal.pair_for(ctx.session, ctx.participant, pair_id, curated)
        text, markup = await _page(ctx, pair, 0)
        await ctx.send(text, reply_markup=markup)
        return
    own = await journal.own_pairs(ctx.session, ctx.participant)
    if not own:
        curated = await _curated(ctx)
        await ctx.send(ctx.t("journal.usage" if curated else "journal.no_pairs"))
        return
    if len(own) == 1:
        text, markup = await _page(ctx, own[0][0], 0)
        await ctx.send(text, reply_markup=markup)
        return
    choices = [(pair.id, await _label(ctx, pair)) for pair, _ in own]
    await ctx.send(ctx.t("journal.choose"), reply_markup=kb.pairs(choices))


async def on_open(query: CallbackQuery, callback_data: JournalCb, ctx: Ctx) -> None:
    pair, _ = await journal.pair_for(
        ctx.session, ctx.participant, callback_data.id, await _curated(ctx)
    )
    text, markup = await _page(ctx, pair, callback_data.v)
    await ctx.answer(query)
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, text, markup)


def create_router() -> Router:
    router = Router(name=__name__)
    cb = router.callback_query
    cb.register(on_held, JournalCb.filter(F.a == JournalAction.HELD))
    cb.register(on_not_held, JournalCb.filter(F.a == JournalAction.NOT_HELD))
    cb.register(on_minutes_button, JournalCb.filter(F.a == JournalAction.MINUTES))
    cb.register(on_skip, JournalCb.filter(F.a == JournalAction.SKIP))
    cb.register(on_progress, JournalCb.filter(F.a == JournalAction.PROGRESS))
    cb.register(on_cancel, JournalCb.filter(F.a == JournalAction.CANCEL))
    cb.register(on_open, JournalCb.filter(F.a == JournalAction.OPEN))
    cb.register(on_feedback, FeedbackCb.filter())
    msg = router.message
    states = StateFilter(JournalLog)
    msg.register(command_in_dialog, states, F.text.startswith("/"))
    # Not StateFilter(None): a questionnaire left open must not hide the command.
    msg.register(show_journal, Command("journal"))
    msg.register(on_minutes_text, StateFilter(JournalLog.minutes))
    msg.register(on_topics, StateFilter(JournalLog.topics))
    msg.register(on_next_steps, StateFilter(JournalLog.next_steps))
    msg.register(press_a_button, StateFilter(JournalLog.progress))
    return router

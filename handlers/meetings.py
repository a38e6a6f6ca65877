"""Meetings in chat: /meeting (the proposal dialog: kind, day, time, place), the other
side's answer (confirm, another time, decline), rescheduling, cancelling and /meetings.

The rules live in bot/services/meetings/; words and buttons in bot/views/meetings.py.
Messages to the other side go through the outbox in the same transaction as the change.
Refusals are raised and answered by the error router (handlers/errors.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from bot.ids import MAX_ID
from bot.services import meetings as svc
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.meetings import Outcome, Party
from bot.services.meetings.core import PLACE_LIMIT
from bot.services.meetings.when import at_local, local_today
from bot.views import meetings as views
from db.models import MeetingStatus
from keyboards.meetings import MeetingAction as A
from keyboards.meetings import MeetingCb

NOT_A_COMMAND = ~F.text.startswith("/")
NEW, RETIME = "new", "retime"


class MeetingDialog(StatesGroup):
    """A proposal or "another time" in progress; the dialog's data: mode (new/retime),
    target (pair id / meeting id), group, kind, day (yyyymmdd once picked), starts (ISO)."""

    pick = State()  # days or time slots on screen; a typed date and time is welcome too
    place = State()  # the place or link is asked


def _me(ctx: Ctx) -> int:
    if ctx.participant is None:
        raise NotYoursError("meeting_not_yours")
    return ctx.participant.id


def _message_id(query: CallbackQuery) -> int | None:
    return query.message.message_id if isinstance(query.message, Message) else None


def _version(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 9 else -1


async def _stale(query: CallbackQuery, ctx: Ctx) -> None:
    await ctx.answer(query, ctx.t("common.stale_button"))


# -- starting a proposal ----------------------------------------------------------------------
async def meeting_command(message: Message, ctx: Ctx) -> None:
    if ctx.participant is None:
        await ctx.send(ctx.t("meetings.no_pairs"))
        return
    me = ctx.participant.id
    options = await svc.choices(ctx.session, me)
    if not options:
        await ctx.send(ctx.t("meetings.no_pairs"))
        return
    if len(options) == 1:
        begun = await svc.start(ctx.session, options[0][0].id, me)
        await _begin(ctx, begun, None)
        return
    named = []
    for pair, group in options:
        party = await svc.pair_members(ctx.session, pair.id)
        other = party.others(me)[0].name if party and party.others(me) else "—"
        named.append((pair, group, other))
    await ctx.send(ctx.t("meetings.choose_pair"),
                   reply_markup=views.choices_keyboard(ctx.t, named))


async def new_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    """"Propose a meeting" (the introduction's button, or a pick from /meeting)."""
    if not 0 < callback_data.id <= MAX_ID:
        await _stale(query, ctx)
        return
    begun = await svc.start(ctx.session, callback_data.id, _me(ctx))
    await ctx.answer(query)
    if begun.group_possible and callback_data.v != "1":
        mentee = begun.party.mentees[0].name
        await ctx.send(ctx.t("meetings.group_or_one"),
                       reply_markup=views.group_choice_keyboard(ctx.t, callback_data.id, mentee))
        return
    # v="1": picked from a choice message (which the picker replaces); else a fresh start
    await _begin(ctx, begun, _message_id(query) if callback_data.v == "1" else None)


async def group_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    if not 0 < callback_data.id <= MAX_ID:
        await _stale(query, ctx)
        return
    begun = await svc.start(ctx.session, callback_data.id, _me(ctx), group=True)
    await ctx.answer(query)
    await _begin(ctx, begun, _message_id(query))


async def _begin(ctx: Ctx, begun: svc.Start, edit: int | None) -> None:
    """The day picker; `edit`: the choice message it replaces."""
    kind = begun.kinds[0].value
    await ctx.state.set_state(MeetingDialog.pick)
    await ctx.state.set_data({
        "mode": NEW, "target": begun.party.pair.id, "group": bool(begun.party.group_key),
        "kind": kind, "kinds": [k.value for k in begun.kinds], "day": "",
    })
    head = views.proposal_head(ctx.t, begun.party, begun.actor.participant_id, kind)
    markup = views.days_keyboard(ctx.t, begun.party.pair.id, svc.picker_days(
        ctx.now, begun.party.timezone), [k.value for k in begun.kinds], kind)
    text = views.days_text(ctx.t, head)
    if edit is not None:
        await ctx.edit(edit, text, markup)
    else:
        await ctx.send(text, reply_markup=markup)


async def reschedule_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    """"Another time" under a proposal, "reschedule" under a confirmed meeting, or under
    one the journal marked not held (then a new proposal for the pair)."""
    if not 0 < callback_data.id <= MAX_ID:
        await _stale(query, ctx)
        return
    shown = await svc.view(ctx.session, callback_data.id, _me(ctx))
    if shown.meeting.status == MeetingStatus.NOT_HELD:  # from the journal: a new proposal
        begun = await svc.start_again(ctx.session, callback_data.id, _me(ctx))
        await ctx.answer(query)
        await _begin(ctx, begun, None)
        return
    seen = await svc.check_retime(ctx.session, callback_data.id, _me(ctx))
    await ctx.state.set_state(MeetingDialog.pick)
    await ctx.state.set_data({"mode": RETIME, "target": seen.meeting.id, "day": ""})
    await ctx.answer(query)
    head = views.proposal_head(ctx.t, seen.party, seen.actor.participant_id, None)
    await ctx.send(views.days_text(ctx.t, head), reply_markup=views.days_keyboard(
        ctx.t, -seen.meeting.id, svc.picker_days(ctx.now, seen.party.timezone)))


# -- the dialog -------------------------------------------------------------------------------
async def _dialog(
    query: CallbackQuery | None, ctx: Ctx, target: int | None, state: State
) -> dict[str, Any] | None:
    """The dialog's data if this press (or text) belongs to the dialog on screen."""
    data = await ctx.state.get_data()
    if await ctx.state.get_state() != state.state or (
        target is not None and _signed(data) != target
    ):
        if query is not None:
            await _stale(query, ctx)
        return None
    return data


def _signed(data: dict[str, Any]) -> int | None:
    """The dialog's id in its buttons: a pair id, or minus a meeting id for "another time"
    (so a leftover picker of one kind never drives a dialog of the other)."""
    target = data.get("target")
    if not isinstance(target, int):
        return None
    return target if data.get("mode") == NEW else -target


async def _party(ctx: Ctx, data: dict[str, Any]) -> tuple[Party, int]:
    """Who the dialog's meeting is for, re-checked (the pair may have ended meanwhile)."""
    me = _me(ctx)
    if data["mode"] == NEW:
        begun = await svc.start(ctx.session, data["target"], me, group=data.get("group", False))
        return begun.party, me
    seen = await svc.check_retime(ctx.session, data["target"], me)
    return seen.party, me


def _head(ctx: Ctx, party: Party, me: int, data: dict[str, Any]) -> str:
    return views.proposal_head(ctx.t, party, me, data.get("kind") if data["mode"] == NEW else None)


async def _show_days(query: CallbackQuery, ctx: Ctx, data: dict[str, Any]) -> None:
    party, me = await _party(ctx, data)
    await ctx.state.update_data(day="")
    markup = views.days_keyboard(ctx.t, _signed(data) or 0,
                                 svc.picker_days(ctx.now, party.timezone),
                                 data.get("kinds", []), data.get("kind"))
    await ctx.answer(query)
    await ctx.edit(_message_id(query), views.days_text(ctx.t, _head(ctx, party, me, data)), markup)


async def kind_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    data = await _dialog(query, ctx, callback_data.id, MeetingDialog.pick)
    if data is None:
        return
    if data["mode"] != NEW or callback_data.v not in data.get("kinds", []):
        await _stale(query, ctx)
        return
    await ctx.state.update_data(kind=callback_data.v)
    data["kind"] = callback_data.v
    await _show_days(query, ctx, data)


async def days_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    data = await _dialog(query, ctx, callback_data.id, MeetingDialog.pick)
    if data is not None:
        await _show_days(query, ctx, data)


async def day_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    data = await _dialog(query, ctx, callback_data.id, MeetingDialog.pick)
    if data is None:
        return
    party, me = await _party(ctx, data)
    day = svc.parse_day(callback_data.v, ctx.now, party.timezone)
    if day is None:
        await _stale(query, ctx)
        return
    await ctx.state.update_data(day=callback_data.v)
    times = svc.slots(day, ctx.now, party.timezone)
    await ctx.answer(query)
    await ctx.edit(_message_id(query),
                   views.slots_text(ctx.t, _head(ctx, party, me, data), day, bool(times)),
                   views.slots_keyboard(ctx.t, _signed(data) or 0, day, times))


async def slot_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    data = await _dialog(query, ctx, callback_data.id, MeetingDialog.pick)
    if data is None:
        return
    party, _ = await _party(ctx, data)
    value = callback_data.v
    day = svc.parse_day(value[:8], ctx.now, party.timezone)
    slot = svc.parse_slot(value[8:])
    if day is None or slot is None:
        await _stale(query, ctx)
        return
    starts = svc.check_when(at_local(day, *slot, party.timezone), ctx.now)
    await ctx.answer(query)
    await _chosen(ctx, data, starts, _message_id(query))


async def typed_time(message: Message, ctx: Ctx) -> None:
    """A date and time typed instead of picked ("25.11 15:30", "завтра 15:30"), or a bare
    time once the day is picked."""
    data = await _dialog(None, ctx, None, MeetingDialog.pick)
    if data is None:
        return
    party, _ = await _party(ctx, data)
    text = message.text or ""
    starts = None
    if data.get("day"):
        day = svc.parse_day(data["day"], ctx.now, party.timezone) or local_today(
            ctx.now, party.timezone)
        starts = svc.parse_time_on(text, day, party.timezone, ctx.now)
    if starts is None:
        starts = svc.parse_when(text, party.timezone, ctx.now)
    await _chosen(ctx, data, starts, None)


async def _chosen(ctx: Ctx, data: dict[str, Any], starts: dt.datetime, edit: int | None) -> None:
    if data["mode"] == NEW:
        await ctx.state.update_data(starts=starts.isoformat())
        await ctx.state.set_state(MeetingDialog.place)
        party, _ = await _party(ctx, data)
        text = ctx.t("meetings.ask_place", when=views.when_text(ctx.t, starts, party.timezone))
        markup = views.place_keyboard(ctx.t, data["target"])
        if edit is not None:
            await ctx.edit(edit, text, markup)
        else:
            await ctx.send(text, reply_markup=markup)
        return
    outcome = await svc.retime(ctx.session, data["target"], _me(ctx), starts, now=ctx.now)
    await views.tell(ctx.session, outcome, ctx.now)
    await ctx.state.clear()
    await _report(ctx, outcome, "meetings.retimed_sent", edit)


async def typed_place(message: Message, ctx: Ctx) -> None:
    data = await _dialog(None, ctx, None, MeetingDialog.place)
    if data is not None:
        await _propose(ctx, data, message.text or "", None)


async def no_place_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    data = await _dialog(query, ctx, callback_data.id, MeetingDialog.place)
    if data is None:
        return
    await ctx.answer(query)
    await _propose(ctx, data, "", _message_id(query))


async def _propose(ctx: Ctx, data: dict[str, Any], place: str, edit: int | None) -> None:
    if len(place.strip()) > PLACE_LIMIT:
        raise ServiceError("meeting_place_long", limit=PLACE_LIMIT)
    outcome = await svc.propose(
        ctx.session, pair_id=data["target"], actor_id=_me(ctx), kind=data["kind"],
        starts_at=dt.datetime.fromisoformat(data["starts"]), place=place, now=ctx.now,
        group=data.get("group", False),
    )
    await views.tell(ctx.session, outcome, ctx.now)
    await ctx.state.clear()
    await _report(ctx, outcome, "meetings.proposal_sent", edit)


async def _report(ctx: Ctx, outcome: Outcome, key: str, edit: int | None) -> None:
    me = outcome.actor
    shown = views.card(ctx.t, outcome.meeting, outcome.party, me.participant_id)
    text = f"{ctx.t(key)}\n\n{shown}"
    markup = views.buttons_for(ctx.t, outcome.meeting, outcome.party, me, outcome.version)
    if edit is not None:
        await ctx.edit(edit, text, markup)
    else:
        await ctx.send(text, reply_markup=markup)


async def quit_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    if await ctx.state.get_state() in (MeetingDialog.pick.state, MeetingDialog.place.state):
        await ctx.state.clear()
    await ctx.answer(query)
    await ctx.edit(_message_id(query), ctx.t("meetings.quit_done"))


async def pick_other(message: Message, ctx: Ctx) -> None:
    data = await ctx.state.get_data()
    key = "meetings.expect_time" if data.get("day") else "meetings.expect_day"
    await ctx.send(ctx.t(key))


async def place_other(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("meetings.expect_place"))


# -- answering and managing a meeting ---------------------------------------------------------
def _forged(data: MeetingCb) -> bool:
    return not 0 < data.id <= MAX_ID


async def confirm_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    if _forged(callback_data):
        await _stale(query, ctx)
        return
    outcome = await svc.confirm(ctx.session, callback_data.id, _me(ctx), now=ctx.now,
                                seen_version=_version(callback_data.v))
    if not outcome.changed:
        await ctx.answer(query, ctx.t("meetings.already_confirmed"))
        return
    await views.tell(ctx.session, outcome, ctx.now)
    ics = views.ics_for(ctx.t, outcome, outcome.actor.participant_id, ctx.now)
    await ctx.answer(query)
    await _report(ctx, outcome, "meetings.confirmed_you", _message_id(query))
    await ctx.send_document(ics.data, ics.filename, ctx.t("meetings.ics_caption"))


async def decline_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    if _forged(callback_data):
        await _stale(query, ctx)
        return
    outcome = await svc.decline(ctx.session, callback_data.id, _me(ctx), now=ctx.now,
                                seen_version=_version(callback_data.v))
    await views.tell(ctx.session, outcome, ctx.now)
    await ctx.answer(query)
    if outcome.changed:
        await _report(ctx, outcome, f"meetings.{outcome.event}_you", _message_id(query))


async def cancel_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    """"Cancel" asks once more: "Yes, cancel" / "No"."""
    if _forged(callback_data):
        await _stale(query, ctx)
        return
    seen = await svc.check_retime(ctx.session, callback_data.id, _me(ctx))
    if str(seen.version) != callback_data.v:
        raise StaleError("meeting_moved")
    await ctx.answer(query)
    await ctx.edit_buttons(query.message,
                           views.cancel_sure_keyboard(ctx.t, seen.meeting.id, seen.version))


async def cancel_confirmed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    if _forged(callback_data):
        await _stale(query, ctx)
        return
    outcome = await svc.cancel(ctx.session, callback_data.id, _me(ctx), now=ctx.now,
                               seen_version=_version(callback_data.v))
    if not outcome.changed:
        await ctx.answer(query, ctx.t("meetings.already_cancelled"))
        await ctx.drop_buttons(query.message)
        return
    await views.tell(ctx.session, outcome, ctx.now)
    await ctx.answer(query)
    await _report(ctx, outcome, "meetings.cancelled_you", _message_id(query))


async def show_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    """A meeting's card with what the presser can do (from /meetings, or "No" under
    "cancel?", which puts the buttons back)."""
    if _forged(callback_data):
        await _stale(query, ctx)
        return
    seen = await svc.view(ctx.session, callback_data.id, _me(ctx))
    text = views.card(ctx.t, seen.meeting, seen.party, seen.actor.participant_id)
    markup = views.buttons_for(ctx.t, seen.meeting, seen.party, seen.actor, seen.version)
    await ctx.answer(query)
    if callback_data.v == "e":  # "No" under "cancel?": the buttons come back
        if markup is not None:
            await ctx.edit_buttons(query.message, markup)
        else:
            await ctx.drop_buttons(query.message)
        return
    await ctx.send(text, reply_markup=markup)


# -- /meetings --------------------------------------------------------------------------------
async def meetings_command(message: Message, ctx: Ctx) -> None:
    text, markup = await _listing(ctx, 0)
    await ctx.send(text, reply_markup=markup)


async def page_pressed(query: CallbackQuery, callback_data: MeetingCb, ctx: Ctx) -> None:
    if not 0 <= callback_data.id < 1000:
        await _stale(query, ctx)
        return
    text, markup = await _listing(ctx, callback_data.id)
    await ctx.answer(query)
    await ctx.edit(_message_id(query), text, markup)


async def _listing(ctx: Ctx, page: int) -> tuple[str, Any]:
    if ctx.participant is None:
        return ctx.t("meetings.list_empty"), None
    me = ctx.participant.id
    listing = await svc.list_for(ctx.session, me, ctx.now)
    everything = [*listing.coming, *listing.past]
    if not everything:
        return ctx.t("meetings.list_empty"), None
    pages = (len(everything) + views.PAGE_SIZE - 1) // views.PAGE_SIZE
    page = min(page, pages - 1)
    shown = everything[page * views.PAGE_SIZE:(page + 1) * views.PAGE_SIZE]
    parties = [(m, await svc.meeting_party(ctx.session, m)) for m in shown]
    coming_ids = {m.id for m in listing.coming}
    coming = [views.list_line(ctx.t, m, p, me) for m, p in parties if m.id in coming_ids]
    past = [views.list_line(ctx.t, m, p, me) for m, p in parties if m.id not in coming_ids]
    return (views.list_text(ctx.t, coming, past, page, pages),
            views.list_keyboard(ctx.t, parties, page, pages))


def create_router() -> Router:
    router = Router(name=__name__)
    message, callback = router.message.register, router.callback_query.register
    message(meeting_command, Command("meeting"))
    message(meetings_command, Command("meetings"))
    for action, handler in (
        (A.NEW, new_pressed), (A.GROUP, group_pressed), (A.RESCHEDULE, reschedule_pressed),
        (A.KIND, kind_pressed), (A.DAY, day_pressed), (A.DAYS, days_pressed),
        (A.SLOT, slot_pressed), (A.NO_PLACE, no_place_pressed), (A.QUIT, quit_pressed),
        (A.CONFIRM, confirm_pressed), (A.DECLINE, decline_pressed),
        (A.CANCEL, cancel_pressed), (A.CANCEL_OK, cancel_confirmed), (A.SHOW, show_pressed),
        (A.PAGE, page_pressed),
    ):
        callback(handler, MeetingCb.filter(F.a == action))
    message(typed_time, MeetingDialog.pick, F.text, NOT_A_COMMAND)
    message(pick_other, MeetingDialog.pick, NOT_A_COMMAND)
    message(typed_place, MeetingDialog.place, F.text, NOT_A_COMMAND)
    message(place_other, MeetingDialog.place, NOT_A_COMMAND)
    return router

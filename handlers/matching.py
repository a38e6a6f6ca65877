"""Forming pairs in chat: /match, /pairs, /pair, /unpair, /preferences for curators;
preference picks and "share my contact" for mentees and mentors.

The rules live in bot/services/pairing/; here inputs are parsed, and the views
(bot/views/matching.py) turn results into words and put messages to other people in the
outbox (same transaction as the change). Refusals are raised and answered by the error
router (handlers/errors.py).
"""

from __future__ import annotations

import logging
from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.context import Ctx
from bot.ids import parse_ids
from bot.messaging import NOT_MODIFIED
from bot.roles import HasRole
from bot.services import pairing, people
from bot.services.people import Access
from bot.views.matching import (
    card_text,
    decided_text,
    deliver,
    intro_report,
    manual_done,
    manual_warning,
    match_summary,
    picks_keyboard,
    picks_saved,
    proposal_keyboard,
    summary_keyboard,
    unpair_question,
    usage,
)
from db.models import Programme, Role
from db.queries import organisations as q_orgs
from keyboards import matching as kb
from keyboards.matching import ProposalAction

log = logging.getLogger(__name__)


# -- shared helpers ---------------------------------------------------------------------------
def _actor(ctx: Ctx) -> int | None:
    return ctx.participant.id if ctx.participant else None


async def _scope(ctx: Ctx) -> list[int]:
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _programme(ctx: Ctx, org_ids: list[int] | None = None) -> Programme:
    if org_ids is None:
        org_ids = await _scope(ctx)
    return await people.current_programme(ctx.session, ctx.participant, org_ids)


async def _stale(query: CallbackQuery, ctx: Ctx) -> None:
    await ctx.answer(query, ctx.t("curator.button_stale"))


async def _refused(query: CallbackQuery, ctx: Ctx, access: Access) -> bool:
    """Answer a button naming something the presser may not touch; True if refused."""
    if access == Access.OK:
        return False
    key = "curator.button_not_yours" if access == Access.NOT_YOURS else "curator.button_stale"
    await ctx.answer(query, ctx.t(key))
    return True


async def _edit(
    query: CallbackQuery, ctx: Ctx, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Rewrite the pressed button's message (its buttons go unless `markup` is given)."""
    if isinstance(query.message, Message):
        await ctx.edit(query.message.message_id, text, markup)


# -- /match -----------------------------------------------------------------------------------
async def match(message: Message, ctx: Ctx) -> None:
    programme = await _programme(ctx)
    run = await pairing.run_match(
        ctx.session, ctx.catalog, programme, actor_id=_actor(ctx), now=ctx.now
    )
    await ctx.send(
        match_summary(ctx.t, programme.name, run),
        reply_markup=summary_keyboard(ctx.t, programme.id, run),
    )


async def tell_unmatched(query: CallbackQuery, callback_data: kb.SearchOnCb, ctx: Ctx) -> None:
    if not kb.sane(callback_data) or not pairing.RUN_ID.fullmatch(callback_data.r):
        await _stale(query, ctx)
        return
    org_ids = await _scope(ctx)
    programme = await q_orgs.get_programme(ctx.session, callback_data.p)
    if programme is None:
        await _stale(query, ctx)
        return
    if programme.organisation_id not in org_ids:
        await ctx.answer(query, ctx.t("curator.button_not_yours"))
        return
    notices = await pairing.tell_unmatched(
        ctx.session, programme, callback_data.r, actor_id=_actor(ctx), now=ctx.now
    )
    sent = (await deliver(ctx.session, ctx.catalog, notices, ctx.clock)).count
    await ctx.answer(query)
    await ctx.send(
        ctx.t("matching.told", n=sent) if sent or not notices else ctx.t("matching.told_already")
    )


# -- /pairs: proposals one by one -------------------------------------------------------------
async def proposals(message: Message, ctx: Ctx) -> None:
    programme = await _programme(ctx)
    card = await pairing.proposal_card(ctx.session, programme.id)
    if card is None:
        await ctx.send(ctx.t("matching.no_proposals", name=escape(programme.name)))
        return
    await ctx.send(
        card_text(ctx.t, ctx.catalog, card), reply_markup=proposal_keyboard(ctx.t, card)
    )


def _forged(data: kb.ProposalCb) -> bool:
    return not kb.sane(data) or bool(data.r and not pairing.RUN_ID.fullmatch(data.r))


async def show_proposals(query: CallbackQuery, callback_data: kb.ProposalCb, ctx: Ctx) -> None:
    """The first undecided proposal, as a new card."""
    await _browse(query, callback_data, ctx)


async def next_proposal(query: CallbackQuery, callback_data: kb.ProposalCb, ctx: Ctx) -> None:
    """The card turns to the proposal after this one."""
    await _browse(query, callback_data, ctx)


async def _browse(query: CallbackQuery, data: kb.ProposalCb, ctx: Ctx) -> None:
    if _forged(data):
        await _stale(query, ctx)
        return
    programme = await _programme(ctx)
    turn = data.a == ProposalAction.NEXT
    card = await pairing.proposal_card(
        ctx.session, programme.id, after_id=data.p if turn else None
    )
    if card is None:
        await ctx.answer(query, ctx.t("matching.no_proposals_short"))
        return
    if turn and card.pair.id == data.p:
        await ctx.answer(query, ctx.t("matching.only_one"))
        return
    await ctx.answer(query)
    text, markup = card_text(ctx.t, ctx.catalog, card), proposal_keyboard(ctx.t, card)
    if turn:
        await _edit(query, ctx, text, markup)
    else:
        await ctx.send(text, reply_markup=markup)


async def approve(query: CallbackQuery, callback_data: kb.ProposalCb, ctx: Ctx) -> None:
    await _decide(query, callback_data, ctx)


async def reject(query: CallbackQuery, callback_data: kb.ProposalCb, ctx: Ctx) -> None:
    await _decide(query, callback_data, ctx)


async def _decide(query: CallbackQuery, data: kb.ProposalCb, ctx: Ctx) -> None:
    """Approve or reject; the card keeps its numbering and says what became of it."""
    if _forged(data):
        await _stale(query, ctx)
        return
    t, session = ctx.t, ctx.session
    org_ids = await _scope(ctx)
    programme = await _programme(ctx, org_ids)
    if await _refused(query, ctx, await people.pair_access(session, data.p, org_ids)):
        return
    position = await pairing.proposal_position(session, programme.id, data.p)
    actor_id, run_id = _actor(ctx), data.r or None
    if data.a == ProposalAction.APPROVE:
        result = await pairing.approve(
            session, data.p, org_ids=org_ids, actor_id=actor_id, now=ctx.now, run_id=run_id
        )
        delivered = await deliver(session, ctx.catalog, result.notices, ctx.clock)
        report = intro_report(t, result.notices, delivered)
        verdict = t("matching.approved_only") + "\n" + report if report else t("matching.approved")
        pair = result.pair
    else:
        pair = await pairing.reject(
            session, data.p, org_ids=org_ids, actor_id=actor_id, now=ctx.now, run_id=run_id
        )
        verdict = t("matching.rejected")
    card = await pairing.pair_card(session, pair.id, org_ids=org_ids)
    following = await pairing.proposal_card(session, programme.id, after_id=pair.id)
    await ctx.answer(query)
    await _edit(query, ctx, decided_text(t, ctx.catalog, card, position, verdict))
    if following is None:
        await ctx.send(t("matching.all_reviewed"))
    else:
        await ctx.send(card_text(t, ctx.catalog, following),
                       reply_markup=proposal_keyboard(t, following))


async def forged_proposal(query: CallbackQuery, ctx: Ctx) -> None:
    """A proposal button whose data does not unpack (an unknown action)."""
    await _stale(query, ctx)


# -- /pair: a manual pair ---------------------------------------------------------------------
async def manual(message: Message, command: CommandObject, ctx: Ctx) -> None:
    ids = parse_ids(command.args, 2)
    if ids is None:
        await ctx.send(usage(ctx.t, command.args, "matching.pair_usage"))
        return
    mentee_id, mentor_id = ids
    result = await pairing.manual_pair(
        ctx.session, ctx.catalog, mentee_id, mentor_id,
        org_ids=await _scope(ctx), actor_id=_actor(ctx), now=ctx.now,
    )
    if result.pair is None:
        await ctx.send(
            manual_warning(ctx.t, ctx.catalog, result),
            reply_markup=kb.manual_confirm(ctx.t, mentee_id, mentor_id),
        )
        return
    delivered = await deliver(ctx.session, ctx.catalog, result.notices, ctx.clock)
    await ctx.send(manual_done(ctx.t, result, delivered))


async def _members_refused(query: CallbackQuery, data: kb.ManualCb, ctx: Ctx) -> list[int] | None:
    """The curator's organisations, or None when the two people are not theirs to pair."""
    org_ids = await _scope(ctx)
    access = await people.members_access(ctx.session, [data.e, data.r], org_ids)
    return None if await _refused(query, ctx, access) else org_ids


async def manual_confirm(query: CallbackQuery, callback_data: kb.ManualCb, ctx: Ctx) -> None:
    """Pair them despite the warnings (a refusal now spends the buttons)."""
    org_ids = await _members_refused(query, callback_data, ctx)
    if org_ids is None:
        return
    result = await pairing.manual_pair(
        ctx.session, ctx.catalog, callback_data.e, callback_data.r,
        org_ids=org_ids, actor_id=_actor(ctx), now=ctx.now, confirmed=True,
    )
    delivered = await deliver(ctx.session, ctx.catalog, result.notices, ctx.clock)
    await ctx.answer(query)
    await _edit(query, ctx, manual_done(ctx.t, result, delivered))


async def manual_cancel(query: CallbackQuery, callback_data: kb.ManualCb, ctx: Ctx) -> None:
    if await _members_refused(query, callback_data, ctx) is None:
        return
    await ctx.answer(query)
    await _edit(query, ctx, ctx.t("matching.manual_cancelled"))


# -- /unpair ----------------------------------------------------------------------------------
async def unpair_ask(message: Message, command: CommandObject, ctx: Ctx) -> None:
    ids = parse_ids(command.args, 1)
    if ids is None:
        await ctx.send(usage(ctx.t, command.args, "matching.unpair_usage"))
        return
    card = await pairing.active_card(ctx.session, ids[0], org_ids=await _scope(ctx))
    await ctx.send(
        unpair_question(ctx.t, card), reply_markup=kb.unpair_confirm(ctx.t, card.pair.id)
    )


async def _pair_refused(query: CallbackQuery, pair_id: int, ctx: Ctx) -> list[int] | None:
    """The curator's organisations, or None when the pair is not theirs to touch."""
    org_ids = await _scope(ctx)
    access = await people.pair_access(ctx.session, pair_id, org_ids)
    return None if await _refused(query, ctx, access) else org_ids


async def unpair_do(query: CallbackQuery, callback_data: kb.UnpairCb, ctx: Ctx) -> None:
    org_ids = await _pair_refused(query, callback_data.p, ctx)
    if org_ids is None:
        return
    result = await pairing.unpair(
        ctx.session, callback_data.p, org_ids=org_ids, actor_id=_actor(ctx), now=ctx.now
    )
    await deliver(ctx.session, ctx.catalog, result.notices, ctx.clock)
    await ctx.answer(query)
    await _edit(query, ctx, ctx.t("matching.unpaired", id=result.pair.id))


async def unpair_keep(query: CallbackQuery, callback_data: kb.UnpairCb, ctx: Ctx) -> None:
    if await _pair_refused(query, callback_data.p, ctx) is None:
        return
    await ctx.answer(query)
    await _edit(query, ctx, ctx.t("matching.unpair_kept", id=callback_data.p))


# -- /preferences -----------------------------------------------------------------------------
async def preferences(message: Message, command: CommandObject, ctx: Ctx) -> None:
    t = ctx.t
    arg = (command.args or "").strip().lower()
    if arg not in ("", "close"):
        await ctx.send(t("matching.prefs_usage"))
        return
    programme = await _programme(ctx)
    if arg == "close":
        closed = await pairing.close_round(
            ctx.session, programme, actor_id=_actor(ctx), now=ctx.now
        )
        text = t("matching.prefs_closed", id=closed.round.id, choosers=closed.choosers,
                 mutual=closed.mutual)
    else:
        started = await pairing.start_round(
            ctx.session, ctx.catalog, programme, actor_id=_actor(ctx), now=ctx.now
        )
        sent = (await deliver(ctx.session, ctx.catalog, started.notices, ctx.clock)).count
        text = t("matching.prefs_started", id=started.round.id, sent=sent,
                 name=escape(programme.name))
    await ctx.send(text)


async def pick_toggle(query: CallbackQuery, callback_data: kb.PickCb, ctx: Ctx) -> None:
    """Pick or unpick a candidate; the marks move on the same keyboard."""
    data = callback_data
    if not kb.sane(data):
        await _stale(query, ctx)
        return
    picked = await pairing.toggle_pick(
        ctx.session, data.r, data.m, data.c, telegram_id=query.from_user.id
    )
    message = query.message
    markup = None
    if isinstance(message, Message):
        offered = kb.candidates_of(message.reply_markup)
        found = await pairing.people_by_id(ctx.session, offered)
        candidates = [found[i] for i in offered if i in found]
        markup = picks_keyboard(ctx.t, data.r, data.m, candidates, picked)
    await ctx.answer(query)
    if isinstance(message, Message):
        try:
            await ctx.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
            )
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in exc.message:
                log.info("could not update picks: %s", exc.message)


async def pick_done(query: CallbackQuery, callback_data: kb.PickCb, ctx: Ctx) -> None:
    data = callback_data
    if not kb.sane(data):
        await _stale(query, ctx)
        return
    chosen = await pairing.picks(ctx.session, data.r, data.m, telegram_id=query.from_user.id)
    await ctx.answer(query)
    if query.message is None:
        return
    await ctx.send(picks_saved(ctx.t, chosen))
    await ctx.drop_buttons(query.message)


# -- contacts ---------------------------------------------------------------------------------
async def on_share(query: CallbackQuery, callback_data: kb.ShareCb, ctx: Ctx) -> None:
    if not kb.sane(callback_data):
        await _stale(query, ctx)
        return
    shared = await pairing.share_contact(
        ctx.session, callback_data.p, telegram_id=query.from_user.id, now=ctx.now
    )
    await deliver(ctx.session, ctx.catalog, shared.notices, ctx.clock)
    await ctx.answer(query)
    await ctx.edit_buttons(query.message, kb.propose_meeting(ctx.t, callback_data.p))
    await ctx.send(ctx.t("matching.shared_both" if shared.both else "matching.shared_wait"))


# -- routers ----------------------------------------------------------------------------------
def create_router() -> Router:
    """Curators' and coordinators' commands and buttons."""
    router = Router(name=__name__)
    router.message.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
    router.callback_query.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
    router.message.register(match, Command("match"))
    router.message.register(proposals, Command("pairs"))
    router.message.register(manual, Command("pair"))
    router.message.register(unpair_ask, Command("unpair"))
    router.message.register(preferences, Command("preferences"))
    cb = router.callback_query
    cb.register(tell_unmatched, kb.SearchOnCb.filter())
    cb.register(show_proposals, kb.ProposalCb.filter(F.a == ProposalAction.SHOW))
    cb.register(next_proposal, kb.ProposalCb.filter(F.a == ProposalAction.NEXT))
    cb.register(approve, kb.ProposalCb.filter(F.a == ProposalAction.APPROVE))
    cb.register(reject, kb.ProposalCb.filter(F.a == ProposalAction.REJECT))
    cb.register(forged_proposal, F.data.startswith(kb.ProposalCb.__prefix__ + ":"))
    cb.register(manual_confirm, kb.ManualCb.filter(F.ok))
    cb.register(manual_cancel, kb.ManualCb.filter(~F.ok))
    cb.register(unpair_do, kb.UnpairCb.filter(F.ok))
    cb.register(unpair_keep, kb.UnpairCb.filter(~F.ok))
    return router


def create_participant_router() -> Router:
    """Mentees and mentors press these buttons: no curator filter; the service checks
    that the button is the presser's."""
    router = Router(name=f"{__name__}.participants")
    router.callback_query.register(pick_done, kb.PickCb.filter(F.c == 0))
    router.callback_query.register(pick_toggle, kb.PickCb.filter(F.c != 0))
    router.callback_query.register(on_share, kb.ShareCb.filter())
    return router

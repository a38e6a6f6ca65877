"""Forming pairs in chat: /match, /pairs, /pair, /unpair, /preferences for curators;
preference picks and "share my contact" for mentees and mentors.

The rules live in bot/services/pairing.py; here inputs are parsed, results turned into
words, and messages to other people put in the outbox (same transaction as the change).
"""

from __future__ import annotations

import logging
from html import escape
from typing import Final

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import Translator
from bot.ids import first_invalid, parse_ids
from bot.roles import HasRole
from bot.services import pairing, people
from bot.services.errors import ServiceError
from bot.services.people import Access
from bot.services.questionnaires import Catalog
from db.models import Participant, Programme, Role
from db.queries import organisations as q_orgs
from bot.views.matching import (
    card_text,
    deliver,
    intro_report,
    manual_done,
    manual_warning,
    name_of,
    proposal_keyboard,
    who,
)
from keyboards import matching as kb

log = logging.getLogger(__name__)

router: Final[Router] = Router(name=__name__)
router.message.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
router.callback_query.filter(HasRole(Role.CURATOR, Role.COORDINATOR))

# Mentees and mentors press these buttons: no curator filter; the service checks the owner.
participant_router: Final[Router] = Router(name=f"{__name__}.participants")

MAX_UNMATCHED_SHOWN = 25  # keeps the summary under Telegram's 4096 characters
FINAL_ERRORS = frozenset(
    {"pairing_not_found", "pairing_already_approved", "pairing_already_rejected",
     "pairing_already_approved_anon", "pairing_already_rejected_anon",
     "pairing_not_proposed", "pairing_not_active"}
)
PROPOSAL_ACTIONS = frozenset({"sh", "nx", "ok", "no"})


# -- shared helpers ---------------------------------------------------------------------------
def _error(t: Translator, exc: ServiceError, *, html: bool = True) -> str:
    params = {
        k: escape(v) if html and isinstance(v, str) else v for k, v in exc.params.items()
    }
    return t(exc.text_key(), **params)


def _actor(participant: Participant | None) -> int | None:
    return participant.id if participant else None


async def _scope(
    session: AsyncSession, participant: Participant | None, roles: frozenset[Role]
) -> list[int]:
    return await people.curator_scope(session, participant, Role.COORDINATOR in roles)


async def _programme(
    session: AsyncSession, participant: Participant | None, roles: frozenset[Role]
) -> Programme:
    org_ids = await _scope(session, participant, roles)
    return await people.current_programme(session, participant, org_ids)


def _usage(t: Translator, args: str | None, usage_key: str) -> str:
    bad = first_invalid(args)
    if bad is None:
        return t(usage_key)
    return t("curator.number_invalid", value=escape(bad[:30])) + "\n" + t(usage_key)


async def _refused(query: CallbackQuery, t: Translator, access: Access) -> bool:
    """Answer a button naming something the presser may not touch; True if refused."""
    if access == Access.OK:
        return False
    key = "curator.button_not_yours" if access == Access.NOT_YOURS else "curator.button_stale"
    await query.answer(t(key))
    return True


async def _edit(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    if query.message is None:
        return
    try:
        await bot.edit_message_text(
            text, chat_id=query.message.chat.id, message_id=query.message.message_id,
            reply_markup=markup,
        )
    except TelegramBadRequest as exc:
        # "message is not modified" after a double tap is harmless
        log.info("could not edit a pairing message: %s", exc.message)


async def _drop_buttons(bot: Bot, query: CallbackQuery) -> None:
    if query.message is None:
        return
    try:
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
        )
    except TelegramBadRequest as exc:
        log.info("could not drop buttons: %s", exc.message)


# -- /match -----------------------------------------------------------------------------------
@router.message(Command("match"))
async def match(
    message: Message, t: Translator, session: AsyncSession, catalog: Catalog, clock: Clock,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    try:
        programme = await _programme(session, participant, roles)
        run = await pairing.run_match(
            session, catalog, programme, actor_id=_actor(participant), now=clock.now()
        )
    except ServiceError as exc:
        await session.rollback()
        await message.answer(_error(t, exc))
        return
    await session.commit()
    lines = [
        t("matching.summary", name=escape(programme.name), mentees=run.mentees,
          mentors=run.mentors, proposed=len(run.proposals)),
    ]
    if run.replaced:
        lines.append(t("matching.summary_replaced", n=run.replaced))
    if run.unmatched:
        lines += ["", t("matching.unmatched_header", n=len(run.unmatched))]
        for item in run.unmatched[:MAX_UNMATCHED_SHOWN]:
            lines.append(t("matching.unmatched_line", who=who(t, item.person),
                           reason=t(f"matching.unmatched_{item.reason}")))
        if len(run.unmatched) > MAX_UNMATCHED_SHOWN:
            lines.append(t("matching.and_more", n=len(run.unmatched) - MAX_UNMATCHED_SHOWN))
    if run.unreachable_mentors:
        lines += ["", t("matching.unreachable_mentors", n=len(run.unreachable_mentors))]
        lines += [f"• {who(t, person)}" for person in run.unreachable_mentors[:MAX_UNMATCHED_SHOWN]]
        if len(run.unreachable_mentors) > MAX_UNMATCHED_SHOWN:
            lines.append(t("matching.and_more",
                           n=len(run.unreachable_mentors) - MAX_UNMATCHED_SHOWN))
    if run.proposals:
        lines += ["", t("matching.summary_next")]
    elif not run.mentees:
        lines += ["", t("matching.nobody_waiting")]
    await message.answer(
        "\n".join(lines),
        reply_markup=kb.summary(t, programme.id, run.run_id, proposals=bool(run.proposals),
                                unmatched=any(u.reason != "unreachable" for u in run.unmatched)),
    )


@router.callback_query(kb.SearchOnCb.filter())
async def tell_unmatched(
    query: CallbackQuery, callback_data: kb.SearchOnCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    if not kb.sane(callback_data) or not pairing.RUN_ID.fullmatch(callback_data.r):
        await query.answer(t("curator.button_stale"))
        return
    org_ids = await _scope(session, participant, roles)
    programme = await q_orgs.get_programme(session, callback_data.p)
    if programme is None:
        await query.answer(t("curator.button_stale"))
        return
    if programme.organisation_id not in org_ids:
        await query.answer(t("curator.button_not_yours"))
        return
    try:
        notices = await pairing.tell_unmatched(
            session, programme, callback_data.r, actor_id=_actor(participant), now=clock.now()
        )
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        return
    sent = (await deliver(session, catalog, notices, clock)).count
    await session.commit()
    await query.answer()
    await bot.send_message(
        query.from_user.id,
        t("matching.told", n=sent) if sent or not notices else t("matching.told_already"),
    )


# -- /pairs: proposals one by one -------------------------------------------------------------
@router.message(Command("pairs"))
async def proposals(
    message: Message, t: Translator, session: AsyncSession, catalog: Catalog,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    try:
        programme = await _programme(session, participant, roles)
    except ServiceError as exc:
        await message.answer(_error(t, exc))
        return
    card = await pairing.proposal_card(session, programme.id)
    await session.commit()
    if card is None:
        await message.answer(t("matching.no_proposals", name=escape(programme.name)))
        return
    await message.answer(card_text(t, catalog, card),
                         reply_markup=proposal_keyboard(t, card))


@router.callback_query(kb.ProposalCb.filter())
async def on_proposal(
    query: CallbackQuery, callback_data: kb.ProposalCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    action, pair_id = callback_data.a, callback_data.p
    if (
        action not in PROPOSAL_ACTIONS
        or not kb.sane(callback_data)
        or (callback_data.r and not pairing.RUN_ID.fullmatch(callback_data.r))
    ):
        await query.answer(t("curator.button_stale"))
        return
    org_ids = await _scope(session, participant, roles)
    try:
        programme = await people.current_programme(session, participant, org_ids)
    except ServiceError as exc:
        await query.answer(_error(t, exc, html=False), show_alert=True)
        return
    if action in ("sh", "nx"):
        card = await pairing.proposal_card(
            session, programme.id, after_id=pair_id if action == "nx" else None
        )
        await session.commit()
        if card is None:
            await query.answer(t("matching.no_proposals_short"))
            return
        if action == "nx" and card.pair.id == pair_id:
            await query.answer(t("matching.only_one"))
            return
        await query.answer()
        markup = proposal_keyboard(t, card)
        if action == "nx":
            await _edit(bot, query, card_text(t, catalog, card), markup)
        else:
            await bot.send_message(query.from_user.id, card_text(t, catalog, card),
                                   reply_markup=markup)
        return
    if await _refused(query, t, await people.pair_access(session, pair_id, org_ids)):
        return
    position = await pairing.proposal_position(session, programme.id, pair_id)
    report = ""
    try:
        if action == "ok":
            result = await pairing.approve(
                session, pair_id, org_ids=org_ids, actor_id=_actor(participant), now=clock.now(),
                run_id=callback_data.r or None,
            )
            delivered = await deliver(session, catalog, result.notices, clock)
            report = intro_report(t, result.notices, delivered)
            pair = result.pair
        else:
            pair = await pairing.reject(
                session, pair_id, org_ids=org_ids, actor_id=_actor(participant), now=clock.now(),
                run_id=callback_data.r or None,
            )
        card = await pairing.pair_card(session, pair.id, org_ids=org_ids)
        following = await pairing.proposal_card(session, programme.id, after_id=pair.id)
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        if exc.code in FINAL_ERRORS:
            await _drop_buttons(bot, query)
        return
    await session.commit()
    await query.answer()
    if report:
        verdict = t("matching.approved_only") + "\n" + report
    else:
        verdict = t("matching.approved" if action == "ok" else "matching.rejected")
    await _edit(bot, query, card_text(t, catalog, card, position) + "\n\n" + verdict)
    if following is None:
        await bot.send_message(query.from_user.id, t("matching.all_reviewed"))
    else:
        await bot.send_message(query.from_user.id, card_text(t, catalog, following),
                               reply_markup=proposal_keyboard(t, following))


# -- /pair: a manual pair ---------------------------------------------------------------------
@router.message(Command("pair"))
async def manual(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    catalog: Catalog, clock: Clock, participant: Participant | None, roles: frozenset[Role],
) -> None:
    ids = parse_ids(command.args, 2)
    if ids is None:
        await message.answer(_usage(t, command.args, "matching.pair_usage"))
        return
    mentee_id, mentor_id = ids
    try:
        result = await pairing.manual_pair(
            session, catalog, mentee_id, mentor_id,
            org_ids=await _scope(session, participant, roles), actor_id=_actor(participant),
            now=clock.now(),
        )
    except ServiceError as exc:
        await session.rollback()
        await message.answer(_error(t, exc))
        return
    if result.pair is None:
        await session.commit()
        await message.answer(
            manual_warning(t, catalog, result),
            reply_markup=kb.manual_confirm(t, mentee_id, mentor_id),
        )
        return
    delivered = await deliver(session, catalog, result.notices, clock)
    await session.commit()
    await message.answer(manual_done(t, result, delivered))


@router.callback_query(kb.ManualCb.filter())
async def manual_confirm(
    query: CallbackQuery, callback_data: kb.ManualCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    access = await people.members_access(session, [callback_data.e, callback_data.r], org_ids)
    if await _refused(query, t, access):
        return
    if not callback_data.ok:
        await query.answer()
        await _edit(bot, query, t("matching.manual_cancelled"))
        return
    try:
        result = await pairing.manual_pair(
            session, catalog, callback_data.e, callback_data.r,
            org_ids=org_ids, actor_id=_actor(participant), now=clock.now(), confirmed=True,
        )
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        await _drop_buttons(bot, query)
        return
    delivered = await deliver(session, catalog, result.notices, clock)
    await session.commit()
    await query.answer()
    await _edit(bot, query, manual_done(t, result, delivered))


# -- /unpair ----------------------------------------------------------------------------------
@router.message(Command("unpair"))
async def unpair_ask(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    ids = parse_ids(command.args, 1)
    if ids is None:
        await message.answer(_usage(t, command.args, "matching.unpair_usage"))
        return
    try:
        card = await pairing.active_card(
            session, ids[0], org_ids=await _scope(session, participant, roles)
        )
    except ServiceError as exc:
        await message.answer(_error(t, exc))
        return
    await session.commit()
    await message.answer(
        t("matching.unpair_confirm", id=card.pair.id, mentee=who(t, card.mentee),
          mentor=who(t, card.mentor)),
        reply_markup=kb.unpair_confirm(t, card.pair.id),
    )


@router.callback_query(kb.UnpairCb.filter())
async def unpair_do(
    query: CallbackQuery, callback_data: kb.UnpairCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    if await _refused(query, t, await people.pair_access(session, callback_data.p, org_ids)):
        return
    if not callback_data.ok:
        await query.answer()
        await _edit(bot, query, t("matching.unpair_kept", id=callback_data.p))
        return
    try:
        result = await pairing.unpair(
            session, callback_data.p, org_ids=org_ids, actor_id=_actor(participant),
            now=clock.now(),
        )
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        await _drop_buttons(bot, query)
        return
    await deliver(session, catalog, result.notices, clock)
    await session.commit()
    await query.answer()
    await _edit(bot, query, t("matching.unpaired", id=result.pair.id))


# -- /preferences -----------------------------------------------------------------------------
@router.message(Command("preferences"))
async def preferences(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    catalog: Catalog, clock: Clock, participant: Participant | None, roles: frozenset[Role],
) -> None:
    arg = (command.args or "").strip().lower()
    if arg not in ("", "close"):
        await message.answer(t("matching.prefs_usage"))
        return
    try:
        programme = await _programme(session, participant, roles)
        if arg == "close":
            closed = await pairing.close_round(
                session, programme, actor_id=_actor(participant), now=clock.now()
            )
            text = t("matching.prefs_closed", id=closed.round.id, choosers=closed.choosers,
                     mutual=closed.mutual)
        else:
            started = await pairing.start_round(
                session, catalog, programme, actor_id=_actor(participant), now=clock.now()
            )
            sent = (await deliver(session, catalog, started.notices, clock)).count
            text = t("matching.prefs_started", id=started.round.id, sent=sent,
                     name=escape(programme.name))
    except ServiceError as exc:
        await session.rollback()
        await message.answer(_error(t, exc))
        return
    await session.commit()
    await message.answer(text)


@participant_router.callback_query(kb.PickCb.filter())
async def on_pick(
    query: CallbackQuery, callback_data: kb.PickCb, bot: Bot, t: Translator,
    session: AsyncSession,
) -> None:
    data = callback_data
    if not kb.sane(data):
        await query.answer(t("curator.button_stale"))
        return
    try:
        if data.c == 0:
            chosen = await pairing.picks(session, data.r, data.m, telegram_id=query.from_user.id)
        else:
            picked = await pairing.toggle_pick(
                session, data.r, data.m, data.c, telegram_id=query.from_user.id
            )
    except ServiceError as exc:
        await session.rollback()
        if exc.code == "pairing_not_yours":  # forged or forwarded: answer, touch nothing
            await query.answer(_error(t, exc, html=False))
            return
        await query.answer(_error(t, exc, html=False), show_alert=True)
        if exc.code == "pairing_round_closed":
            await _drop_buttons(bot, query)
        return
    await session.commit()
    await query.answer()
    message = query.message
    if message is None:
        return
    if data.c == 0:
        names = ", ".join(escape(name_of(t, p)) for p in chosen)
        done = t("matching.prefs_saved", names=names) if chosen else t("matching.prefs_none")
        await bot.send_message(query.from_user.id, done)
        await _drop_buttons(bot, query)
        return
    markup = kb.repick(t, getattr(message, "reply_markup", None), picked)
    try:
        await bot.edit_message_reply_markup(
            chat_id=message.chat.id, message_id=message.message_id, reply_markup=markup
        )
    except TelegramBadRequest as exc:
        log.info("could not update picks: %s", exc.message)


# -- contacts ---------------------------------------------------------------------------------
@participant_router.callback_query(kb.ShareCb.filter())
async def on_share(
    query: CallbackQuery, callback_data: kb.ShareCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock,
) -> None:
    if not kb.sane(callback_data):
        await query.answer(t("curator.button_stale"))
        return
    try:
        shared = await pairing.share_contact(
            session, callback_data.p, telegram_id=query.from_user.id, now=clock.now()
        )
    except ServiceError as exc:
        await session.rollback()
        if exc.code == "pairing_not_yours":  # forged or forwarded: answer, touch nothing
            await query.answer(_error(t, exc, html=False))
            return
        await query.answer(_error(t, exc, html=False), show_alert=True)
        await _drop_buttons(bot, query)
        return
    await deliver(session, catalog, shared.notices, clock)
    await session.commit()
    await query.answer()
    await _drop_buttons(bot, query)
    await bot.send_message(
        query.from_user.id, t("matching.shared_both" if shared.both else "matching.shared_wait")
    )

"""Forming pairs in chat: /match, /pairs, /pair, /unpair, /preferences for curators;
preference picks and "share my contact" for mentees and mentors.

The rules live in bot/services/pairing.py; here inputs are parsed, results turned into
words, and messages to other people put in the outbox (same transaction as the change).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from html import escape
from typing import Any, Final

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import Translator, translator
from bot.render import clip
from bot.roles import HasRole
from bot.services import pairing, people
from bot.services.errors import ServiceError
from bot.services.outbox import enqueue
from bot.services.pairing import Card, Notice, NoticeKind, Person
from bot.services.questionnaires import Catalog
from db.models import Participant, Programme, Role
from db.queries import organisations as q_orgs
from keyboards import matching as kb

log = logging.getLogger(__name__)

router: Final[Router] = Router(name=__name__)
router.message.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
router.callback_query.filter(HasRole(Role.CURATOR, Role.COORDINATOR))

# Mentees and mentors press these buttons: no curator filter; the service checks the owner.
participant_router: Final[Router] = Router(name=f"{__name__}.participants")

MAX_UNMATCHED_SHOWN = 25  # keeps the summary under Telegram's 4096 characters
LINE_LIMIT = 160
FINAL_ERRORS = frozenset(
    {"pairing_not_found", "pairing_already_approved", "pairing_already_rejected",
     "pairing_not_proposed", "pairing_not_active"}
)
IDS = re.compile(r"#?(\d{1,9})")


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


def name_of(t: Translator, person: Person) -> str:
    """Plain name (not escaped)."""
    return person.name or t("matching.no_name", id=person.membership_id)


def _who(t: Translator, person: Person) -> str:
    return f"<b>{escape(clip(name_of(t, person), 60))}</b> (#{person.membership_id})"


def _ids(raw: str | None, count: int) -> list[int] | None:
    parts = (raw or "").replace(",", " ").split()
    if len(parts) != count:
        return None
    found = [IDS.fullmatch(p) for p in parts]
    return [int(m.group(1)) for m in found if m] if all(found) else None


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


# -- words ------------------------------------------------------------------------------------
def _facts(t: Translator, catalog: Catalog, person: Person) -> list[tuple[str, str]]:
    """What the other side should know: (label key, plain value)."""
    keys = (
        ("needs", "interests", "subject")
        if person.role == Role.MENTEE
        else ("competences", "interests", "subject", "experience")
    )
    out = []
    for tag in keys:
        value = pairing.answer_words(t, catalog, person, tag)
        if value:
            out.append((f"matching.fact_{tag}", value))
    return out


def _profile_line(t: Translator, catalog: Catalog, person: Person) -> str:
    """A short plain-text profile for the preference list."""
    parts = [
        pairing.answer_words(t, catalog, person, tag, limit=3)
        for tag in (("needs", "interests") if person.role == Role.MENTEE
                    else ("competences", "interests"))
    ]
    return "; ".join(p for p in parts if p)


def card_text(t: Translator, catalog: Catalog, card: Card) -> str:
    pair = card.pair
    lines = [
        t("matching.card_header", n=card.position, total=card.total, id=pair.id),
        t("matching.card_mentee", who=_who(t, card.mentee)),
        t("matching.card_mentor", who=_who(t, card.mentor),
          free=max(0, card.mentor_capacity - card.mentor_load), capacity=card.mentor_capacity),
        t("matching.card_form", form=escape(t(f"form.{pair.form}") if t.has(f"form.{pair.form}")
                                             else pair.form)),
        t("matching.card_score", score=_score(pair.score)),
    ]
    reasons = pairing.describe_reasons(
        t, catalog, pairing.reasons_of(pair), card.mentee, card.mentor
    )
    if reasons:
        lines.append(t("matching.card_reasons"))
        lines += [("⚠️ " if caveat else "• ") + escape(text) for caveat, text in reasons]
    return "\n".join(lines)


def _proposal_keyboard(t: Translator, card: Card) -> InlineKeyboardMarkup:
    return kb.proposal(t, card.pair.id, card.pair.match_run_id or "", more=card.total > 1)


def _score(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _notice(t: Translator, catalog: Catalog, notice: Notice) -> tuple[str, Any]:
    about = notice.about
    if notice.kind == NoticeKind.INTRO and about is not None and notice.pair_id is not None:
        lines = [
            t(f"matching.intro_{notice.to.role}", name=escape(name_of(t, about))),
            t("matching.intro_form", form=escape(t(f"form.{about.form}")
                                                  if about.form and t.has(f"form.{about.form}")
                                                  else "—")),
        ]
        lines += [
            t(label, value=escape(clip(value, 300))) for label, value in _facts(t, catalog, about)
        ]
        goal = pairing.free_text(catalog, about, "goal") if about.role == Role.MENTEE else None
        if goal:
            lines.append(t("matching.fact_goal", value=escape(clip(goal, 500))))
        lines += ["", t("matching.intro_next"), t("matching.intro_contacts")]
        return "\n".join(lines), kb.share(t, notice.pair_id)
    if notice.kind == NoticeKind.CONTACTS and about is not None:
        if about.username:
            contact = escape("@" + about.username)
        elif about.telegram_id:
            contact = f'<a href="tg://user?id={about.telegram_id}">{escape(name_of(t, about))}</a>'
        else:
            contact = "—"
        return t(f"matching.contacts_{about.role}", name=escape(name_of(t, about)),
                 contact=contact), None
    if notice.kind == NoticeKind.ENDED and about is not None:
        return t("matching.ended", name=escape(name_of(t, about))), None
    if notice.kind == NoticeKind.SEARCH_ON:
        return t("matching.search_on"), None
    if notice.kind == NoticeKind.PREFERENCES and notice.round_id is not None:
        lines = [t(f"matching.prefs_intro_{notice.to.role}", max=pairing.MAX_PICKS)]
        for i, person in enumerate(notice.candidates, start=1):
            profile = _profile_line(t, catalog, person)
            line = f"{name_of(t, person)} — {profile}" if profile else name_of(t, person)
            lines.append(f"{i}. {escape(clip(line, LINE_LIMIT))}")
        markup = kb.picks(
            t, notice.round_id, notice.to.membership_id,
            [(p.membership_id, name_of(t, p)) for p in notice.candidates], (),
        )
        return "\n".join(lines), markup
    raise ValueError(f"cannot render notice {notice.kind}")


async def deliver(
    session: AsyncSession, catalog: Catalog, notices: Iterable[Notice], clock: Clock
) -> int:
    """Put the notices in the outbox, each in its recipient's language."""
    count = 0
    for notice in notices:
        if notice.to.telegram_id is None:
            continue
        text, markup = _notice(translator(notice.to.language), catalog, notice)
        queued = await enqueue(
            session, chat_id=notice.to.telegram_id, text=text, key=notice.key,
            now=clock.now(), reply_markup=markup,
        )
        count += queued is not None
    return count


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
            lines.append(t("matching.unmatched_line", who=_who(t, item.person),
                           reason=t(f"matching.unmatched_{item.reason}")))
        if len(run.unmatched) > MAX_UNMATCHED_SHOWN:
            lines.append(t("matching.and_more", n=len(run.unmatched) - MAX_UNMATCHED_SHOWN))
    if run.proposals:
        lines += ["", t("matching.summary_next")]
    elif not run.mentees:
        lines += ["", t("matching.nobody_waiting")]
    await message.answer(
        "\n".join(lines),
        reply_markup=kb.summary(t, programme.id, run.run_id, proposals=bool(run.proposals),
                                unmatched=bool(run.unmatched)),
    )


@router.callback_query(kb.SearchOnCb.filter())
async def tell_unmatched(
    query: CallbackQuery, callback_data: kb.SearchOnCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    programme = await q_orgs.get_programme(session, callback_data.p)
    if programme is None or programme.organisation_id not in org_ids:
        await query.answer(t("common.stale_button"))
        return
    try:
        notices = await pairing.tell_unmatched(
            session, programme, callback_data.r, actor_id=_actor(participant), now=clock.now()
        )
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        return
    sent = await deliver(session, catalog, notices, clock)
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
                         reply_markup=_proposal_keyboard(t, card))


@router.callback_query(kb.ProposalCb.filter())
async def on_proposal(
    query: CallbackQuery, callback_data: kb.ProposalCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    action, pair_id = callback_data.a, callback_data.p
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
        markup = _proposal_keyboard(t, card)
        if action == "nx":
            await _edit(bot, query, card_text(t, catalog, card), markup)
        else:
            await bot.send_message(query.from_user.id, card_text(t, catalog, card),
                                   reply_markup=markup)
        return
    if action not in ("ok", "no"):
        await query.answer(t("common.stale_button"))
        return
    try:
        if action == "ok":
            result = await pairing.approve(
                session, pair_id, org_ids=org_ids, actor_id=_actor(participant), now=clock.now(),
                run_id=callback_data.r or None,
            )
            await deliver(session, catalog, result.notices, clock)
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
    verdict = t("matching.approved" if action == "ok" else "matching.rejected")
    await _edit(bot, query, card_text(t, catalog, card) + "\n\n" + verdict)
    if following is None:
        await bot.send_message(query.from_user.id, t("matching.all_reviewed"))
    else:
        await bot.send_message(query.from_user.id, card_text(t, catalog, following),
                               reply_markup=_proposal_keyboard(t, following))


# -- /pair: a manual pair ---------------------------------------------------------------------
@router.message(Command("pair"))
async def manual(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    catalog: Catalog, clock: Clock, participant: Participant | None, roles: frozenset[Role],
) -> None:
    ids = _ids(command.args, 2)
    if ids is None:
        await message.answer(t("matching.pair_usage"))
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
            _manual_warning(t, catalog, result),
            reply_markup=kb.manual_confirm(t, mentee_id, mentor_id),
        )
        return
    await deliver(session, catalog, result.notices, clock)
    await session.commit()
    await message.answer(_manual_done(t, result))


def _manual_warning(t: Translator, catalog: Catalog, result: pairing.ManualResult) -> str:
    lines = [
        t("matching.manual_check", mentee=_who(t, result.mentee), mentor=_who(t, result.mentor),
          score=_score(result.score.value)),
    ]
    lines += [t(f"matching.warning_{w.value}") for w in result.warnings]
    reasons = pairing.describe_reasons(
        t, catalog, result.score.reasons, result.mentee, result.mentor
    )
    lines += [("⚠️ " if caveat else "• ") + escape(text) for caveat, text in reasons]
    lines += ["", t("matching.manual_ask")]
    return "\n".join(lines)


def _manual_done(t: Translator, result: pairing.ManualResult) -> str:
    assert result.pair is not None
    text = t("matching.manual_done", id=result.pair.id, mentee=_who(t, result.mentee),
             mentor=_who(t, result.mentor))
    if result.capacity_raised_to is not None:
        text += "\n" + t("matching.capacity_raised", capacity=result.capacity_raised_to)
    return text


@router.callback_query(kb.ManualCb.filter())
async def manual_confirm(
    query: CallbackQuery, callback_data: kb.ManualCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    if not callback_data.ok:
        await query.answer()
        await _edit(bot, query, t("matching.manual_cancelled"))
        return
    try:
        result = await pairing.manual_pair(
            session, catalog, callback_data.e, callback_data.r,
            org_ids=await _scope(session, participant, roles), actor_id=_actor(participant),
            now=clock.now(), confirmed=True,
        )
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        await _drop_buttons(bot, query)
        return
    await deliver(session, catalog, result.notices, clock)
    await session.commit()
    await query.answer()
    await _edit(bot, query, _manual_done(t, result))


# -- /unpair ----------------------------------------------------------------------------------
@router.message(Command("unpair"))
async def unpair_ask(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    ids = _ids(command.args, 1)
    if ids is None:
        await message.answer(t("matching.unpair_usage"))
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
        t("matching.unpair_confirm", id=card.pair.id, mentee=_who(t, card.mentee),
          mentor=_who(t, card.mentor)),
        reply_markup=kb.unpair_confirm(t, card.pair.id),
    )


@router.callback_query(kb.UnpairCb.filter())
async def unpair_do(
    query: CallbackQuery, callback_data: kb.UnpairCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, clock: Clock, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    if not callback_data.ok:
        await query.answer()
        await _edit(bot, query, t("matching.unpair_kept", id=callback_data.p))
        return
    try:
        result = await pairing.unpair(
            session, callback_data.p, org_ids=await _scope(session, participant, roles),
            actor_id=_actor(participant), now=clock.now(),
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
            sent = await deliver(session, catalog, started.notices, clock)
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
    try:
        if data.c == 0:
            chosen = await pairing.picks(session, data.r, data.m, telegram_id=query.from_user.id)
        else:
            picked = await pairing.toggle_pick(
                session, data.r, data.m, data.c, telegram_id=query.from_user.id
            )
    except ServiceError as exc:
        await session.rollback()
        await query.answer(_error(t, exc, html=False), show_alert=True)
        if exc.code in ("pairing_round_closed", "pairing_not_yours"):
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
    try:
        shared = await pairing.share_contact(
            session, callback_data.p, telegram_id=query.from_user.id, now=clock.now()
        )
    except ServiceError as exc:
        await session.rollback()
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

"""Invitation links, age group, consent (own and guardian's), form choice."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Final

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.commands import set_user_commands
from bot.config import Settings
from bot.curator_terms import send_terms as send_curator_terms
from bot.i18n import Translator, translator
from bot.messaging import drop_buttons_of, enqueue
from bot.roles import CuratorAccess, curator_access, roles_of
from bot.services import onboarding
from bot.services.consent import current_document
from bot.services.errors import ServiceError
from bot.services.onboarding import Next
from bot.services.organisations import deep_link
from bot.services.questionnaires import Catalog
from db.models import (
    AgeGroup,
    Invite,
    InviteKind,
    Membership,
    MembershipStatus,
    Participant,
    Role,
)
from db.queries import organisations as q_orgs
from db.queries import participants as q_people
from handlers import questionnaire
from keyboards.callbacks import AgeCb, ConsentCb, FormCb, GuardianCb, StartQCb
from keyboards.common import column

router: Final[Router] = Router(name=__name__)

CODE_RE = re.compile(r"^g?[A-Za-z0-9_-]{16}$")


async def _send_consent(
    bot: Bot, chat_id: int, t: Translator, kind: str, org_name: str, buttons: object
) -> None:
    """The consent is its own document and its own message, never part of a questionnaire."""
    document = current_document()
    title = document.title(kind, t.language)
    text = document.text(kind, t.language, org_name)
    await bot.send_document(
        chat_id,
        BufferedInputFile(f"{title}\n\n{text}\n".encode(), filename=t("consent.filename")),
        caption=escape(title),
    )
    await bot.send_message(
        chat_id,
        f"<b>{escape(title)}</b>\n\n{escape(text)}\n\n{t('consent.version', v=document.version)}",
        reply_markup=buttons,  # type: ignore[arg-type]
    )


def _consent_buttons(t: Translator, membership_id: int) -> object:
    version = current_document().version
    return column(
        [
            (t("consent.accept"), ConsentCb(m=membership_id, ok=True, v=version)),
            (t("consent.decline"), ConsentCb(m=membership_id, ok=False, v=version)),
        ],
        width=2,
    )


async def _guardian_link_message(
    bot: Bot, chat_id: int, t: Translator, invite: Invite, bot_username: str
) -> None:
    link = deep_link(bot_username, invite.code)
    await bot.send_message(chat_id, t("consent.guardian_link", link=escape(link)))


async def continue_onboarding(
    bot: Bot,
    chat_id: int,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    participant: Participant,
    state: FSMContext,
    *,
    now: dt.datetime,
    bot_username: str,
    membership: Membership | None = None,
    announce_done: bool = False,
) -> bool:
    """Take the participant to their next step. False when nothing is left to do."""
    candidates = [membership] if membership else participant.memberships
    for item in candidates:
        if item.status in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN):
            continue
        full = await q_people.membership(session, item.id)
        assert full is not None
        onboarding.auto_form(full)
        step = await onboarding.next_step(session, full, full.participant)
        await session.commit()
        if step == Next.AGE and (await state.get_data()).get("age"):
            step = Next.CONSENT  # the age group chosen before consent lives in the dialog
        if step == Next.READY:
            if announce_done and membership is not None:
                await bot.send_message(chat_id, t("onboarding.already_done"))
            continue
        await _do_step(bot, chat_id, t, session, catalog, full, step, state, bot_username, now)
        return True
    return False


async def _do_step(
    bot: Bot,
    chat_id: int,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    membership: Membership,
    step: Next,
    state: FSMContext,
    bot_username: str,
    now: dt.datetime,
) -> None:
    org_name = membership.organisation.name
    if step == Next.AGE:
        ages = [(t(f"age.{age.value}"), AgeCb(m=membership.id, age=age.value)) for age in AgeGroup]
        await bot.send_message(
            chat_id, t("age.ask", org=escape(org_name)), reply_markup=column(ages)
        )
    elif step == Next.CONSENT and membership.role == Role.CURATOR:
        await send_curator_terms(bot, chat_id, t, org_name, membership.id)
    elif step == Next.CONSENT:
        await _send_consent(bot, chat_id, t, "self", org_name, _consent_buttons(t, membership.id))
    elif step == Next.GUARDIAN:
        invite = await q_orgs.guardian_invite(session, membership.id, now)
        if invite is None:
            invite = await onboarding.request_guardian(session, membership, now=now)
            await session.commit()
        link = escape(deep_link(bot_username, invite.code))
        await bot.send_message(
            chat_id,
            f"{t('onboarding.waiting_guardian')}\n\n{t('consent.guardian_link', link=link)}",
        )
    elif step == Next.FORM:
        programme = membership.programme
        assert programme is not None
        buttons = [
            (t(f"form.{form}"), FormCb(m=membership.id, i=i))
            for i, form in enumerate(programme.forms)
        ]
        await bot.send_message(chat_id, t("form.ask"), reply_markup=column(buttons))
    elif step == Next.QUESTIONNAIRE:
        await questionnaire.begin(bot, chat_id, t, session, catalog, membership, state)


@router.message(CommandStart(deep_link=True))
async def start_with_code(
    message: Message,
    command: CommandObject,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    state: FSMContext,
    settings: Settings,
    bot_username: str,
) -> None:
    await open_code(message, (command.args or "").strip(), bot, t, session, catalog, clock, state,
                    settings, bot_username)


@router.message(StateFilter(None), F.text.regexp(CODE_RE))
async def code_as_text(
    message: Message,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    state: FSMContext,
    settings: Settings,
    bot_username: str,
) -> None:
    await open_code(message, (message.text or "").strip(), bot, t, session, catalog, clock, state,
                    settings, bot_username)


async def open_code(
    message: Message,
    code: str,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    state: FSMContext,
    settings: Settings,
    bot_username: str,
) -> None:
    user = message.from_user
    assert user is not None
    # The code is checked before the dialog is touched: a bad or repeated link never
    # drops a questionnaire in progress.
    in_dialog = await state.get_state() is not None
    invite = await q_orgs.invite_by_code(session, code)
    if invite is not None and invite.kind == InviteKind.GUARDIAN:
        try:
            request = await onboarding.open_guardian_link(
                session, code, telegram_id=user.id, now=clock.now()
            )
        except ServiceError as exc:
            await message.answer(t(exc.text_key(), **exc.params))
            return
        buttons = column(
            [
                (t("consent.accept"), GuardianCb(c=request.invite.code, ok=True)),
                (t("consent.decline"), GuardianCb(c=request.invite.code, ok=False)),
            ],
            width=2,
        )
        await message.answer(t("consent.guardian_intro", org=escape(request.organisation_name)))
        await _send_consent(bot, message.chat.id, t, "guardian", request.organisation_name, buttons)
        return
    try:
        joined = await onboarding.join(
            session, telegram_id=user.id, language=t.language, code=code, now=clock.now()
        )
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        if in_dialog:
            await message.answer(t("onboarding.code_kept_questionnaire"))
        return
    await session.commit()
    membership = await q_people.membership(session, joined.membership.id)
    assert membership is not None
    if not joined.is_new and joined.next != Next.READY:
        # The same invitation again: take the person back to where they stopped.
        await continue_onboarding(bot, message.chat.id, t, session, catalog,
                                  membership.participant, state, membership=membership,
                                  now=clock.now(), bot_username=bot_username)
        return
    if joined.is_new:
        await state.clear()
    await message.answer(
        t(
            f"onboarding.joined_{membership.role}",
            org=escape(membership.organisation.name),
            programme=escape(membership.programme.name if membership.programme else ""),
        )
    )
    if membership.role == Role.CURATOR:
        await _curator_joined(bot, message.chat.id, t, membership)
        return
    if joined.next == Next.READY:
        participant = await q_people.by_telegram_id(session, user.id)
        await session.commit()
        if participant is not None:
            await set_user_commands(
                bot, user.id, roles_of(participant, user.id, settings.admin_ids), t.language
            )
        await message.answer(t(f"onboarding.ready_{membership.role}"))
        return
    await _do_step(bot, message.chat.id, t, session, catalog, membership, joined.next, state,
                   bot_username, clock.now())


async def _curator_joined(
    bot: Bot, chat_id: int, t: Translator, membership: Membership
) -> None:
    """Curators get their own terms and wait for the inviter's confirmation (coordinator.py)."""
    access = curator_access(membership)
    if access == CuratorAccess.TERMS:
        await send_curator_terms(bot, chat_id, t, membership.organisation.name, membership.id)
    elif access == CuratorAccess.AWAITING:
        await bot.send_message(chat_id, t("curator_access.awaiting"))
    else:
        await bot.send_message(chat_id, t("onboarding.ready_curator"))


@router.callback_query(AgeCb.filter())
async def on_age(
    query: CallbackQuery,
    callback_data: AgeCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    clock: Clock,
    state: FSMContext,
    bot_username: str,
) -> None:
    membership = await _own_membership(session, query, callback_data.m)
    if membership is None or membership.status != MembershipStatus.CONSENT_PENDING:
        await query.answer(t("common.stale_button"))
        return
    if (await state.get_data()).get("age") or membership.participant.age_group is not None:
        # The age message of a step already passed: the choice made stands.
        await query.answer(t("onboarding.age_already"))
        return
    try:
        age = AgeGroup(callback_data.age)
    except ValueError:
        await query.answer(t("common.stale_button"))
        return
    await query.answer()
    assert query.message is not None
    await drop_buttons_of(bot, query.message)
    chat_id = query.from_user.id
    if age == AgeGroup.CHILD:
        invite = await onboarding.request_guardian(session, membership, now=clock.now())
        await session.commit()
        await bot.send_message(chat_id, t("consent.child"))
        await _guardian_link_message(bot, chat_id, t, invite, bot_username)
        return
    # Kept in the dialog only: nothing about the person is stored before consent.
    await state.update_data(age=age.value)
    await _send_consent(
        bot, chat_id, t, "self", membership.organisation.name, _consent_buttons(t, membership.id)
    )


async def _own_membership(
    session: AsyncSession, query: CallbackQuery, membership_id: int
) -> Membership | None:
    membership = await q_people.membership(session, membership_id)
    if membership is None or membership.participant.telegram_id != query.from_user.id:
        return None
    return membership


@router.callback_query(ConsentCb.filter())
async def on_consent(
    query: CallbackQuery,
    callback_data: ConsentCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    state: FSMContext,
    settings: Settings,
    bot_username: str,
) -> None:
    membership = await _own_membership(session, query, callback_data.m)
    if membership is None or membership.status not in (
        MembershipStatus.CONSENT_PENDING,
        MembershipStatus.GUARDIAN_PENDING,
        MembershipStatus.QUESTIONNAIRE,
        MembershipStatus.IN_BASE,
        MembershipStatus.PAIRED,
    ):
        await query.answer(t("common.stale_button"))
        return
    assert query.message is not None
    chat_id = query.message.chat.id
    version = current_document().version
    if callback_data.v != version:
        await query.answer(t("onboarding.consent_old_version"))
        await drop_buttons_of(bot, query.message)
        return
    if await onboarding.self_consent_given(session, membership, version):
        # A repeated tap: the decision already stands; nothing is stored twice.
        await query.answer(
            t("onboarding.consent_already" if callback_data.ok
              else "onboarding.consent_withdraw_hint")
        )
        await drop_buttons_of(bot, query.message)
        return
    await query.answer()
    await drop_buttons_of(bot, query.message)
    if not callback_data.ok:
        await onboarding.decline(session, membership, version=version)
        await session.commit()
        await state.clear()
        await bot.send_message(chat_id, t("consent.declined"))
        return
    age = (await state.get_data()).get("age")
    try:
        outcome = await onboarding.accept_self(
            session, membership, membership.participant, age_group=age,
            first_name=query.from_user.first_name, username=query.from_user.username,
            version=version, now=clock.now(),
        )
    except ServiceError as exc:
        await bot.send_message(chat_id, t(exc.text_key(), **exc.params))
        return
    await session.commit()
    await state.clear()
    await bot.send_message(chat_id, t("consent.accepted"))
    participant = membership.participant
    await set_user_commands(
        bot, chat_id, roles_of(participant, chat_id, settings.admin_ids), t.language
    )
    if outcome.guardian_invite is not None:
        await bot.send_message(chat_id, t("consent.teen"))
        await _guardian_link_message(bot, chat_id, t, outcome.guardian_invite, bot_username)
        return
    if outcome.next == Next.READY:
        await bot.send_message(chat_id, t(f"onboarding.ready_{membership.role}"))
        return
    fresh = await q_people.membership(session, membership.id)
    assert fresh is not None
    await continue_onboarding(bot, chat_id, t, session, catalog, fresh.participant, state,
                              membership=fresh, bot_username=bot_username, now=clock.now())


@router.callback_query(GuardianCb.filter())
async def on_guardian(
    query: CallbackQuery,
    callback_data: GuardianCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    clock: Clock,
) -> None:
    invite = await q_orgs.invite_by_code(session, callback_data.c)
    assert query.message is not None
    chat_id = query.message.chat.id
    if invite is None or invite.kind != InviteKind.GUARDIAN:
        await query.answer(t("common.stale_button"))
        return
    if invite.opened_by != query.from_user.id:
        # Only the person who opened this guardian link may decide on it.
        await query.answer(t("guardian.not_yours"), show_alert=True)
        return
    already = await onboarding.guardian_decision_made(
        session, invite.code, telegram_id=query.from_user.id
    )
    if already is not None:
        await query.answer(t("guardian.already_accepted" if already else "guardian.already_declined"))
        await drop_buttons_of(bot, query.message)
        return
    version = current_document().version
    try:
        if callback_data.ok:
            membership = await onboarding.accept_guardian(
                session, invite.code, guardian_telegram_id=query.from_user.id,
                version=version, now=clock.now(),
            )
        else:
            membership = await onboarding.decline_guardian(
                session, invite.code, guardian_telegram_id=query.from_user.id,
                version=version, now=clock.now(),
            )
    except ServiceError as exc:
        await query.answer(t(exc.text_key(), **exc.params), show_alert=True)
        return
    minor = membership.participant
    minor_t = translator(minor.language)
    if callback_data.ok:
        button = column([(minor_t("consent.start_button"), StartQCb(m=membership.id))])
        await enqueue(
            session, chat_id=minor.telegram_id or 0, text=minor_t("consent.guardian_accepted"),
            reply_markup=button, key=f"guardian-accepted:{invite.id}", now=clock.now(),
        )
    else:
        await enqueue(
            session, chat_id=minor.telegram_id or 0, text=minor_t("consent.guardian_declined"),
            key=f"guardian-declined:{invite.id}", now=clock.now(),
        )
    await session.commit()
    await query.answer()
    await drop_buttons_of(bot, query.message)
    await bot.send_message(
        chat_id, t("consent.guardian_thanks" if callback_data.ok else "consent.guardian_no")
    )


@router.callback_query(StartQCb.filter())
async def on_start_questionnaire(
    query: CallbackQuery,
    callback_data: StartQCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    state: FSMContext,
    clock: Clock,
    bot_username: str,
) -> None:
    membership = await _own_membership(session, query, callback_data.m)
    if membership is None:
        await query.answer(t("common.stale_button"))
        return
    if await state.get_state() is not None:
        # A second tap: the questionnaire is already on screen.
        await query.answer(t("onboarding.questionnaire_open"))
        return
    await query.answer()
    await drop_buttons_of(bot, query.message)
    await continue_onboarding(bot, query.from_user.id, t, session, catalog,
                              membership.participant, state, membership=membership,
                              announce_done=True, bot_username=bot_username, now=clock.now())


@router.callback_query(FormCb.filter())
async def on_form(
    query: CallbackQuery,
    callback_data: FormCb,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    state: FSMContext,
    clock: Clock,
    bot_username: str,
) -> None:
    membership = await _own_membership(session, query, callback_data.m)
    programme = membership.programme if membership else None
    if membership is None or programme is None or membership.form is not None:
        await query.answer(t("common.stale_button"))
        return
    try:
        await onboarding.choose_form(session, membership, programme.forms[callback_data.i])
    except (ServiceError, IndexError):
        await query.answer(t("common.stale_button"))
        return
    await session.commit()
    await query.answer()
    assert query.message is not None
    await bot.edit_message_text(
        t("form.chosen", form=t(f"form.{membership.form}")),
        chat_id=query.message.chat.id, message_id=query.message.message_id,
    )
    await continue_onboarding(bot, query.from_user.id, t, session, catalog,
                              membership.participant, state, membership=membership,
                              bot_username=bot_username, now=clock.now())


@router.message(CommandStart())
async def start_resume(
    message: Message,
    bot: Bot,
    t: Translator,
    session: AsyncSession,
    catalog: Catalog,
    clock: Clock,
    state: FSMContext,
    participant: Participant | None,
    bot_username: str,
) -> None:
    """Plain /start takes a person to their next step, whatever it is; else the greeting."""
    if participant is None or not await continue_onboarding(
        bot, message.chat.id, t, session, catalog, participant, state,
        now=clock.now(), bot_username=bot_username,
    ):
        raise SkipHandler

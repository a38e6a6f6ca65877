"""Coordinator: organisations and curator invitations; a new curator's terms and confirmation.

Messages are filtered to coordinators on the router. Callback queries are not: the curator's
terms are pressed by the new curator and the confirmation by whoever invited them, so each
coordinator button carries its own role filter and the services re-check rights on press.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Final

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.commands import set_user_commands
from bot.config import Settings
from bot.i18n import Translator, translator
from bot.ids import parse_id
from bot.messaging import enqueue
from bot.roles import HasRole, roles_of
from bot.services import curator_access as access
from bot.services import organisations as orgs
from bot.services.consent import current_document
from bot.services.errors import ServiceError
from db.models import Invite, Membership, Organisation, Participant, Role
from db.queries import participants as q_people
from keyboards import coordinator as kb
from keyboards.common import column

router: Final[Router] = Router(name=__name__)
router.message.filter(HasRole(Role.COORDINATOR))

IS_COORDINATOR = HasRole(Role.COORDINATOR)
INVITES_SHOWN = 3
MENU_FIRST = dt.timedelta(seconds=2)


class NewOrg(StatesGroup):
    name = State()
    timezone = State()


def _error(t: Translator, exc: ServiceError) -> str:
    params = {k: escape(v) if isinstance(v, str) else v for k, v in exc.params.items()}
    return t(exc.text_key(), **params)


def _expires(invite: Invite) -> str:
    return f"{invite.expires_at:%d.%m.%Y}" if invite.expires_at else "—"


def _revoke_button(t: Translator, invite: Invite) -> InlineKeyboardMarkup:
    return column([(t("coordinator.invite_revoke_button", no=invite.id),
                    kb.InviteRevokeCb(i=invite.id))])


@router.message(Command("neworg"))
async def new_org(message: Message, t: Translator, state: FSMContext) -> None:
    await state.set_state(NewOrg.name)
    await message.answer(t("coordinator.ask_org_name"))


@router.message(StateFilter(NewOrg.name), F.text, ~F.text.startswith("/"))
async def new_org_name(
    message: Message, t: Translator, state: FSMContext, settings: Settings
) -> None:
    try:
        name = orgs.check_name(message.text or "")
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        return
    await state.update_data(name=name)
    await state.set_state(NewOrg.timezone)
    await message.answer(t("coordinator.ask_timezone", default=settings.default_timezone))


@router.message(StateFilter(NewOrg.timezone), F.text, ~F.text.startswith("/"))
async def new_org_timezone(
    message: Message, t: Translator, state: FSMContext, session: AsyncSession, clock: Clock,
    settings: Settings, bot_username: str,
) -> None:
    raw = (message.text or "").strip()
    timezone = settings.default_timezone if raw == "-" else raw
    data = await state.get_data()
    user = message.from_user
    assert user is not None
    me = await q_people.get_or_create(session, user.id, t.language)
    try:
        org = await orgs.create_organisation(session, data["name"], timezone, actor_id=me.id)
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        return
    invite = await orgs.curator_invite(session, org.id, now=clock.now(), actor_id=me.id)
    await session.commit()
    await state.clear()
    await message.answer(
        t("coordinator.org_created_invite", id=org.id, name=escape(org.name),
          tz=escape(org.timezone), no=invite.id, expires=_expires(invite),
          link=escape(orgs.deep_link(bot_username, invite.code))),
        reply_markup=_revoke_button(t, invite),
    )


@router.message(StateFilter(NewOrg), ~F.text.startswith("/"))
async def new_org_other(message: Message, t: Translator, state: FSMContext) -> None:
    current = await state.get_state()
    await message.answer(
        t("coordinator.ask_org_name" if current == NewOrg.name.state else "errors.timezone_unknown",
          tz="?")
    )


# -- the registry of organisations: read-only, paginated --------------------------------------
async def _orgs_view(
    t: Translator, session: AsyncSession, page: int, clock: Clock
) -> tuple[str, InlineKeyboardMarkup | None]:
    rows, pages = await orgs.orgs_page(session, page, now=clock.now())
    if not rows:
        return t("coordinator.no_orgs"), None
    lines = [t("coordinator.orgs_page_header", page=page + 1, pages=pages)]
    for row in rows:
        org = row.organisation
        line = t("coordinator.org_row", id=org.id, name=escape(org.name), tz=escape(org.timezone),
                 curators=row.curators)
        if row.open_invites:
            shown = [f"№ {i.id} ({_expires(i)})" for i in row.open_invites[-INVITES_SHOWN:]]
            hidden = len(row.open_invites) - len(shown)
            numbers = ", ".join(shown) + (f" +{hidden}" if hidden > 0 else "")
            line += "\n" + t("coordinator.org_row_invites", numbers=numbers)
        lines.append(line)
    lines.append(t("coordinator.orgs_hint"))
    markup = kb.orgs_page(
        [(t("coordinator.org_invite_button", id=row.organisation.id), row.organisation.id)
         for row in rows],
        page, pages, t("common.back"), t("common.next"),
    )
    return "\n\n".join(lines), markup


@router.message(Command("orgs"))
async def list_orgs(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession, clock: Clock,
) -> None:
    page = 0
    if (command.args or "").strip():
        number = parse_id(command.args)
        if number is None:
            await message.answer(t("coordinator.id_invalid"))
            return
        page = number - 1
    try:
        text, markup = await _orgs_view(t, session, page, clock)
    except ServiceError as exc:
        await message.answer(_error(t, exc))
        return
    await message.answer(text, reply_markup=markup)


@router.callback_query(kb.OrgsPageCb.filter(), IS_COORDINATOR)
async def orgs_page(
    query: CallbackQuery, callback_data: kb.OrgsPageCb, bot: Bot, t: Translator,
    session: AsyncSession, clock: Clock,
) -> None:
    try:
        text, markup = await _orgs_view(t, session, callback_data.page, clock)
    except ServiceError as exc:
        await query.answer(_error(t, exc), show_alert=True)
        return
    await query.answer()
    assert query.message is not None
    await bot.edit_message_text(
        text, chat_id=query.message.chat.id, message_id=query.message.message_id,
        reply_markup=markup,
    )


# -- curator invitations: made on request, numbered, revocable --------------------------------
async def _send_invite(
    bot: Bot, chat_id: int, t: Translator, session: AsyncSession, org_id: int,
    user_id: int, clock: Clock, bot_username: str,
) -> str | None:
    """Makes and sends an invitation; returns an error text instead when it cannot."""
    me = await q_people.get_or_create(session, user_id, t.language)
    try:
        invite = await orgs.curator_invite(session, org_id, now=clock.now(), actor_id=me.id)
    except ServiceError as exc:
        return _error(t, exc)
    org = await session.get(Organisation, org_id)
    assert org is not None
    await session.commit()
    await bot.send_message(
        chat_id,
        t("coordinator.invite_created", name=escape(org.name), no=invite.id,
          expires=_expires(invite), link=escape(orgs.deep_link(bot_username, invite.code))),
        reply_markup=_revoke_button(t, invite),
    )
    return None


@router.message(Command("curatorinvite"))
async def curator_invite_command(
    message: Message, command: CommandObject, bot: Bot, t: Translator, session: AsyncSession,
    clock: Clock, bot_username: str,
) -> None:
    org_id = parse_id(command.args)
    if org_id is None:
        await message.answer(t("coordinator.curatorinvite_usage"))
        return
    user = message.from_user
    assert user is not None
    error = await _send_invite(bot, message.chat.id, t, session, org_id, user.id, clock,
                               bot_username)
    if error:
        await message.answer(error)


@router.callback_query(kb.OrgInviteCb.filter(), IS_COORDINATOR)
async def curator_invite_button(
    query: CallbackQuery, callback_data: kb.OrgInviteCb, bot: Bot, t: Translator,
    session: AsyncSession, clock: Clock, bot_username: str,
) -> None:
    error = await _send_invite(bot, query.from_user.id, t, session, callback_data.o,
                               query.from_user.id, clock, bot_username)
    await query.answer(error, show_alert=bool(error))


@router.callback_query(kb.InviteRevokeCb.filter(), IS_COORDINATOR)
async def revoke_invite_button(
    query: CallbackQuery, callback_data: kb.InviteRevokeCb, bot: Bot, t: Translator,
    session: AsyncSession, clock: Clock,
) -> None:
    me = await q_people.get_or_create(session, query.from_user.id, t.language)
    try:
        invite = await orgs.revoke_invite(session, callback_data.i, now=clock.now(),
                                          actor_id=me.id)
    except ServiceError as exc:
        await query.answer(_error(t, exc), show_alert=True)
        return
    await session.commit()
    await query.answer(t("coordinator.invite_revoked", no=invite.id))
    assert query.message is not None
    await bot.edit_message_reply_markup(
        chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
    )


# -- a new curator: terms, then the inviter's confirmation ------------------------------------
def _who(t: Translator, inviter: Participant | None) -> str:
    return t("curator_access.inviter" if inviter else "curator_access.coordinators")


def _person(membership: Membership) -> str:
    person = membership.participant
    name = person.full_name or person.tg_first_name or f"#{person.id}"
    return name + (f" (@{person.tg_username})" if person.tg_username else "")


@router.callback_query(kb.CuratorTermsCb.filter())
async def curator_terms(
    query: CallbackQuery, callback_data: kb.CuratorTermsCb, bot: Bot, t: Translator,
    session: AsyncSession, clock: Clock, settings: Settings,
) -> None:
    membership = await q_people.membership(session, callback_data.m)
    if membership is None or membership.participant.telegram_id != query.from_user.id:
        await query.answer(t("common.stale_button"))
        return
    version = current_document().version
    accept = callback_data.a == kb.TermsAnswer.ACCEPT
    try:
        if accept:
            await access.accept_terms(
                session, membership, first_name=query.from_user.first_name,
                username=query.from_user.username, version=version,
            )
        else:
            await access.decline_terms(session, membership, version=version)
    except ServiceError as exc:
        await query.answer(_error(t, exc))
        return
    inviter = await access.inviter_of(session, membership)
    if accept:
        for approver in await access.approvers(session, membership, settings.admin_ids):
            at = translator(approver.language)
            buttons = kb.two(
                (at("curator_access.confirm"),
                 kb.CuratorConfirmCb(m=membership.id, v=kb.Verdict.CONFIRM)),
                (at("curator_access.reject"),
                 kb.CuratorConfirmCb(m=membership.id, v=kb.Verdict.REJECT)),
            )
            await enqueue(
                session, chat_id=approver.telegram_id,
                text=at("curator_access.request", name=escape(_person(membership)),
                        org=escape(membership.organisation.name),
                        no=membership.invite_id or "—"),
                reply_markup=buttons, now=clock.now(),
                key=f"curator-request:{membership.id}:{approver.telegram_id}",
            )
    await session.commit()
    await query.answer()
    assert query.message is not None
    await bot.edit_message_reply_markup(
        chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
    )
    text = (t("curator_access.accepted", who=_who(t, inviter)) if accept
            else t("curator_access.declined"))
    await bot.send_message(query.message.chat.id, text)


@router.callback_query(kb.CuratorConfirmCb.filter())
async def curator_confirm(
    query: CallbackQuery, callback_data: kb.CuratorConfirmCb, bot: Bot, t: Translator,
    session: AsyncSession, clock: Clock, settings: Settings, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    approve = callback_data.v == kb.Verdict.CONFIRM
    try:
        membership, decision = await access.decide(
            session, callback_data.m, actor=participant,
            actor_is_coordinator=Role.COORDINATOR in roles, approve=approve, now=clock.now(),
        )
    except ServiceError as exc:
        await query.answer(_error(t, exc), show_alert=True)
        return
    if decision in (access.Decision.ALREADY_CONFIRMED, access.Decision.ALREADY_REJECTED):
        await query.answer(t(f"curator_access.{decision.value}"))
        return
    curator = membership.participant
    org_name = membership.organisation.name
    if curator.telegram_id:
        ct = translator(curator.language)
        granted = decision == access.Decision.CONFIRMED
        await enqueue(
            # A moment later than the menu update below, so the menu is ready when it arrives.
            session, chat_id=curator.telegram_id, now=clock.now(),
            not_before=clock.now() + MENU_FIRST,
            text=ct("curator_access.granted" if granted else "curator_access.refused",
                    org=escape(org_name)),
            key=f"curator-decision:{membership.id}",
        )
    await session.commit()
    await query.answer()
    assert query.message is not None
    await bot.edit_message_text(
        t(f"curator_access.{decision.value}", name=escape(_person(membership)),
          org=escape(org_name)),
        chat_id=query.message.chat.id, message_id=query.message.message_id,
    )
    if decision == access.Decision.CONFIRMED and curator.telegram_id:
        fresh = await q_people.by_telegram_id(session, curator.telegram_id)
        await session.commit()
        await set_user_commands(
            bot, curator.telegram_id, roles_of(fresh, curator.telegram_id, settings.admin_ids),
            curator.language,
        )

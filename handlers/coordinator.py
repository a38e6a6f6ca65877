"""Coordinator: organisations and curator invitations; a new curator's terms and confirmation.

Messages are filtered to coordinators on the router. Callback queries are not: the curator's
terms are pressed by the new curator and the confirmation by whoever invited them, so each
coordinator button carries its own role filter and the services re-check rights on press.
"""

from __future__ import annotations

import datetime as dt

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.commands import set_user_commands
from bot.context import Ctx
from bot.i18n import translator
from bot.ids import parse_id
from bot.messaging import enqueue
from bot.roles import HasRole, roles_of
from bot.services import curator_access as access
from bot.services import organisations as orgs
from bot.services import people
from bot.views import coordinator as views
from db.models import Membership, Role
from db.queries import participants as q_people
from keyboards import coordinator as kb

IS_COORDINATOR = HasRole(Role.COORDINATOR)
NOT_A_COMMAND = ~F.text.startswith("/")
MENU_FIRST = dt.timedelta(seconds=2)


class NewOrg(StatesGroup):
    name = State()
    timezone = State()


def _message_id(query: CallbackQuery) -> int | None:
    return query.message.message_id if query.message else None


async def new_org(message: Message, ctx: Ctx) -> None:
    await ctx.state.set_state(NewOrg.name)
    await ctx.send(ctx.t("coordinator.ask_org_name"))


async def new_org_name(message: Message, ctx: Ctx) -> None:
    name = orgs.check_name(message.text or "")
    await ctx.state.update_data(name=name)
    await ctx.state.set_state(NewOrg.timezone)
    await ctx.send(ctx.t("coordinator.ask_timezone", default=ctx.settings.default_timezone))


async def new_org_timezone(message: Message, ctx: Ctx) -> None:
    raw = (message.text or "").strip()
    timezone = ctx.settings.default_timezone if raw == "-" else raw
    data = await ctx.state.get_data()
    me = await people.acting(ctx.session, ctx.user.id, ctx.t.language)
    org = await orgs.create_organisation(ctx.session, data["name"], timezone, actor_id=me.id)
    invite = await orgs.curator_invite(ctx.session, org.id, now=ctx.now, actor_id=me.id)
    await ctx.state.clear()
    text, markup = views.org_created(ctx.t, org, invite, ctx.bot_username)
    await ctx.send(text, reply_markup=markup)


async def new_org_other(message: Message, ctx: Ctx) -> None:
    asking_name = await ctx.state.get_state() == NewOrg.name.state
    await ctx.send(
        ctx.t("coordinator.ask_org_name" if asking_name else "errors.timezone_unknown", tz="?")
    )


# -- the registry of organisations: read-only, paginated --------------------------------------
async def list_orgs(message: Message, command: CommandObject, ctx: Ctx) -> None:
    page = 0
    if (command.args or "").strip():
        number = parse_id(command.args)
        if number is None:
            await ctx.send(ctx.t("coordinator.id_invalid"))
            return
        page = number - 1
    rows, pages = await orgs.orgs_page(ctx.session, page, now=ctx.now)
    text, markup = views.orgs_page(ctx.t, rows, page, pages)
    await ctx.send(text, reply_markup=markup)


async def orgs_page(query: CallbackQuery, callback_data: kb.OrgsPageCb, ctx: Ctx) -> None:
    rows, pages = await orgs.orgs_page(ctx.session, callback_data.page, now=ctx.now)
    text, markup = views.orgs_page(ctx.t, rows, callback_data.page, pages)
    await ctx.answer(query)
    await ctx.edit(_message_id(query), text, markup)


# -- curator invitations: made on request, numbered, revocable --------------------------------
async def _send_invite(ctx: Ctx, org_id: int) -> None:
    me = await people.acting(ctx.session, ctx.user.id, ctx.t.language)
    invite = await orgs.curator_invite(ctx.session, org_id, now=ctx.now, actor_id=me.id)
    org = await orgs.organisation(ctx.session, org_id)
    text, markup = views.invite_created(ctx.t, org, invite, ctx.bot_username)
    await ctx.send(text, reply_markup=markup)


async def curator_invite_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    org_id = parse_id(command.args)
    if org_id is None:
        await ctx.send(ctx.t("coordinator.curatorinvite_usage"))
        return
    await _send_invite(ctx, org_id)


async def curator_invite_button(
    query: CallbackQuery, callback_data: kb.OrgInviteCb, ctx: Ctx
) -> None:
    await _send_invite(ctx, callback_data.o)
    await ctx.answer(query)


async def revoke_invite_button(
    query: CallbackQuery, callback_data: kb.InviteRevokeCb, ctx: Ctx
) -> None:
    me = await people.acting(ctx.session, ctx.user.id, ctx.t.language)
    invite = await orgs.revoke_invite(ctx.session, callback_data.i, now=ctx.now, actor_id=me.id)
    await ctx.answer(query, ctx.t("coordinator.invite_revoked", no=invite.id))
    await ctx.drop_buttons(query.message)


# -- a new curator: terms, then the inviter's confirmation ------------------------------------
async def _own_terms(
    query: CallbackQuery, callback_data: kb.CuratorTermsCb, ctx: Ctx
) -> Membership | None:
    """The membership whose terms were pressed; anyone else's button is answered as stale."""
    membership = await access.own_terms(ctx.session, callback_data.m, ctx.user.id)
    if membership is None:
        await ctx.answer(query, ctx.t("common.stale_button"))
    return membership


async def _terms_answered(query: CallbackQuery, ctx: Ctx, text: str) -> None:
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(text)


async def accept_terms(query: CallbackQuery, callback_data: kb.CuratorTermsCb, ctx: Ctx) -> None:
    membership = await _own_terms(query, callback_data, ctx)
    if membership is None:
        return
    await access.accept_terms(
        ctx.session, membership, first_name=ctx.user.first_name, username=ctx.user.username,
        version=ctx.consent.version,
    )
    for approver in await access.approvers(ctx.session, membership, ctx.settings.admin_ids):
        text, markup = views.curator_request(translator(approver.language), membership)
        await enqueue(
            ctx.session, chat_id=approver.telegram_id, text=text, reply_markup=markup,
            now=ctx.now, key=f"curator-request:{membership.id}:{approver.telegram_id}",
        )
    inviter = await access.inviter_of(ctx.session, membership)
    await _terms_answered(query, ctx, views.terms_accepted(ctx.t, inviter))


async def decline_terms(query: CallbackQuery, callback_data: kb.CuratorTermsCb, ctx: Ctx) -> None:
    membership = await _own_terms(query, callback_data, ctx)
    if membership is None:
        return
    await access.decline_terms(ctx.session, membership, version=ctx.consent.version)
    await _terms_answered(query, ctx, ctx.t("curator_access.declined"))


async def curator_confirm(
    query: CallbackQuery, callback_data: kb.CuratorConfirmCb, ctx: Ctx
) -> None:
    membership, decision = await access.decide(
        ctx.session, callback_data.m, actor=ctx.participant,
        actor_is_coordinator=Role.COORDINATOR in ctx.roles,
        approve=callback_data.v == kb.Verdict.CONFIRM, now=ctx.now,
    )
    if decision in (access.Decision.ALREADY_CONFIRMED, access.Decision.ALREADY_REJECTED):
        await ctx.answer(query, ctx.t(f"curator_access.{decision.value}"))
        return
    curator = membership.participant
    if curator.telegram_id:
        await enqueue(
            # A moment later than the menu update below, so the menu is ready when it arrives.
            ctx.session, chat_id=curator.telegram_id, now=ctx.now,
            not_before=ctx.now + MENU_FIRST,
            text=views.decision_notice(translator(curator.language), decision, membership),
            key=f"curator-decision:{membership.id}",
        )
    await ctx.answer(query)
    await ctx.edit(_message_id(query), views.decided(ctx.t, decision, membership))
    if decision == access.Decision.CONFIRMED and curator.telegram_id:
        fresh = await q_people.by_telegram_id(ctx.session, curator.telegram_id)
        roles = roles_of(fresh, curator.telegram_id, ctx.settings.admin_ids)
        await ctx.commit()
        await set_user_commands(ctx.bot, curator.telegram_id, roles, curator.language)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(IS_COORDINATOR)
    message, callback = router.message.register, router.callback_query.register

    message(new_org, Command("neworg"))
    message(new_org_name, StateFilter(NewOrg.name), F.text, NOT_A_COMMAND)
    message(new_org_timezone, StateFilter(NewOrg.timezone), F.text, NOT_A_COMMAND)
    message(new_org_other, StateFilter(NewOrg), NOT_A_COMMAND)
    message(list_orgs, Command("orgs"))
    callback(orgs_page, kb.OrgsPageCb.filter(), IS_COORDINATOR)
    message(curator_invite_command, Command("curatorinvite"))
    callback(curator_invite_button, kb.OrgInviteCb.filter(), IS_COORDINATOR)
    callback(revoke_invite_button, kb.InviteRevokeCb.filter(), IS_COORDINATOR)
    terms = kb.CuratorTermsCb.filter
    callback(accept_terms, terms(F.a == kb.TermsAnswer.ACCEPT))
    callback(decline_terms, terms(F.a == kb.TermsAnswer.DECLINE))
    callback(curator_confirm, kb.CuratorConfirmCb.filter())
    return router

"""Curator: programmes, invitation links, the bases of mentees and mentors, paper consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.context import Ctx
from bot.i18n import translator
from bot.ids import parse_id
from bot.messaging import enqueue
from bot.roles import HasRole
from bot.services import onboarding, people
from bot.services import organisations as orgs
from bot.services.people import Access
from bot.views import curator as views
from db.models import InviteKind, MembershipStatus, Role
from keyboards.callbacks import CardCb, FormsAction, NewProgFormCb, PeopleCb, ProgrammeCb
from keyboards.coordinator import DatesAnswer, NewProgDatesCb, NewProgOrgCb

NOT_A_COMMAND = ~F.text.startswith("/")


class NewProgramme(StatesGroup):
    org = State()  # asked only when the creator has several organisations
    name = State()
    forms = State()
    start = State()
    end = State()
    confirm = State()  # dates in the past, confirmed with a button


async def _scope(ctx: Ctx) -> list[int]:
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


def _message_id(query: CallbackQuery) -> int | None:
    return query.message.message_id if query.message else None


# -- programmes ---------------------------------------------------------------------------
async def list_programmes(message: Message, ctx: Ctx) -> None:
    items = await people.programmes(ctx.session, await _scope(ctx))
    current = ctx.participant.current_programme_id if ctx.participant else None
    text, markup = views.programmes(ctx.t, items, current)
    await ctx.send(text, reply_markup=markup)


async def choose_programme(query: CallbackQuery, callback_data: ProgrammeCb, ctx: Ctx) -> None:
    org_ids = await _scope(ctx)
    access, programme = await people.programme_access(ctx.session, callback_data.p, org_ids)
    if access != Access.OK or programme is None:
        await ctx.answer(query, views.refusal(ctx.t, access))
        return
    me = await people.acting(ctx.session, ctx.user.id, ctx.t.language)
    await people.choose_programme(ctx.session, me, programme.id)
    await ctx.answer(query, views.programme_chosen(ctx.t, programme))


async def new_programme(message: Message, ctx: Ctx) -> None:
    org_ids = await _scope(ctx)
    if not org_ids:
        await ctx.send(ctx.t("curator.no_org"))
        return
    if len(org_ids) > 1:
        await ctx.state.set_state(NewProgramme.org)
        await ctx.state.set_data({})
        markup = views.orgs_keyboard(await orgs.organisations(ctx.session, org_ids))
        await ctx.send(ctx.t("curator.ask_org"), reply_markup=markup)
        return
    await ctx.state.set_state(NewProgramme.name)
    await ctx.state.set_data({"org_id": org_ids[0]})
    await ctx.send(ctx.t("curator.ask_programme_name"))


async def new_programme_org(query: CallbackQuery, callback_data: NewProgOrgCb, ctx: Ctx) -> None:
    org = await orgs.find_organisation(ctx.session, callback_data.o)
    if org is None or org.id not in await _scope(ctx):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    await ctx.state.update_data(org_id=org.id)
    await ctx.state.set_state(NewProgramme.name)
    await ctx.answer(query)
    await ctx.edit(_message_id(query), views.org_chosen(ctx.t, org))
    await ctx.send(ctx.t("curator.ask_programme_name"))


async def new_programme_name(message: Message, ctx: Ctx) -> None:
    name = orgs.check_name(message.text or "")
    await ctx.state.update_data(name=name, forms=[])
    await ctx.state.set_state(NewProgramme.forms)
    await ctx.send(ctx.t("curator.ask_forms"), reply_markup=views.forms_keyboard(ctx.t, []))


async def toggle_form(query: CallbackQuery, callback_data: NewProgFormCb, ctx: Ctx) -> None:
    if not 0 <= callback_data.i < len(views.FORMS):
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    chosen: list[str] = list((await ctx.state.get_data()).get("forms") or [])
    form = views.FORMS[callback_data.i]
    chosen.remove(form) if form in chosen else chosen.append(form)
    await ctx.state.update_data(forms=chosen)
    await ctx.answer(query)
    await ctx.edit_buttons(query.message, views.forms_keyboard(ctx.t, chosen))


async def forms_done(query: CallbackQuery, ctx: Ctx) -> None:
    if not (await ctx.state.get_data()).get("forms"):
        await ctx.answer(query, ctx.t("curator.forms_needed"), alert=True)
        return
    await ctx.state.set_state(NewProgramme.start)
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("curator.ask_start"))


def _parse_date(raw: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(raw.strip(), "%d.%m.%Y").date()
    except ValueError:
        return None


async def new_programme_start(message: Message, ctx: Ctx) -> None:
    start = _parse_date(message.text or "")
    if start is None:
        await ctx.send(ctx.t("answer.date_format"))
        return
    await ctx.state.update_data(start=start.isoformat())
    await ctx.state.set_state(NewProgramme.end)
    await ctx.send(ctx.t("curator.ask_end"))


async def new_programme_end(message: Message, ctx: Ctx) -> None:
    end = _parse_date(message.text or "")
    if end is None:
        await ctx.send(ctx.t("answer.date_format"))
        return
    data = await ctx.state.get_data()
    org_ids = await _scope(ctx)
    org_id = data.get("org_id") or (org_ids[0] if len(org_ids) == 1 else None)
    org = await orgs.find_organisation(ctx.session, org_id) if org_id else None
    if org is None or org.id not in org_ids:
        await ctx.state.clear()
        await ctx.send(ctx.t("curator.no_org"))
        return
    start = dt.date.fromisoformat(data["start"])
    past = orgs.past_dates(start, end, orgs.today_in(org.timezone, ctx.now))
    if end >= start and past:
        await ctx.state.update_data(end=end.isoformat())
        await ctx.state.set_state(NewProgramme.confirm)
        text, markup = views.past_dates(ctx.t, past)
        await ctx.send(text, reply_markup=markup)
        return
    await ctx.send(await _create_programme(ctx, org.id, data, end))


async def _create_programme(ctx: Ctx, org_id: int, data: dict[str, Any], end: dt.date) -> str:
    """Creates the programme of the dialog and makes it the creator's current one."""
    me = await people.acting(ctx.session, ctx.user.id, ctx.t.language)
    programme = await orgs.create_programme(
        ctx.session, org_id, data["name"], data["forms"], dt.date.fromisoformat(data["start"]),
        end, actor_id=me.id,
    )
    await people.choose_programme(ctx.session, me, programme.id)
    await ctx.state.clear()
    return views.programme_created(ctx.t, programme)


async def keep_past_dates(query: CallbackQuery, ctx: Ctx) -> None:
    data = await ctx.state.get_data()
    if data.get("org_id") in await _scope(ctx):
        reply = await _create_programme(
            ctx, data["org_id"], data, dt.date.fromisoformat(data["end"])
        )
    else:
        await ctx.state.clear()
        reply = ctx.t("curator.no_org")
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(reply)


async def change_past_dates(query: CallbackQuery, ctx: Ctx) -> None:
    await ctx.state.set_state(NewProgramme.start)
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("curator.ask_start"))


async def new_programme_other(message: Message, ctx: Ctx) -> None:
    key = {
        NewProgramme.org.state: "curator.ask_org",
        NewProgramme.confirm.state: "common.use_buttons",
        NewProgramme.name.state: "curator.ask_programme_name",
        NewProgramme.forms.state: "curator.ask_forms",
        NewProgramme.start.state: "curator.ask_start",
        NewProgramme.end.state: "curator.ask_end",
    }.get(await ctx.state.get_state() or "", "common.not_understood")
    await ctx.send(ctx.t(key))


# -- invitations --------------------------------------------------------------------------
async def invite_links(message: Message, command: CommandObject, ctx: Ctx) -> None:
    programme = await people.current_programme(ctx.session, ctx.participant, await _scope(ctx))
    kinds = [InviteKind.MENTEE, InviteKind.MENTOR]
    if (command.args or "").strip() == "curator":
        kinds = [InviteKind.CURATOR]
    invites = await orgs.programme_invites(
        ctx.session, programme.id, kinds, now=ctx.now, ttl_days=ctx.settings.invite_ttl_days,
        actor_id=ctx.participant.id if ctx.participant else None,
    )
    await ctx.send(views.invites(ctx.t, programme, invites, ctx.bot_username))


async def revoke(message: Message, command: CommandObject, ctx: Ctx) -> None:
    raw = (command.args or "").strip()
    invite_id = parse_id(raw)
    if invite_id is None:
        await ctx.send(views.bad_number(ctx.t, raw, "curator.revoke_usage"))
        return
    await orgs.revoke_invite(
        ctx.session, invite_id, now=ctx.now,
        actor_id=ctx.participant.id if ctx.participant else None,
        allowed_org_ids=await _scope(ctx),
    )
    await ctx.send(ctx.t("curator.revoked", id=invite_id))


# -- bases --------------------------------------------------------------------------------
async def _people_page(
    ctx: Ctx, role: Role, page_no: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    programme = await people.current_programme(ctx.session, ctx.participant, await _scope(ctx))
    rows, pages, page_no = await people.page(ctx.session, programme.id, role, page_no)
    return views.people_page(ctx.t, programme, role, rows, pages, page_no)


async def people_list(message: Message, command: CommandObject, ctx: Ctx) -> None:
    role = Role.MENTEE if command.command == "mentees" else Role.MENTOR
    text, markup = await _people_page(ctx, role, 0)
    await ctx.send(text, reply_markup=markup)


async def people_page(query: CallbackQuery, callback_data: PeopleCb, ctx: Ctx) -> None:
    if callback_data.role not in views.BASE_ROLES:
        await ctx.answer(query, ctx.t("curator.button_stale"))
        return
    text, markup = await _people_page(ctx, Role(callback_data.role), callback_data.page)
    await ctx.answer(query)
    await ctx.edit(_message_id(query), text, markup)


async def card(query: CallbackQuery, callback_data: CardCb, ctx: Ctx) -> None:
    org_ids = await _scope(ctx)
    access, membership = await people.card_access(ctx.session, callback_data.m, org_ids)
    if access != Access.OK or membership is None:
        await ctx.answer(query, views.refusal(ctx.t, access))
        return
    found = await people.card(ctx.session, membership, ctx.consent.version)
    await ctx.answer(query)
    for text, markup in views.card(ctx.t, ctx.catalog, found, callback_data.page):
        await ctx.send(text, reply_markup=markup)


async def paper_consent(message: Message, command: CommandObject, ctx: Ctx) -> None:
    raw = (command.args or "").strip()
    membership_id = parse_id(raw)
    if membership_id is None or ctx.participant is None:
        await ctx.send(views.bad_number(ctx.t, raw, "curator.paper_usage"))
        return
    org_ids = await _scope(ctx)
    version = ctx.consent.version
    await people.paper_consent_target(ctx.session, membership_id, org_ids, version)
    membership = await onboarding.record_paper_consent(
        ctx.session, membership_id, curator=ctx.participant, curator_org_ids=org_ids,
        version=version, now=ctx.now,
    )
    person = membership.participant
    if membership.status == MembershipStatus.QUESTIONNAIRE and person.telegram_id:
        text, markup = views.paper_accepted(translator(person.language), membership.id)
        await enqueue(
            ctx.session, chat_id=person.telegram_id, text=text, reply_markup=markup,
            key=f"paper-consent:{membership.id}", now=ctx.now,
        )
    await ctx.send(ctx.t("curator.paper_recorded", id=membership.id))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
    router.callback_query.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
    message, callback = router.message.register, router.callback_query.register

    message(list_programmes, Command("programmes"))
    callback(choose_programme, ProgrammeCb.filter())
    message(new_programme, Command("newprogramme"))
    callback(new_programme_org, StateFilter(NewProgramme.org), NewProgOrgCb.filter())
    message(new_programme_name, StateFilter(NewProgramme.name), F.text, NOT_A_COMMAND)
    forms = StateFilter(NewProgramme.forms)
    callback(toggle_form, forms, NewProgFormCb.filter(F.a == FormsAction.TOGGLE))
    callback(forms_done, forms, NewProgFormCb.filter(F.a == FormsAction.DONE))
    message(new_programme_start, StateFilter(NewProgramme.start), F.text, NOT_A_COMMAND)
    message(new_programme_end, StateFilter(NewProgramme.end), F.text, NOT_A_COMMAND)
    confirm = StateFilter(NewProgramme.confirm)
    callback(keep_past_dates, confirm, NewProgDatesCb.filter(F.a == DatesAnswer.KEEP))
    callback(change_past_dates, confirm, NewProgDatesCb.filter(F.a == DatesAnswer.CHANGE))
    message(new_programme_other, StateFilter(NewProgramme), NOT_A_COMMAND)

    message(invite_links, Command("invite"))
    message(revoke, Command("revoke"))
    message(people_list, Command("mentees", "mentors"))
    callback(people_page, PeopleCb.filter())
    callback(card, CardCb.filter())
    message(paper_consent, Command("paperconsent"))
    return router

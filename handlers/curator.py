"""Curator: programmes, invitation links, the bases of mentees and mentors, paper consent."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Final

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Translator, translator
from bot.ids import first_invalid, parse_id, valid_id
from bot.messaging import enqueue
from bot.render import answer_html, chunks, clip
from bot.roles import HasRole
from bot.services import onboarding, people
from bot.services import organisations as orgs
from bot.services.consent import current_document
from bot.services.errors import ServiceError
from bot.services.questionnaires import Catalog
from db.models import Form, InviteKind, Membership, MembershipStatus, Participant, Role
from db.queries import organisations as q_orgs
from db.queries import participants as q_people
from db.queries import responses as q_responses
from keyboards.callbacks import CardCb, NewProgFormCb, PeopleCb, ProgrammeCb, StartQCb
from keyboards.common import column, short
from keyboards.coordinator import DatesAnswer, NewProgDatesCb, NewProgOrgCb, two

router: Final[Router] = Router(name=__name__)
router.message.filter(HasRole(Role.CURATOR, Role.COORDINATOR))
router.callback_query.filter(HasRole(Role.CURATOR, Role.COORDINATOR))

FORMS = [f.value for f in Form]


class NewProgramme(StatesGroup):
    org = State()  # asked only when the creator has several organisations
    name = State()
    forms = State()
    start = State()
    end = State()
    confirm = State()  # dates in the past, confirmed with a button


async def _scope(session: AsyncSession, participant: Participant | None, roles: frozenset[Role]) -> list[int]:
    return await people.curator_scope(session, participant, Role.COORDINATOR in roles)


def display_name(t: Translator, membership: Membership) -> str:
    """Plain name; without one, the membership number (the one number curators see)."""
    person = membership.participant
    return person.full_name or person.tg_first_name or t("people.anonymous", id=membership.id)


def label(t: Translator, membership: Membership) -> str:
    """"#13 Иванов Иван", or "Участник #13" for someone without a name (plain text)."""
    person = membership.participant
    if person.full_name or person.tg_first_name:
        return f"#{membership.id} {display_name(t, membership)}"
    return display_name(t, membership)


def _bad_number(t: Translator, raw: str, usage_key: str) -> str:
    bad = first_invalid(raw) if raw else None
    if bad is None:
        return t(usage_key)
    return t("curator.number_invalid", value=escape(bad[:30])) + "\n" + t(usage_key)


# -- programmes ---------------------------------------------------------------------------
@router.message(Command("programmes"))
async def programmes(
    message: Message, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    items = await q_orgs.programmes_of(session, org_ids)
    if not items:
        await message.answer(t("curator.no_programmes"))
        return
    current = participant.current_programme_id if participant else None
    lines = [t("curator.programmes_header")]
    buttons = []
    for programme in items:
        mark = "▶️ " if programme.id == current else ""
        forms = ", ".join(t(f"form.{f}") for f in programme.forms)
        lines.append(
            f"{mark}<b>#{programme.id} {escape(programme.name)}</b> — "
            f"{escape(programme.organisation.name)}\n{escape(forms)}; "
            f"{programme.start_date:%d.%m.%Y}–{programme.end_date:%d.%m.%Y}"
        )
        buttons.append((f"{mark}#{programme.id} {programme.name}", ProgrammeCb(p=programme.id)))
    await message.answer("\n\n".join(lines), reply_markup=column(buttons))


@router.callback_query(ProgrammeCb.filter())
async def choose_programme(
    query: CallbackQuery, callback_data: ProgrammeCb, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role], clock: Clock,
) -> None:
    org_ids = await _scope(session, participant, roles)
    programme = (
        await q_orgs.get_programme(session, callback_data.p) if valid_id(callback_data.p) else None
    )
    if programme is None:
        await query.answer(t("curator.button_stale"))
        return
    if programme.organisation_id not in org_ids:
        await query.answer(t("curator.button_not_yours"))
        return
    user = query.from_user
    me = await q_people.get_or_create(session, user.id, t.language)
    me.current_programme_id = programme.id
    await session.commit()
    await query.answer(t("curator.programme_chosen", name=short(programme.name, 60)))


@router.message(Command("newprogramme"))
async def new_programme(
    message: Message, t: Translator, session: AsyncSession, state: FSMContext,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    if not org_ids:
        await message.answer(t("curator.no_org"))
        return
    if len(org_ids) > 1:
        await state.set_state(NewProgramme.org)
        await state.set_data({})
        await message.answer(t("curator.ask_org"),
                             reply_markup=await _orgs_keyboard(session, org_ids))
        return
    await state.set_state(NewProgramme.name)
    await state.set_data({"org_id": org_ids[0]})
    await message.answer(t("curator.ask_programme_name"))


async def _orgs_keyboard(session: AsyncSession, org_ids: list[int]) -> InlineKeyboardMarkup:
    items = [await q_orgs.get_org(session, org_id) for org_id in org_ids]
    return column([(f"#{o.id} {o.name}", NewProgOrgCb(o=o.id)) for o in items if o is not None])


@router.callback_query(StateFilter(NewProgramme.org), NewProgOrgCb.filter())
async def new_programme_org(
    query: CallbackQuery, callback_data: NewProgOrgCb, bot: Bot, t: Translator,
    session: AsyncSession, state: FSMContext, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    org = await q_orgs.get_org(session, callback_data.o)
    if org is None or org.id not in await _scope(session, participant, roles):
        await query.answer(t("common.stale_button"))
        return
    await state.update_data(org_id=org.id)
    await state.set_state(NewProgramme.name)
    await query.answer()
    assert query.message is not None
    await bot.edit_message_text(
        t("curator.org_chosen", name=escape(org.name)), chat_id=query.message.chat.id,
        message_id=query.message.message_id,
    )
    await bot.send_message(query.message.chat.id, t("curator.ask_programme_name"))


@router.message(StateFilter(NewProgramme.name), F.text, ~F.text.startswith("/"))
async def new_programme_name(message: Message, t: Translator, state: FSMContext) -> None:
    try:
        name = orgs.check_name(message.text or "")
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        return
    await state.update_data(name=name, forms=[])
    await state.set_state(NewProgramme.forms)
    await message.answer(t("curator.ask_forms"), reply_markup=_forms_keyboard(t, []))


def _forms_keyboard(t: Translator, chosen: list[str]):  # type: ignore[no-untyped-def]
    builder = InlineKeyboardBuilder()
    for i, form in enumerate(FORMS):
        mark = "✅ " if form in chosen else "▫️ "
        builder.button(text=mark + t(f"form.{form}"), callback_data=NewProgFormCb(i=i))
    builder.button(text=t("common.done"), callback_data=NewProgFormCb(i=-1))
    builder.adjust(1)
    return builder.as_markup()


@router.callback_query(StateFilter(NewProgramme.forms), NewProgFormCb.filter())
async def new_programme_forms(
    query: CallbackQuery, callback_data: NewProgFormCb, bot: Bot, t: Translator,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    chosen: list[str] = list(data.get("forms") or [])
    assert query.message is not None
    if callback_data.i == -1:
        if not chosen:
            await query.answer(t("curator.forms_needed"), show_alert=True)
            return
        await query.answer()
        await state.set_state(NewProgramme.start)
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
        )
        await bot.send_message(query.message.chat.id, t("curator.ask_start"))
        return
    if not 0 <= callback_data.i < len(FORMS):
        await query.answer(t("common.stale_button"))
        return
    form = FORMS[callback_data.i]
    chosen.remove(form) if form in chosen else chosen.append(form)
    await state.update_data(forms=chosen)
    await query.answer()
    await bot.edit_message_reply_markup(
        chat_id=query.message.chat.id, message_id=query.message.message_id,
        reply_markup=_forms_keyboard(t, chosen),
    )


def _parse_date(raw: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(raw.strip(), "%d.%m.%Y").date()
    except ValueError:
        return None


@router.message(StateFilter(NewProgramme.start), F.text, ~F.text.startswith("/"))
async def new_programme_start(message: Message, t: Translator, state: FSMContext) -> None:
    start = _parse_date(message.text or "")
    if start is None:
        await message.answer(t("answer.date_format"))
        return
    await state.update_data(start=start.isoformat())
    await state.set_state(NewProgramme.end)
    await message.answer(t("curator.ask_end"))


@router.message(StateFilter(NewProgramme.end), F.text, ~F.text.startswith("/"))
async def new_programme_end(
    message: Message, t: Translator, state: FSMContext, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role], clock: Clock,
) -> None:
    end = _parse_date(message.text or "")
    if end is None:
        await message.answer(t("answer.date_format"))
        return
    data = await state.get_data()
    org_ids = await _scope(session, participant, roles)
    org_id = data.get("org_id") or (org_ids[0] if len(org_ids) == 1 else None)
    org = await q_orgs.get_org(session, org_id) if org_id else None
    if org is None or org.id not in org_ids:
        await state.clear()
        await message.answer(t("curator.no_org"))
        return
    start = dt.date.fromisoformat(data["start"])
    past = orgs.past_dates(start, end, orgs.today_in(org.timezone, clock.now()))
    if end >= start and past:
        await state.update_data(end=end.isoformat())
        await state.set_state(NewProgramme.confirm)
        await message.answer(
            t("curator.past_dates", dates=", ".join(f"{day:%d.%m.%Y}" for day in past)),
            reply_markup=two(
                (t("curator.past_dates_keep"), NewProgDatesCb(a=DatesAnswer.KEEP)),
                (t("curator.past_dates_change"), NewProgDatesCb(a=DatesAnswer.CHANGE)),
            ),
        )
        return
    user = message.from_user
    assert user is not None
    reply = await _create_programme(session, state, t, user.id, org.id, data, end)
    await message.answer(reply)


async def _create_programme(
    session: AsyncSession, state: FSMContext, t: Translator, user_id: int, org_id: int,
    data: dict, end: dt.date,  # type: ignore[type-arg]
) -> str:
    me = await q_people.get_or_create(session, user_id, t.language)
    try:
        programme = await orgs.create_programme(
            session, org_id, data["name"], data["forms"], dt.date.fromisoformat(data["start"]),
            end, actor_id=me.id,
        )
    except ServiceError as exc:
        return t(exc.text_key(), **exc.params)
    me.current_programme_id = programme.id
    await session.commit()
    await state.clear()
    return t("curator.programme_created", id=programme.id, name=escape(programme.name))


@router.callback_query(StateFilter(NewProgramme.confirm), NewProgDatesCb.filter())
async def new_programme_past_dates(
    query: CallbackQuery, callback_data: NewProgDatesCb, bot: Bot, t: Translator,
    state: FSMContext, session: AsyncSession, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    data = await state.get_data()
    assert query.message is not None
    chat_id = query.message.chat.id
    await query.answer()
    await bot.edit_message_reply_markup(
        chat_id=chat_id, message_id=query.message.message_id, reply_markup=None
    )
    if callback_data.a == DatesAnswer.CHANGE:
        await state.set_state(NewProgramme.start)
        await bot.send_message(chat_id, t("curator.ask_start"))
        return
    if data.get("org_id") not in await _scope(session, participant, roles):
        await state.clear()
        await bot.send_message(chat_id, t("curator.no_org"))
        return
    reply = await _create_programme(session, state, t, query.from_user.id, data["org_id"], data,
                                    dt.date.fromisoformat(data["end"]))
    await bot.send_message(chat_id, reply)


@router.message(StateFilter(NewProgramme), ~F.text.startswith("/"))
async def new_programme_other(message: Message, t: Translator, state: FSMContext) -> None:
    current = await state.get_state()
    key = {
        NewProgramme.org.state: "curator.ask_org",
        NewProgramme.confirm.state: "common.use_buttons",
        NewProgramme.name.state: "curator.ask_programme_name",
        NewProgramme.forms.state: "curator.ask_forms",
        NewProgramme.start.state: "curator.ask_start",
        NewProgramme.end.state: "curator.ask_end",
    }.get(current or "", "common.not_understood")
    await message.answer(t(key))


# -- invitations --------------------------------------------------------------------------
@router.message(Command("invite"))
async def invite_links(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role], clock: Clock,
    settings: Settings, bot_username: str,
) -> None:
    org_ids = await _scope(session, participant, roles)
    try:
        programme = await people.current_programme(session, participant, org_ids)
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        return
    wanted = [k for k in (InviteKind.MENTEE, InviteKind.MENTOR)]
    if (command.args or "").strip() == "curator":
        wanted = [InviteKind.CURATOR]
    lines = [t("curator.invites_header", name=escape(programme.name))]
    for kind in wanted:
        existing = [
            i for i in await q_orgs.open_invites(session, programme.id, kind)
            if (i.expires_at is None or i.expires_at > clock.now())
            and (i.max_uses is None or i.uses < i.max_uses)
        ]
        invite = existing[-1] if existing else await orgs.create_invite(
            session, kind=kind, now=clock.now(), ttl_days=settings.invite_ttl_days,
            programme_id=programme.id, actor_id=participant.id if participant else None,
        )
        expires = f"{invite.expires_at:%d.%m.%Y}" if invite.expires_at else "—"
        lines.append(
            t(f"curator.invite_{kind.value}", link=escape(orgs.deep_link(bot_username, invite.code)),
              id=invite.id, expires=expires)
        )
    await session.commit()
    lines.append(t("curator.invite_revoke_hint"))
    await message.answer("\n\n".join(lines))


@router.message(Command("revoke"))
async def revoke(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role], clock: Clock,
) -> None:
    raw = (command.args or "").strip()
    invite_id = parse_id(raw)
    if invite_id is None:
        await message.answer(_bad_number(t, raw, "curator.revoke_usage"))
        return
    try:
        await orgs.revoke_invite(
            session, invite_id, now=clock.now(), actor_id=participant.id if participant else None,
            allowed_org_ids=await _scope(session, participant, roles),
        )
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        return
    await session.commit()
    await message.answer(t("curator.revoked", id=invite_id))


# -- bases --------------------------------------------------------------------------------
@router.message(Command("mentees", "mentors"))
async def people_list(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role],
) -> None:
    role = Role.MENTEE if command.command == "mentees" else Role.MENTOR
    text, markup = await _people_page(t, session, participant, roles, role, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(PeopleCb.filter())
async def people_page(
    query: CallbackQuery, callback_data: PeopleCb, bot: Bot, t: Translator,
    session: AsyncSession, participant: Participant | None, roles: frozenset[Role],
) -> None:
    if callback_data.role not in (Role.MENTEE, Role.MENTOR):
        await query.answer(t("curator.button_stale"))
        return
    text, markup = await _people_page(
        t, session, participant, roles, Role(callback_data.role), callback_data.page
    )
    await query.answer()
    assert query.message is not None
    try:
        await bot.edit_message_text(
            text, chat_id=query.message.chat.id, message_id=query.message.message_id,
            reply_markup=markup,
        )
    except TelegramBadRequest as exc:
        # the same page again (a double tap, or a page number clamped into range)
        if "not modified" not in exc.message:
            raise


async def _people_page(
    t: Translator, session: AsyncSession, participant: Participant | None,
    roles: frozenset[Role], role: Role, page_no: int,
):  # type: ignore[no-untyped-def]
    org_ids = await _scope(session, participant, roles)
    try:
        programme = await people.current_programme(session, participant, org_ids)
    except ServiceError as exc:
        return t(exc.text_key(), **exc.params), None
    rows, pages, page_no = await people.page(session, programme.id, role, page_no)
    header = t(f"people.header_{role.value}", name=escape(programme.name),
               page=page_no + 1, pages=pages)
    if not rows:
        return header + "\n\n" + t("people.empty"), None
    builder = InlineKeyboardBuilder()
    lines = [header]
    for row in rows:
        status = t(f"people.progress_{row.progress.value}")
        form = t(f"form.{row.membership.form}") if row.membership.form else "—"
        line = f"{escape(label(t, row.membership))} — {status} ({escape(form)})"
        if row.partners:
            line += "; " + ", ".join(
                t("people.paired_with", pair=pair_id, who=escape(label(t, other)))
                for pair_id, other in row.partners
            )
        lines.append(line)
        builder.button(
            text=short(label(t, row.membership), 40),
            callback_data=CardCb(m=row.membership.id, page=page_no),
        )
    builder.adjust(2)
    nav = []
    if page_no > 0:
        nav.append((t("common.back"), PeopleCb(role=role.value, page=page_no - 1)))
    if page_no + 1 < pages:
        nav.append((t("common.next"), PeopleCb(role=role.value, page=page_no + 1)))
    for text, data in nav:
        builder.button(text=text, callback_data=data)
    sizes = [2] * (len(rows) // 2) + ([1] if len(rows) % 2 else []) + ([len(nav)] if nav else [])
    builder.adjust(*sizes)
    return "\n".join(lines), builder.as_markup()


@router.callback_query(CardCb.filter())
async def card(
    query: CallbackQuery, callback_data: CardCb, bot: Bot, t: Translator,
    session: AsyncSession, catalog: Catalog, participant: Participant | None,
    roles: frozenset[Role],
) -> None:
    org_ids = await _scope(session, participant, roles)
    membership = (
        await q_people.membership(session, callback_data.m) if valid_id(callback_data.m) else None
    )
    if membership is None or membership.role not in (Role.MENTEE, Role.MENTOR):
        await query.answer(t("curator.button_stale"))
        return
    if membership.organisation_id not in org_ids:
        await query.answer(t("curator.button_not_yours"))
        return
    await query.answer()
    person = membership.participant
    blocks = [
        t("people.card", id=membership.id,
          name=escape(person.full_name or person.tg_first_name or t("people.unnamed")),
          role=t(f"role.{membership.role}"),
          form=escape(t(f"form.{membership.form}") if membership.form else "—"),
          status=t(f"status.{membership.status}"),
          username=escape("@" + person.tg_username if person.tg_username else "—"))
        + await _card_facts(t, session, membership)
    ]
    for response in await q_responses.of_memberships(session, [membership.id]):
        questionnaire_ = catalog.get(response.questionnaire_id)
        if questionnaire_ is None:
            continue
        answers = q_responses.answer_map(response)
        lines = [f"<b>{escape(t.pick(questionnaire_.title))}</b>"]
        lines += [
            f"• {escape(t.pick(q.label))}: <i>{answer_html(t, q, answers[q.id])}</i>"
            for q in questionnaire_.questions if q.id in answers
        ]
        blocks.append("\n".join(lines))
    page_no = min(max(callback_data.page, 0), 10_000)  # people_page clamps to the last page
    back = column([(t("common.back"), PeopleCb(role=membership.role, page=page_no))])
    parts = chunks(blocks)
    assert query.message is not None
    for i, part in enumerate(parts):
        await bot.send_message(query.message.chat.id, part,
                               reply_markup=back if i == len(parts) - 1 else None)


async def _card_facts(t: Translator, session: AsyncSession, membership: Membership) -> str:
    """Age group and consents (who consented matters for minors), working pairs."""
    lines = []
    if membership.participant.age_group:
        lines.append(t("people.card_age", age=t(f"age.{membership.participant.age_group}")))
    kinds = await people.consent_kinds(session, membership, current_document().version)
    lines.append(t("people.card_consents", kinds=", ".join(
        t(f"people.consent_{kind}") for kind in kinds
    ) or t("people.consent_none")))
    partners = (await people.paired_with(session, [membership.id])).get(membership.id, [])
    if partners:
        lines.append(t("people.card_pairs", pairs=", ".join(
            t("people.paired_with", pair=pair_id, who=escape(label(t, other)))
            for pair_id, other in partners
        )))
    return "\n" + "\n".join(lines)


@router.message(Command("paperconsent"))
async def paper_consent(
    message: Message, command: CommandObject, t: Translator, session: AsyncSession,
    participant: Participant | None, roles: frozenset[Role], clock: Clock,
) -> None:
    raw = (command.args or "").strip()
    membership_id = parse_id(raw)
    if membership_id is None or participant is None:
        await message.answer(_bad_number(t, raw, "curator.paper_usage"))
        return
    org_ids = await _scope(session, participant, roles)
    version = current_document().version
    try:
        await people.paper_consent_target(session, membership_id, org_ids, version)
        membership = await onboarding.record_paper_consent(
            session, membership_id, curator=participant, curator_org_ids=org_ids,
            version=version, now=clock.now(),
        )
    except ServiceError as exc:
        await message.answer(t(exc.text_key(), **exc.params))
        return
    person = membership.participant
    if membership.status == MembershipStatus.QUESTIONNAIRE and person.telegram_id:
        pt = translator(person.language)
        await enqueue(
            session, chat_id=person.telegram_id, text=pt("consent.paper_accepted"),
            reply_markup=column([(pt("consent.start_button"), StartQCb(m=membership.id))]),
            key=f"paper-consent:{membership.id}", now=clock.now(),
        )
    await session.commit()
    await message.answer(t("curator.paper_recorded", id=membership.id))

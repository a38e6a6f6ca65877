"""Coordinator: organisations and the curators' invitation links."""

from __future__ import annotations

from html import escape
from typing import Final

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Translator
from bot.roles import HasRole
from bot.services import organisations as orgs
from bot.services.errors import ServiceError
from db.models import InviteKind, Role
from db.queries import organisations as q_orgs
from db.queries import participants as q_people

router: Final[Router] = Router(name=__name__)
router.message.filter(HasRole(Role.COORDINATOR))


class NewOrg(StatesGroup):
    name = State()
    timezone = State()


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
    invite = await orgs.create_invite(
        session, kind=InviteKind.CURATOR, now=clock.now(), ttl_days=settings.invite_ttl_days,
        organisation_id=org.id, actor_id=me.id, max_uses=1,
    )
    await session.commit()
    await state.clear()
    await message.answer(
        t("coordinator.org_created", id=org.id, name=escape(org.name), tz=escape(org.timezone),
          link=escape(orgs.deep_link(bot_username, invite.code)))
    )


@router.message(StateFilter(NewOrg), ~F.text.startswith("/"))
async def new_org_other(message: Message, t: Translator, state: FSMContext) -> None:
    current = await state.get_state()
    await message.answer(
        t("coordinator.ask_org_name" if current == NewOrg.name.state else "errors.timezone_unknown",
          tz="?")
    )


@router.message(Command("orgs"))
async def list_orgs(
    message: Message, t: Translator, session: AsyncSession, clock: Clock, settings: Settings,
    bot_username: str,
) -> None:
    items = await q_orgs.all_orgs(session)
    if not items:
        await message.answer(t("coordinator.no_orgs"))
        return
    user = message.from_user
    assert user is not None
    me = await q_people.get_or_create(session, user.id, t.language)
    lines = [t("coordinator.orgs_header")]
    for org in items:
        invite = await orgs.create_invite(
            session, kind=InviteKind.CURATOR, now=clock.now(), ttl_days=settings.invite_ttl_days,
            organisation_id=org.id, actor_id=me.id, max_uses=1,
        )
        lines.append(
            t("coordinator.org_line", id=org.id, name=escape(org.name), tz=escape(org.timezone),
              link=escape(orgs.deep_link(bot_username, invite.code)))
        )
    await session.commit()
    await message.answer("\n\n".join(lines))

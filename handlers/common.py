"""/start without a code, /help by role, /cancel."""

from __future__ import annotations

from typing import Final

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_user_commands
from bot.curator_terms import send_terms
from bot.i18n import Translator
from bot.roles import CuratorAccess, curator_access, pending_curator
from bot.states import Answering
from db.models import Participant, Role
from db.queries import participants as q_people

router: Final[Router] = Router(name=__name__)

# /help and the menu lead with the highest role held.
HELP_SECTIONS = (Role.COORDINATOR, Role.CURATOR, Role.MENTOR, Role.MENTEE)


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, t: Translator) -> None:
    current = await state.get_state()
    if current is None:
        await message.answer(t("common.nothing_to_cancel"))
        return
    await state.clear()
    if current == Answering.active.state:
        # Nothing is undone: the answers stay and the questionnaire waits where it stopped.
        await message.answer(t("questionnaire.paused"))
        return
    await message.answer(t("common.cancelled"))


@router.message(Command("help"))
async def help_(
    message: Message, bot: Bot, roles: frozenset[Role], t: Translator,
    participant: Participant | None,
) -> None:
    await _sync_menu(bot, message, roles, participant, t)
    text = help_text(roles, t)
    if pending_curator(participant) == CuratorAccess.AWAITING:
        text += "\n\n" + t("help.curator_awaiting")
    await message.answer(text)


def help_text(roles: frozenset[Role], t: Translator) -> str:
    if not roles:
        return t("help.guest")
    parts = []
    if Role.COORDINATOR in roles:
        parts.append(t("help.coordinator"))
    if Role.CURATOR in roles or Role.COORDINATOR in roles:
        parts.append(t("help.curator"))
    parts += [t(f"help.{role.value}") for role in (Role.MENTOR, Role.MENTEE) if role in roles]
    personal = roles & {Role.MENTEE, Role.MENTOR, Role.CURATOR}
    parts.append(t("help.base" if personal else "help.general"))
    return "\n\n".join(parts)


async def _sync_menu(
    bot: Bot, message: Message, roles: frozenset[Role], participant: Participant | None,
    t: Translator,
) -> None:
    """Menus follow the roles held now (a coordinator by ADMIN_IDS has no other moment)."""
    user = message.from_user
    if user is not None and (roles or participant is not None):
        await set_user_commands(bot, user.id, roles, t.language)


@router.message(CommandStart())
async def start_plain(
    message: Message, bot: Bot, roles: frozenset[Role], t: Translator,
    participant: Participant | None, session: AsyncSession,
) -> None:
    await _sync_menu(bot, message, roles, participant, t)
    pending = pending_curator(participant)
    if pending == CuratorAccess.TERMS and participant is not None:
        membership = next(
            m for m in participant.memberships if curator_access(m) == CuratorAccess.TERMS
        )
        full = await q_people.membership(session, membership.id)
        assert full is not None
        await session.commit()
        await send_terms(bot, message.chat.id, t, full.organisation.name, full.id)
        return
    if pending == CuratorAccess.AWAITING and not roles:
        await message.answer(t("curator_access.awaiting"))
        return
    if not roles:
        await message.answer(t("start.no_code"))
        return
    names = ", ".join(t(f"role.{role.value}") for role in HELP_SECTIONS if role in roles)
    # "Welcome back" only for someone the bot has met: a coordinator's first /start is a hello.
    key = "start.welcome_back" if participant is not None else "start.hello_roles"
    await message.answer(t(key, roles=names))

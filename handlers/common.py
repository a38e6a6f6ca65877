"""/start without a code, /help by role, /cancel."""

from __future__ import annotations

from typing import Final

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.i18n import Translator
from bot.states import Answering
from db.models import Role

router: Final[Router] = Router(name=__name__)

HELP_ORDER = (Role.MENTEE, Role.MENTOR, Role.CURATOR, Role.COORDINATOR)


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
async def help_(message: Message, roles: frozenset[Role], t: Translator) -> None:
    await message.answer(help_text(roles, t))


def help_text(roles: frozenset[Role], t: Translator) -> str:
    if not roles:
        return t("help.guest")
    parts = [t("help.base")]
    if Role.COORDINATOR in roles and Role.CURATOR not in roles:
        parts.append(t("help.curator"))
    parts += [t(f"help.{role.value}") for role in HELP_ORDER if role in roles]
    return "\n\n".join(parts)


@router.message(CommandStart())
async def start_plain(message: Message, roles: frozenset[Role], t: Translator) -> None:
    if roles:
        names = ", ".join(t(f"role.{role.value}") for role in HELP_ORDER if role in roles)
        await message.answer(t("start.welcome_back", roles=names))
    else:
        await message.answer(t("start.no_code"))

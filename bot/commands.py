"""Per-role command menus (setMyCommands with chat scope)."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import SUPPORTED, translator
from db.models import Role

log = logging.getLogger(__name__)

GUEST = ("start", "help", "cancel")
MEMBER = ("me", "questionnaire", "help", "cancel", "forget")
CURATOR = (
    "programmes", "newprogramme", "invite", "mentees", "mentors", "match", "pairs", "pair",
    "unpair", "preferences",
)
COORDINATOR = ("neworg", "orgs")


def commands_for(roles: frozenset[Role]) -> tuple[str, ...]:
    names: list[str] = list(MEMBER if roles else GUEST)
    if Role.CURATOR in roles or Role.COORDINATOR in roles:
        names += CURATOR
    if Role.COORDINATOR in roles:
        names += COORDINATOR
    return tuple(dict.fromkeys(names))


def _build(names: tuple[str, ...], language: str) -> list[BotCommand]:
    t = translator(language)
    return [BotCommand(command=name, description=t(f"commands.{name}")) for name in names]


async def set_default_commands(bot: Bot) -> None:
    await bot.set_my_commands(_build(GUEST, "ru"), scope=BotCommandScopeDefault())
    for language in SUPPORTED:
        if language != "ru":
            await bot.set_my_commands(
                _build(GUEST, language), scope=BotCommandScopeDefault(), language_code=language
            )


async def set_user_commands(
    bot: Bot, telegram_id: int, roles: frozenset[Role], language: str
) -> None:
    """Best effort: a menu that fails to update must not fail the action that changed roles."""
    try:
        await bot.set_my_commands(
            _build(commands_for(roles), language), scope=BotCommandScopeChat(chat_id=telegram_id)
        )
    except TelegramAPIError as exc:
        log.warning("could not set commands for a chat: %s", type(exc).__name__)

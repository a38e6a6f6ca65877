"""Per-role command menus (setMyCommands with chat scope) and who may use which command."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import SUPPORTED, translator
from db.models import Role

if TYPE_CHECKING:
    from bot.context import Ctx

log = logging.getLogger(__name__)

GUEST = ("start", "help", "cancel")
PARTICIPANT = (
    "questionnaire", "meeting", "meetings", "journal", "plan", "pause", "resume", "portfolio",
)
PERSONAL = ("me", "forget")  # anyone who gave the bot personal data
GENERAL = ("help", "cancel")
CURATOR = (
    "programmes", "newprogramme", "invite", "mentees", "mentors", "match", "pairs", "pair",
    "unpair", "preferences", "journal", "plan", "remind", "polls", "broadcast", "paused",
    "complete", "monitoring", "reports", "summary", "kpi", "totals", "targets",
    "charts", "swot", "top", "export",  # reports
)
COORDINATOR = ("neworg", "orgs", "curatorinvite")
# Commands that answer only a curator (or a coordinator); the fallback says so to others.
CURATOR_ONLY = frozenset(CURATOR) | {"revoke", "paperconsent"}
COORDINATOR_ONLY = frozenset(COORDINATOR)


def commands_for(roles: frozenset[Role]) -> tuple[str, ...]:
    """The highest role's commands first: a coordinator sees /neworg, not /forget, on top."""
    if not roles:
        return GUEST
    names: list[str] = []
    if Role.COORDINATOR in roles:
        names += COORDINATOR
    if Role.CURATOR in roles or Role.COORDINATOR in roles:
        names += CURATOR
    if roles & {Role.MENTEE, Role.MENTOR}:
        names += PARTICIPANT
    if roles & {Role.MENTEE, Role.MENTOR, Role.CURATOR}:
        names += PERSONAL
    names += GENERAL
    return tuple(dict.fromkeys(names))


def command_name(text: str | None) -> str:
    """"/Match@my_bot 12" -> "match"."""
    head = (text or "").split(maxsplit=1)[0] if (text or "").strip() else ""
    return head.lstrip("/").split("@", 1)[0].lower()


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


async def update_menu(ctx: Ctx, roles: frozenset[Role]) -> None:
    """The menu of the person being answered, for the roles they hold now."""
    await ctx.commit()
    await set_user_commands(ctx.bot, ctx.user.id, roles, ctx.t.language)

"""Last router: every input that nothing else took still gets an answer."""

from __future__ import annotations

from typing import Final

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.commands import COORDINATOR_ONLY, CURATOR_ONLY, command_name
from bot.i18n import Translator
from bot.roles import CuratorAccess, pending_curator
from db.models import Participant

router: Final[Router] = Router(name=__name__)


@router.message(F.text.startswith("/"))
async def unknown_command(
    message: Message, t: Translator, participant: Participant | None = None
) -> None:
    name = command_name(message.text)
    if name in CURATOR_ONLY:
        pending = pending_curator(participant)
        if pending == CuratorAccess.AWAITING:
            text = t("curator_access.awaiting")
        elif pending == CuratorAccess.TERMS:
            text = t("curator_access.terms_first")
        else:
            text = t("common.no_rights", role=t("role_for.curator"))
    elif name in COORDINATOR_ONLY:
        text = t("common.no_rights", role=t("role_for.coordinator"))
    else:
        text = t("common.unknown_command")
    await message.answer(text)


@router.message()
async def not_understood(message: Message, t: Translator) -> None:
    await message.answer(t("common.not_understood"))


@router.callback_query()
async def stale_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("common.stale_button"), show_alert=False)

"""Last router: every input that nothing else took still gets an answer."""

from __future__ import annotations

from typing import Final

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import Translator

router: Final[Router] = Router(name=__name__)


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message, t: Translator) -> None:
    await message.answer(t("common.unknown_command"))


@router.message()
async def not_understood(message: Message, t: Translator) -> None:
    await message.answer(t("common.not_understood"))


@router.callback_query()
async def stale_button(query: CallbackQuery, t: Translator) -> None:
    await query.answer(t("common.stale_button"), show_alert=False)

"""Showing the curator's terms: their own document and message, with accept/decline buttons.

A view shared by the onboarding flow (a curator's invitation link) and the coordinator's
router (/start while the terms are still open); it is not a router.
"""

from __future__ import annotations

from html import escape

from aiogram import Bot
from aiogram.types import BufferedInputFile

from bot.i18n import Translator
from bot.services.consent import CURATOR, current_document
from keyboards.coordinator import CuratorTermsCb, TermsAnswer, two


async def send_terms(
    bot: Bot, chat_id: int, t: Translator, org_name: str, membership_id: int
) -> None:
    document = current_document()
    title = document.title(CURATOR, t.language)
    text = document.text(CURATOR, t.language, org_name)
    await bot.send_document(
        chat_id,
        BufferedInputFile(f"{title}\n\n{text}\n".encode(), filename=t("curator_access.filename")),
        caption=escape(title),
    )
    buttons = two(
        (t("consent.accept"), CuratorTermsCb(m=membership_id, a=TermsAnswer.ACCEPT)),
        (t("consent.decline"), CuratorTermsCb(m=membership_id, a=TermsAnswer.DECLINE)),
    )
    await bot.send_message(
        chat_id,
        f"<b>{escape(title)}</b>\n\n{escape(text)}\n\n{t('consent.version', v=document.version)}",
        reply_markup=buttons,
    )

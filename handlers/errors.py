"""The global error handler: the user gets an apology, the log gets the traceback."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from bot.i18n import Translator, pick_language, translator
from bot.messaging import drop_buttons_of
from bot.services.errors import ServiceError

log = logging.getLogger(__name__)


async def on_domain_error(event: ErrorEvent, bot: Bot, t: Translator | None = None) -> bool:
    """A refusal: the session middleware has rolled the update back; say why, in words."""
    exc = event.exception
    assert isinstance(exc, ServiceError)
    update = event.update
    query = update.callback_query
    user = query.from_user if query else (update.message.from_user if update.message else None)
    t = t or translator(pick_language(user.language_code if user else None))
    text = t(exc.text_key(), **exc.params)
    try:
        if query is not None:
            await bot.answer_callback_query(query.id, text[:200], show_alert=exc.alert)
            if exc.stale:
                await drop_buttons_of(bot, query.message)
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, text)
    except TelegramAPIError as api_error:
        log.warning("could not explain %s: %s", exc.code, type(api_error).__name__)
    return True


async def on_error(event: ErrorEvent, bot: Bot) -> bool:
    update = event.update
    log.error(
        "update %s failed with %s",
        update.update_id,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    user = None
    chat_id = None
    if update.message:
        user, chat_id = update.message.from_user, update.message.chat.id
    elif update.callback_query:
        user = update.callback_query.from_user
        chat_id = user.id
    if chat_id is None:
        return True
    t = translator(pick_language(user.language_code if user else None))
    try:
        if update.callback_query:
            await bot.answer_callback_query(update.callback_query.id)
        await bot.send_message(chat_id, t("common.error"))
    except TelegramAPIError as exc:
        log.warning("could not apologise: %s", type(exc).__name__)
    return True


def create_router() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_domain_error, ExceptionTypeFilter(ServiceError))
    router.errors.register(on_error)
    return router

"""Sending and editing the way Telegram allows: a repeated edit is not an error."""

from __future__ import annotations

import datetime as dt

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InaccessibleMessage, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox
from db.models import OutboxMessage

NOT_MODIFIED = "message is not modified"


async def drop_buttons(bot: Bot, chat_id: int, message_id: int) -> None:
    """Remove a message's inline keyboard; a second tap finds it already gone."""
    try:
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None
        )
    except TelegramBadRequest as exc:
        if NOT_MODIFIED not in exc.message and "message to edit not found" not in exc.message:
            raise


async def drop_buttons_of(bot: Bot, message: Message | InaccessibleMessage | None) -> None:
    """Remove the keyboard of a pressed button's message, if it still has one."""
    if isinstance(message, Message) and message.reply_markup is not None:
        await drop_buttons(bot, message.chat.id, message.message_id)


async def edit_or_send(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    message_id: int | None = None,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> int:
    """Edit the message in place when there is one; else send. Returns the message id."""
    if message_id is not None:
        try:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=reply_markup
            )
            return message_id
        except TelegramBadRequest as exc:
            if NOT_MODIFIED in exc.message:
                return message_id
            # Gone, too old or otherwise not editable: the text is sent anew instead.
    sent = await bot.send_message(chat_id, text, reply_markup=reply_markup)
    return sent.message_id


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    text: str,
    key: str,
    now: dt.datetime,
    reply_markup: InlineKeyboardMarkup | None = None,
    not_before: dt.datetime | None = None,
    participant_id: int | None = None,
    organisation_id: int | None = None,
    kind: str | None = None,
    batch: str | None = None,
    expires_at: dt.datetime | None = None,
) -> OutboxMessage | None:
    """Queue a message to someone other than the person being answered (the outbox)."""
    markup = (
        reply_markup.model_dump(mode="json", exclude_none=True) if reply_markup else None
    )
    return await outbox.enqueue(
        session, chat_id=chat_id, text=text, key=key, now=now, reply_markup=markup,
        not_before=not_before, participant_id=participant_id, organisation_id=organisation_id,
        kind=kind, batch=batch, expires_at=expires_at,
    )

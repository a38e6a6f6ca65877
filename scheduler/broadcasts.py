"""The broadcast progress job: edits each curator's progress message ("отправлено 120 из
300") and, when no row of a batch waits any more, writes the final count."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import translator
from bot.services import broadcast as svc
from bot.views.broadcast import progress_text
from db.models import Participant

log = logging.getLogger(__name__)
INTERVAL_S = 3.0


async def tick(
    bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
    shown: dict[int, tuple[int, int]],
) -> int:
    """Update every broadcast being sent; returns how many finished. Never raises.
    `shown` (kept by the caller) remembers the counts last shown, so an unchanged progress
    message is not edited again."""
    finished = 0
    try:
        async with sessionmaker() as session:
            await svc.drop_drafts(session, before=clock.now() - svc.DRAFT_TTL)
            updates = []
            for item in await svc.sending(session):
                state = await svc.progress(session, item)
                author = (await session.get(Participant, item.created_by)
                          if item.created_by else None)
                language = author.language if author is not None else "ru"
                updates.append((item.id, item.progress_chat_id, item.progress_message_id,
                                language, state))
            await session.commit()  # no transaction stays open across Telegram calls
        for broadcast_id, chat_id, message_id, language, state in updates:
            if state.done:
                async with sessionmaker() as session:
                    if not await svc.finish(session, broadcast_id, clock.now()):
                        continue
                    await session.commit()
                finished += 1
                log.info("broadcast %s done", broadcast_id)
            counts = (state.sent, state.unreachable)
            if chat_id is None or message_id is None or (
                not state.done and shown.get(broadcast_id) == counts
            ):
                continue
            shown[broadcast_id] = counts
            if state.done:
                shown.pop(broadcast_id, None)
            text = progress_text(translator(language), broadcast_id, state)
            try:
                await bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
            except TelegramAPIError as exc:
                if "not modified" in str(exc):
                    continue
                log.info("broadcast %s: progress not shown (%s)", broadcast_id,
                         type(exc).__name__)
                if state.done:  # the final count is not lost with an uneditable message
                    await bot.send_message(chat_id, text)
    except Exception:
        log.exception("broadcast tick failed")
    return finished

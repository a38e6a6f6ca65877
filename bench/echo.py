"""A bare aiogram 3 echo bot, the yardstick of `python -m bench.throughput`.

`python -m bench.echo` (BOT_TOKEN, TELEGRAM_API_BASE from the environment): polling, no
database, no middlewares. A text is echoed with one inline button under it; a button press
is answered and its message edited, so the benchmark's users drive it exactly as they drive
the real bot (typed answers and button answers, each followed by one reply).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

BUTTON = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="echo")]]
)


async def on_message(message: Message) -> None:
    await message.answer(message.text or "?", reply_markup=BUTTON)


async def on_press(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(f"pressed {query.id}")


async def run() -> None:
    base = os.environ.get("TELEGRAM_API_BASE")
    session = AiohttpSession(api=TelegramAPIServer.from_base(base)) if base else None
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    dp = Dispatcher()
    dp.message.register(on_message)
    dp.callback_query.register(on_press, F.data == "echo")
    await dp.start_polling(bot, handle_signals=True, close_bot_session=True)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

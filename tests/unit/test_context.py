"""Ctx: replies commit first and never exceed Telegram's limit, whatever the data."""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.context import Ctx
from bot.render import TEXT_LIMIT, visible_len, visible_text


class _Session:
    def __init__(self) -> None:
        self.open = True
        self.commits = 0

    def in_transaction(self) -> bool:
        return self.open

    async def commit(self) -> None:
        self.commits += 1
        self.open = False


class _Bot:
    def __init__(self, session: _Session) -> None:
        self.sent: list[dict[str, Any]] = []
        self._session = session

    async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> Any:
        assert not self._session.in_transaction(), "a request inside an open transaction"
        self.sent.append({"chat_id": chat_id, "text": text, "reply_markup": reply_markup})
        return None


def _ctx() -> tuple[Ctx, _Bot, _Session]:
    session = _Session()
    bot = _Bot(session)
    ctx = Ctx(
        bot=bot, user=None, chat_id=42, t=None, session=session, state=None,  # type: ignore[arg-type]
        catalog=None, clock=None, settings=None, bot_username="b",  # type: ignore[arg-type]
        roles=frozenset(), who=None, loaded=None,
    )
    return ctx, bot, session


async def test_long_reply_is_split_with_buttons_on_the_last_piece() -> None:
    ctx, bot, session = _ctx()
    text = "\n".join(f"<b>#{i}</b> Иванов &amp; «Петров» &quot;{'ы' * 40}&quot;" for i in range(300))
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Далее", callback_data="pp:mentee:1")]]
    )
    await ctx.send(text, reply_markup=markup)
    assert session.commits == 1
    assert len(bot.sent) > 1
    assert all(visible_len(m["text"]) <= TEXT_LIMIT for m in bot.sent)
    assert "".join(visible_text(m["text"]) for m in bot.sent) == visible_text(text)
    assert [m["reply_markup"] for m in bot.sent] == [None] * (len(bot.sent) - 1) + [markup]


async def test_short_reply_is_one_message() -> None:
    ctx, bot, _ = _ctx()
    await ctx.send("<i>коротко</i>")
    assert [m["text"] for m in bot.sent] == ["<i>коротко</i>"]

"""One object per update: who acts, in which chat, with which texts, session and dialog.

Handlers take a `Ctx` instead of a long list of injected values. Replies go through it,
and it is the one place where the update's work is committed before Telegram is called:
on SQLite every transaction holds the database's single write lock, so none may stay open
across a network round trip (see `TransactionCheckMiddleware`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Translator
from bot.messaging import NOT_MODIFIED, drop_buttons_of, edit_or_send
from bot.render import fits, split_html
from bot.services.consent import ConsentDocument, load_document
from bot.services.questionnaires import Catalog
from db.models import Participant, Role
from db.queries.participants import Who
from db.sqlite_fast import point_statements

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


async def commit_update(session: AsyncSession) -> None:
    """The one commit point of an update's work (also used by the session middleware).

    Changes to objects already in the session (the dialog state after a reply) wait for
    this flush without having opened a transaction."""
    if session.in_transaction() or session.dirty or session.new or session.deleted:
        with point_statements():  # the flush writes rows by primary key; COMMIT is threaded
            await session.commit()


class NotLoaded(RuntimeError):
    """A handler flagged light read `ctx.participant` (it reads `ctx.who`)."""


class Unloaded(Enum):
    """`Ctx.loaded` until the participant object is loaded (never, for a light handler)."""

    UNLOADED = "unloaded"


# A handler flag (`flags={LIGHT: True}`): the handler reads the person as rows only
# (`ctx.who`), so the ORM participant with its memberships is not loaded for it.
LIGHT = "light"


@dataclass(slots=True)
class Ctx:
    """The update being handled, as the handlers need it."""

    bot: Bot
    user: User
    chat_id: int
    t: Translator
    session: AsyncSession
    state: FSMContext
    catalog: Catalog
    clock: Clock
    settings: Settings
    bot_username: str
    roles: frozenset[Role]
    # The person as rows, read on every update (`db.queries.participants.who`).
    who: Who | None
    # The person as an object with their memberships, loaded for every handler not
    # flagged `light` (see `ParticipantObjectMiddleware`); LIGHT handlers read `who`.
    loaded: Participant | None | Unloaded = Unloaded.UNLOADED
    # The dispatcher's consent document (workflow data `consent`); the default serves a Ctx
    # built outside a dispatcher, as in unit tests.
    consent: ConsentDocument = field(default_factory=load_document)

    @property
    def participant(self) -> Participant | None:
        if self.loaded is Unloaded.UNLOADED:
            raise NotLoaded("a handler flagged light reads ctx.who, not ctx.participant")
        return self.loaded

    @property
    def now(self) -> dt.datetime:
        return self.clock.now()

    async def commit(self) -> None:
        """The update's unit of work: everything written so far, kept as one."""
        await commit_update(self.session)

    async def send(self, text: str, reply_markup: Any = None) -> Message:
        """Send a reply; a text over Telegram's limit goes as several well-formed messages,
        the buttons under the last one."""
        await self.commit()
        pieces = [text] if fits(text) else split_html(text)
        for piece in pieces[:-1]:
            await self.bot.send_message(self.chat_id, piece)
        return await self.bot.send_message(self.chat_id, pieces[-1], reply_markup=reply_markup)

    async def send_document(self, content: bytes, filename: str, caption: str) -> Message:
        await self.commit()
        return await self.bot.send_document(
            self.chat_id, BufferedInputFile(content, filename=filename), caption=caption
        )

    async def send_photo(self, content: bytes, filename: str, caption: str) -> Message:
        await self.commit()
        return await self.bot.send_photo(
            self.chat_id, BufferedInputFile(content, filename=filename), caption=caption
        )

    async def edit(
        self, message_id: int | None, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> int:
        """Edit a message in place (a repeat is no error), or send a new one."""
        await self.commit()
        return await edit_or_send(
            self.bot, self.chat_id, text, message_id=message_id, reply_markup=reply_markup
        )

    async def drop_buttons(self, message: Message | InaccessibleMessage | None) -> None:
        await self.commit()
        await drop_buttons_of(self.bot, message)

    async def edit_buttons(
        self, message: Message | InaccessibleMessage | None, reply_markup: InlineKeyboardMarkup
    ) -> None:
        """Replace the keyboard of a pressed button's message (a repeat is no error)."""
        await self.commit()
        if not isinstance(message, Message):
            return
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=message.message_id, reply_markup=reply_markup
            )
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in exc.message:
                raise

    async def answer(
        self, query: CallbackQuery, text: str | None = None, *, alert: bool = False
    ) -> None:
        await self.commit()
        await query.answer(text, show_alert=alert)


class ContextMiddleware(BaseMiddleware):
    """Builds the update's `Ctx` from what the outer middlewares prepared."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat = data.get("event_chat")
        state: FSMContext | None = data.get("state")
        if user is not None and state is not None:
            data["ctx"] = Ctx(
                bot=data["bot"],
                user=user,
                chat_id=chat.id if chat is not None else user.id,
                t=data["t"],
                session=data["session"],
                state=state,
                catalog=data["catalog"],
                clock=data["clock"],
                settings=data["settings"],
                bot_username=data["bot_username"],
                roles=data["roles"],
                who=data.get("who"),
                consent=data["consent"],
            )
        return await handler(event, data)

"""Update middlewares: one DB session per update, the participant and roles, texts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot, Router
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import LIGHT, Ctx, Unloaded, commit_update
from bot.i18n import pick_language, translator
from bot.roles import roles_of
from db.fsm_storage import update_session
from db.queries import participants as q
from db.sqlite_fast import point_statements

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class InFlightMiddleware(BaseMiddleware):
    """Knows the updates being handled, so that a stopping bot lets them finish (their
    replies and commits) before it closes the Telegram session: aiogram's polling stops
    taking updates on SIGTERM but does not wait for the ones in hand."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        task = asyncio.current_task()
        if task is None:
            return await handler(event, data)
        self.tasks.add(task)
        try:
            return await handler(event, data)
        finally:
            self.tasks.discard(task)

    async def wait(self, timeout_s: float) -> int:
        """Waits up to timeout_s for the updates in hand; returns how many were left."""
        current = asyncio.current_task()
        pending = [task for task in self.tasks if task is not current]
        if not pending:
            return 0
        _, left = await asyncio.wait(pending, timeout=timeout_s)
        return len(left)


class ChatOrderMiddleware(BaseMiddleware):
    """Handles one update at a time per user, in arrival order.

    Polling runs updates concurrently; without this a quick second tap could read dialog
    state that the first tap's handler has not committed yet.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        key = user.id
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]


class DbSessionMiddleware(BaseMiddleware):
    """Opens a session for the update; commits if the handler returns, rolls back if not."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        # Not `async with`: its exit closes the session in a task of its own (a task and a
        # greenlet per update), and a session that committed or rolled back holds nothing
        # to close. It is closed when it still holds a transaction (a failed rollback).
        session = self._sessionmaker()
        data["session"] = session
        token = update_session.set(session)
        try:
            result = await handler(event, data)
            await commit_update(session)
        except BaseException:
            await session.rollback()
            raise
        finally:
            update_session.reset(token)
            if session.in_transaction():
                await session.close()
        return result


class ParticipantMiddleware(BaseMiddleware):
    """Reads the person (if known) as rows, their roles and the translator for their
    language: what the filters need, before a handler is chosen."""

    def __init__(self, admin_ids: frozenset[int]) -> None:
        self._admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        who = None
        if user is not None:
            with point_statements():
                who = await q.who(session, user.id)
                if who is not None:
                    # They wrote to us (or unblocked the bot): messages reach them again.
                    await q.mark_reachable(session, who.person)
        language = (
            who.person.language if who else pick_language(user.language_code if user else None)
        )
        data["who"] = who
        data["roles"] = roles_of(who, user.id if user else None, self._admin_ids)
        data["t"] = translator(language)
        return await handler(event, data)


class ParticipantObjectMiddleware(BaseMiddleware):
    """Loads the person as an object with their memberships into the update's `Ctx`, for
    every handler not flagged `light` (an inner middleware: it knows the chosen handler)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        ctx: Ctx | None = data.get("ctx")
        if ctx is not None and ctx.loaded is Unloaded.UNLOADED and not get_flag(data, LIGHT):
            user: User | None = data.get("event_from_user")
            if ctx.who is None or user is None:
                ctx.loaded = None
            else:
                with point_statements():
                    ctx.loaded = await q.by_telegram_id(ctx.session, user.id)
        return await handler(event, data)


class OpenTransactionDuringRequest(AssertionError):
    """A Telegram request was made while the update's transaction was still open."""


class TransactionCheckMiddleware(BaseRequestMiddleware):
    """Checks that no transaction is open while Telegram is called.

    On SQLite every transaction holds the database's single write lock; a handler that
    replied with its transaction open would hold that lock for a network round trip, or
    for seconds while the flood limiter paces a burst. Handlers reply through `Ctx`, which
    commits the update's work first (the one commit point). With `strict` (the tests) a
    request inside an open transaction fails; in production it is logged and committed, so
    a missed commit costs a warning, not a stalled database.
    """

    def __init__(self, *, strict: bool) -> None:
        self._strict = strict

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        session = update_session.get()
        if session is not None and session.in_transaction():
            name = type(method).__name__
            if self._strict:
                raise OpenTransactionDuringRequest(f"{name} called inside an open transaction")
            log.warning("%s called inside an open transaction; committing first", name)
            await commit_update(session)
        return await make_request(bot, method)


class KeepResponseTypesMiddleware(BaseRequestMiddleware):
    """Holds aiogram's parametrised `Response[T]` models alive.

    pydantic caches generic models weakly: after a garbage collection aiogram rebuilds
    `Response[Message]` on the next request, about 100 ms of CPU each time (measured with
    py-spy under the 200-user burst, a quarter of the bot's CPU).
    """

    def __init__(self) -> None:
        self._kept: dict[Any, Any] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._kept:
            self._kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


# Telegram drops a callback query not answered within about 15 seconds (the user's button
# keeps spinning, and a late answer fails with 400). Under a burst, a handler may wait
# longer than that for the database; the deadline answers for it, and the handler's own
# answer, if it comes later, is skipped.
CALLBACK_DEADLINE_S = 8.0


@dataclass(slots=True)
class CallbackAnswerState:
    """Whether the callback query of the update in flight has had its one answer."""

    query_id: str
    answered: bool = False


# Per update (a context variable, like the update's session): the deadline task and the
# handler share the update's state object; no set of ids outlives its update.
callback_answer: ContextVar[CallbackAnswerState | None] = ContextVar(
    "callback_answer", default=None
)


class CallbackDeadlineMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        query = getattr(event, "callback_query", None)
        if query is None:
            return await handler(event, data)
        bot: Bot = data["bot"]
        state = CallbackAnswerState(query.id)
        token = callback_answer.set(state)

        async def answer_late() -> None:
            if not state.answered:
                with contextlib.suppress(TelegramAPIError):
                    await bot.answer_callback_query(query.id)

        late: list[asyncio.Task[None]] = []  # the late answer, once the deadline passed

        # A timer, not a sleeping task: most updates end long before it, and cancelling a
        # timer costs nothing, where a task per button press costs its scheduling twice.
        timer = asyncio.get_running_loop().call_later(
            CALLBACK_DEADLINE_S, lambda: late.append(asyncio.ensure_future(answer_late()))
        )
        try:
            return await handler(event, data)
        finally:
            timer.cancel()
            for task in late:
                task.cancel()
            callback_answer.reset(token)


class SkipLateCallbackAnswers(BaseRequestMiddleware):
    """Each callback query is answered once: by its handler, or by the deadline."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        state = callback_answer.get()
        if (
            isinstance(method, AnswerCallbackQuery)
            and state is not None
            and state.query_id == method.callback_query_id
        ):
            if state.answered:
                return Response[bool](ok=True, result=True)
            state.answered = True
        return await make_request(bot, method)


def inline_sync_filters(router: Router) -> None:
    """Run the synchronous filters of a router tree on the event loop.

    aiogram runs every filter that is not a coroutine function (magic filters such as
    ``F.text``) with ``asyncio.to_thread``: a thread-pool hand-off for each check of each
    update on each router it passes (py-spy: the largest single cost of the questionnaire's
    updates). A filter is a cheap pure check; awaiting it directly gives the same answer.
    Call once, after the routers are included.
    """
    for observer in router.observers.values():
        holders = [observer._handler, *observer.handlers]
        for holder in holders:
            for item in holder.filters or ():
                if not item.awaitable:
                    item.callback = _awaitable(item.callback)
                    item.awaitable = True
    for child in router.sub_routers:
        inline_sync_filters(child)


def _awaitable(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return call

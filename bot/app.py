"""Factories: bot, dispatcher, the running application. Nothing starts at import."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, OffsetClock, SystemClock
from bot.commands import set_default_commands
from bot.config import DatabaseSettings, Settings
from bot.context import ContextMiddleware
from bot.middlewares import (
    CallbackDeadlineMiddleware,
    ChatOrderMiddleware,
    DbSessionMiddleware,
    KeepResponseTypesMiddleware,
    ParticipantMiddleware,
    SkipLateCallbackAnswers,
    TransactionCheckMiddleware,
    inline_sync_filters,
)
from bot.ratelimit import FloodLimiter, RetryAfterMiddleware
from bot.services.closing import full_catalog
from bot.services.consent import CONSENT_FILE, load_document
from bot.services.polls import with_polls
from bot.services.questionnaires import DATA_DIR, Catalog
from db.engine import create_engine, create_sessionmaker
from db.fsm_storage import DatabaseStorage
from handlers import get_routers
from scheduler import clock as clock_sync
from scheduler.runner import create_scheduler

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_url(cls, url: str, settings: DatabaseSettings | None = None) -> Database:
        engine = create_engine(url) if settings is None else create_engine(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
        return cls(engine=engine, sessionmaker=create_sessionmaker(engine))

    async def close(self) -> None:
        await self.engine.dispose()


def create_bot(settings: Settings) -> Bot:
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
        if settings.telegram_api_base
        else AiohttpSession()
    )
    session.middleware(KeepResponseTypesMiddleware())
    session.middleware(SkipLateCallbackAnswers())
    session.middleware(TransactionCheckMiddleware(strict=settings.strict_transactions))
    limiter = FloodLimiter(settings.outbox_rate, settings.outbox_chat_rate)
    session.middleware(RetryAfterMiddleware(limiter))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def create_dispatcher(
    settings: Settings,
    database: Database,
    *,
    storage: BaseStorage | None = None,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
) -> Dispatcher:
    consent = load_document(settings.consent_file or CONSENT_FILE)
    dp = Dispatcher(
        storage=storage or DatabaseStorage(database.sessionmaker),
        disable_fsm=True,  # registered below, after the per-user ordering
        settings=settings,
        database=database,
        sessionmaker=database.sessionmaker,
        clock=clock or (OffsetClock() if settings.clock_control else SystemClock()),
        catalog=catalog or with_polls(full_catalog(settings.questionnaires_dir or DATA_DIR)),
        bot_username="",
        consent=consent,
    )
    dp.update.outer_middleware(CallbackDeadlineMiddleware())
    dp.update.outer_middleware(ChatOrderMiddleware())
    # The dialog state is read inside the update's transaction: one round trip, not three.
    dp.update.outer_middleware(DbSessionMiddleware(database.sessionmaker))
    dp.update.outer_middleware(dp.fsm)
    dp.update.outer_middleware(ParticipantMiddleware(settings.admin_ids))
    dp.update.outer_middleware(ContextMiddleware())
    dp.include_routers(*get_routers())
    inline_sync_filters(dp)
    return dp


async def run_polling(settings: Settings) -> None:
    database = Database.from_url(settings.database_url, settings)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, database)

    async def on_startup() -> None:
        await set_default_commands(bot)
        log.info("bot @%s started", dp["bot_username"])

    scheduler = create_scheduler(bot, database.sessionmaker, dp["clock"], settings)

    async def start_scheduler() -> None:
        clock = dp["clock"]
        if isinstance(clock, OffsetClock):  # the moved time holds from the first update on
            await clock_sync.sync(database.sessionmaker, clock)
            log.warning("CLOCK_CONTROL is on: the bot's time is moved by %s", clock.offset)
        scheduler.start()

    async def on_shutdown() -> None:
        scheduler.shutdown(wait=False)

    dp.startup.register(on_startup)
    dp.startup.register(start_scheduler)
    dp.shutdown.register(on_shutdown)
    try:
        # Before polling: handlers get a copy of the workflow data made at its start.
        dp["bot_username"] = (await bot.me()).username or ""
        await dp.start_polling(bot, handle_signals=True, close_bot_session=True)
    finally:
        await database.close()
        log.info("bot stopped")


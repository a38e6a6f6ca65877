"""Factories: bot, dispatcher, the running application. Nothing starts at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, OffsetClock, SystemClock
from bot.commands import set_default_commands
from bot.config import DatabaseSettings, Settings
from bot.context import ContextMiddleware
from bot.logging_setup import LogTagMiddleware, default_instance_id
from bot.middlewares import (
    CallbackDeadlineMiddleware,
    ChatOrderMiddleware,
    DbSessionMiddleware,
    InFlightMiddleware,
    KeepResponseTypesMiddleware,
    ParticipantMiddleware,
    ParticipantObjectMiddleware,
    SkipLateCallbackAnswers,
    TransactionCheckMiddleware,
    inline_sync_filters,
)
from bot.ratelimit import FloodLimiter, RetryAfterMiddleware
from bot.redis_state import (
    RedisDedup,
    UserIsolation,
    UserLockMiddleware,
    UserOrder,
    connect,
    create_isolation,
    create_storage,
    ping,
)
from bot.services.closing import full_catalog
from bot.services.consent import CONSENT_FILE, load_document
from bot.services.polls import with_polls
from bot.services.questionnaires import DATA_DIR, Catalog
from bot.telegram_session import JsonSession
from bot.webhook import Dedup, MemoryDedup, WebhookServer, webhook_path
from db.engine import create_engine, create_sessionmaker
from db.fsm_storage import DatabaseStorage
from handlers import get_routers
from keyboards.callbacks import QCb
from scheduler import clock as clock_sync
from scheduler.leader import Leader
from scheduler.runner import Scheduler, create_scheduler

log = logging.getLogger(__name__)

STOP_GRACE_S = 8.0  # on SIGTERM: what the updates in hand and the running jobs may take


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


def create_bot(settings: Settings, *, session: JsonSession | None = None) -> Bot:
    """session: the HTTP session (bench/hotpath.py passes one that answers in process)."""
    if session is None:
        # The questionnaire's buttons: its handlers read only the pressed message's id.
        unread = (QCb.__prefix__ + QCb.__separator__,)
        session = (
            JsonSession(
                api=TelegramAPIServer.from_base(settings.telegram_api_base),
                unread_pressed=unread,
            )
            if settings.telegram_api_base
            else JsonSession(unread_pressed=unread)
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
    isolation: UserIsolation | None = None,
    order: UserOrder | None = None,
) -> Dispatcher:
    """storage: dialog state (default: the database); isolation: a per-user lock shared by
    every instance (Redis), taken around each update besides the in-process order; order:
    the per-user tickets of webhook mode (bot/redis_state.py)."""
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
    in_flight = InFlightMiddleware()
    dp["in_flight"] = in_flight
    dp.update.outer_middleware(in_flight)
    dp.update.outer_middleware(LogTagMiddleware())
    dp.update.outer_middleware(CallbackDeadlineMiddleware())
    if isolation is not None and order is not None:
        # Webhook mode: tickets give the order across instances, then the lock; the
        # in-process order comes after (a task must not wait there for a later ticket).
        dp.update.outer_middleware(UserLockMiddleware(isolation, order))
        dp.update.outer_middleware(ChatOrderMiddleware())
    else:
        dp.update.outer_middleware(ChatOrderMiddleware())
        if isolation is not None:
            dp.update.outer_middleware(UserLockMiddleware(isolation))
    # The dialog state is read inside the update's transaction: one round trip, not three.
    dp.update.outer_middleware(DbSessionMiddleware(database.sessionmaker))
    dp.update.outer_middleware(dp.fsm)
    dp.update.outer_middleware(ParticipantMiddleware(settings.admin_ids))
    dp.update.outer_middleware(ContextMiddleware())
    loader = ParticipantObjectMiddleware()
    for observer in (dp.message, dp.callback_query, dp.my_chat_member):
        observer.middleware(loader)  # inner: every router's handlers, after the filters
    dp.include_routers(*get_routers())
    inline_sync_filters(dp)
    return dp


@dataclass(slots=True)
class Instance:
    """Everything one running bot process holds."""

    settings: Settings
    database: Database
    bot: Bot
    dp: Dispatcher
    redis: Redis | None
    leader: Leader
    scheduler: Scheduler
    name: str

    @classmethod
    def create(cls, settings: Settings) -> Instance:
        database = Database.from_url(settings.database_url, settings)
        bot = create_bot(settings)
        redis = connect(settings.redis_url) if settings.redis_url else None
        dp = create_dispatcher(
            settings, database,
            storage=create_storage(redis, settings.redis_prefix) if redis else None,
            isolation=create_isolation(redis, settings.redis_prefix) if redis else None,
            order=(
                UserOrder(redis, settings.redis_prefix)
                if redis and settings.webhook_mode else None
            ),
        )
        leader = Leader(database.engine)
        scheduler = create_scheduler(bot, database.sessionmaker, dp["clock"], settings, leader)
        name = settings.instance_id or default_instance_id()
        return cls(settings, database, bot, dp, redis, leader, scheduler, name)

    async def on_startup(self) -> None:
        await set_default_commands(self.bot)
        log.info("bot @%s started (instance %s)", self.dp["bot_username"], self.name)

    async def start_scheduler(self) -> None:
        clock = self.dp["clock"]
        if isinstance(clock, OffsetClock):  # the moved time holds from the first update on
            await clock_sync.sync(self.database.sessionmaker, clock)
            log.warning("CLOCK_CONTROL is on: the bot's time is moved by %s", clock.offset)
        await self.leader.poll()
        self.scheduler.start()

    async def finish_updates(self) -> None:
        """On stop: the updates in hand finish their work and replies first."""
        left = await self.dp["in_flight"].wait(STOP_GRACE_S)
        if left:
            log.warning("stopping with %s update(s) still in hand", left)

    async def stop_scheduler(self) -> None:
        await self.scheduler.stop(STOP_GRACE_S)
        await self.leader.release()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.database.close()

    def dedup(self) -> Dedup:
        if self.redis is None:
            return MemoryDedup()
        return RedisDedup(
            self.redis, self.settings.redis_prefix, self.bot.id,
            self.settings.webhook_dedup_ttl_s,
        )


async def run(settings: Settings) -> None:
    """Webhook mode with WEBHOOK_URL and WEBHOOK_SECRET; polling otherwise."""
    instance = Instance.create(settings)
    try:
        # Before serving: handlers get a copy of the workflow data made at its start.
        instance.dp["bot_username"] = (await instance.bot.me()).username or ""
        # What lives as long as the process (modules, models, routers, the questionnaires)
        # is set aside from the garbage collector: its collections then walk only what the
        # updates create (py-spy: full collections walked all of it, about 5 % of the CPU).
        gc.collect()
        gc.freeze()
        if settings.webhook_mode:
            await serve_webhook(instance)
        else:
            await _poll(instance)
    finally:
        await instance.close()
        log.info("bot stopped")


async def run_polling(settings: Settings) -> None:
    await run(settings)


async def _poll(instance: Instance) -> None:
    dp = instance.dp
    dp.startup.register(instance.on_startup)
    dp.startup.register(instance.start_scheduler)
    dp.shutdown.register(instance.finish_updates)
    dp.shutdown.register(instance.stop_scheduler)
    if (await instance.bot.get_webhook_info()).url:  # back from webhook mode
        log.warning("a webhook is set: deleting it to poll")
        await instance.bot.delete_webhook(drop_pending_updates=False)
    await dp.start_polling(instance.bot, handle_signals=True, close_bot_session=True)


async def serve_webhook(instance: Instance) -> None:
    settings, bot, dp = instance.settings, instance.bot, instance.dp
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    redis = instance.redis
    if redis is None and instance.database.engine.dialect.name == "postgresql":
        log.warning(
            "webhook mode without REDIS_URL: run one instance only (several need Redis "
            "for dialog state, per-user order and update deduplication)"
        )
    server = WebhookServer(
        dp, bot, secret=secret, path=webhook_path(settings.webhook_url),
        dedup=instance.dedup(), instance=instance.name,
        sessionmaker=instance.database.sessionmaker,
        redis_ping=(lambda: ping(redis)) if redis is not None else None,
        is_leader=lambda: instance.leader.held,
        order=UserOrder(redis, settings.redis_prefix) if redis is not None else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        await dp.emit_startup(bot=bot, dispatcher=dp)
        await instance.on_startup()
        await instance.start_scheduler()
        await bot.set_webhook(
            settings.webhook_url, secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(), drop_pending_updates=False,
        )
        log.info(
            "webhook mode: listening on %s:%d%s",
            settings.webhook_host, settings.webhook_port, server.path,
        )
        await stop.wait()
        log.info("stopping: draining the updates in hand")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.drain()
        await instance.stop_scheduler()
        await runner.cleanup()
        with contextlib.suppress(Exception):
            await dp.emit_shutdown(bot=bot, dispatcher=dp)
        await bot.session.close()

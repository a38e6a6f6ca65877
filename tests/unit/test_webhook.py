"""Webhook mode in process: the secret header, answering at once, deduplication (memory and
Redis), /healthz; the Redis dialog state; the settings; JSON logs without personal data."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Message
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import IntegrityError

from bot.app import Database, create_bot, create_dispatcher
from bot.config import ConfigError, Settings, load_settings
from bot.logging_setup import JsonFormatter, hash_key, id_hash, tagged
from bot.redis_state import (
    RedisDedup,
    UserLockMiddleware,
    UserOrder,
    connect,
    create_isolation,
    create_storage,
)
from bot.webhook import SECRET_HEADER, MemoryDedup, WebhookServer
from db.migrate import upgrade_to_head
from tests.fakeapi import FakeTelegram

SECRET = "unit-secret"


def redis_db2(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/2", parts.query, parts.fragment))


class World:
    def __init__(self, fake: FakeTelegram, bot: Bot, dp: Any, database: Database) -> None:
        self.fake, self.bot, self.dp, self.database = fake, bot, dp, database

    def server(self, dedup: Any = None, instance: str = "t1") -> WebhookServer:
        return WebhookServer(
            self.dp, self.bot, secret=SECRET, path="/tg", dedup=dedup or MemoryDedup(),
            instance=instance, sessionmaker=self.database.sessionmaker,
        )

    def update(self, user_id: int, text: str) -> dict[str, Any]:
        user = self.fake.user(user_id)
        user.started = True
        self.fake.enqueue_update({"message": {
            "message_id": 1, "date": 0, "text": text, "from": user.api_user(),
            "chat": user.api_chat(),
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        }})
        return self.fake.pending_updates[-1]


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeTelegram()
    await fake.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'unit.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    settings = load_settings(
        Settings, bot_token=fake.token, telegram_api_base=fake.base_url, database_url=url,
    )
    database = Database.from_url(url)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, database, storage=MemoryStorage())
    dp["bot_username"] = "nastavnik_test_bot"
    try:
        yield World(fake, bot, dp, database)
    finally:
        await bot.session.close()
        await database.close()
        await fake.stop()


async def client_for(server: WebhookServer) -> TestClient[Any, Any]:
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    return client


async def test_secret_header_is_required_and_changes_nothing(world: World) -> None:
    server = world.server()
    client = await client_for(server)
    try:
        update = world.update(501, "/help")
        missing = await client.post("/tg", json=update)
        wrong = await client.post("/tg", json=update, headers={SECRET_HEADER: "nope"})
        assert (missing.status, wrong.status) == (401, 403)
        await asyncio.sleep(0.5)
        assert server.tasks == set()
        assert world.fake.users[501].messages == []
        assert world.fake.calls("sendMessage") == []
        # Not even remembered as seen: with the secret the same update is handled.
        right = await client.post("/tg", json=update, headers={SECRET_HEADER: SECRET})
        assert right.status == 200
        await world.fake.users[501].wait_message("/help")
    finally:
        await client.close()


async def test_answers_at_once_and_handles_in_the_background(world: World) -> None:
    release = asyncio.Event()
    fed: list[int] = []

    class SlowDispatcher:
        async def feed_update(self, bot: Bot, update: Any) -> None:
            await release.wait()
            fed.append(update.update_id)

    server = world.server()
    server.dp = SlowDispatcher()  # type: ignore[assignment]
    client = await client_for(server)
    try:
        update = world.update(502, "/help")
        response = await asyncio.wait_for(
            client.post("/tg", json=update, headers={SECRET_HEADER: SECRET}), 2
        )
        assert response.status == 200 and len(server.tasks) == 1 and fed == []
        again = await client.post("/tg", json=update, headers={SECRET_HEADER: SECRET})
        assert (again.status, await again.json()) == (200, {"ok": True, "duplicate": True})
        release.set()
        await server.drain(grace_s=5)
        assert fed == [update["update_id"]] and server.tasks == set()
        # Draining: refused with 503, so Telegram re-sends it to another instance.
        late = await client.post("/tg", json=world.update(502, "/help"),
                                 headers={SECRET_HEADER: SECRET})
        assert late.status == 503
    finally:
        await client.close()


async def test_memory_dedup_is_bounded() -> None:
    dedup = MemoryDedup(size=3)
    assert [await dedup.claim(i, "a") for i in (1, 2, 1, 3, 4)] == [True, True, False, True, True]
    assert await dedup.claim(1, "a") is True  # forgotten: only the last 3 are kept


async def test_redis_dedup_across_instances(world: World, redis_url: str) -> None:
    redis = connect(redis_db2(redis_url))
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    first = world.server(RedisDedup(redis, prefix, 1, 60), "a")
    second = world.server(RedisDedup(redis, prefix, 1, 60), "b")
    clients = [await client_for(first), await client_for(second)]
    try:
        update = world.update(503, "/help")
        answers = [
            await c.post("/tg", json=update, headers={SECRET_HEADER: SECRET}) for c in clients
        ]
        assert [a.status for a in answers] == [200, 200]
        assert [(await a.json()).get("duplicate", False) for a in answers] == [False, True]
        await world.fake.users[503].wait_message("/help")
        await first.drain()
        await asyncio.sleep(0.3)
        assert len(world.fake.users[503].messages) == 1
        assert await redis.get(f"{prefix}:update:1:{update['update_id']}") == b"a"
        assert 0 < await redis.ttl(f"{prefix}:update:1:{update['update_id']}") <= 60
    finally:
        for client in clients:
            await client.close()
        await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}:*")])
        await redis.aclose()


async def test_one_users_updates_in_arrival_order_across_instances(
    world: World, redis_url: str
) -> None:
    """Updates of one user alternate between two instances while the first is slow: each
    waits for the user's earlier ones, and they are handled in the order they arrived."""
    redis = connect(redis_db2(redis_url))
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    handled: list[str] = []
    servers = []
    for name in ("a", "b"):
        dp = Dispatcher()
        dp.update.outer_middleware(
            UserLockMiddleware(create_isolation(redis, prefix), UserOrder(redis, prefix))
        )

        async def record(message: Message) -> None:
            if message.text == "slow":
                await asyncio.sleep(0.6)
            handled.append(message.text or "")

        dp.message.register(record)
        server = WebhookServer(
            dp, world.bot, secret=SECRET, path="/tg", dedup=RedisDedup(redis, prefix, 1, 60),
            instance=name, sessionmaker=world.database.sessionmaker,
            order=UserOrder(redis, prefix),
        )
        servers.append(server)
    clients = [await client_for(server) for server in servers]
    texts = ["slow", "two", "three", "four", "five", "six"]
    try:
        for number, text in enumerate(texts):
            update = world.update(504, text)
            response = await clients[number % 2].post(
                "/tg", json=update, headers={SECRET_HEADER: SECRET}
            )
            assert response.status == 200
        for server in servers:
            await server.drain()
        assert handled == texts
    finally:
        for client in clients:
            await client.close()
        await redis.delete(*[k async for k in redis.scan_iter(f"{prefix}:*")])
        await redis.aclose()


async def test_healthz(world: World, tmp_path: Path) -> None:
    server = world.server()
    client = await client_for(server)
    try:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {
            "db": True, "redis": None, "leader": True, "instance": "t1", "handling": 0,
        }
    finally:
        await client.close()
    broken = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    server = WebhookServer(
        world.dp, world.bot, secret=SECRET, path="/tg", dedup=MemoryDedup(), instance="t2",
        sessionmaker=broken.sessionmaker, redis_ping=_false, is_leader=lambda: False,
    )
    client = await client_for(server)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        body = await response.json()
        assert (body["db"], body["redis"], body["leader"]) == (False, False, False)
    finally:
        await client.close()
        await broken.close()


async def _false() -> bool:
    return False


async def test_redis_dialog_state_survives_a_restart(redis_url: str) -> None:
    url = redis_db2(redis_url)
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    key = StorageKey(bot_id=1, chat_id=77, user_id=77)
    redis = connect(url)
    storage = create_storage(redis, prefix)
    await storage.set_state(key, "Questionnaire:answering")
    await storage.set_data(key, {"question": "q3", "response_id": 12})
    await storage.close()
    again = create_storage(connect(url), prefix)  # a new process: a new connection
    try:
        assert await again.get_state(key) == "Questionnaire:answering"
        assert await again.get_data(key) == {"question": "q3", "response_id": 12}
        keys = [k async for k in again.redis.scan_iter(f"{prefix}:*")]
        assert keys and all(k.decode().startswith(f"{prefix}:fsm:") for k in keys)
    finally:
        await again.redis.delete(*[k async for k in again.redis.scan_iter(f"{prefix}:*")])
        await again.close()


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ("WEBHOOK_URL", "WEBHOOK_SECRET", "REDIS_URL", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir("/")
    return load_settings(bot_token="123:abc")


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _settings(monkeypatch)
    assert (plain.webhook_mode, plain.redis_url, plain.log_format) == (False, None, "text")
    hooked = _settings(
        monkeypatch, WEBHOOK_URL="https://bot.example.org/tg", WEBHOOK_SECRET="abc-DEF_1",
        REDIS_URL="redis://r:6379/0", LOG_FORMAT="JSON",
    )
    assert hooked.webhook_mode and hooked.log_format == "json"
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET is required"):
        _settings(monkeypatch, WEBHOOK_URL="https://bot.example.org/tg")
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET is invalid"):
        _settings(monkeypatch, WEBHOOK_URL="https://x/tg", WEBHOOK_SECRET="has space")
    with pytest.raises(ConfigError, match="REDIS_URL is invalid"):
        _settings(monkeypatch, REDIS_URL="localhost:6379")
    with pytest.raises(ConfigError, match="LOG_FORMAT is invalid"):
        _settings(monkeypatch, LOG_FORMAT="xml")


def test_json_logs_hold_no_personal_data(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("inst-1", hash_key("123:abc")))
    log = logging.getLogger("tests.json_logs")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    key = hash_key("123:abc")
    personal = "Иванова Мария Петровна"
    db = tmp_path / "x.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE p (name TEXT UNIQUE)")
        conn.execute("INSERT INTO p VALUES (?)", (personal,))
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{db}")
        with tagged(4242, 777001), engine.begin() as conn:
            try:
                conn.execute(text("INSERT INTO p VALUES (:n)"), {"n": personal})
            except IntegrityError:
                log.exception("saving participant %d failed", 15)
        engine.dispose()
        log.warning("flood control: chat %s paused for %ss", 777001, 1)
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    failed, plain = lines
    assert failed["message"] == "saving participant 15 failed"
    assert failed["level"] == "ERROR" and failed["logger"] == "tests.json_logs"
    assert failed["instance"] == "inst-1" and failed["ts"].endswith("+00:00")
    assert failed["update"] == id_hash(4242, key) and failed["user"] == id_hash(777001, key)
    assert "IntegrityError" in failed["exc_type"] and "UNIQUE" in failed["exc"]
    assert "update" not in plain
    assert plain["message"] == f"flood control: chat #{id_hash(777001, key)} paused for 1s"
    output = stream.getvalue()
    for secret in (personal, "Иванова", "777001", "4242"):
        assert secret not in output

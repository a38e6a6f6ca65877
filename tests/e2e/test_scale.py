"""Several bot instances: two real `python -m bot` processes in webhook mode on one PostgreSQL
database and one Redis, the fake Bot API delivering updates to them in turn.

Needs PostgreSQL (TEST_PG_URL) and Redis (TEST_REDIS_URL; these tests use its db 2 and a key
prefix of their own): skipped when either is unreachable, unless TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.e2e import flows
from tests.e2e.harness import REPO_ROOT, BotProcess, BotStartError
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e

SECRET = "scale-test-secret_1"
TAKEOVER_LIMIT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_db2(url: str) -> str:
    """The scale tests' Redis database (2), whatever database TEST_REDIS_URL names."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/2", parts.query, parts.fragment))


class WebhookBot(BotProcess):
    """A bot process in webhook mode: ready once it has called setWebhook."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int) -> None:
        super().__init__(env, log_path=log_path)
        self.port = port
        self.url = f"http://127.0.0.1:{port}/tg/webhook"

    async def start(self, fake: FakeTelegram, ready_timeout: float = 45.0) -> None:
        if self.running:
            raise RuntimeError("the bot process is already running")
        self._fake = fake
        self.starts += 1
        self._log = self.log_path.open("ab")
        seen = len(fake.requests)
        self._process = await asyncio.create_subprocess_exec(
            *self.argv, cwd=self.cwd, env=self.full_env(fake), stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log, stderr=asyncio.subprocess.STDOUT,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        while loop.time() < deadline:
            if self._process.returncode is not None:
                await self._close_log()
                raise BotStartError(f"the bot exited early; log tail:\n{self.log_tail()}")
            calls = [r for r in fake.requests[seen:] if r.method == "setWebhook"]
            if any(r.params.get("url") == self.url and r.ok for r in calls):
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise BotStartError(f"no setWebhook within {ready_timeout}s; log tail:\n{self.log_tail()}")

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"http://127.0.0.1:{self.port}/healthz") as response,
        ):
            return response.status, await response.json()


Cluster = Callable[..., Awaitable[list[WebhookBot]]]


@pytest_asyncio.fixture
async def cluster(
    fake_telegram: FakeTelegram, pg_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """cluster(n, **env) starts n webhook instances sharing pg_url and Redis db 2."""
    prefix = f"scale-test-{uuid.uuid4().hex[:10]}"
    redis = redis_db2(redis_url)
    started: list[WebhookBot] = []

    async def start(count: int = 2, **extra: str) -> list[WebhookBot]:
        bots = []
        for _ in range(count):
            port = free_port()
            name = f"i{len(started) + 1}"
            env = {
                "BOT_TOKEN": fake_telegram.token,
                "TELEGRAM_API_BASE": fake_telegram.base_url,
                "DATABASE_URL": pg_url,
                "REDIS_URL": redis,
                "REDIS_PREFIX": prefix,
                "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg/webhook",
                "WEBHOOK_SECRET": SECRET,
                "WEBHOOK_HOST": "127.0.0.1",
                "WEBHOOK_PORT": str(port),
                "INSTANCE_ID": name,
                "LEADER_POLL_S": "2",
                "BOT_USERNAME": flows.BOT_USERNAME,
                **extra,
            }
            process = WebhookBot(env, tmp_path / f"bot-{name}.log", port)
            started.append(process)
            await process.start(fake_telegram)
            bots.append(process)
        fake_telegram.webhook.targets = [b.url for b in started if b.running]
        return bots

    try:
        yield start
    finally:
        for process in reversed(started):
            await process.stop()
            print(f"--- bot log {process.log_path} ---\n{process.log_tail()}")
        client = Redis.from_url(redis)
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def admin(db_url: str, *args: str) -> dict[str, Any]:
    env = dict(os.environ, DATABASE_URL=db_url, BOT_USERNAME=flows.BOT_USERNAME)
    env.pop("BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "admin", *args, "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


async def sql(db_url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    import asyncpg

    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return [tuple(r) for r in await conn.fetch(statement, *params)]
    finally:
        await conn.close()


def setup_programme(db_url: str) -> dict[str, Any]:
    org = admin(db_url, "create-org", "--name", "Школа № 1", "--timezone", "Europe/Moscow")
    admin(db_url, "org-settings", "--org", str(org["org_id"]), "--quiet", "off")
    programme = admin(
        db_url, "create-programme", "--org", str(org["org_id"]), "--name", "Наставничество",
        "--forms", "student-student", "--start", "2026-09-01", "--end", "2027-05-31",
    )
    pid = str(programme["programme_id"])
    return {"mentee": admin(db_url, "invite", "--programme", pid, "--role", "mentee")["code"]}


async def test_one_user_across_two_instances_in_order_once(
    fake_telegram: FakeTelegram, cluster: Cluster, pg_url: str
) -> None:
    code = setup_programme(pg_url)["mentee"]
    first, second = await cluster(2, LOG_FORMAT="json")
    catalog = flows.catalog()
    user = fake_telegram.user(7001, first_name="Иван", username="ivan_scale")

    await flows.join_adult(user, code)
    answered = await flows.answer_all(user, catalog.get("mentee-student-student"))
    await user.wait_message("анкета заполнена")
    assessment = await flows.answer_all(user, catalog.assessment())
    await user.wait_message("Вы в базе наставляемых")

    # Every answer stored once, in the questionnaire's order, though the updates alternated.
    rows = await sql(
        pg_url,
        "SELECT r.stage, r.status, count(a.id) FROM questionnaire_responses r "
        "JOIN answers a ON a.response_id = r.id GROUP BY r.id ORDER BY r.id",
    )
    assert rows == [("onboarding", "done", len(answered)), ("entry", "done", len(assessment))]
    assert await sql(pg_url, "SELECT status FROM memberships") == [("in_base",)]
    delivered = {d.url for d in fake_telegram.webhook.deliveries if d.status == 200}
    assert delivered == {first.url, second.url}
    for bot in (first, second):  # each handled a fair share of the user's updates
        share = [d for d in fake_telegram.webhook.deliveries if d.url == bot.url]
        assert len(share) >= len(answered) // 2

    # A re-sent update (Telegram had no timely answer) reaches the other instance: once only.
    user.mark_all_read()
    update_id = await user.send("/help")
    reply = await user.wait_message()
    await asyncio.sleep(0.5)
    took = fake_telegram.webhook.delivered(update_id)[-1].url
    other = second.url if took == first.url else first.url
    assert await fake_telegram.webhook.post(update_id, other) == 200
    await asyncio.sleep(3)
    assert [m.message_id for m in user.messages if m.message_id >= reply.message_id] == [
        reply.message_id
    ]

    # Without the right secret: refused, nothing read, nothing changed.
    counts = "SELECT (SELECT count(*) FROM answers), (SELECT count(*) FROM participants)"
    before = await sql(pg_url, counts)
    sent_before = len(fake_telegram.calls("sendMessage"))
    stranger = fake_telegram.user(7002, first_name="Пётр")
    stranger.started = True  # the update below is written by hand, not through send()
    forged = {"update_id": 990001, "message": {
        "message_id": 1, "date": int(time.time()), "text": f"/start {code}",
        "from": stranger.api_user(), "chat": stranger.api_chat(),
    }}
    assert await fake_telegram.webhook.post(forged, first.url, secret=None) == 401
    assert await fake_telegram.webhook.post(forged, second.url, secret="wrong") == 403
    await asyncio.sleep(2)
    assert await sql(pg_url, counts) == before
    assert len(fake_telegram.calls("sendMessage")) == sent_before
    assert stranger.messages == []
    # The refused update was not even marked as seen: with the secret it is handled.
    assert await fake_telegram.webhook.post(forged, first.url) == 200
    await stranger.wait_message("Приглашение принято")

    # Their dialog lives in Redis; /forget erases it there too.
    await stranger.wait_message("Сколько вам лет")
    await stranger.press("18 лет и старше")
    await stranger.press("✅ Даю согласие", await flows.consent_message(stranger))
    await flows.answer_all(stranger, catalog.get("mentee-student-student"), stop_after=2)
    await flows.next_question(stranger)
    assert await redis_keys(first, ":7002:")
    await stranger.send("/forget")
    await stranger.press("Да, удалить мои данные", await stranger.wait_message("Отозвать"))
    await stranger.wait_message("персональные данные удалены")
    assert await redis_keys(first, ":7002:") == []

    for bot in (first, second):  # LOG_FORMAT=json: one object per line, nothing personal
        lines = [line for line in bot.log_text().splitlines() if not line.startswith("=====")]
        records = [json.loads(line) for line in lines if line.strip()]
        assert records and {"ts", "level", "logger", "message"} <= set(records[0])
        for personal in ("Иванов", "ivan_scale", "Ответ на", "Пётр"):
            assert personal not in bot.log_text()
        for telegram_id in ("7001", "7002"):  # not as a number of its own (hashes are hex)
            assert not re.search(rf"(?<![\w.]){telegram_id}(?!\w)", bot.log_text())


async def redis_keys(bot: WebhookBot, part: str) -> list[bytes]:
    """The dialog-state keys in Redis whose name contains `part`."""
    client = Redis.from_url(bot.env["REDIS_URL"])
    try:
        pattern = f"{bot.env['REDIS_PREFIX']}:fsm:*"
        return [k async for k in client.scan_iter(pattern) if part in k.decode()]
    finally:
        await client.aclose()


async def seed_outbox(db_url: str, chat_ids: list[int]) -> None:
    from bot.services import outbox
    from db.engine import create_engine, create_sessionmaker

    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            now = dt.datetime.now(dt.UTC)
            for chat_id in chat_ids:
                await outbox.enqueue(
                    session, chat_id=chat_id, text=f"Напоминание {chat_id}",
                    key=f"scale-reminder:{chat_id}", now=now, kind="reminder",
                )
            await session.commit()
    finally:
        await engine.dispose()


async def seed_paused(db_url: str, telegram_id: int) -> None:
    """Someone whose pause ended a minute ago (the pause job resumes and tells them)."""
    from db.engine import create_engine, create_sessionmaker
    from db.enums import ParticipantStatus
    from db.models import Participant

    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add(Participant(
                telegram_id=telegram_id, language="ru", status=ParticipantStatus.PAUSED,
                paused_until=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                pause_reason="holidays",
            ))
            await session.commit()
    finally:
        await engine.dispose()


async def test_reminders_once_and_scheduler_moves_when_its_instance_dies(
    fake_telegram: FakeTelegram, cluster: Cluster, pg_url: str
) -> None:
    fake_telegram.set_limits(global_per_second=None, chat_rate=None)
    chat_ids = list(range(800_000, 801_000))
    for chat_id in chat_ids:
        fake_telegram.user(chat_id).started = True
    # The default LEADER_POLL_S (10 s): the takeover below is timed as in production.
    bots = await cluster(2, OUTBOX_RATE="150", OUTBOX_WORKERS="8", LEADER_POLL_S="10")
    await seed_outbox(pg_url, chat_ids)

    def delivered() -> list[Any]:
        return [
            r for r in fake_telegram.calls("sendMessage")
            if r.ok and int(r.params["chat_id"]) in range(800_000, 801_000)
        ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        if len(delivered()) >= 1000:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # anything sent twice would show by now
    sent = delivered()
    assert len(sent) == 1000
    assert sorted(int(r.params["chat_id"]) for r in sent) == chat_ids
    assert await sql(
        pg_url, "SELECT status, count(*) FROM outbox GROUP BY status"
    ) == [("sent", 1000)]
    drained = [b for b in bots if "message(s) delivered" in b.log_text()]
    assert len(drained) == 2  # both instances drained the queue

    # Exactly one instance holds the scheduler lock.
    health = {b.url: await b.health() for b in bots}
    assert all(status == 200 for status, _ in health.values())
    leaders = [b for b in bots if health[b.url][1]["leader"]]
    assert len(leaders) == 1
    leader = leaders[0]
    survivor = next(b for b in bots if b is not leader)
    assert health[survivor.url][1] == {**health[survivor.url][1], "db": True, "redis": True}

    # Kill it; a pause that ends now can only be ended by the periodic jobs of the other.
    await leader.kill()
    killed_at = time.monotonic()
    fake_telegram.webhook.targets = [survivor.url]
    paused = fake_telegram.user(802_001)
    paused.started = True
    await seed_paused(pg_url, 802_001)
    while time.monotonic() - killed_at < TAKEOVER_LIMIT_S:
        if (await survivor.health())[1]["leader"]:
            break
        await asyncio.sleep(0.5)
    took_over = time.monotonic() - killed_at
    assert took_over < TAKEOVER_LIMIT_S
    await paused.wait_message(timeout=TAKEOVER_LIMIT_S - took_over + 15)
    resumed = time.monotonic() - killed_at
    assert await sql(
        pg_url, "SELECT status FROM participants WHERE telegram_id = $1", 802_001
    ) == [("active",)]
    assert resumed < TAKEOVER_LIMIT_S + 15  # the takeover plus one run of the pause job
    print(f"scheduler takeover: {took_over:.1f} s; paused person resumed after {resumed:.1f} s")

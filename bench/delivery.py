"""Benchmark of the outbox sender: ``python -m bench.delivery``.

Queues `--messages` messages to as many chats in a fresh SQLite database and drains them
through the real sender (scheduler/outbox.py, paced by bot/ratelimit.py at `--rate`/s)
against the repo's fake Bot API server, which enforces Telegram's limits (`--limit`
messages per rolling second overall, ~1/s per chat) and answers 429 when they are
exceeded. Human-readable lines go to stderr; the last line of stdout is one JSON object:
messages, limit_per_s, achieved_per_s, responses_429, duplicates, missing, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.app import Database, create_bot
from bot.clock import SystemClock
from bot.config import Settings, load_settings
from bot.services import outbox
from db.migrate import upgrade_to_head
from scheduler.outbox import Sender
from tests.fakeapi import FakeTelegram

FIRST_CHAT = 100_000


async def run(messages: int, rate: float, limit: int, workers: int) -> dict[str, Any]:
    fake = FakeTelegram(global_per_second=limit)
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        settings = load_settings(
            Settings, bot_token=fake.token, telegram_api_base=fake.base_url,
            database_url=url, outbox_rate=rate, outbox_workers=workers,
        )
        database = Database.from_url(url)
        bot = create_bot(settings)
        chats = range(FIRST_CHAT, FIRST_CHAT + messages)
        now = dt.datetime.now(dt.UTC)
        async with database.sessionmaker() as session:
            for chat in chats:
                fake.user(chat).started = True
                await outbox.enqueue(
                    session, chat_id=chat, text=f"Сообщение рассылки №1 для {chat}",
                    key=f"bench:{chat}", now=now, kind="broadcast", batch="bc:1",
                )
            await session.commit()
        sender = Sender(
            bot, database.sessionmaker, SystemClock(), rate=rate, workers=workers,
            lease_s=settings.outbox_lease_s,
        )
        print(f"queued {messages} messages; draining at {rate}/s", file=sys.stderr)
        started = time.perf_counter()
        delivered = 0
        while delivered < messages:
            done = await sender.drain()
            delivered += done
            if not done:
                await asyncio.sleep(0.2)
            if time.perf_counter() - started > messages / rate * 3 + 60:
                break
        seconds = time.perf_counter() - started
        await bot.session.close()
        await database.close()
    await fake.stop()
    copies = Counter(m.chat_id for chat in chats for m in fake.users[chat].messages)
    return {
        "messages": messages,
        "limit_per_s": limit,
        "achieved_per_s": round(sum(copies.values()) / seconds, 2),
        "responses_429": len([e for e in fake.errors if e.status == 429]),
        "duplicates": sum(n - 1 for n in copies.values() if n > 1),
        "missing": len([chat for chat in chats if copies[chat] == 0]),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=30.0, help="the sender's OUTBOX_RATE")
    parser.add_argument("--limit", type=int, default=30, help="the fake server's limit/s")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.messages, args.rate, args.limit, args.workers))
    print(
        f"{result['messages']} messages in {result['seconds']} s: "
        f"{result['achieved_per_s']}/s of {result['limit_per_s']}/s",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

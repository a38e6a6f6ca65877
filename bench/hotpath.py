"""Where an answer's CPU goes, in process: ``python -m bench.hotpath``.

`bench.throughput` measures the real bot over HTTP; this one says what each part of an
update costs, so the next change can be aimed. The production dispatcher (every router and
middleware, SQLite, the same 200 users mid-questionnaire as bench.throughput) is fed the
users' answers one at a time; its Bot API session answers each request in process (the
request body is still built and the answer still parsed, only the HTTP is left out). Every
statement run through the update's session is timed and labelled by its SQL; so are the
commits, the Telegram requests and the rest.

Human-readable lines go to stderr; the last line of stdout is one JSON object:
``{"updates": …, "cpu_ms_per_update": …, "db_ms_per_update": …, "telegram_ms_per_update": …,
"statements_per_update": …, "transactions_per_update": …, "requests_per_update": …,
"parts": {label: ms per update}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.throughput import QUESTIONNAIRE, USERS, add_users, long_questionnaires, typed_answer
from bot.services.questionnaires import Catalog, Question
from bot.telegram_session import JsonSession
from db.points import Point

BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
TOKEN = "123456:bench-hotpath"

Times = defaultdict[str, float]


class TimedSession(AsyncSession):
    """The update's session, timing each statement (labelled by its first SQL line) and
    each commit; the labels are computed once per statement object."""

    times: Times
    counts: Counter[str]
    labels: dict[int, str]

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if id(statement) in self.labels and self.labels[id(statement)].startswith(POINT):
            # A db.points statement going through the session: timed by timed_points.
            return await super().execute(statement, *args, **kwargs)
        started = time.perf_counter()
        try:
            return await super().execute(statement, *args, **kwargs)
        finally:
            self.record(statement, time.perf_counter() - started)

    @classmethod
    def label(cls, statement: Any, prefix: str = "") -> str:
        label = cls.labels.get(id(statement))
        if label is None:
            label = cls.labels[id(statement)] = prefix + str(statement).split("\n")[0][:60]
        return label

    @classmethod
    def record(cls, statement: Any, spent: float, prefix: str = "") -> None:
        label = cls.label(statement, prefix)
        cls.times[label] += spent
        cls.counts[label] += 1

    async def commit(self) -> None:
        started = time.perf_counter()
        try:
            await super().commit()
        finally:
            self.times["COMMIT"] += time.perf_counter() - started
            self.counts["COMMIT"] += 1


POINT = "point "  # the label's prefix of a db.points statement


@contextmanager
def timed_points() -> Iterator[None]:
    """Time db.points' statements as well: they run on SQLite without session.execute (or
    through it, when they fall back; TimedSession then leaves them to this)."""
    originals = Point.rows, Point.run

    def timed(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(point: Point, session: AsyncSession, params: Any) -> Any:
            TimedSession.label(point.statement, POINT)  # before a fallback reaches execute
            started = time.perf_counter()
            try:
                return await method(point, session, params)
            finally:
                TimedSession.record(point.statement, time.perf_counter() - started, POINT)
        return run

    Point.rows = timed(Point.rows)  # type: ignore[method-assign,assignment]
    Point.run = timed(Point.run)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Point.rows, Point.run = originals  # type: ignore[method-assign]


class AnsweringSession(JsonSession):
    """Answers the Bot API in process, as Telegram would, keeping each chat's screen."""

    def __init__(self, times: Times, counts: Counter[str]) -> None:
        super().__init__()
        self.times = times
        self.counts = counts
        self.screens: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1_000)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        started = time.perf_counter()
        self.build_form_data(bot, method)  # the body, as it would be sent
        result: Any = True
        if isinstance(method, SendMessage | EditMessageText | EditMessageReplyMarkup):
            chat = int(method.chat_id or 0)
            old = self.screens.get(chat, {})
            message_id = getattr(method, "message_id", None) or next(self._ids)
            markup = method.reply_markup
            result = {
                "message_id": message_id, "from": BOT_USER, "date": 1_700_000_000,
                "chat": {"id": chat, "type": "private", "first_name": "U"},
                "text": getattr(method, "text", None) or old.get("text", ""),
            }
            if markup is not None:
                result["reply_markup"] = markup.model_dump(mode="json", exclude_none=True)
            if not isinstance(method, EditMessageReplyMarkup) or message_id == old.get(
                "message_id"
            ):
                self.screens[chat] = result
        content = json.dumps({"ok": True, "result": result})
        answer = self.check_response(bot=bot, method=method, status_code=200, content=content)
        label = f"telegram {method.__api_method__}"
        self.times[label] += time.perf_counter() - started
        self.counts[label] += 1
        return answer.result  # type: ignore[return-value]


def next_update(
    update_id: int, chat: int, screen: dict[str, Any], questions: tuple[Question, ...]
) -> dict[str, Any]:
    """The user's answer to what is on screen, as bench.throughput's users give it."""
    buttons = [
        (b.get("text", ""), b.get("callback_data", ""))
        for row in (screen.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]
    by_action: dict[str, list[str]] = {}
    index = 0
    for _text, data in buttons:
        if data.startswith("q:"):
            by_action.setdefault(data.split(":")[1], []).append(data)
            index = int(data.split(":")[3])
    user = {"id": chat, "is_bot": False, "first_name": "U"}

    def press(data: str) -> dict[str, Any]:
        return {"update_id": update_id, "callback_query": {
            "id": str(update_id), "from": user, "chat_instance": "1", "data": data,
            "message": screen,
        }}

    if "t" in by_action:
        ticked = any(text.startswith("✅") for text, data in buttons if data.startswith("q:t"))
        return press(by_action["d"][0] if ticked else by_action["t"][0])
    for action in ("o", "s", "y"):
        if action in by_action:
            return press(by_action[action][-1 if action == "s" else 0])
    return {"update_id": update_id, "message": {
        "message_id": update_id, "from": user, "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "U"},
        "text": typed_answer(questions[index]),
    }}


async def drive(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from bench.dataset import prepared_database
    from bot.app import Database, create_bot, create_dispatcher
    from bot.config import Settings, load_settings
    from db.engine import create_engine

    qdir = long_questionnaires(workdir / "questionnaires")
    catalog = Catalog.from_dir(qdir)
    questionnaire = catalog.get(QUESTIONNAIRE)
    assert questionnaire is not None
    db_path = workdir / "bot.db"
    await asyncio.to_thread(prepared_database, db_path, 0)
    chats = add_users(db_path, catalog, args.users)
    url = f"sqlite+aiosqlite:///{db_path}"
    settings = load_settings(
        Settings, bot_token=TOKEN, database_url=url, questionnaires_dir=str(qdir)
    )
    engine = create_engine(url)
    makers = async_sessionmaker(
        engine, class_=TimedSession, expire_on_commit=False, autoflush=True
    )
    times: Times = defaultdict(float)
    counts: Counter[str] = Counter()
    TimedSession.times, TimedSession.counts, TimedSession.labels = times, counts, {}
    database = Database(engine=engine, sessionmaker=makers)  # type: ignore[arg-type]
    session = AnsweringSession(times, counts)
    bot = create_bot(settings, session=session)
    dp = create_dispatcher(settings, database)
    dp["bot_username"] = "bench_bot"
    ids = itertools.count(1)
    try:
        for chat in chats:  # each user's current question on screen
            await dp.feed_raw_update(bot, {"update_id": next(ids), "message": {
                "message_id": next(ids), "from": {"id": chat, "is_bot": False, "first_name": "U"},
                "chat": {"id": chat, "type": "private", "first_name": "U"},
                "date": 1_700_000_000, "text": "/questionnaire",
            }})
        gc.collect()
        gc.freeze()  # as the bot does after its start
        rounds: list[float] = []
        for number in range(args.rounds + 1):
            if number == 1:  # the first round warms up
                times.clear()
                counts.clear()
                started, cpu_started = time.perf_counter(), time.process_time()
            round_started = time.process_time()
            for chat in chats:
                screen = session.screens[chat]
                update = next_update(next(ids), chat, screen, questionnaire.questions)
                await dp.feed_raw_update(bot, update)
            if number:
                rounds.append(time.process_time() - round_started)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        gc.unfreeze()
        await engine.dispose()
    updates = args.rounds * len(chats)

    def per_update(seconds: float) -> float:
        return round(1000 * seconds / updates, 3)

    db = sum(v for k, v in times.items() if not k.startswith("telegram "))
    telegram = sum(v for k, v in times.items() if k.startswith("telegram "))
    requests = sum(v for k, v in counts.items() if k.startswith("telegram "))
    statements = sum(counts.values()) - requests - counts["COMMIT"]
    ranked = sorted(times.items(), key=lambda item: -item[1])
    for label, spent in ranked:
        log(f"{per_update(spent):7.3f} ms/update  {counts.get(label, 0) / updates:5.2f}×  {label}")
    rounds.sort()
    return {
        "updates": updates,
        "cpu_ms_per_update": per_update(cpu),
        "median_round_cpu_ms_per_update": round(1000 * rounds[len(rounds) // 2] / len(chats), 3),
        "wall_ms_per_update": per_update(wall),
        "db_ms_per_update": per_update(db),
        "telegram_ms_per_update": per_update(telegram),
        "rest_ms_per_update": per_update(cpu - db - telegram),
        "statements_per_update": round(statements / updates, 2),
        "transactions_per_update": round(counts["COMMIT"] / updates, 2),
        "requests_per_update": round(requests / updates, 2),
        "parts": {label: per_update(spent) for label, spent in ranked},
    }


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--rounds", type=int, default=20, help="answers per user measured")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="nastavnik-hotpath-"))
    try:
        with timed_points():
            result = asyncio.run(drive(args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

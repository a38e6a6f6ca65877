"""Answers read the person as rows: no participant object per answer, and only their own
responses (the production dispatcher, in process, on bench.hotpath's users)."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import SendDocument, SendMessage, TelegramMethod
from aiogram.types import TelegramObject

from bench.dataset import prepared_database
from bench.hotpath import TOKEN, AnsweringSession, next_update
from bench.throughput import QUESTIONNAIRE, add_users, long_questionnaires
from bot.app import Database, create_bot, create_dispatcher
from bot.config import Settings, load_settings
from bot.context import Ctx, NotLoaded, Unloaded
from bot.services.questionnaires import Catalog
from db.models import Participant


class Recording(AnsweringSession):
    """bench.hotpath's in-process Bot API, keeping every text sent and taking documents."""

    def __init__(self) -> None:
        super().__init__(defaultdict(float), Counter())
        self.sent: list[tuple[int, str]] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None  # noqa: ASYNC109
    ) -> Any:
        if isinstance(method, SendMessage):
            self.sent.append((int(method.chat_id), method.text))
        if not isinstance(method, SendDocument):
            return await super().make_request(bot, method, timeout)
        self.sent.append((int(method.chat_id), "[document]"))
        result = {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": method.chat_id, "type": "private", "first_name": "U"},
            "document": {"file_id": "f", "file_unique_id": "u"},
        }
        content = json.dumps({"ok": True, "result": result})
        return self.check_response(bot=bot, method=method, status_code=200, content=content).result


def _answers(db: Path) -> Counter[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.telegram_id FROM answers a JOIN questionnaire_responses r"
            " ON r.id = a.response_id JOIN memberships m ON m.id = r.membership_id"
            " JOIN participants p ON p.id = m.participant_id"
        ).fetchall()
    return Counter(row[0] for row in rows)


async def test_answers_skip_the_participant_object_and_stay_in_ones_own_responses(
    tmp_path: Path,
) -> None:
    qdir = long_questionnaires(tmp_path / "questionnaires")
    catalog = Catalog.from_dir(qdir)
    questionnaire = catalog.get(QUESTIONNAIRE)
    assert questionnaire is not None
    db = tmp_path / "bot.db"
    await asyncio.to_thread(prepared_database, db, 0)
    first, second = add_users(db, catalog, 2)
    settings = load_settings(
        Settings, bot_token=TOKEN, database_url=f"sqlite+aiosqlite:///{db}",
        questionnaires_dir=str(qdir),
    )
    database = Database.from_url(settings.database_url)
    api = Recording()
    bot = create_bot(settings, session=api)
    dp = create_dispatcher(settings, database)
    dp["bot_username"] = "test_bot"
    seen: list[tuple[str, object]] = []

    async def record(
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        ctx: Ctx = data["ctx"]
        seen.append((getattr(event, "text", None) or "press", ctx.loaded))
        if ctx.loaded is Unloaded.UNLOADED:
            with pytest.raises(NotLoaded):
                _ = ctx.participant
        return await handler(event, data)

    for observer in (dp.message, dp.callback_query):
        observer.middleware(record)  # after the loader: what the handler gets
    ids = itertools.count(1)

    def typed(chat: int, text: str) -> dict[str, Any]:
        return {"update_id": next(ids), "message": {
            "message_id": next(ids), "from": {"id": chat, "is_bot": False, "first_name": "U"},
            "chat": {"id": chat, "type": "private", "first_name": "U"},
            "date": 1_700_000_000, "text": text,
        }}

    try:
        for chat in (first, second):
            await dp.feed_raw_update(bot, typed(chat, "/questionnaire"))
        assert all(isinstance(loaded, Participant) for _, loaded in seen)
        seen.clear()
        for _ in range(6):
            for chat in (first, second):
                update = next_update(next(ids), chat, api.screens[chat], questionnaire.questions)
                await dp.feed_raw_update(bot, update)
        assert len(seen) == 12
        assert all(loaded is Unloaded.UNLOADED for _, loaded in seen)
        stored = _answers(db)  # a multiple choice takes two presses (tick, done)
        assert stored[first] >= 3 and stored[second] >= 3

        # The first user's dialog is made to name the second user's response (a forged or
        # corrupted dialog): the answer goes nowhere and the person is told so.
        with sqlite3.connect(db) as conn:
            (second_key, second_data), = conn.execute(
                "SELECT key, data FROM fsm_states WHERE key LIKE ?", (f"%:{second}:%",)
            ).fetchall()
            (first_key, first_data), = conn.execute(
                "SELECT key, data FROM fsm_states WHERE key LIKE ?", (f"%:{first}:%",)
            ).fetchall()
            forged = {**json.loads(first_data), "r": json.loads(second_data)["r"]}
            conn.execute(
                "UPDATE fsm_states SET data = ? WHERE key = ?", (json.dumps(forged), first_key)
            )
        await dp.feed_raw_update(bot, typed(first, "Ответ"))
        assert "заполнять нечего" in api.screens[first]["text"]
        assert _answers(db) == stored

        # The second user's consent is withdrawn (the decisions read with the person): the
        # answer is not stored and consent is asked for again.
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO consents (participant_id, organisation_id, membership_id, kind,"
                " decision, version, created_at) SELECT participant_id, organisation_id,"
                " membership_id, kind, 'withdrawn', version, '2030-01-01 00:00:00'"
                " FROM consents WHERE participant_id = (SELECT id FROM participants"
                " WHERE telegram_id = ?)", (second,),
            )
        update = next_update(next(ids), second, api.screens[second], questionnaire.questions)
        await dp.feed_raw_update(bot, update)
        assert _answers(db) == stored
        texts = [text for chat, text in api.sent if chat == second]
        assert "Текст согласия" in texts[-3] and texts[-2] == "[document]"
    finally:
        await bot.session.close()
        await database.close()

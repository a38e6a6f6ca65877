"""The questionnaire's hot path shortcuts keep their promises (bench: python -m bench.throughput)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import text

from bot.app import Database
from db import sqlite_fast
from db.fsm_storage import DatabaseStorage, update_session
from db.migrate import upgrade_to_head
from keyboards.callbacks import QAction, QCb
from keyboards.questionnaire import pack


def test_packed_callback_data_is_what_qcb_packs_and_unpacks() -> None:
    for action in QAction:
        for response_id, index, value in ((1, 0, 0), (123_456_789, 45, 10)):
            packed = pack(action, response_id, index, value)
            model = QCb(a=action, r=response_id, q=index, v=value)
            assert packed == model.pack()
            assert QCb.unpack(packed) == model


async def test_commits_on_the_loop_are_durable_and_the_log_is_checkpointed(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hot.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database.from_url(url)
    storage = DatabaseStorage(database.sessionmaker)
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    try:
        for i in range(sqlite_fast.CHECKPOINT_EVERY + 10):
            async with database.sessionmaker() as session:
                token = update_session.set(session)
                try:
                    await storage.set_state(key, "Answering:active")
                    await storage.set_data(key, {"i": i})
                finally:
                    update_session.reset(token)
                await session.commit()
        async with database.sessionmaker() as session:
            # The same state again writes nothing; the data is the last one committed.
            assert await storage.get_state(key) == "Answering:active"
            assert await storage.get_data(key) == {"i": sqlite_fast.CHECKPOINT_EVERY + 9}
            assert (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        # Automatic checkpoints are off; ours ran: the log holds only the last few commits.
        other = sqlite3.connect(tmp_path / "hot.db")
        try:
            _busy, log_frames, _done = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            other.close()
        assert 0 < log_frames < 200
    finally:
        await database.close()


def test_the_in_process_breakdown_accounts_for_an_answers_work(tmp_path: Path) -> None:
    """bench.hotpath drives the production dispatcher: every update of the measured rounds
    is an answer, which reads and writes through the update's session and replies."""
    import json as json_module
    from contextlib import redirect_stdout
    from io import StringIO

    from bench import hotpath

    out = StringIO()
    with redirect_stdout(out):
        assert hotpath.main(["--users", "4", "--rounds", "3"]) == 0
    result = json_module.loads(out.getvalue().strip().splitlines()[-1])
    assert result["updates"] == 12
    # An answer: the dialog, the participant, the response, then writes; one commit or two.
    assert 5 <= result["statements_per_update"] <= 9
    assert 1 <= result["transactions_per_update"] <= 2
    assert 1 <= result["requests_per_update"] <= 2
    parts = result["parts"]
    # db.points statements are labelled "point …" (they bypass session.execute on SQLite)
    assert any(label.startswith("point INSERT INTO answers") for label in parts)
    assert any(label.startswith("telegram ") for label in parts)
    assert result["db_ms_per_update"] > 0 and result["telegram_ms_per_update"] > 0

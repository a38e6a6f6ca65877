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

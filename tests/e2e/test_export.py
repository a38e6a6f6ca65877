"""/export in the real bot process: while a coordinator's large export (every organisation of
a 12,000-participant dataset) is being built by the worker process, another user's /help is
answered in under a second; the progress message is edited, the workbook arrives and opens."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bench.dataset import FIRST_TELEGRAM_ID, prepared_database
from bench.pg import copy_from_sqlite
from tests.backends import is_postgres, url_for
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e

COORDINATOR = 4242
PARTICIPANTS = 12_000


async def test_help_is_answered_while_a_large_export_is_built(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    if is_postgres():  # the dataset is built on SQLite; the bot's database gets a copy
        await asyncio.to_thread(prepared_database, tmp_path / "dataset.db", PARTICIPANTS)
        await asyncio.to_thread(
            copy_from_sqlite, tmp_path / "dataset.db", url_for(tmp_path / "bot.db"))
    else:
        await asyncio.to_thread(prepared_database, tmp_path / "bot.db", PARTICIPANTS)
    temp = tmp_path / "tmp"  # the bot's temporary files: the export's must be gone at the end
    temp.mkdir()
    await bot_process({"ADMIN_IDS": str(COORDINATOR), "TMPDIR": str(temp)})
    coordinator = fake_telegram.user(COORDINATOR)
    mentee = fake_telegram.user(FIRST_TELEGRAM_ID + 2)  # a dataset participant

    await coordinator.send("/export all")
    progress = await coordinator.wait_message(contains="Готовлю выгрузку", timeout=20)
    assert progress.text == "⏳ Готовлю выгрузку: 0 %"
    building = time.perf_counter()
    await coordinator.send("/export all")
    await coordinator.wait_message(contains="Уже готовлю", timeout=10)

    # the export is running now; the bot answers someone else at once, again and again
    answered = []
    while not fake_telegram.documents and len(answered) < 6:
        seen = len(mentee.messages)
        started = time.perf_counter()
        await mentee.send("/help")
        await mentee.wait_until(lambda seen=seen: len(mentee.messages) > seen, timeout=5)
        if not fake_telegram.documents:  # answered while the export was still being built
            answered.append(time.perf_counter() - started)
        assert "/help" in mentee.messages[-1].text
        await asyncio.sleep(0.2)
    assert len(answered) >= 2, "the export finished too early to prove anything"
    assert max(answered) < 1.0, answered

    document = await coordinator.wait_message(contains="Выгрузка для мониторинга", timeout=120)
    built_s = time.perf_counter() - building
    assert document.document is not None and document.document.filename is not None
    assert document.document.filename.startswith("nastavnik-all-")
    edits = [c for c in fake_telegram.calls("editMessageText")
             if "Готовлю выгрузку" in str(c.params.get("text"))]
    # the progress is edited at most every 2 s and only when the figure changed, so a build
    # that long shows at least one figure between 0 % and the end
    assert edits or built_s < 4.5, f"the progress was never edited in {built_s:.1f} s"
    edited = coordinator.find_message(progress.message_id)  # the same message, at the end
    assert edited is not None and edited.text.startswith("✅ Выгрузка готова")
    book = load_workbook(io.BytesIO(document.document.content or b""), read_only=True)
    assert book.sheetnames[:3] == ["Реестр наставников", "Реестр наставляемых", "Пары и этапы"]
    await coordinator.wait_until(lambda: not any(temp.iterdir()), timeout=5,
                                 what="the export's temporary file deleted")

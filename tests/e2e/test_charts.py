"""/charts from the real bot process: a coordinator gets the four charts as photos (valid
PNGs) while another user's /help is answered at once (drawing runs off the event loop), and
/swot and /top answer from the same seeded database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.i18n import translator
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from tests.backends import url_for
from tests.e2e.harness import BotProcessFactory
from tests.fakeapi import FakeTelegram
from tests.unit.test_charts import _more, _size
from tests.unit.test_swot_top import seed

COORDINATOR = 9301
GUEST = 9302
T = translator("ru")


async def _seeded(db_path: Path) -> int:
    url = url_for(db_path)  # the bot's own database, on the selected backend
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            s = await seed(session)
            await _more(s)
            await session.commit()
            return s.a.org.id
    finally:
        await engine.dispose()


async def test_charts_while_others_are_answered(
    bot_process: BotProcessFactory, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    org = await _seeded(tmp_path / "bot.db")
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = fake_telegram.user(COORDINATOR, "Координатор")
    guest = fake_telegram.user(GUEST, "Гость")
    loop = asyncio.get_running_loop()

    await coordinator.send(f"/charts {org}")
    await coordinator.wait_message("Графики: Школа", timeout=20)
    started = loop.time()
    await guest.send("/help")
    await guest.wait_message("/start", timeout=5)
    assert loop.time() - started < 1.0

    def photos() -> list[object] | None:
        found = [m for m in coordinator.messages if m.kind == "photo"]
        return found if len(found) >= 4 else None

    sent = await coordinator.wait_until(photos, timeout=60, what="four charts")
    assert [m.text for m in sent] == [  # type: ignore[attr-defined]
        T("charts.title.funnel"), T("charts.title.satisfaction"),
        T("charts.title.assessment"), T("charts.title.weeks")]
    for message in sent:
        assert _size(message.photo.content) == (1200, 750)  # type: ignore[attr-defined]

    await coordinator.send(f"/swot {org}")
    swot = await coordinator.wait_message("SWOT-анализ", timeout=20)
    assert "• Не хватает времени — 3" in swot.text and "Текст из школы Б" not in swot.text
    await coordinator.send(f"/top {org}")
    top = await coordinator.wait_message("Кандидаты на награды", timeout=20)
    assert "1. Наставник Пётр — 70 баллов" in top.text
    assert "Traceback" not in bot.log_text()

"""200 people fill in their questionnaires at once on the default SQLite database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e import flows
from tests.e2e.flows import query
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e
PEOPLE = 200
SLOW = 180.0  # queueing behind Telegram's 30 messages/s is expected, not an error


async def _think(user: FakeUser) -> None:
    """People read the question before they answer: 1-3 s, like a fast human."""
    await asyncio.sleep(1.0 + (user.id * 7919 % 2000) / 1000)


async def _register(user: FakeUser, code: str, catalog) -> int:  # type: ignore[no-untyped-def]
    await asyncio.sleep(user.id % PEOPLE / PEOPLE * 5)  # everyone opens the link within 5 s
    await user.send(f"/start {code}")
    await user.wait_message("Сколько вам лет", timeout=SLOW)
    await _think(user)
    await user.press("18 лет и старше")
    consent = await user.wait_until(
        lambda: next(
            (m for m in user.messages if any(b.text == "✅ Даю согласие" for r in m.buttons for b in r)),
            None,
        ),
        SLOW, "consent",
    )
    await _think(user)
    await user.press("✅ Даю согласие", consent)
    answered = 0
    for questionnaire in (catalog.get("mentee-student-student"), catalog.assessment()):
        while True:
            message = await flows.next_question(user, timeout=SLOW)
            question = flows.identify(questionnaire, message)
            number, total = map(int, flows.PROGRESS.search(message.text).groups())  # type: ignore[union-attr]
            await _think(user)
            if question.type == "multi":
                await user.press(question.options[0].text["ru"], message, exact=False)
                await user.wait_edit(message, timeout=SLOW)
                await user.press("Готово", message)
            else:
                await flows.answer(user, question, message)
            answered += 1
            if number == total:
                break
    await user.wait_message("Вы в базе", timeout=SLOW)
    return answered


async def test_two_hundred_people_at_once(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    catalog = flows.catalog()
    users = [fake_telegram.user(50_000 + i, first_name=f"Ученик {i}") for i in range(PEOPLE)]

    answered = await asyncio.gather(*(_register(u, setup["mentee"], catalog) for u in users))

    assert query(db_path, "SELECT count(*) FROM answers")[0][0] == sum(answered)
    assert query(
        db_path, "SELECT count(*) FROM questionnaire_responses WHERE status='done'"
    ) == [(2 * PEOPLE,)]
    assert query(db_path, "SELECT count(*) FROM memberships WHERE status='in_base'") == [
        (PEOPLE,)
    ]
    log = process.log_text()
    assert "database is locked" not in log
    assert " ERROR " not in log, log[-3000:]
    # Flood control was respected: the bot paced itself instead of hitting 429s repeatedly.
    assert len([e for e in fake_telegram.errors if e.status == 429]) < PEOPLE
    assert not [e for e in fake_telegram.errors if e.status != 429]

"""What QA saw in chat: /me and the curator's card failing on long answers full of "&" and '"',
answers labelled with the whole question, a jumping progress counter, "1e1" taken as 10, and
APScheduler filling the log."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from bot.services.questionnaires import DATA_DIR
from tests.e2e import flows
from tests.e2e.flows import next_question, query
from tests.e2e.test_matching import COORDINATOR, join_curator
from tests.fakeapi import FakeTelegram
from tests.fakeapi.models import BotMessage
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

# Five questions asked whatever the answers, one follow-up, long free-text answers.
LONG_QUESTIONNAIRE = """
id: mentee-long
version: 1
role: mentee
forms: [student-student]
title: {ru: "Анкета", en: "Questionnaire"}
questions:
  - id: full_name
    type: text
    profile: full_name
    text: {ru: "Как вас зовут? (Фамилия и имя)", en: "Your name"}
    label: {ru: "Фамилия и имя", en: "Name"}
  - id: grade
    type: number
    min: 1
    max: 11
    text: {ru: "В каком классе вы учитесь? Введите число от 1 до 11.", en: "Grade? 1 to 11."}
    label: {ru: "Класс", en: "Grade"}
  - id: has_project
    type: yesno
    text: {ru: "Есть ли у вас свой проект?", en: "Do you have a project?"}
    label: {ru: "Свой проект", en: "Own project"}
  - id: project
    type: text
    max_length: 2000
    when: {question: has_project, equals: true}
    text: {ru: "Расскажите о проекте. Пишите подробно.", en: "About the project."}
    label: {ru: "О проекте", en: "Project"}
  - id: goal
    type: text
    max_length: 2000
    text: {ru: "Чего вы хотите добиться? Напишите своими словами.", en: "Your goal."}
    label: {ru: "Цель", en: "Goal"}
  - id: about
    type: text
    max_length: 2000
    text: {ru: "Расскажите о себе. Пишите сколько хотите.", en: "About you."}
    label: {ru: "О себе", en: "About"}
"""


def _long_answer(tag: str) -> str:
    # Each "&" is 5 characters of HTML and each '"' 6, but one character on screen.
    return (f'{tag} & "цитата" & R&D ' * 100)[:1990].strip()


def _squeezed(text: str) -> str:
    """Without whitespace: Telegram trims each message, so a cut at a space loses it."""
    return "".join(text.split())


async def _messages_until(user: FakeUser, last: str, timeout: float = 20.0) -> list[BotMessage]:
    """Every new message up to and including the first one containing `last`."""
    got: list[BotMessage] = []
    while not got or last not in got[-1].text:
        got.append(await user.wait_message(timeout=timeout))
    return got


async def test_long_answers_labels_counter_and_numbers(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    data_dir = tmp_path / "questionnaires"
    data_dir.mkdir()
    (data_dir / "mentee-long.yaml").write_text(LONG_QUESTIONNAIRE, encoding="utf-8")
    shutil.copy(DATA_DIR / "assessment.yaml", data_dir)
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    await bot_process({"QUESTIONNAIRES_DIR": str(data_dir), "ADMIN_IDS": str(COORDINATOR)})

    user = fake_telegram.user(4101, first_name="Аня")
    await flows.join_adult(user, setup["mentee"])
    answers = {key: _long_answer(key) for key in ("project", "goal", "about")}
    counters = []

    async def question(part: str) -> BotMessage:
        shown = await next_question(user)
        assert part in shown.text, shown.text
        counters.append(flows.PROGRESS.search(shown.text).group(0))  # type: ignore[union-attr]
        return shown

    await question("Как вас зовут?")
    await user.send('Анна "Ли" & Ко')
    await question("В каком классе")
    # Whole numbers are digits only: no exponent, no decimal point, no sign, no underscore.
    for bad in ("1e1", "10.0", "+10", "1_0", "inf", "-1"):
        await user.send(bad)
        assert "Введите целое число от 1 до 11" in (await user.wait_message()).text, bad
    await user.send("10")
    shown = await question("свой проект")
    await user.press("Да", shown)
    shown = await question("Расскажите о проекте")
    assert "уточнение" in shown.text  # a follow-up keeps the number of the question before it
    await user.send(answers["project"])
    await question("Чего вы хотите добиться")
    await user.send(answers["goal"])
    await question("Расскажите о себе")
    await user.send(answers["about"])
    # The counter counts the five questions asked whatever the answers; it never jumps.
    assert counters == ["· 1/5", "· 2/5", "· 3/5", "· 3/5", "· 4/5", "· 5/5"]
    await flows.answer_all(user, flows.catalog().assessment())
    await user.wait_message("Вы в базе")
    assert query(db_path, "SELECT value FROM answers WHERE question_id='grade'") == [(10,)]

    # /me: every answer, in several messages that all parse; short labels, no instructions.
    user.mark_all_read()
    await user.send("/me")
    shown_me = await _messages_until(user, "Чтобы изменить ответ")
    assert len(shown_me) >= 2
    text = "\n".join(m.text for m in shown_me)
    for answer in answers.values():
        assert _squeezed(answer) in _squeezed(text)
    assert '• Фамилия и имя\n  Анна "Ли" & Ко' in text
    assert "• Класс\n  10" in text and "• О проекте" in text
    assert "Введите число" not in text and "Пишите подробно" not in text
    buttons = [b.text for row in shown_me[-1].buttons for b in row]
    assert "✏️ В каком классе вы учитесь?" in buttons
    assert fake_telegram.errors_for(user.id) == []

    # The curator's card of this mentee: same answers, several valid messages.
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")  # the bot may write only to those who started it
    await coordinator.wait_message("координатор")
    curator = fake_telegram.user(4102, first_name="Куратор")
    await join_curator(curator, setup["curator"], coordinator)
    await curator.send("/mentees")
    listing = await curator.wait_message("Наставляемые")
    await curator.press("Анна", listing, exact=False)
    card: list[BotMessage] = []
    while not card or not card[-1].buttons:
        card.append(await curator.wait_message(timeout=20))
    assert len(card) >= 2
    card_text = "\n".join(m.text for m in card)
    for answer in answers.values():
        assert _squeezed(answer) in _squeezed(card_text)
    assert fake_telegram.errors_for(curator.id) == []


async def test_scheduler_does_not_log_every_second(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    process = await bot_process({"LOG_LEVEL": "INFO"})
    user = fake_telegram.user(4201)
    await user.send("/start")
    await user.wait_message()
    await asyncio.sleep(4)  # four runs of the outbox job with nothing to do
    idle = process.log_text()
    assert "bot @" in idle  # INFO lines are logged
    assert "INFO apscheduler" not in idle
    assert "Running job" not in idle and "executed successfully" not in idle

    # A delivery is logged, once, by our own line; a text over the limit goes out in pieces.
    long_text = "<b>Напоминание</b>\n" + "&amp; &quot;x&quot; " * 900  # 5,400 on screen
    query(
        tmp_path / "bot.db",
        "INSERT INTO outbox (idempotency_key, chat_id, method, payload, status, attempts, "
        "not_before, created_at) VALUES ('t1', ?, 'sendMessage', ?, 'pending', 0, "
        "'2000-01-01 00:00:00.000000', '2000-01-01 00:00:00.000000')",
        user.id, json.dumps({"text": long_text}),
    )
    first = await user.wait_message("Напоминание")
    second = await user.wait_message('& "x"')
    assert _squeezed(first.text + second.text) == _squeezed("Напоминание" + '& "x" ' * 900)
    assert fake_telegram.errors_for(user.id) == []
    await asyncio.sleep(2)
    await process.stop()
    log = process.log_text()
    assert log.count("outbox: 1 message(s) delivered") == 1
    assert "INFO apscheduler" not in log and "Running job" not in log

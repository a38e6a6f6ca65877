"""Every question type with invalid input, from a questionnaire that exists only in test data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.services.questionnaires import DATA_DIR
from tests.e2e import flows
from tests.e2e.flows import next_question, query
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e
TEST_DATA = Path(__file__).resolve().parents[1] / "data" / "questionnaires"


async def test_every_type_checks_input(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    data_dir = tmp_path / "questionnaires"
    data_dir.mkdir()
    shutil.copy(TEST_DATA / "mentee-all-types.yaml", data_dir)
    shutil.copy(DATA_DIR / "assessment.yaml", data_dir)
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    await bot_process({"QUESTIONNAIRES_DIR": str(data_dir)})
    user = fake_telegram.user(3001, first_name="Тест")
    await flows.join_adult(user, setup["mentee"])

    async def expect(reply_part: str) -> None:
        assert reply_part in (await user.wait_message()).text

    q = await next_question(user)
    assert "Как к вам обращаться?" in q.text and "1/8" in q.text
    await user.send("Я")
    await expect("от 2 до 20 символов")
    await user.send("Саша")

    q = await next_question(user)
    assert "Сколько лет" in q.text
    for bad in ("много", "51", "2.5", "-1"):
        await user.send(bad)
        await expect("Введите целое число от 0 до 50")
    await user.send("7")

    q = await next_question(user)
    assert "настроение" in q.text and "от 1" in q.text
    await user.send("11")
    await expect("Введите целое число от 1 до 10")
    await user.press("8", q)

    q = await next_question(user)
    assert "Дата начала" in q.text
    await user.send("32.13.2020")
    await expect("ДД.ММ.ГГГГ")
    await user.send("01.01.2999")
    await expect("не может быть в будущем")
    await user.send("01.09.2019")

    q = await next_question(user)
    assert "математику" in q.text
    await user.send("может быть")
    await expect("выберите ответ кнопкой")
    await user.press("Да", q)

    q = await next_question(user)  # shown only because the answer was "yes"
    assert "раздел математики" in q.text
    await user.send("Геометрия")

    q = await next_question(user)
    assert "цвет" in q.text
    await user.send("зелёный")
    await expect("выберите ответ кнопкой")
    await user.press("Синий", q)

    q = await next_question(user)
    assert "фрукты" in q.text
    query_id = await user.press("Готово", q)
    alert = await user.wait_callback_answer(query_id)
    assert "Выберите от 1 до 2" in (alert.text or "")
    for fruit in ("Яблоко", "Груша"):
        await user.press(fruit, q, exact=False)
        await user.wait_edit(q)
    query_id = await user.press("Слива", q, exact=False)
    assert "не больше 2" in ((await user.wait_callback_answer(query_id)).text or "")
    await user.press("Готово", q)

    q = await next_question(user)
    assert "Комментарий" in q.text
    await user.press("Пропустить", q)
    await user.wait_message("анкета заполнена")

    answers = dict(query(db_path, "SELECT question_id, value FROM answers"))
    assert answers == {
        "nickname": '"Саша"', "age": 7, "mood": 8, "birthday": '"2019-09-01"',
        "likes_math": "true", "math_topic": '"Геометрия"', "colour": '"blue"',
        "fruits": '["apple", "pear"]',
    }
    # the entry self-assessment may already have begun after it (a race the bot may win)
    responses = query(db_path, "SELECT questionnaire_id FROM questionnaire_responses ORDER BY id")
    assert responses[0] == ("mentee-all-types",) and set(responses[1:]) <= {("assessment",)}

"""Taps that count once, forged guardian buttons, and flows that never strand a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import flows
from tests.e2e.flows import answer_all, join_adult, query
from tests.fakeapi import FakeTelegram
from tests.fakeapi.models import BotMessage
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


def data_of(message: BotMessage, text: str) -> str:
    """The callback data behind a button, kept to press it again after it is gone."""
    for row in message.buttons:
        for button in row:
            if button.text == text and button.value:
                return button.value
    raise AssertionError(f"no button {text!r} in {message}")


async def tap(fake: FakeTelegram, user: FakeUser, message: BotMessage, data: str) -> str:
    """Press with any callback data, as a modified client can; returns the answer's text."""
    live = user.find_message(message.message_id) or message  # as it is now, like Telegram
    query_id = fake._new_callback_query(user, live, data)
    answer = await user.wait_callback_answer(query_id)
    return answer.text or ""


def no_failures(fake: FakeTelegram, process) -> None:
    errors = [e for e in fake.errors if e.status != 429]
    assert not errors, [(e, fake.users[e.chat_id].find_message(e.params.get("message_id", 0)))
                        for e in errors]
    log = process.log_text()
    assert " ERROR " not in log, log[-3000:]


async def teen_with_link(fake: FakeTelegram, code: str, user_id: int) -> tuple[FakeUser, str]:
    teen = fake.user(user_id, first_name="Петя")
    await join_adult(teen, code, age="От 14 до 17 лет")
    link_message = await teen.wait_message("Перешлите эту ссылку")
    return teen, link_message.text.split("start=")[1].split()[0]


async def test_guardian_decision_only_from_the_links_opener(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    teen, code = await teen_with_link(fake_telegram, setup["mentee"], 3001)
    (invite_id,) = query(db_path, "SELECT id FROM invites WHERE kind='guardian'")[0]

    stranger = fake_telegram.user(3002, first_name="Чужой")
    await stranger.send("/help")
    anything = await stranger.wait_message()
    # The old enumerable form (a sequential invite id) and the link's own code, unopened.
    assert await tap(fake_telegram, stranger, anything, f"gd:{invite_id}:1") != ""
    assert "не для вас" in await tap(fake_telegram, stranger, anything, f"gd:{code}:1")
    assert query(db_path, "SELECT kind FROM consents ORDER BY id") == [("self",)]

    guardian = fake_telegram.user(3003, first_name="Ольга")
    await guardian.send(f"/start {code}")
    consent = await flows.consent_message(guardian)
    accept = data_of(consent, "✅ Даю согласие")
    # Someone else opening the link after the guardian gets nothing to press.
    await stranger.send(f"/start {code}")
    assert "другой человек" in (await stranger.wait_message("ссылк")).text
    assert "не для вас" in await tap(fake_telegram, stranger, anything, accept)
    assert query(db_path, "SELECT kind FROM consents ORDER BY id") == [("self",)]

    await guardian.press("✅ Даю согласие", consent)
    await guardian.wait_message("Согласие сохранено")
    # A repeated tap by the guardian answers with the state reached and stores nothing.
    assert "уже записано" in await tap(fake_telegram, guardian, consent, accept)
    assert query(
        db_path, "SELECT kind, guardian_telegram_id FROM consents ORDER BY id"
    ) == [("self", None), ("guardian", 3003)]
    await teen.wait_message("дал согласие", timeout=15)
    no_failures(fake_telegram, process)


async def test_repeated_and_superseded_taps_change_nothing(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    user = fake_telegram.user(3010, first_name="Лиза")
    await user.send(f"/start {setup['mentee']}")
    age_message = await user.wait_message("Сколько вам лет")
    child = data_of(age_message, "Младше 14 лет")
    await user.press("От 14 до 17 лет", age_message)
    consent = await flows.consent_message(user)
    # The age message's buttons are stale now: the child path is not taken.
    assert "уже выбран" in await tap(fake_telegram, user, age_message, child)
    accept = data_of(consent, "✅ Даю согласие")
    decline = data_of(consent, "Не согласен")
    await user.press("✅ Даю согласие", consent)
    await user.wait_message("Перешлите эту ссылку")
    assert "уже получено" in await tap(fake_telegram, user, consent, accept)
    assert "/forget" in await tap(fake_telegram, user, consent, decline)
    assert query(db_path, "SELECT kind, decision FROM consents") == [("self", "accepted")]
    assert query(db_path, "SELECT count(*) FROM invites WHERE kind='guardian'") == [(1,)]
    assert query(db_path, "SELECT p.age_group, m.status FROM participants p JOIN memberships m "
                          "ON m.participant_id=p.id") == [("teen", "guardian_pending")]
    no_failures(fake_telegram, process)


async def test_start_questionnaire_twice_and_forget_twice(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    teen, code = await teen_with_link(fake_telegram, setup["mentee"], 3020)
    guardian = fake_telegram.user(3021)
    await guardian.send(f"/start {code}")
    await guardian.press("✅ Даю согласие", await flows.consent_message(guardian))
    notice = await teen.wait_message("дал согласие", timeout=15)
    start = data_of(notice, "Заполнить анкету")
    await teen.press("Заполнить анкету", notice)
    await flows.next_question(teen)
    assert "уже открыта" in await tap(fake_telegram, teen, notice, start)
    questions = [m for m in teen.messages if "· " in m.text]
    assert len(questions) == 1

    await teen.send("/forget")
    confirm = await teen.wait_message("Отозвать согласие")
    yes = data_of(confirm, "Да, удалить мои данные")
    await teen.press("Да, удалить мои данные", confirm)
    await teen.wait_message("персональные данные удалены")
    second = await tap(fake_telegram, teen, confirm, yes)
    assert "нет" in second and "ничего не удалено" not in second
    assert not [m for m in teen.messages if "что-то пошло не так" in m.text]
    no_failures(fake_telegram, process)


async def test_start_with_a_code_keeps_the_questionnaire(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    questionnaire = flows.catalog().get("mentee-student-student")
    user = fake_telegram.user(3030, first_name="Дима")
    await join_adult(user, setup["mentee"])
    await answer_all(user, questionnaire, stop_after=1)
    pending = await flows.next_question(user)
    waiting = flows.identify(questionnaire, pending)

    await user.send("/start AAAAAAAAAAAAAAAAAAAAAAAA")
    await user.wait_message("анкета не прервана")
    await flows.answer(user, waiting, pending)
    following = await flows.next_question(user)
    assert flows.identify(questionnaire, following).id != waiting.id
    assert not [m for m in user.messages if "Не понял" in m.text]

    # The same invitation again takes the person back to where they are.
    await user.send(f"/start {setup['mentee']}")
    await user.wait_message("Продолжим анкету")
    again = await flows.next_question(user)
    assert flows.identify(questionnaire, again).id == flows.identify(questionnaire, following).id
    no_failures(fake_telegram, process)


async def test_plain_start_resumes_every_step(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    user = fake_telegram.user(3040, first_name="Катя")
    await user.send(f"/start {setup['mentee']}")
    await user.wait_message("Сколько вам лет")
    # As after a crash right after "Приглашение принято": /start brings the step back.
    await user.send("/start")
    again = await user.wait_message("Сколько вам лет")
    await user.press("18 лет и старше", again)
    await flows.consent_message(user)
    user.mark_all_read()
    await user.send("/start")
    consent = await flows.consent_message(user)
    assert consent.seq > 0 and not [m for m in user.unread if "С возвращением" in m.text]
    await user.press("✅ Даю согласие", consent)
    questionnaire = flows.catalog().get("mentee-student-student")
    await answer_all(user, questionnaire, stop_after=1)
    first = await flows.next_question(user)
    await user.send("/start")
    await user.wait_message("Продолжим анкету")
    shown = await flows.next_question(user)
    assert flows.identify(questionnaire, shown).id == flows.identify(questionnaire, first).id
    # /cancel undoes nothing in a questionnaire: it says so and how to go on.
    await user.send("/cancel")
    paused = await user.wait_message("приостановлена")
    assert "/questionnaire" in paused.text and "Действие отменено" not in paused.text
    no_failures(fake_telegram, process)


async def test_under_14_always_sees_the_guardian_link(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    child = fake_telegram.user(3050, first_name="Вася")
    await child.send(f"/start {setup['mentee']}")
    await child.press("Младше 14 лет", await child.wait_message("Сколько вам лет"))
    first = await child.wait_message("Перешлите эту ссылку")
    link = first.text.split("start=")[1].split()[0]
    for command in ("/questionnaire", "/start"):
        await child.send(command)
        reply = await child.wait_message("Ждём согласия")
        assert link in reply.text
        assert "Сколько вам лет" not in reply.text
    no_failures(fake_telegram, process)


async def test_unblocking_makes_a_person_reachable_again(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    await bot_process()
    user = fake_telegram.user(3060, first_name="Рита")
    await join_adult(user, setup["mentee"])
    user.block()
    status = "SELECT status FROM participants WHERE telegram_id=3060"
    await user.wait_until(lambda: query(db_path, status) == [("unreachable",)], 10, "unreachable")
    user.unblock()
    await user.send("/help")
    await user.wait_message()
    assert query(db_path, status) == [("active",)]

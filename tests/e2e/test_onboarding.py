"""Onboarding end to end: invite link, consent, questionnaire, assessment, restart, /forget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import flows
from tests.e2e.flows import answer_all, join_adult, query
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


async def test_adult_mentee_from_link_to_finished_questionnaire(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    catalog = flows.catalog()
    user = fake_telegram.user(2001, first_name="Иван", username="ivan_t")

    await user.send(f"/start {setup['mentee']}")
    await user.wait_message("Приглашение принято")
    await user.wait_message("Сколько вам лет")
    # Nothing personal before consent: not even the Telegram name.
    assert query(db_path, "SELECT tg_first_name, tg_username, age_group FROM participants") == [
        (None, None, None)
    ]
    await user.press("18 лет и старше")
    document = await user.wait_until(
        lambda: next((m for m in user.messages if m.document), None), 10, "consent document"
    )
    assert "персональных данных" in document.document.content.decode()  # type: ignore[union-attr]
    await user.press("✅ Даю согласие", await flows.consent_message(user))
    await user.wait_message("согласие сохранено")

    answered = await answer_all(user, catalog.get("mentee-student-student"))
    await user.wait_message("анкета заполнена")
    assessment = await answer_all(user, catalog.assessment())
    assert len(assessment) == 6
    await user.wait_message("Вы в базе наставляемых")

    rows = query(
        db_path,
        "SELECT r.stage, r.status, count(a.id) FROM questionnaire_responses r "
        "JOIN answers a ON a.response_id = r.id GROUP BY r.id ORDER BY r.id",
    )
    assert rows == [("onboarding", "done", len(answered)), ("entry", "done", 6)]
    assert query(db_path, "SELECT status FROM memberships WHERE role='mentee'") == [("in_base",)]
    assert query(db_path, "SELECT kind, decision, version FROM consents") == [
        ("self", "accepted", 1)
    ]
    assert query(db_path, "SELECT full_name, tg_username, age_group FROM participants") == [
        ("Иванов Иван", "ivan_t", "adult")
    ]
    assert not [e for e in fake_telegram.errors if e.status != 429]
    log = process.log_text()
    for personal in ("Иванов", "ivan_t", "Ответ на"):
        assert personal not in log


async def test_decline_stores_no_answer(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    await bot_process()
    user = fake_telegram.user(2002, first_name="Мария", username="masha")
    await user.send(f"/start {setup['mentee']}")
    await user.wait_message("Сколько вам лет")
    await user.press("18 лет и старше")
    await user.press("Не согласен", await flows.consent_message(user))
    reply = await user.wait_message("ничего о вас не сохранили")
    assert "ссылку-приглашение" in reply.text

    assert query(db_path, "SELECT count(*) FROM answers") == [(0,)]
    assert query(db_path, "SELECT count(*) FROM questionnaire_responses") == [(0,)]
    assert query(db_path, "SELECT kind, decision FROM consents") == [("self", "declined")]
    assert query(
        db_path, "SELECT telegram_id, full_name, tg_first_name, tg_username, age_group "
        "FROM participants"
    ) == [(2002, None, None, None, None)]
    assert query(db_path, "SELECT status FROM memberships") == [("declined",)]

    # Typing into the old questionnaire is not possible: the bot explains what to do.
    await user.send("Мария")
    assert "Не понял" in (await user.wait_message()).text


async def test_minor_waits_for_guardian(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    await bot_process()
    teen = fake_telegram.user(2003, first_name="Петя")
    await join_adult(teen, setup["mentee"], age="От 14 до 17 лет")
    link_message = await teen.wait_message("Перешлите эту ссылку")
    link = next(w for w in link_message.text.split() if w.startswith("https://t.me/"))
    code = link.split("start=")[1]

    # Until the guardian accepts, the questionnaire does not start.
    await teen.send("/questionnaire")
    again = await teen.wait_message()
    assert "Перешлите эту ссылку" in again.text
    assert f"https://t.me/{flows.BOT_USERNAME}?start=" in again.text
    assert query(db_path, "SELECT count(*) FROM questionnaire_responses") == [(0,)]

    # The minor cannot accept for the guardian.
    await teen.send(f"/start {code}")
    assert "родитель или законный представитель" in (await teen.wait_message()).text

    guardian = fake_telegram.user(2004, first_name="Ольга")
    await guardian.send(f"/start {code}")
    await guardian.wait_message("согласие на обработку персональных данных вашего ребёнка")
    await guardian.press("✅ Даю согласие", await flows.consent_message(guardian))
    await guardian.wait_message("Согласие сохранено")

    notice = await teen.wait_message("дал согласие", timeout=15)
    await teen.press("Заполнить анкету", notice)
    first = await flows.next_question(teen)
    assert "1/" in first.text
    assert query(
        db_path, "SELECT kind, decision, guardian_telegram_id FROM consents ORDER BY id"
    ) == [("self", "accepted", None), ("guardian", "accepted", 2004)]
    assert query(db_path, "SELECT age_group FROM participants WHERE telegram_id=2003") == [
        ("teen",)
    ]


async def test_child_needs_only_guardian(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    await bot_process()
    child = fake_telegram.user(2005, first_name="Вася")
    await child.send(f"/start {setup['mentee']}")
    await child.wait_message("Сколько вам лет")
    await child.press("Младше 14 лет")
    link_message = await child.wait_message("Перешлите эту ссылку")
    code = link_message.text.split("start=")[1].split()[0]
    # Nothing about the child is stored before the guardian consents.
    assert query(db_path, "SELECT age_group, tg_first_name FROM participants") == [(None, None)]
    assert query(db_path, "SELECT count(*) FROM consents") == [(0,)]

    guardian = fake_telegram.user(2006)
    await guardian.send(f"/start {code}")
    await guardian.press("✅ Даю согласие", await flows.consent_message(guardian))
    await child.wait_message("дал согласие", timeout=15)
    assert query(db_path, "SELECT age_group FROM participants WHERE telegram_id=2005") == [
        ("child",)
    ]


async def test_restart_mid_questionnaire_resumes_same_question(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    setup = flows.setup_programme(db_path)
    process = await bot_process()
    questionnaire = flows.catalog().get("mentee-student-student")
    user = fake_telegram.user(2007, first_name="Аня")
    await join_adult(user, setup["mentee"])
    first = await answer_all(user, questionnaire, stop_after=3)
    pending = await flows.next_question(user)
    waiting = flows.identify(questionnaire, pending)

    await process.restart()
    user.mark_all_read()
    await flows.answer(user, waiting, pending)
    following = await flows.next_question(user)
    assert flows.identify(questionnaire, following).id != waiting.id
    stored = {
        row[0] for row in query(db_path, "SELECT question_id FROM answers")
    }
    assert set(first) | {waiting.id} <= stored

    # /questionnaire after a pause shows the same question again.
    await user.send("/cancel")
    await user.wait_message("отменено")
    await user.send("/questionnaire")
    await user.wait_message("Продолжим анкету")
    again = await flows.next_question(user)
    assert flows.identify(questionnaire, again).id == flows.identify(questionnaire, following).id


async def test_back_and_edit(fake_telegram: FakeTelegram, bot_process, db_path: Path) -> None:
    setup = flows.setup_programme(db_path)
    await bot_process()
    questionnaire = flows.catalog().get("mentee-student-student")
    user = fake_telegram.user(2008, first_name="Оля")
    await join_adult(user, setup["mentee"])
    await answer_all(user, questionnaire, stop_after=2)  # full_name, study_place
    third = await flows.next_question(user)
    await user.press("« Назад", third)
    shown = await flows.next_question(user)
    assert flows.identify(questionnaire, shown).id == "study_place"
    assert "Текущий ответ" in shown.text
    # Change the answer: college instead of school; the dependent question changes too.
    await user.press("В колледже, техникуме", shown)
    nxt = await flows.next_question(user)
    assert flows.identify(questionnaire, nxt).id == "course"
    await flows.answer(user, flows.identify(questionnaire, nxt), nxt)

    await answer_all(user, questionnaire)
    await answer_all(user, flows.catalog().assessment())
    await user.wait_message("Вы в базе")

    await user.send("/me")
    profile = await user.wait_message("Мои данные")
    assert "Иванов Иван" in profile.text
    await user.press("✏️ Как вас зовут?", profile, exact=False)
    edit = await flows.next_question(user)
    assert "Иванов Иван" in edit.text
    await user.send("Петрова Ольга")
    await user.wait_message("Ответ изменён")
    assert query(
        db_path, "SELECT value FROM answers WHERE question_id='full_name'"
    ) == [('"Петрова Ольга"',)]
    assert query(db_path, "SELECT full_name FROM participants") == [("Петрова Ольга",)]


async def test_role_code_that_looks_like_a_guardian_code(
    fake_telegram: FakeTelegram, bot_process, db_path: Path
) -> None:
    """What a link is comes from the invite row, not from the code's first letter."""
    setup = flows.setup_programme(db_path)
    query(db_path, "UPDATE invites SET code='g' || substr(code, 2) WHERE code=?", setup["mentee"])
    await bot_process()
    user = fake_telegram.user(2009)
    await user.send(f"/start g{setup['mentee'][1:]}")
    await user.wait_message("Приглашение принято")

"""A new consent version is accepted before anything new is stored; /forget really forgets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.services.consent import CONSENT_FILE
from tests.backends import all_text
from tests.e2e import flows
from tests.e2e.flows import answer_all, join_adult, query
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e


async def test_new_consent_version_is_asked_before_next_answer(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    first = await bot_process()
    questionnaire = flows.catalog().get("mentee-student-student")
    user = fake_telegram.user(4001, first_name="Лена")
    await join_adult(user, setup["mentee"])
    await answer_all(user, questionnaire, stop_after=2)
    pending = await flows.next_question(user)
    waiting = flows.identify(questionnaire, pending)
    stored_before = query(db_path, "SELECT count(*) FROM answers")[0][0]

    document = yaml.safe_load(CONSENT_FILE.read_text("utf-8"))
    document["version"] = 2
    new_file = tmp_path / "consent-v2.yaml"
    new_file.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    await first.stop()
    await bot_process({"CONSENT_FILE": str(new_file)})
    user.mark_all_read()

    await flows.answer(user, waiting, pending)
    await user.wait_message("изменился")
    assert query(db_path, "SELECT count(*) FROM answers")[0][0] == stored_before
    await user.press("✅ Даю согласие", await flows.consent_message(user))
    again = await flows.next_question(user)
    assert flows.identify(questionnaire, again).id == waiting.id
    assert query(db_path, "SELECT version FROM consents ORDER BY id") == [(1,), (2,)]


def _all_text(db_path: Path) -> str:
    """Every value of every table, as one string: what a scan for personal data sees."""
    return all_text(db_path)


async def test_forget_erases_personal_data_and_keeps_counts(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    await bot_process({"ADMIN_IDS": "4199"})
    catalog = flows.catalog()
    coordinator = fake_telegram.user(4199, first_name="Координатор")
    await coordinator.send("/start")  # the bot may write only to those who started it
    await coordinator.wait_message("координатор")
    curator = fake_telegram.user(4100, first_name="Куратор")
    await curator.send(f"/start {setup['curator']}")
    await curator.press("✅ Даю согласие", await flows.consent_message(curator))
    # a curator joining by an admin CLI link is confirmed by a coordinator
    request = await coordinator.wait_message("условия куратора", timeout=20)
    await coordinator.press("✅ Подтвердить доступ", request)
    await curator.wait_message("Команды куратора", timeout=20)

    keeper = fake_telegram.user(4101, first_name="Остап", username="ostap_keeps")
    await join_adult(keeper, setup["mentee"])
    await answer_all(keeper, catalog.get("mentee-student-student"))
    await answer_all(keeper, catalog.assessment())
    await keeper.wait_message("Вы в базе")

    leaver = fake_telegram.user(4102, first_name="Зинаида", username="zina_unique_nick")
    await join_adult(leaver, setup["mentee"])

    def texts(question) -> str | None:  # type: ignore[no-untyped-def]
        if question.id == "full_name":
            return "Зинаидова Зинаида"
        if question.type == "text":
            return f"секрет-{question.id}"
        return None

    await answer_all(leaver, catalog.get("mentee-student-student"), on_question=texts)
    await answer_all(leaver, catalog.assessment())
    await leaver.wait_message("Вы в базе")

    counts_sql = (
        "SELECT role, count(*) FROM memberships WHERE programme_id=? GROUP BY role ORDER BY role"
    )
    counts_before = query(db_path, counts_sql, setup["programme_id"])
    scales_before = query(db_path, "SELECT count(*) FROM answers WHERE is_personal=false")
    before = _all_text(db_path)
    assert "Зинаидова Зинаида" in before and "zina_unique_nick" in before
    assert "секрет-" in before

    await leaver.send("/forget")
    confirm = await leaver.wait_message("Отозвать согласие")
    await leaver.press("Да, удалить мои данные", confirm)
    await leaver.wait_message("персональные данные удалены")
    notice = await curator.wait_message("отозвал согласие", timeout=15)
    assert "Зинаид" not in notice.text

    after = _all_text(db_path)
    for secret in ("Зинаидова", "Зинаида", "zina_unique_nick", "секрет-"):
        assert secret not in after, secret
    # the Telegram id as a value of its own (timestamps' digits may contain "4102")
    assert not re.search(r"(?<![\d.:])4102(?![\d])", after), "4102"
    assert "Иванов Иван" in after  # the other participant is untouched
    assert query(db_path, counts_sql, setup["programme_id"]) == counts_before
    assert query(db_path, "SELECT count(*) FROM answers WHERE is_personal=false") == scales_before
    assert query(
        db_path, "SELECT status FROM memberships WHERE role='mentee' ORDER BY id"
    ) == [("in_base",), ("withdrawn",)]

    # The person is unknown to the bot now.
    await leaver.send("/me")
    assert "ещё не участвуете" in (await leaver.wait_message()).text

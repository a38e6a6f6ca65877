"""Coordinator QA defects end to end: curator links that need terms and a confirmation,
/orgs that lists without creating and pages, /newprogramme that asks the organisation and
confirms past dates, role-aware /start, /help and menus, commands that say whom they are for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import flows
from tests.e2e.flows import query
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e
COORDINATOR = 7101


def _code(text: str) -> str:
    return text.split("start=", 1)[1].split()[0]


async def test_coordinator_defects(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")

    # 5: a first /start is a hello; menu and /help lead with the coordinator's commands
    hello = await coordinator.send("/start") and await coordinator.wait_message()
    assert "С возвращением" not in hello.text and "координатор" in hello.text
    menu = [c["command"] for c in fake_telegram.commands_for(COORDINATOR)]
    assert menu[:2] == ["neworg", "orgs"] and "forget" not in menu
    await coordinator.send("/help")
    help_text = (await coordinator.wait_message()).text
    assert help_text.startswith("Координатору") and "/forget" not in help_text

    # 3: /orgs creates nothing and pages; a page gone stale is refused on press
    await coordinator.send("/neworg")
    await coordinator.wait_message("Название организации")
    await coordinator.send("Школа № 5")
    await coordinator.wait_message("Часовой пояс")
    await coordinator.send("-")
    created = await coordinator.wait_message("создана")
    assert "№ 1" in created.text and "одноразовое" in created.text
    for i in range(20):
        query(db_path, "INSERT INTO organisations (name, timezone, created_at) "
              "VALUES (?, 'Europe/Moscow', '2026-01-01 00:00:00')", f"Лицей № {i + 2}")
    await coordinator.send("/orgs")
    listing = await coordinator.wait_message("Организации")
    assert "стр. 1/3" in listing.text and "start=" not in listing.text
    await coordinator.send("/orgs")
    await coordinator.wait_message("Организации")
    assert query(db_path, "SELECT count(*) FROM invites") == [(1,)]
    await coordinator.press("Далее »", listing)
    second = await coordinator.wait_edit(listing, contains="стр. 2/3")
    query(db_path, "DELETE FROM organisations WHERE id > 8")
    refused = await coordinator.press("Далее »", second)
    assert "Такой страницы нет" in ((await coordinator.wait_callback_answer(refused)).text or "")

    # 3: invitations on request, numbered, revocable
    gone = await coordinator.press("➕ Приглашение куратора для #9", second)
    assert "не найдена" in ((await coordinator.wait_callback_answer(gone)).text or "")
    await coordinator.send("/orgs")
    first_page = await coordinator.wait_message("стр. 1/1")
    await coordinator.press("➕ Приглашение куратора для #1", first_page)
    made = await coordinator.wait_message("Приглашение для куратора организации")
    revoked = await coordinator.press("Отозвать приглашение № 2", made)
    assert "отозвано" in ((await coordinator.wait_callback_answer(revoked)).text or "")
    late = fake_telegram.user(7102)
    await late.send(f"/start {_code(made.text)}")
    assert "отозвана" in (await late.wait_message()).text

    # 7: absurd numbers get a clear answer, not a crash
    await coordinator.send("/revoke 99999999999999999999")
    assert "не номер" in (await coordinator.wait_message()).text
    await coordinator.send("/curatorinvite 99999999999999999999")
    assert "/curatorinvite 3" in (await coordinator.wait_message()).text

    # 1: the curator's own terms, then the coordinator's confirmation; no access before it
    await coordinator.send("/curatorinvite 1")
    link = await coordinator.wait_message("Приглашение для куратора организации")
    curator = fake_telegram.user(7103, first_name="Ксения", username="ksenia_cur")
    await curator.send(f"/start {_code(link.text)}")
    terms = await flows.consent_message(curator)
    assert "конфиденциальност" in terms.text and "Я, участник программы" not in terms.text
    curator.mark_all_read()
    await curator.send("/mentees")
    assert "Сначала примите условия куратора" in (await curator.wait_message()).text
    intruder = fake_telegram.user(7104)
    await intruder.send(f"/start {_code(link.text)}")
    assert "уже использована" in (await intruder.wait_message()).text
    await curator.press("✅ Даю согласие", terms)
    await curator.wait_message("согласие сохранено")
    curator.mark_all_read()
    await curator.send("/mentees")
    assert "не подтверждён" in (await curator.wait_message()).text
    request = await coordinator.wait_message("Ксения (@ksenia_cur)", timeout=20)
    await coordinator.press("✅ Подтвердить доступ", request)
    await coordinator.wait_edit(request, contains="подтверждён")
    await curator.wait_message("Ваш доступ куратора", timeout=20)
    assert "mentees" in {c["command"] for c in fake_telegram.commands_for(curator.id)}
    curator.mark_all_read()
    await curator.send("/mentees")
    assert "не подтверждён" not in (await curator.wait_message()).text
    assert query(db_path, "SELECT action FROM audit_log WHERE action='curator.confirm'") == [
        ("curator.confirm",)
    ]

    # 4: several organisations: which one? Past dates: warn and confirm
    await coordinator.send("/newprogramme")
    ask = await coordinator.wait_message("В какой организации")
    await coordinator.press("#2 Лицей № 2", ask)
    await coordinator.wait_message("Как называется программа")
    await coordinator.send("Старая программа")
    forms = await coordinator.wait_message("Отметьте формы")
    await coordinator.press("Ученик – ученик", forms, exact=False)
    await coordinator.wait_edit(forms)
    await coordinator.press("Готово", forms)
    await coordinator.wait_message("Дата начала")
    await coordinator.send("01.01.2019")
    await coordinator.wait_message("Дата окончания")
    await coordinator.send("01.01.2020")
    warning = await coordinator.wait_message("уже в прошлом")
    assert "01.01.2019" in warning.text and "01.01.2020" in warning.text
    assert query(db_path, "SELECT count(*) FROM programmes") == [(0,)]
    await coordinator.press("Да, создать", warning)
    await coordinator.wait_message("создана и выбрана текущей")
    assert query(db_path, "SELECT organisation_id, start_date FROM programmes") == [
        (2, "2019-01-01")
    ]

    # 6: a mentee typing a curator command hears it is for curators
    programme = flows.admin(db_path, "create-programme", "--org", "1", "--name", "Наставничество",
                            "--forms", "student-student", "--start", "2026-09-01",
                            "--end", "2027-05-31")
    mentee_code = flows.admin(db_path, "invite", "--programme", str(programme["programme_id"]),
                              "--role", "mentee")["code"]
    mentee = fake_telegram.user(7105, first_name="Дима")
    await flows.join_adult(mentee, mentee_code)
    await flows.next_question(mentee)
    for command in ("/match", "/mentees", "/orgs"):
        await mentee.send(command)
        reply = (await mentee.wait_message("только")).text
        assert "Не знаю такой команды" not in reply
        assert ("координаторам" if command == "/orgs" else "кураторам") in reply
    assert not [e for e in fake_telegram.errors if e.status != 429]

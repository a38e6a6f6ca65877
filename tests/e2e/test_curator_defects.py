"""Defects from the QA report, end to end: forged buttons, numbers too large, paper consent
once, one number per person, who is paired, unreachable people, /forget tells the partner,
proposal numbering."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import flows
from tests.e2e.flows import join_adult, query
from tests.e2e.test_matching import (
    APPROVE,
    COORDINATOR,
    OUTBOX_WAIT,
    REJECT,
    join_curator,
    register,
)
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

STALE = "Кнопка устарела"
NOT_YOURS = "Эта кнопка не для вас"
HUGE = "99999999999999999999"


def membership_of(db_path: Path, telegram_id: int, role: str) -> int:
    [(membership_id,)] = query(
        db_path,
        "SELECT m.id FROM memberships m JOIN participants p ON p.id = m.participant_id "
        "WHERE p.telegram_id = ? AND m.role = ?",
        telegram_id, role,
    )
    return int(membership_id)


async def forged(fake: FakeTelegram, user: FakeUser, message, data: str) -> str:  # type: ignore[no-untyped-def]
    """Press a button carrying data the bot never made; return the answer's text."""
    query_id = fake._new_callback_query(user, message, data)
    return (await user.wait_callback_answer(query_id, timeout=15)).text or ""


async def started_coordinator(fake: FakeTelegram) -> FakeUser:
    """The coordinator who confirms curators; the bot may write only to those who started it."""
    coordinator = fake.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    return coordinator


def no_apology(user: FakeUser) -> None:
    assert not [m for m in user.messages if "что-то пошло не так" in m.text]


async def test_forged_buttons_big_numbers_paper_consent_and_numbers(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    other = flows.setup_programme(db_path)  # a second organisation
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = await started_coordinator(fake_telegram)
    curator = fake_telegram.user(5100, first_name="Ольга")
    teen = fake_telegram.user(5101, first_name="")
    stranger = fake_telegram.user(5102, first_name="Чужой")
    await flows.gather(
        join_curator(curator, setup["curator"], coordinator),
        join_adult(teen, setup["mentee"], age="От 14 до 17 лет"),
        join_adult(stranger, other["mentee"]),
    )
    teen_id = membership_of(db_path, teen.id, "mentee")
    stranger_id = membership_of(db_path, stranger.id, "mentee")
    curator_id = membership_of(db_path, curator.id, "curator")

    # C: numbers too large for the database get a clear answer, not an apology
    for command in (f"/paperconsent {HUGE}", "/paperconsent 9223372036854775808",
                    f"/revoke {HUGE}", f"/pair 1 {HUGE}", f"/unpair {HUGE}"):
        await curator.send(command)
        assert "не номер" in (await curator.wait_message()).text, command

    # B: not the curator's own membership, not another organisation's; once only
    await curator.send(f"/paperconsent {curator_id}")
    assert "не найден" in (await curator.wait_message()).text
    await curator.send(f"/paperconsent {stranger_id}")
    assert "не найден" in (await curator.wait_message()).text
    await curator.send(f"/paperconsent {teen_id}")
    recorded = await curator.wait_message("Бумажное согласие")
    assert f"#{teen_id}" in recorded.text
    await curator.send(f"/paperconsent #{teen_id}")
    assert "уже отмечено" in (await curator.wait_message()).text
    assert query(db_path, "SELECT count(*) FROM consents WHERE kind='paper'") == [(1,)]

    # F, G: one number per person; a fallback label; the card shows age and consents
    await curator.send("/mentees")
    listing = await curator.wait_message("Наставляемые")
    assert f"Участник #{teen_id} —" in listing.text
    assert [b.text for row in listing.buttons for b in row if str(teen_id) in b.text] == [
        f"Участник #{teen_id}"
    ]
    await curator.press(f"Участник #{teen_id}", listing)
    card = await curator.wait_message("Роль: наставляемый")
    assert f"#{teen_id} Участник без имени" in card.text
    assert "Возраст: От 14 до 17 лет" in card.text
    assert "Согласие: самого участника, бумажное" in card.text

    # A: forged and stale buttons: a short answer, nothing changes, no exception
    edits = len(curator.edits)
    assert STALE in await forged(fake_telegram, curator, listing, "pp:xyz:0")
    assert STALE in await forged(fake_telegram, curator, listing, f"cd:{HUGE}:0")
    assert STALE in await forged(fake_telegram, curator, listing, f"cd:{curator_id}:0")
    assert NOT_YOURS in await forged(fake_telegram, curator, listing, f"cd:{stranger_id}:0")
    assert STALE in await forged(fake_telegram, curator, listing, f"pg:{HUGE}")
    assert NOT_YOURS in await forged(
        fake_telegram, curator, listing, f"pg:{other['programme_id']}"
    )
    for data in (f"mup:{HUGE}:1", "mup:999:1", "mup:999:0", "mpr:zz:5:", "mpr:ok:-1:",
                 f"mmp:{teen_id}:{HUGE}:1", f"mso:{HUGE}:abcdef12", "mso:1:../../x"):
        assert STALE in await forged(fake_telegram, curator, listing, data), data
    assert NOT_YOURS in await forged(
        fake_telegram, curator, listing, f"mmp:{stranger_id}:{teen_id}:0"
    )
    assert len(curator.edits) == edits
    for data in (f"msh:{HUGE}", f"mpk:1:{HUGE}:0"):
        assert STALE in await forged(fake_telegram, teen, listing, data)
    for data in ("pp:mentee:-5", "pp:mentee:999", f"pp:mentor:{HUGE}"):
        await forged(fake_telegram, curator, listing, data)
    await curator.send("/mentors")
    await curator.wait_message("Наставники")
    pages = [e.after.text.splitlines()[0] for e in curator.edits[edits:]]
    assert pages == ["Наставники — Наставничество (стр. 1/1)"], pages  # mentee pages unchanged
    assert query(db_path, "SELECT count(*) FROM consents WHERE kind='paper'") == [(1,)]
    assert query(db_path, "SELECT count(*) FROM pairs") == [(0,)]
    no_apology(curator)
    no_apology(teen)


async def test_pairs_unreachable_people_forget_and_numbering(
    fake_telegram: FakeTelegram, bot_process, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    await bot_process({"ADMIN_IDS": str(COORDINATOR)})
    coordinator = await started_coordinator(fake_telegram)
    first = fake_telegram.user(5201, first_name="Аня")
    second = fake_telegram.user(5202, first_name="Боря")
    mentor = fake_telegram.user(5211, first_name="Вера")
    curator = fake_telegram.user(5300, first_name="Ольга")
    await flows.gather(
        register(first, setup["mentee"], "mentee-student-student", "Ученик Первый"),
        register(second, setup["mentee"], "mentee-student-student", "Ученик Второй"),
        register(mentor, setup["mentor"], "mentor-student-student", "Наставник Один", 2),
        join_curator(curator, setup["curator"], coordinator),
    )
    first_id = membership_of(db_path, first.id, "mentee")
    second_id = membership_of(db_path, second.id, "mentee")
    mentor_id = membership_of(db_path, mentor.id, "mentor")

    # H: an approved proposal keeps its number "1 of 2"
    await curator.send("/match")
    assert "Предложено пар: 2" in (await curator.wait_message("Подбор пар")).text
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 2")
    approved_mentee = first_id if "Ученик Первый" in card.text else second_id
    await curator.press(APPROVE, card)
    done = await curator.wait_edit(card, contains="Одобрено")
    assert "Предложение 1 из 2" in done.text and "отправлено знакомство" in done.text
    card = await curator.wait_message("Предложение 1 из 1")
    await curator.press(REJECT, card)
    await curator.wait_edit(card, contains="Отклонено")
    waiting_id = second_id if approved_mentee == first_id else first_id
    waiting = second if waiting_id == second_id else first
    partner = first if waiting is second else second

    # G: /mentees shows who is paired
    await curator.send("/mentees")
    listing = await curator.wait_message("Наставляемые")
    [paired_line] = [line for line in listing.text.splitlines() if f"#{approved_mentee} " in line]
    assert f"с #{mentor_id} Наставник Один" in paired_line

    # D: an unreachable mentee is listed with the reason; a manual pair says who got nothing
    query(db_path, "UPDATE participants SET status='unreachable' WHERE telegram_id=?", waiting.id)
    await curator.send("/match")
    summary = await curator.wait_message("Подбор пар")
    assert f"(#{waiting_id}) — заблокировал(а) бота" in summary.text
    await curator.send(f"/pair {waiting_id} {mentor_id}")
    warning = await curator.wait_message("Пара вручную")
    assert "Бот не может писать участнику" in warning.text
    assert warning.text.count("уже отклонялась") == 1
    await curator.press("Всё равно создать пару", warning)
    created = await curator.wait_edit(warning, contains="создана")
    assert "Знакомство не отправлено" in created.text and f"#{waiting_id}" in created.text
    assert "Участникам отправлено знакомство" not in created.text
    waiting_name = "Ученик Второй" if waiting is second else "Ученик Первый"
    await mentor.wait_message(f"Вам подобран наставляемый: {waiting_name}", timeout=OUTBOX_WAIT)
    assert not [m for m in waiting.messages if "Вам подобран наставник" in m.text]

    # H: a pair that never existed is not "replaced by a new matching"
    await curator.send("/unpair 999")
    missing = await curator.wait_message("999")
    assert "Пары #999 нет" in missing.text and "заменил" not in missing.text

    # E, F: the mentor leaves; both mentees hear their pair ended, the curator gets the
    # mentor's membership number
    query(db_path, "UPDATE participants SET status='active' WHERE telegram_id=?", waiting.id)
    await mentor.send("/forget")
    await mentor.press("Да, удалить мои данные", await mentor.wait_message("Отозвать согласие"))
    await mentor.wait_message("Согласие отозвано")
    for mentee in (partner, waiting):
        notice = await mentee.wait_message("Ваша пара завершена", timeout=OUTBOX_WAIT)
        assert "Наставник Один" not in notice.text
    withdrawn = await curator.wait_message("отозвал согласие", timeout=OUTBOX_WAIT)
    assert f"Участник #{mentor_id} " in withdrawn.text
    no_apology(curator)

"""The pair's working cycle end to end, through the real process and the movable clock.

An organisation in Asia/Vladivostok (UTC+10) with the bot's server on UTC. Three pairs are
approved on Monday 7 December at 10:00 local time:
- pair A goes the whole way: the intro meeting proposed with the picker and answered with a
  typed time, confirmed with a calendar file whose time is right; the 24 h and 1 h reminders
  at the right local times; logged by the mentor, confirmed and rated by the mentee; then
  trial, planning (a plan with two goals), two regular meetings and the final one, whose
  journal question falls in the quiet hours and waits for the morning;
- pair B never meets: nudged on day 10, the curator told on day 17;
- pair A, idle after its trial meeting, is nudged 14 days later and escalated 7 days after;
- pair C's mentee is on pause: nobody of pair C is nudged.
Every message the bot sent on its own initiative left at a local time outside 22:00-08:00.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.test_matching import (
    APPROVE,
    COORDINATOR,
    OUTBOX_WAIT,
    join_curator,
    register,
    telegram_of,
)
from tests.fakeapi import FakeTelegram
from tests.fakeapi.models import BotMessage
from tests.fakeapi.server import FakeUser

pytestmark = pytest.mark.e2e

TZ = ZoneInfo("Asia/Vladivostok")
QUIET_WAIT = 6.0  # long enough for several scheduler and outbox ticks


def _local(moment: str) -> str:
    """'2026-12-07 10:00' (Vladivostok) → an ISO moment for `admin clock set`."""
    return dt.datetime.fromisoformat(moment).replace(tzinfo=TZ).isoformat()


def _since(user: FakeUser) -> int:
    return len(user.messages)


def _marks(*users: FakeUser) -> dict[int, int]:
    """Where each user's messages stand now: later checks look only at what came after."""
    return {u.id: len(u.messages) for u in users}


def _found(user: FakeUser, contains: str, since: int) -> list[BotMessage]:
    return [m for m in user.messages[since:] if contains in m.text]


async def _expect(user: FakeUser, contains: str, since: int) -> BotMessage:
    """A message containing the text among those that came after `since`, in any order."""
    found = await user.wait_until(
        lambda: (_found(user, contains, since) or [None])[0], OUTBOX_WAIT, repr(contains))
    return found


async def _propose(
    proposer: FakeUser, when: str, *, kind: str | None = None, place: str | None = None
) -> None:
    """/meeting → (a kind) → a typed date and time → a place or none."""
    await proposer.send("/meeting")
    picker = await proposer.wait_message("Новая встреча")
    if kind is not None:
        await proposer.press(kind, picker, exact=False)
        await proposer.wait_edit(picker, contains=f"✅ {kind}")
    await proposer.send(when)
    where = await proposer.wait_message("Где встречаемся?")
    if place is None:
        await proposer.press("Без места", where)
        await proposer.wait_edit(where, contains="Предложение отправлено")
    else:
        await proposer.send(place)
        await proposer.wait_message("Предложение отправлено")


async def _confirm(other: FakeUser, since: int) -> BotMessage:
    proposal = await _expect(other, "предлагает", since)
    await other.press("✅ Подтвердить", proposal)
    await other.wait_edit(proposal, contains="Встреча подтверждена")
    return await _expect(other, "Добавьте встречу в календарь", since)


async def _log(
    mentor: FakeUser, mentee: FakeUser, marks: dict[int, int], kind: str, *, goals: int = 0
) -> None:
    """The journal's question after the meeting; held, 60 minutes; the mentee rates it 5."""
    ask = await _expect(mentor, "Журнал наставника", marks[mentor.id])
    assert kind in ask.text
    await mentor.press("✅ Состоялась", ask)
    await mentor.press("60 мин", await mentor.wait_message("Сколько минут"))
    await mentor.wait_message("Какие темы")
    await mentor.send(f"Темы: {kind}")
    await mentor.press("Пропустить", await mentor.wait_message("О чём договорились"))
    for number in range(1, goals + 1):
        await mentor.press("50%", await mentor.wait_message(f"Цель {number} из {goals}"))
    await mentor.wait_message("Записано")
    confirm = await _expect(mentee, "Наставник отметил встречу", marks[mentee.id])
    await mentee.press("✅ Да, состоялась", confirm)
    await mentee.wait_edit(confirm, contains="Оцените")
    await mentee.press("5 ⭐", confirm)
    await mentee.wait_edit(confirm, contains="Спасибо за оценку: 5")


async def _add_goal(mentee: FakeUser, title: str, until: str) -> None:
    await mentee.press("➕ Добавить цель")
    await mentee.wait_message("Напишите цель")
    await mentee.send(title)
    await mentee.wait_message("К какому сроку")
    await mentee.send(until)
    await mentee.press("Без задач", await mentee.wait_message("Какие задачи"))
    await mentee.wait_message("Цель добавлена")


async def test_working_cycle_in_vladivostok(
    fake_telegram: FakeTelegram, bot_process: Any, tmp_path: Path
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path, timezone="Asia/Vladivostok", quiet=None)
    bot = await bot_process({"ADMIN_IDS": str(COORDINATOR), "CLOCK_CONTROL": "1", "TZ": "UTC"})
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    mentees = [fake_telegram.user(5101 + i, first_name=f"Ученик{i}") for i in range(3)]
    mentors = [fake_telegram.user(5201 + i, first_name=f"Наставник{i}") for i in range(3)]
    curator = fake_telegram.user(5300, first_name="Ольга")
    # joined at the real time: the invitations' terms count from it
    await flows.gather(
        *(register(u, setup["mentee"], "mentee-student-student", f"Ученик Номер{i}")
          for i, u in enumerate(mentees)),
        *(register(u, setup["mentor"], "mentor-student-student", f"Наставник Номер{i}", 1)
          for i, u in enumerate(mentors)),
        join_curator(curator, setup["curator"], coordinator),
    )

    # Monday 7 December, 10:00 in Vladivostok: three pairs approved
    await bot.clock("set", _local("2026-12-07 10:00"))
    await curator.send("/match")
    await curator.wait_message("Подбор пар")
    await curator.send("/pairs")
    card = await curator.wait_message("Предложение 1 из 3")
    for left in (3, 2, 1):
        await curator.press(APPROVE, card)
        await curator.wait_edit(card, contains="Одобрено")
        if left > 1:
            card = await curator.wait_message("Предложение 1 из")
    users = {u.id: u for u in [*mentees, *mentors]}
    pairs: dict[str, tuple[int, FakeUser, FakeUser]] = {}
    for label, mentee in zip("ABC", mentees, strict=True):
        [(pair_id, mentor_m)] = query(
            db_path, "SELECT p.id, p.mentor_membership_id FROM pairs p JOIN memberships m "
            "ON m.id = p.mentee_membership_id JOIN participants t ON t.id = m.participant_id "
            "WHERE p.status = 'approved' AND t.telegram_id = ?", mentee.id)
        pairs[label] = (pair_id, mentee, users[telegram_of(db_path, mentor_m)])
    a_id, a_mentee, a_mentor = pairs["A"]
    b_id, b_mentee, b_mentor = pairs["B"]
    _, c_mentee, c_mentor = pairs["C"]

    # pair C's mentee is ill until the middle of January
    await c_mentee.send("/pause")
    await c_mentee.press("🤒 Болезнь", await c_mentee.wait_message("Почему пауза?"))
    await c_mentee.wait_message("До какого числа?")
    await c_mentee.send("15.01.2027")
    await c_mentee.wait_message("Пауза до 15.01.2027")

    # -- the intro meeting: the picker, then another time typed by the mentor ----------------
    intro = await a_mentee.wait_message("Вам подобран наставник", timeout=OUTBOX_WAIT)
    await a_mentee.press("📅 Предложить встречу", intro)
    picker = await a_mentee.wait_message("Новая встреча")
    days = [b.text for row in picker.buttons for b in row if b.value and ":y:" in b.value]
    assert days[0].endswith("07.12") and len(days) == 14  # "today" is the moved local day
    await a_mentee.press(days[1], picker)
    slots = await a_mentee.wait_edit(picker, contains="Выберите время")
    await a_mentee.press("15:30", slots)
    await a_mentee.wait_edit(picker, contains="Где встречаемся?")
    await a_mentee.send("Кабинет 12")
    await a_mentee.wait_message("Предложение отправлено")
    mark = _since(a_mentor)
    proposal = await _expect(a_mentor, "предлагает встречу", mark)
    assert "08.12" in proposal.text and "15:30" in proposal.text
    await a_mentor.press("🕒 Другое время", proposal)
    await a_mentor.wait_message("Другое время встречи")
    await a_mentor.send("09.12 11:00")
    await a_mentor.wait_message("Новое время предложено")
    ics = await _confirm(a_mentee, 0)
    content = (ics.file_content or b"").decode()
    # 11:00 in Vladivostok is 01:00 UTC
    assert "DTSTART:20261209T010000Z" in content and "DTEND:20261209T020000Z" in content
    other_ics = await _expect(a_mentor, "Добавьте встречу в календарь", mark)
    assert "DTSTART:20261209T010000Z" in (other_ics.file_content or b"").decode()

    # -- reminders: 24 h before (8 Dec 11:00) and 1 h before (9 Dec 10:00) ------------------
    marks = _marks(a_mentee, a_mentor)
    await bot.clock("set", _local("2026-12-08 10:30"))
    await bot.clock("set", _local("2026-12-08 10:55"), settle=QUIET_WAIT)
    assert not any(_found(u, "Напоминание о встрече", marks[u.id]) for u in (a_mentee, a_mentor))
    await bot.clock("set", _local("2026-12-08 11:00:30"))
    for u in (a_mentee, a_mentor):
        reminder = await _expect(u, "Напоминание о встрече", marks[u.id])
        assert "09.12" in reminder.text and "11:00" in reminder.text
    assert not any(_found(u, "Встреча через час", marks[u.id]) for u in (a_mentee, a_mentor))
    await bot.clock("set", _local("2026-12-09 10:00:30"))
    for u in (a_mentee, a_mentor):
        await _expect(u, "Встреча через час", marks[u.id])

    # -- logged by the mentor, confirmed and rated by the mentee -----------------------------
    marks = _marks(a_mentor, a_mentee)
    await bot.clock("set", _local("2026-12-09 12:01"))
    await _log(a_mentor, a_mentee, marks, "встреча-знакомство")
    assert query(db_path, "SELECT status FROM pairs WHERE id=?", a_id) == [("intro",)]

    # -- the trial meeting, typed by the mentor ---------------------------------------------
    mark = _since(a_mentee)
    await _propose(a_mentor, "11.12 17:00")
    await _confirm(a_mentee, mark)
    marks = _marks(a_mentor, a_mentee)
    await bot.clock("set", _local("2026-12-11 18:01"))
    await _log(a_mentor, a_mentee, marks, "пробная рабочая встреча")
    assert query(db_path, "SELECT status FROM pairs WHERE id=?", a_id) == [("trial",)]

    # -- nudges: pair B on day 10, its curator on day 17; pair C (paused) never ---------------
    watched = [b_mentee, b_mentor, c_mentee, c_mentor, a_mentee, a_mentor, curator]
    marks = _marks(*watched)
    first_nudge = "первой встречи ещё не было"
    await bot.clock("set", _local("2026-12-17 09:50"), settle=QUIET_WAIT)  # day 9 and 23 h
    assert not any(_found(u, first_nudge, marks[u.id]) for u in watched)
    await bot.clock("set", _local("2026-12-17 10:05"))
    await _expect(b_mentee, first_nudge, marks[b_mentee.id])
    await _expect(b_mentor, first_nudge, marks[b_mentor.id])
    await bot.clock("set", _local("2026-12-24 09:50"), settle=QUIET_WAIT)
    assert not _found(curator, "не встречается", marks[curator.id])
    await bot.clock("set", _local("2026-12-24 10:05"))
    escalation = await _expect(curator, f"Пара #{b_id} не встречается", marks[curator.id])
    assert "🔔 Напомнить паре" in escalation.button_texts

    # pair A: its trial ended 11 Dec 18:00; nudged 14 days later, escalated 7 after that
    idle = "не встречались уже"
    await bot.clock("set", _local("2026-12-25 17:50"), settle=QUIET_WAIT)
    assert not any(_found(u, idle, marks[u.id]) for u in (a_mentee, a_mentor))
    await bot.clock("set", _local("2026-12-25 18:05"))
    await _expect(a_mentee, idle, marks[a_mentee.id])
    await _expect(a_mentor, idle, marks[a_mentor.id])
    await bot.clock("set", _local("2027-01-01 18:05"))
    await _expect(curator, f"Пара #{a_id} не встречается", marks[curator.id])
    # nobody of pair C heard a thing, and the curator was told only of A and B
    for u in (c_mentee, c_mentor):
        assert not _found(u, first_nudge, marks[u.id]) and not _found(u, idle, marks[u.id])
    assert len(_found(curator, "не встречается", marks[curator.id])) == 2

    # -- planning: a plan with two goals, progress marked while logging ------------------------
    await a_mentee.send("/plan")
    await a_mentee.wait_message("План пока не составлен")
    await _add_goal(a_mentee, "Подготовиться к олимпиаде", "20.05.2027")
    await _add_goal(a_mentee, "Прочитать три книги", "30.04.2027")
    mark = _since(a_mentee)
    await _propose(a_mentor, "03.01 15:00", place="Библиотека")
    await _confirm(a_mentee, mark)
    marks = _marks(a_mentor, a_mentee)
    await bot.clock("set", _local("2027-01-03 16:01"))
    await _log(a_mentor, a_mentee, marks, "встреча-планирование", goals=2)
    assert query(db_path, "SELECT progress FROM plan_goals ORDER BY position") == [(50,), (50,)]

    # -- two regular meetings ----------------------------------------------------------------
    for day in ("05.01", "07.01"):
        mark = _since(a_mentee)
        await _propose(a_mentor, f"{day} 15:00")
        await _confirm(a_mentee, mark)
        marks = _marks(a_mentor, a_mentee)
        await bot.clock("set", _local(f"2027-01-{day[:2]} 16:01"))
        await _log(a_mentor, a_mentee, marks, "регулярная встреча", goals=2)
    assert query(db_path, "SELECT status FROM pairs WHERE id=?", a_id) == [("regular",)]

    # -- the final meeting at 21:30: its journal question waits for the morning ----------------
    mark = _since(a_mentee)
    await _propose(a_mentor, "09.01 21:30", kind="итоговая встреча")
    await _confirm(a_mentee, mark)
    marks = _marks(a_mentee, a_mentor)
    await bot.clock("set", _local("2027-01-08 21:31"))
    await _expect(a_mentor, "Напоминание о встрече", marks[a_mentor.id])
    await bot.clock("set", _local("2027-01-09 20:31"))
    await _expect(a_mentor, "Встреча через час", marks[a_mentor.id])
    await bot.clock("set", _local("2027-01-09 22:40"), settle=QUIET_WAIT)
    assert not _found(a_mentor, "Журнал наставника", marks[a_mentor.id])
    await bot.clock("set", _local("2027-01-10 08:00:30"))
    await _log(a_mentor, a_mentee, marks, "итоговая встреча", goals=2)

    stages = query(db_path, "SELECT from_status, to_status FROM pair_events WHERE pair_id=? "
                   "ORDER BY id", a_id)
    assert stages[-5:] == [("approved", "intro"), ("intro", "trial"), ("trial", "planning"),
                           ("planning", "regular"), ("regular", "final")]

    # every message the bot sent on its own initiative left outside the quiet hours
    chats = [u.id for u in (a_mentee, a_mentor, b_mentee, b_mentor, c_mentee, c_mentor)]
    sent = query(db_path, "SELECT kind, sent_at FROM outbox WHERE status='sent' AND chat_id IN "
                 f"({','.join('?' * len(chats))})", *chats)
    assert len(sent) > 20
    for kind, sent_at in sent:
        local = dt.datetime.fromisoformat(sent_at).replace(tzinfo=dt.UTC).astimezone(TZ)
        assert 8 <= local.hour < 22, (kind, local)
    assert "Traceback" not in bot.log_text()

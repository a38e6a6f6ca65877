"""A crash in the middle of a broadcast, as the acceptance list puts it: a curator sends a
/broadcast to 2,000 people through the chat, the bot is SIGKILLed after a few hundred copies
went out, it is restarted, and every recipient ends up with exactly one copy (one more is
allowed only for a message in flight at the kill: sent, not yet marked sent). Run with one
outbox worker (so "in flight" is literally one message) and with several."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends import execute_many, stamp
from tests.e2e import flows
from tests.e2e.flows import query
from tests.e2e.harness import BotProcessFactory
from tests.e2e.test_matching import COORDINATOR, join_curator
from tests.fakeapi import FakeTelegram

pytestmark = pytest.mark.e2e
PEOPLE = 2000
FIRST = 600_000  # the recipients' telegram ids: FIRST .. FIRST + PEOPLE - 1
CURATOR = 3100
KILL_AFTER = 300  # copies delivered before the SIGKILL
RATE = 300  # OUTBOX_RATE for the test (the default 25/s would take 80 s per broadcast)
FAKE_GLOBAL_LIMIT = 400  # the fake's flood limit: above the bot's pace, so no 429 is expected
TEXT = "Родительское собрание в пятницу в 18:00, актовый зал"
DONE_WAIT = 120.0


def _seed_mentees(db_path: Path, org_id: int, programme_id: int) -> None:
    """2,000 mentees who consented and filled their questionnaire (status in_base) in the
    curator's organisation: what the "mentees" segment selects. Written in bulk rather than
    2,000 chat onboardings."""
    now = stamp(dt.datetime.now(dt.UTC))
    people = range(FIRST, FIRST + PEOPLE)
    execute_many(
        db_path,
        "INSERT INTO participants (telegram_id, language, full_name, tg_first_name,"
        " age_group, status, is_coordinator, share_contacts, created_at)"
        " VALUES (?, 'ru', ?, ?, 'adult', 'active', false, false, ?)",
        [(tid, f"Ученик {tid - FIRST}", f"Ученик{tid - FIRST}", now) for tid in people],
    )
    ids = dict(query(db_path, "SELECT telegram_id, id FROM participants WHERE telegram_id >= ?",
                     FIRST))
    execute_many(
        db_path,
        "INSERT INTO memberships (participant_id, organisation_id, programme_id, role, form,"
        " status, capacity, load, is_disabled_student, created_at, updated_at)"
        " VALUES (?, ?, ?, 'mentee', 'student-student', 'in_base', 1, 0, false, ?, ?)",
        [(ids[tid], org_id, programme_id, now, now) for tid in people],
    )
    query(
        db_path,
        "INSERT INTO consents (participant_id, organisation_id, membership_id, kind,"
        " decision, version, created_at)"
        " SELECT participant_id, organisation_id, id, 'self', 'accepted', 1, ?"
        " FROM memberships WHERE role = 'mentee' AND programme_id = ?",
        now, programme_id,
    )


def _rows(db_path: Path, status: str) -> int:
    """The broadcast's outbox rows in this status."""
    [(count,)] = query(
        db_path, "SELECT count(*) FROM outbox WHERE batch = 'bc:1' AND status = ?", status)
    return int(count)


def _copies(fake: FakeTelegram) -> Counter[int]:
    """Announcement copies per recipient, as the recipients' chats show them."""
    return Counter(
        chat for chat in range(FIRST, FIRST + PEOPLE)
        for m in fake.users[chat].messages if TEXT in m.text
    )


def _delivered(fake: FakeTelegram) -> int:
    return sum(len(fake.users[chat].messages) for chat in range(FIRST, FIRST + PEOPLE))


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("workers", [1, 8])
async def test_sigkill_mid_broadcast_then_restart_sends_each_copy_once(
    fake_telegram: FakeTelegram, bot_process: BotProcessFactory, tmp_path: Path,
    workers: int,
) -> None:
    db_path = tmp_path / "bot.db"
    setup = flows.setup_programme(db_path)
    await asyncio.to_thread(_seed_mentees, db_path, setup["org_id"], setup["programme_id"])
    for chat in range(FIRST, FIRST + PEOPLE):
        fake_telegram.user(chat, first_name=f"Ученик{chat - FIRST}").started = True
    fake_telegram.set_limits(global_per_second=FAKE_GLOBAL_LIMIT)
    env = {
        "ADMIN_IDS": str(COORDINATOR), "OUTBOX_RATE": str(RATE),
        "OUTBOX_WORKERS": str(workers), "OUTBOX_LEASE_S": "3",
    }

    first = await bot_process(env)
    coordinator = fake_telegram.user(COORDINATOR, first_name="Координатор")
    await coordinator.send("/start")
    await coordinator.wait_message("координатор")
    curator = fake_telegram.user(CURATOR, first_name="Ольга")
    await join_curator(curator, setup["curator"], coordinator)

    # the curator's /broadcast: segment, text, preview with the count, confirm
    await curator.send("/broadcast")
    choose = await curator.wait_message("Кому отправить")
    await curator.press("Наставляемым", choose)
    await curator.wait_edit(choose, contains="Напишите текст объявления")
    await curator.send(TEXT)
    preview = await curator.wait_message("Предпросмотр рассылки", timeout=30)
    assert re.search(r"Получателей: 2\s?000\b", preview.text), preview.text
    assert "Кому: Наставляемым" in preview.text
    await curator.press("✅ Отправить", preview)
    started = await curator.wait_edit(preview, contains="Рассылка #1: отправлено", timeout=30)
    assert re.search(r"из 2\s?000\b", started.text), started.text

    # SIGKILL once a few hundred copies went out: no shutdown code runs
    await _until(lambda: _delivered(fake_telegram) >= KILL_AFTER, 60, "delivery to start")
    await first.kill()
    await asyncio.sleep(0.2)  # let the fake finish handling what reached it before the kill
    at_kill = _delivered(fake_telegram)
    assert at_kill < PEOPLE, "the broadcast ended before the crash; nothing was tested"
    stuck, sent_at_kill = _rows(db_path, "sending"), _rows(db_path, "sent")
    assert stuck > 0  # the killed sender held claimed rows: the restart must take them back
    # in flight at the kill: delivered, but the row was not marked sent
    in_flight = set(_copies(fake_telegram)) & {chat for (chat,) in query(
        db_path, "SELECT chat_id FROM outbox WHERE batch = 'bc:1' AND status = 'sending'")}
    assert len(in_flight) <= workers, in_flight
    assert query(db_path, "SELECT status FROM broadcasts") == [("sending",)]

    # the restart finishes the broadcast; the curator's progress message shows the count
    second = await bot_process(env)
    final = await curator.wait_edit(preview, contains="завершена", timeout=DONE_WAIT)
    assert re.search(r"доставлено 2\s?000 из 2\s?000, недоступны 0\b", final.text), final.text

    copies = _copies(fake_telegram)
    assert set(copies) == set(range(FIRST, FIRST + PEOPLE)), "somebody got no copy"
    assert _delivered(fake_telegram) == sum(copies.values()), "a recipient got something else"
    doubled = sorted(chat for chat, n in copies.items() if n > 1)
    print(
        f"workers={workers}: {at_kill} copies delivered before the kill, {sent_at_kill} marked"
        f" sent, {stuck} claimed; in flight: {sorted(in_flight)}; twice: {doubled}"
    )
    # Only a message in flight at the kill may go twice: at most one per worker, so with
    # one worker at most one duplicate in all.
    assert max(copies.values()) <= 2, copies.most_common(3)
    assert set(doubled) <= in_flight, (doubled, in_flight)
    assert len(doubled) <= workers, doubled
    announcement = fake_telegram.users[FIRST].messages[0].text
    assert announcement.startswith("📢 Объявление") and TEXT in announcement

    assert query(
        db_path, "SELECT status, count(*), count(payload) FROM outbox WHERE batch = 'bc:1'"
        " GROUP BY status"
    ) == [("sent", PEOPLE, 0)]
    assert query(db_path, "SELECT status, total, text FROM broadcasts") == [
        ("done", PEOPLE, None)
    ]
    # the kill cut requests off (499: the client went away); nothing else failed
    assert not [e for e in fake_telegram.errors if e.status != 499], fake_telegram.errors[:5]
    # the rows claimed by the killed process came back when their lease ran out
    assert "of a stopped sender back in the queue" in second.log_text()

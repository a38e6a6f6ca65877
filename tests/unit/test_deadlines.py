"""Deadline reminders: a week before and on the day, from 10:00 in each organisation's
timezone, made up within two days; each curator's reminder is followed by their own
organisation's summary and KPIs; coordinators get the reminder once; the quarterly summary;
a second pass (or a restart) queues nothing twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.services.reports.deadlines import CALENDAR, due_reminders, quarter_due
from db.models import MembershipStatus, OutboxMessage, Participant, Role
from scheduler import deadlines as job
from tests.unit.journal_world import World, db  # noqa: F401 - the fixture, used by name

MSK = "Europe/Moscow"
WEEK_BEFORE = dt.datetime(2026, 10, 13, 7, 0, tzinfo=dt.UTC)  # 13 Oct 10:00 Moscow


def _codes(now: dt.datetime, tz: str = MSK) -> list[tuple[str, str, bool]]:
    return [(r.deadline.code, r.date.isoformat(), r.week_before) for r in due_reminders(now, tz)]


def test_calendar_windows() -> None:
    minute = dt.timedelta(minutes=1)
    assert _codes(WEEK_BEFORE - minute) == []
    assert _codes(WEEK_BEFORE) == [("org_monitoring", "2026-10-20", True)]
    assert _codes(WEEK_BEFORE + dt.timedelta(days=2) - minute) != []  # made up within 2 days
    assert _codes(WEEK_BEFORE + dt.timedelta(days=2)) == []
    on_the_day = dt.datetime(2026, 10, 20, 7, 0, tzinfo=dt.UTC)
    assert _codes(on_the_day) == [("org_monitoring", "2026-10-20", False)]
    # 25 Oct 10:00: a week before 1 November (municipal monitoring)
    assert _codes(dt.datetime(2026, 10, 25, 7, 0, tzinfo=dt.UTC)) == [
        ("municipal_monitoring", "2026-11-01", True)]
    # December: the monitoring window (20th) and the forum (25th); the forum's week-before
    # (18th, 10:00) is made up until the 20th 10:00, so at 11:00 on the 20th only the window
    assert _codes(dt.datetime(2026, 12, 20, 8, 0, tzinfo=dt.UTC)) == [
        ("december_monitoring", "2026-12-20", False)]
    assert _codes(dt.datetime(2026, 12, 18, 8, 0, tzinfo=dt.UTC)) == [
        ("forum", "2026-12-25", True)]
    # the federal form on 20 January reports on the year before
    [federal] = due_reminders(dt.datetime(2027, 1, 20, 7, 0, tzinfo=dt.UTC), MSK)
    assert federal.deadline.code == "federal_form" and federal.kpi_year == 2026
    # Vladivostok (UTC+10): 13 Oct 10:00 local is 00:00 UTC; Moscow is not there yet
    vladivostok = dt.datetime(2026, 10, 13, 0, 0, tzinfo=dt.UTC)
    assert _codes(vladivostok, "Asia/Vladivostok") == [("org_monitoring", "2026-10-20", True)]
    assert _codes(vladivostok) == []
    assert {d.code for d in CALENDAR} == {"org_monitoring", "municipal_monitoring",
                                          "federal_form", "forum", "june_monitoring",
                                          "december_monitoring"}
    assert _codes(dt.datetime(2026, 6, 25, 7, 0, tzinfo=dt.UTC)) == [
        ("june_monitoring", "2026-06-25", False)]


def test_quarter_start() -> None:
    start = dt.datetime(2027, 1, 1, 7, 0, tzinfo=dt.UTC)  # 1 Jan 10:00 Moscow
    assert quarter_due(start - dt.timedelta(minutes=1), MSK) is None
    assert quarter_due(start, MSK) == "2027Q1"
    assert quarter_due(start + dt.timedelta(days=7), MSK) is None
    assert quarter_due(dt.datetime(2026, 10, 1, 7, 0, tzinfo=dt.UTC), MSK) == "2026Q4"
    assert quarter_due(dt.datetime(2026, 11, 1, 7, 0, tzinfo=dt.UTC), MSK) is None


async def _curator(w: World, name: str) -> Participant:
    person, membership = await w.member(name, Role.CURATOR)
    membership.confirmed_at = w.pair.decided_at
    membership.status = MembershipStatus.IN_BASE
    return person


async def _outbox(session: AsyncSession) -> dict[str, OutboxMessage]:
    rows = (await session.execute(select(OutboxMessage))).scalars()
    return {row.idempotency_key: row for row in rows}


async def test_reminders_with_summary_and_kpi_once(db: async_sessionmaker[AsyncSession]) -> None:  # noqa: F811
    async with db() as session:
        a = await World(session).setup()
        a.org.name = "Школа А"
        curator = await _curator(a, "Куратор А")
        b = await World(session).setup()
        b.org.name = "Лицей Б"
        b_curator = await _curator(b, "Куратор Б")
        coordinator = Participant(telegram_id=880_001, language="en", full_name="Coord",
                                  is_coordinator=True)
        admin = Participant(telegram_id=880_002, language="ru", full_name="Админ")
        session.add_all([coordinator, admin])
        await session.commit()
        ids = {"a": curator.id, "b": b_curator.id, "c": coordinator.id, "adm": admin.id}
        orgs = {"a": a.org.id, "b": b.org.id}
        people = {a.mentee.telegram_id, a.mentor.telegram_id, b.mentee.telegram_id}

    admins = frozenset({880_002, 880_003})  # coordinators by ADMIN_IDS; 880_003 never wrote
    assert await job.tick(db, FrozenClock(WEEK_BEFORE - dt.timedelta(minutes=1)), admins) == 0
    # two curators, a coordinator marked in the database and two by ADMIN_IDS
    assert await job.tick(db, FrozenClock(WEEK_BEFORE), admins) == 5
    async with db() as session:
        rows = await _outbox(session)
    key_a = f"dl:org_monitoring:2026:w:{ids['a']}:{orgs['a']}"
    key_b = f"dl:org_monitoring:2026:w:{ids['b']}:{orgs['b']}"
    key_c = f"dl:org_monitoring:2026:w:{ids['c']}:0"
    key_adm = f"dl:org_monitoring:2026:w:{ids['adm']}:0"
    key_tg = "dl:org_monitoring:2026:w:t880003:0"
    assert set(rows) == {key_a, key_a + ":s", key_a + ":k", key_b, key_b + ":s", key_b + ":k",
                         key_c, key_adm, key_tg}
    assert rows[key_tg].chat_id == 880_003 and rows[key_tg].participant_id is None
    assert not {row.chat_id for row in rows.values()} & people  # participants get nothing
    texts = {key: (row.payload or {})["text"] for key, row in rows.items()}
    assert "Через неделю, 20.10.2026" in texts[key_a] and "«Школа А»" in texts[key_a]
    assert "Сводка: Школа А" in texts[key_a + ":s"]
    assert "Целевые показатели: Школа А, 2026 год" in texts[key_a + ":k"]
    assert "укажите /totals" in texts[key_a + ":k"]
    assert "ch:s:" in str((rows[key_a + ":s"].payload or {})["reply_markup"])  # charts button
    assert not any("Школа А" in texts[k] for k in (key_b, key_b + ":s", key_b + ":k"))
    assert "In a week, 20.10.2026" in texts[key_c] and "/summary" in texts[key_c]
    assert rows[key_a].organisation_id == orgs["a"] and rows[key_a].kind == job.KIND_DEADLINE
    assert rows[key_c].organisation_id is None

    # a second pass, a restart, the next day within the grace: nothing twice
    assert await job.tick(db, FrozenClock(WEEK_BEFORE), admins) == 0
    assert await job.tick(db, FrozenClock(WEEK_BEFORE + dt.timedelta(days=1)), admins) == 0
    # on the day: a new reminder for each (without ADMIN_IDS now: three)
    assert await job.tick(db, FrozenClock(dt.datetime(2026, 10, 20, 7, 5, tzinfo=dt.UTC))) == 3
    async with db() as session:
        rows = await _outbox(session)
        assert len(rows) == 9 + 7
        day = rows[f"dl:org_monitoring:2026:d:{ids['a']}:{orgs['a']}"]
        assert "Сегодня, 20.10.2026" in (day.payload or {})["text"]


async def test_quarterly_summary(db: async_sessionmaker[AsyncSession]) -> None:  # noqa: F811
    async with db() as session:
        a = await World(session).setup()
        curator = await _curator(a, "Куратор А")
        await session.commit()
        key = f"qs:2027Q1:{curator.id}:{a.org.id}"
    start = dt.datetime(2027, 1, 1, 7, 0, tzinfo=dt.UTC)
    assert await job.tick(db, FrozenClock(start)) == 1
    assert await job.tick(db, FrozenClock(start + dt.timedelta(days=3))) == 0
    async with db() as session:
        rows = await _outbox(session)
    assert set(rows) == {key, key + ":s"}  # the summary, without the KPI table
    assert "Начался I квартал 2027 года" in (rows[key].payload or {})["text"]
    assert "Сводка: Школа" in (rows[key + ":s"].payload or {})["text"]
    assert rows[key].kind == job.KIND_QUARTER

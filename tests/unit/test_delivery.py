"""The outbox sender against the fake Bot API with injected faults: every message is
delivered exactly once or parked with the reason; 403 marks the person and tells the curator."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Database, create_bot
from bot.clock import Clock, FrozenClock, SystemClock
from bot.config import Settings, load_settings
from bot.services import outbox
from db.migrate import upgrade_to_head
from db.models import (
    Membership,
    MembershipStatus,
    Organisation,
    OutboxMessage,
    Participant,
    ParticipantStatus,
    Role,
)
from scheduler.outbox import Sender
from tests.backends import url_for
from tests.fakeapi import FakeTelegram

CURATOR = 7000


@dataclass
class World:
    fake: FakeTelegram
    bot: Bot
    sm: async_sessionmaker[AsyncSession]
    org_id: int

    def sender(self, clock: Clock | None = None, **kw: float) -> Sender:
        params: dict[str, float] = {"rate": 100.0, "workers": 4, "lease_s": 5.0,
                                    "send_timeout_s": 1.0, **kw}
        return Sender(
            self.bot, self.sm, clock or SystemClock(), rate=params["rate"],
            workers=int(params["workers"]), lease_s=params["lease_s"],
            send_timeout_s=params["send_timeout_s"],
        )

    async def rows(self) -> list[OutboxMessage]:
        async with self.sm() as session:
            found = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
            return list(found.scalars())

    async def drain_all(self, sender: Sender, within: float = 30.0) -> None:
        """Drain until nothing is pending or sending (retries wait for their backoff)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            await sender.drain()
            if not [r for r in await self.rows() if r.status in ("pending", "sending")]:
                return
            await asyncio.sleep(0.2)
        raise AssertionError([(r.id, r.status, r.last_error) for r in await self.rows()])


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeTelegram()
    await fake.start()
    url = url_for(tmp_path / "delivery.db")
    await asyncio.to_thread(upgrade_to_head, url)
    settings = load_settings(
        Settings, bot_token=fake.token, telegram_api_base=fake.base_url, database_url=url,
        outbox_rate=100.0,
    )
    database = Database.from_url(url)
    bot = create_bot(settings)
    async with database.sessionmaker() as session:
        org = Organisation(name="School", timezone="Asia/Vladivostok",
                           quiet_from_min=0, quiet_to_min=0)
        session.add(org)
        await session.flush()
        curator = Participant(telegram_id=CURATOR, language="ru", full_name="Curator")
        session.add(curator)
        await session.flush()
        session.add(Membership(
            participant_id=curator.id, organisation_id=org.id, role=Role.CURATOR,
            status=MembershipStatus.IN_BASE, confirmed_at=dt.datetime.now(dt.UTC),
        ))
        await session.commit()
        org_id = org.id
    fake.user(CURATOR).started = True
    try:
        yield World(fake, bot, database.sessionmaker, org_id)
    finally:
        await bot.session.close()
        await database.close()
        await fake.stop()


async def _people(world: World, ids: range) -> dict[int, int]:
    """Participants (mentees of the organisation) with these Telegram ids; {tg id: pid}."""
    found = {}
    async with world.sm() as session:
        for tg in ids:
            person = Participant(telegram_id=tg, language="ru", full_name=f"Ученик {tg}")
            session.add(person)
            await session.flush()
            session.add(Membership(participant_id=person.id, organisation_id=world.org_id,
                                   role=Role.MENTEE, status=MembershipStatus.IN_BASE))
            found[tg] = person.id
            world.fake.user(tg).started = True
        await session.commit()
    return found


async def _enqueue(world: World, people: dict[int, int], now: dt.datetime) -> None:
    async with world.sm() as session:
        for tg, pid in people.items():
            await outbox.enqueue(
                session, chat_id=tg, text=f"Напоминание для {tg}", key=f"t:{tg}", now=now,
                participant_id=pid, organisation_id=world.org_id, kind="test", batch="bc:1",
            )
        await session.commit()


async def test_faults_deliver_once_or_park_with_the_reason(world: World) -> None:
    fake = world.fake
    people = await _people(world, range(1000, 1020))
    now = dt.datetime.now(dt.UTC)
    await _enqueue(world, people, now)
    fake.fail_chat(1001, 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    fake.fail_chat(1002, 500, "Internal Server Error", times=2)
    fake.fail_chat(1003, 502, "Bad Gateway")
    fake.delay_chat(1004, 2.5)  # past the sender's 1 s timeout: lost on the way
    fake.user(1005).block()
    fake.fail_chat(1006, 400, "Bad Request: can't parse entities: unclosed tag")

    await world.drain_all(world.sender())

    for tg in people:
        texts = [m.text for m in fake.users[tg].messages]
        expected = [] if tg in (1005, 1006) else [f"Напоминание для {tg}"]
        assert texts == expected, tg
    rows = {r.chat_id: r for r in await world.rows() if r.kind == "test"}
    assert {r.status for tg, r in rows.items() if tg not in (1005, 1006)} == {"sent"}
    assert all(r.payload is None for r in rows.values() if r.status == "sent")
    assert rows[1005].status == "parked" and "blocked" in (rows[1005].last_error or "")
    assert rows[1006].status == "parked" and "parse entities" in (rows[1006].last_error or "")
    assert rows[1002].attempts == 3
    assert rows[1001].attempts == 1  # a 429 is not an attempt
    # 403: the person is unreachable and the curator was told, once.
    async with world.sm() as session:
        blocked = await session.get(Participant, people[1005])
        assert blocked is not None and blocked.status == ParticipantStatus.UNREACHABLE
    notices = [m.text for m in fake.users[CURATOR].messages]
    assert len(notices) == 1
    assert "Ученик 1005" in notices[0] and "наставляемый" in notices[0]


async def test_two_senders_never_send_a_row_twice(world: World) -> None:
    people = await _people(world, range(2000, 2060))
    await _enqueue(world, people, dt.datetime.now(dt.UTC))
    first, second = world.sender(), world.sender()
    await asyncio.gather(first.drain(), second.drain(), first.drain())
    await world.drain_all(first)
    copies = Counter(m.chat_id for tg in people for m in world.fake.users[tg].messages)
    assert copies == Counter({tg: 1 for tg in people})


async def test_a_dead_senders_rows_come_back_after_its_lease(world: World) -> None:
    people = await _people(world, range(3000, 3003))
    now = dt.datetime.now(dt.UTC)
    await _enqueue(world, people, now)
    async with world.sm() as session:
        rows = list((await session.execute(select(OutboxMessage))).scalars())
        # 3000: claimed by a sender that died a minute ago; 3001: by one still alive.
        for row in rows:
            if row.chat_id in (3000, 3001):
                row.status = "sending"
                row.attempts = 1
                row.not_before = now + dt.timedelta(
                    seconds=-60 if row.chat_id == 3000 else 600
                )
        await session.commit()
    await world.sender().drain()
    texts = {tg: len(world.fake.users[tg].messages) for tg in people}
    assert texts == {3000: 1, 3001: 0, 3002: 1}


async def test_quiet_hours_pause_and_expiry(world: World) -> None:
    # 13:00 UTC = 23:00 in Vladivostok: the organisation's night (22:00-08:00).
    now = dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.UTC)
    clock = FrozenClock(now)
    async with world.sm() as session:
        org = await session.get(Organisation, world.org_id)
        assert org is not None
        org.quiet_from_min, org.quiet_to_min = 22 * 60, 8 * 60
        await session.commit()
    people = await _people(world, range(4000, 4005))
    async with world.sm() as session:
        paused = await session.get(Participant, people[4003])
        forgotten = await session.get(Participant, people[4004])
        assert paused is not None and forgotten is not None
        paused.status, paused.paused_until = "paused", now + dt.timedelta(hours=2)
        forgotten.status = "forgotten"
        common = {"now": now, "kind": "test"}
        await outbox.enqueue(session, chat_id=4000, text="a", key="q:0", **common,
                             participant_id=people[4000], organisation_id=world.org_id)
        await outbox.enqueue(session, chat_id=4001, text="b", key="q:1", **common,
                             participant_id=people[4001], organisation_id=world.org_id,
                             expires_at=now + dt.timedelta(hours=7))  # before 08:00 local
        await outbox.enqueue(session, chat_id=4002, text="c", key="q:2", **common,
                             participant_id=people[4002])  # no organisation: no quiet hours
        await outbox.enqueue(session, chat_id=4003, text="d", key="q:3", **common,
                             participant_id=people[4003])
        await outbox.enqueue(session, chat_id=4004, text="e", key="q:4", **common,
                             participant_id=people[4004])
        await session.commit()

    await world.sender(clock).drain()

    rows = {r.chat_id: r for r in await world.rows()}
    assert rows[4000].status == "pending"
    assert rows[4000].not_before == dt.datetime(2026, 3, 10, 22, 0, tzinfo=dt.UTC)
    assert rows[4001].status == "expired" and rows[4001].payload is None
    assert rows[4002].status == "sent"
    assert rows[4003].status == "pending" and rows[4003].not_before == now + dt.timedelta(hours=2)
    assert rows[4004].status == "expired" and rows[4004].payload is None
    assert [len(world.fake.users[tg].messages) for tg in range(4000, 4005)] == [0, 0, 1, 0, 0]

    clock.set(dt.datetime(2026, 3, 10, 22, 0, tzinfo=dt.UTC))  # 08:00 local
    await world.sender(clock).drain()
    assert [len(world.fake.users[tg].messages) for tg in range(4000, 4005)] == [1, 0, 1, 1, 0]


async def test_a_document_row_is_sent_as_a_file(world: World) -> None:
    people = await _people(world, range(5000, 5001))
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    async with world.sm() as session:
        await outbox.enqueue_document(
            session, chat_id=5000, filename="meeting.ics", content=ics, key="doc:1",
            now=dt.datetime.now(dt.UTC), caption="Встреча", participant_id=people[5000],
            reply_markup={"inline_keyboard": [[{"text": "OK", "callback_data": "x"}]]},
        )
        await session.commit()
    await world.sender().drain()
    [sent] = world.fake.documents
    assert (sent.chat_id, sent.filename, sent.caption) == (5000, "meeting.ics", "Встреча")
    assert sent.content == ics.encode()
    [row] = await world.rows()
    assert row.status == "sent" and row.payload is None


async def test_a_reply_is_not_queued_behind_a_broadcast(world: World, tmp_path: Path) -> None:
    people = await _people(world, range(6000, 6200))
    await _enqueue(world, people, dt.datetime.now(dt.UTC))
    settings = load_settings(
        Settings, bot_token=world.fake.token, telegram_api_base=world.fake.base_url,
        database_url=url_for(tmp_path / "delivery.db"), outbox_rate=20.0,
    )
    bot = create_bot(settings)  # one limiter for the broadcast and the reply, as in the bot
    try:
        sender = Sender(bot, world.sm, SystemClock(), rate=20.0, workers=4, lease_s=5.0)
        draining = asyncio.create_task(sender.drain())
        await asyncio.sleep(1.0)  # the broadcast is under way, the budget in use
        replier = world.fake.user(6999)
        replier.started = True
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(3):  # a short exchange: three replies to one person
            await bot.send_message(6999, f"Ответ {n}")
        took = loop.time() - started
        assert not draining.done()
        draining.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await draining
    finally:
        await bot.session.close()
    assert [m.text for m in replier.messages] == ["Ответ 0", "Ответ 1", "Ответ 2"]
    assert took < 0.5  # 200 queued messages at 20/s would be 10 s

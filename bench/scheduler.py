"""Benchmark of the scheduler's periodic work: ``python -m bench.scheduler``.

Builds a temporary SQLite database (bulk Core inserts) with N active pairs, each with a held
meeting in the past and a future check, a tenth with a confirmed meeting next week, and
1,000 things due now: 500 pairs whose nudge check has come and 500 confirmed meetings
starting within 24 hours. One tick is what the reminder, nudge and pause jobs do in one
pass: ask what is due (indexed), word the messages, queue them in the outbox. The CPU time
of a tick (median of a few, each rolled back) is measured at 100,000 and at 10,000 pairs:
the cost should follow what is due, not how many pairs there are. Human-readable lines go
to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import nudges, pause, reminders
from bot.views.reminders import queue
from db.engine import create_engine, create_sessionmaker
from db.models import (
    Base,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    Organisation,
    OutboxMessage,
    Pair,
    PairStatus,
    Participant,
    Programme,
    Role,
)

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
DUE_PAIRS = 500
DUE_MEETINGS = 500
CHUNK = 20_000
TABLES = {
    "Organisation": Organisation.__tablename__, "Programme": Programme.__tablename__,
    "Participant": Participant.__tablename__, "Membership": Membership.__tablename__,
    "Pair": Pair.__tablename__, "Meeting": Meeting.__tablename__,
}


def _table(model: str) -> Table:
    """The Core table of a model, for executemany inserts without the ORM's bookkeeping."""
    return Base.metadata.tables[TABLES[model]]


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]


def build(path: Path, pairs: int) -> None:
    """The database: one organisation, `pairs` active pairs, 1,000 things due at NOW."""
    engine = create_sync_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    created = NOW - dt.timedelta(days=60)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        conn.execute(insert(_table("Organisation")), [
            {"id": 1, "name": "Колледж", "timezone": "Europe/Moscow", "created_at": created}
        ])
        conn.execute(insert(_table("Programme")), [{
            "id": 1, "organisation_id": 1, "name": "Наставничество",
            "forms": ["student-student"], "start_date": dt.date(2026, 9, 1),
            "end_date": dt.date(2027, 5, 31), "is_archived": False, "created_at": created,
        }])
        people = [
            {"id": i, "telegram_id": 10_000_000 + i, "language": "ru" if i % 5 else "en",
             "full_name": f"Участник {i}", "status": "active", "is_coordinator": False,
             "share_contacts": False, "created_at": created}
            for i in range(1, 2 * pairs + 4)
        ]
        for rows in _chunks(people):
            conn.execute(insert(_table("Participant")), rows)
        members = [
            {"id": i, "participant_id": i, "organisation_id": 1, "programme_id": 1,
             "role": Role.MENTOR if i % 2 else Role.MENTEE, "form": "student-student",
             "status": MembershipStatus.PAIRED, "capacity": 1, "load": i % 2,
             "is_disabled_student": False, "confirmed_at": None, "created_at": created,
             "updated_at": created}
            for i in range(1, 2 * pairs + 1)
        ]
        members += [  # three curators
            {"id": i, "participant_id": i, "organisation_id": 1, "programme_id": None,
             "role": Role.CURATOR, "form": None, "status": MembershipStatus.IN_BASE, "capacity": 1,
             "load": 0, "is_disabled_student": False, "confirmed_at": created,
             "created_at": created, "updated_at": created}
            for i in range(2 * pairs + 1, 2 * pairs + 4)
        ]
        for rows in _chunks(members):
            conn.execute(insert(_table("Membership")), rows)
        pair_rows = []
        for n in range(1, pairs + 1):
            due = n <= DUE_PAIRS
            pair_rows.append({
                "id": n, "programme_id": 1, "mentor_membership_id": 2 * n - 1,
                "mentee_membership_id": 2 * n, "form": "student-student",
                "status": PairStatus.REGULAR, "decided_at": created, "created_at": created,
                # the rest are spread over the next two weeks
                "next_check_at": (NOW - dt.timedelta(minutes=n) if due
                                  else NOW + dt.timedelta(minutes=1 + n % 20_000)),
                "nudge_level": 0,
            })
        for rows in _chunks(pair_rows):
            conn.execute(insert(_table("Pair")), rows)
        meetings = [
            {"pair_id": n, "kind": MeetingKind.REGULAR, "status": MeetingStatus.HELD,
             "starts_at": NOW - dt.timedelta(days=20, minutes=n % 1000),
             "duration_minutes": 60, "confirmed_at": created, "created_at": created,
             "updated_at": created}
            for n in range(1, pairs + 1)
        ]
        for n in range(DUE_PAIRS + 1, pairs + 1, 10):  # a tenth meet next week
            meetings.append({
                "pair_id": n, "kind": MeetingKind.REGULAR, "status": MeetingStatus.CONFIRMED,
                "starts_at": NOW + dt.timedelta(days=3, minutes=n % 5000),
                "duration_minutes": 60, "confirmed_at": created,
                "created_at": created, "updated_at": created,
            })
        for k in range(DUE_MEETINGS):  # due their 24-hour reminder now
            meetings.append({
                "pair_id": pairs - k, "kind": MeetingKind.REGULAR,
                "status": MeetingStatus.CONFIRMED,
                "starts_at": NOW + dt.timedelta(hours=2, minutes=k % 600),
                "duration_minutes": 60, "confirmed_at": created,
                "created_at": created, "updated_at": created,
            })
        for rows in _chunks(meetings):
            conn.execute(insert(_table("Meeting")), rows)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


async def tick(sessionmaker: async_sessionmaker[AsyncSession], *, commit: bool) -> int:
    """One pass of the reminder, nudge and pause jobs; returns how many rows were queued."""
    async with sessionmaker() as session:
        queued = await queue(session, await reminders.due_reminders(session, NOW), NOW)
        queued += await queue(session, await nudges.due_nudges(session, NOW), NOW)
        queued += await queue(session, await pause.resume_due(session, NOW), NOW)
        if commit:
            await session.commit()
        else:
            await session.rollback()
    return queued


async def measure(pairs: int, repeats: int) -> tuple[float, int, int]:
    """(median tick CPU seconds, rows queued by a tick, rows a second tick queues)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        build(path, pairs)
        print(f"{pairs} pairs built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        sessionmaker = create_sessionmaker(engine)
        try:
            await tick(sessionmaker, commit=False)  # warm-up: statement caches, pages
            times = []
            for _ in range(repeats):
                cpu = time.process_time()
                queued = await tick(sessionmaker, commit=False)
                times.append(time.process_time() - cpu)
            await tick(sessionmaker, commit=True)
            again = await tick(sessionmaker, commit=True)
            async with sessionmaker() as session:
                rows = len((await session.execute(select(OutboxMessage.id))).all())
            assert rows == queued, (rows, queued)
        finally:
            await engine.dispose()
    cpu_s = statistics.median(times)
    print(f"{pairs} pairs: tick {cpu_s:.3f} s CPU, {queued} messages queued, "
          f"then {again}", file=sys.stderr)
    return cpu_s, queued, again


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    big, queued, again = await measure(args.pairs, args.repeats)
    small, _, _ = await measure(args.small, args.repeats)
    print(json.dumps({
        "pairs": args.pairs, "due": DUE_PAIRS + DUE_MEETINGS, "tick_cpu_s": round(big, 3),
        "tick_cpu_s_10k_pairs": round(small, 3), "messages_queued": queued,
        "second_tick_queued": again, "goal_met": big < 0.5 and big <= 1.5 * small,
    }))


if __name__ == "__main__":
    asyncio.run(main())

"""A small world for the journal, plan and stage tests: an organisation, a programme,
a mentor with mentees in approved pairs, and meetings."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import (
    Meeting,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    Organisation,
    Pair,
    PairStatus,
    Participant,
    Programme,
    Role,
)
from tests.backends import schema_sessions

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_ids = itertools.count(5000)


class World:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def setup(self) -> World:
        self.org = Organisation(name="Школа", timezone="Europe/Moscow")
        self.session.add(self.org)
        await self.session.flush()
        self.programme = Programme(
            organisation_id=self.org.id, name="Наставничество", forms=["student-student"],
            start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 5, 31),
        )
        self.session.add(self.programme)
        await self.session.flush()
        self.mentor, self.mentor_m = await self.member("Наставник Пётр", Role.MENTOR)
        self.mentee, self.mentee_m = await self.member("Ученик Иван", Role.MENTEE)
        self.pair = await self.pair_of(self.mentor_m, self.mentee_m)
        self.stranger, _ = await self.member("Чужой Олег", Role.MENTEE)
        return self

    async def member(self, name: str, role: Role) -> tuple[Participant, Membership]:
        person = Participant(telegram_id=next(_ids), full_name=name, language="ru")
        self.session.add(person)
        await self.session.flush()
        membership = Membership(
            participant_id=person.id, organisation_id=self.org.id,
            programme_id=self.programme.id, role=role, form="student-student",
            status=MembershipStatus.PAIRED,
        )
        self.session.add(membership)
        await self.session.flush()
        return person, membership

    async def pair_of(
        self, mentor: Membership, mentee: Membership, group_key: str | None = None,
        status: PairStatus = PairStatus.APPROVED,
    ) -> Pair:
        pair = Pair(
            programme_id=self.programme.id, mentor_membership_id=mentor.id,
            mentee_membership_id=mentee.id, form="student-student", status=status,
            group_key=group_key, decided_at=NOW - dt.timedelta(days=30),
        )
        self.session.add(pair)
        await self.session.flush()
        return pair

    async def meeting(
        self, kind: MeetingKind = MeetingKind.INTRO, *, pair: Pair | None = None,
        starts_at: dt.datetime | None = None, status: MeetingStatus = MeetingStatus.CONFIRMED,
        minutes: int = 60, group_key: str | None = None,
    ) -> Meeting:
        meeting = Meeting(
            pair_id=(pair or self.pair).id, kind=kind, status=status, group_key=group_key,
            starts_at=starts_at or NOW - dt.timedelta(hours=2), duration_minutes=minutes,
            confirmed_at=NOW - dt.timedelta(days=3),
        )
        self.session.add(meeting)
        await self.session.flush()
        return meeting


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with schema_sessions(tmp_path / "journal.db") as sessions:
        yield sessions


@pytest_asyncio.fixture
async def world(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with db() as session:
        yield await World(session).setup()

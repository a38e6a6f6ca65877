"""The pairing service on a real SQLite file: profiles, match runs, decisions, capacity."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import translator
from bot.services import pairing
from bot.services.errors import ServiceError
from bot.services.pairing import NoticeKind
from bot.services.questionnaires import Catalog
from bot.views import pairing_words
from db.models import (
    Answer,
    AuditLog,
    Membership,
    MembershipStatus,
    Organisation,
    Pair,
    PairEvent,
    PairStatus,
    Participant,
    ParticipantStatus,
    Programme,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from tests.backends import schema_sessions

NOW = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
SS = "student-student"
TT = "teacher-teacher"
CATALOG = Catalog.from_dir()
QUESTIONNAIRE = {
    (Role.MENTEE, SS): "mentee-student-student",
    (Role.MENTOR, SS): "mentor-student-student",
    (Role.MENTEE, TT): "mentee-teacher-teacher",
    (Role.MENTOR, TT): "mentor-teacher-teacher",
}
# a good match for each other: same need, interest, format and time
MENTEE_ANSWERS = {
    "needs": ["adaptation", "study_results"], "subject": "mathematics",
    "interests": ["projects", "it"], "goal": "Хочу освоиться в колледже",
    "format": "offline", "times": ["weekday_afternoon"],
}
MENTOR_ANSWERS = {
    "competences": ["adaptation", "study_results", "events"], "subject": "mathematics",
    "interests": ["projects", "it"], "experience": 2, "capacity": 2, "format": "mixed",
    "times": ["weekday_afternoon", "weekend"],
}
# nothing in common with MENTEE_ANSWERS
POOR_MENTOR = {
    "competences": ["events"], "subject": "physics", "interests": ["sport"], "experience": 0,
    "capacity": 1, "format": "online", "times": ["weekend"],
}

_ids = itertools.count(1000)


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with schema_sessions(tmp_path / "pairing.db") as sessions:
        yield sessions


class World:
    """An organisation with a programme, a curator and helpers to add people."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def setup(self, forms: tuple[str, ...] = (SS, TT)) -> World:
        self.org = Organisation(name="Школа", timezone="Europe/Moscow")
        self.session.add(self.org)
        await self.session.flush()
        self.programme = Programme(
            organisation_id=self.org.id, name="Наставничество", forms=list(forms),
            start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 5, 31),
        )
        self.curator = await self.person("Куратор Ольга", Role.CURATOR)
        self.curator2 = await self.person("Куратор Пётр", Role.CURATOR)
        self.session.add(self.programme)
        await self.session.flush()
        return self

    async def person(self, name: str, role: Role) -> Participant:
        participant = Participant(
            telegram_id=next(_ids), full_name=name, tg_username=f"user{next(_ids)}",
            language="ru",
        )
        self.session.add(participant)
        await self.session.flush()
        if role == Role.CURATOR:
            self.session.add(Membership(
                participant_id=participant.id, organisation_id=self.org.id, role=role,
                status=MembershipStatus.IN_BASE,
            ))
            await self.session.flush()
        return participant

    async def member(
        self, name: str, role: Role, answers: dict[str, Any], *, form: str = SS,
        capacity: int = 1, load: int = 0, status: str = MembershipStatus.IN_BASE,
    ) -> Membership:
        participant = await self.person(name, role)
        side = form.split("-")[0 if role == Role.MENTOR else 1]
        membership = Membership(
            participant_id=participant.id, organisation_id=self.org.id,
            programme_id=self.programme.id, role=role, form=form, category=side,
            status=status, capacity=capacity, load=load,
        )
        self.session.add(membership)
        await self.session.flush()
        questionnaire_id = QUESTIONNAIRE[(role, form)]
        self.session.add(QuestionnaireResponse(
            membership_id=membership.id, questionnaire_id=questionnaire_id,
            questionnaire_version=1, stage="onboarding", status=ResponseStatus.DONE,
            answers=[Answer(question_id=k, value=v) for k, v in answers.items()],
        ))
        await self.session.flush()
        return membership

    async def proposal(self, mentee: Membership, mentor: Membership) -> Pair:
        pair = Pair(
            programme_id=self.programme.id, mentee_membership_id=mentee.id,
            mentor_membership_id=mentor.id, form=mentee.form, status=PairStatus.PROPOSED,
            score=80.0, reasons=[], match_run_id="test",
        )
        self.session.add(pair)
        await self.session.flush()
        return pair


@pytest_asyncio.fixture
async def world(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with db() as session:
        yield await World(session).setup()


async def _membership(session: AsyncSession, membership_id: int) -> Membership:
    stmt = select(Membership).where(Membership.id == membership_id).execution_options(
        populate_existing=True
    )
    return (await session.execute(stmt)).scalar_one()


async def _telegram(world: World, membership: Membership) -> int:
    person = await world.session.get(Participant, membership.participant_id)
    assert person is not None and person.telegram_id is not None
    return person.telegram_id


def _scope(world: World) -> list[int]:
    return [world.org.id]


# -- profiles ---------------------------------------------------------------------------------
async def test_profiles_are_built_from_tagged_answers(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS, capacity=3, load=1)
    teacher = await world.member(
        "Сидорова Анна", Role.MENTEE, {"experience": 2, "needs": ["classroom"]}, form=TT
    )
    people = await pairing.people_of(world.session, [tee, tor, teacher])
    await world.session.refresh(tee, ["participant"])

    mentee = pairing.mentee_profile(CATALOG, tee, people[tee.id], {tor.id})
    assert mentee.form == SS and mentee.category == "student"
    assert mentee.needs == {"adaptation", "study_results"}
    assert mentee.interests == {"projects", "it"}
    assert mentee.subject == "mathematics"
    assert mentee.times == {"weekday_afternoon"} and mentee.format == "offline"
    assert mentee.experience_years is None and mentee.preferred == {tor.id}

    mentor = pairing.mentor_profile(CATALOG, tor, people[tor.id])
    assert mentor.forms == {SS}
    assert mentor.competences == {"adaptation", "study_results", "events"}
    assert mentor.experience_years == 2.0
    assert mentor.capacity == 2  # free places: capacity 3 - load 1, not the answer

    young = pairing.mentee_profile(CATALOG, teacher, people[teacher.id])
    assert young.category == "teacher" and young.experience_years == 2.0
    assert young.interests == frozenset() and young.format is None
    assert people[tee.id].name == "Иванов Иван" and people[tee.id].answers["goal"]


# -- match runs -------------------------------------------------------------------------------
async def test_run_match_stores_explained_proposals(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    good = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS)
    await world.member("Слабый Сергей", Role.MENTOR, POOR_MENTOR)

    run = await pairing.run_match(
        world.session, CATALOG, world.programme, actor_id=world.curator.id, now=NOW
    )
    assert [(p.mentee_membership_id, p.mentor_membership_id) for p in run.proposals] == [
        (tee.id, good.id)
    ]
    pair = run.proposals[0]
    assert pair.status == PairStatus.PROPOSED and pair.match_run_id == run.run_id
    assert pair.score is not None and pair.score > 80
    assert {r["code"] for r in pair.reasons or []} >= {"covers_needs", "shared_interests"}
    assert run.mentees == 1 and run.mentors == 2 and run.unmatched == []
    events = (await world.session.execute(select(PairEvent))).scalars().all()
    assert [(e.from_status, e.to_status, e.actor_id) for e in events] == [
        (None, "proposed", world.curator.id)
    ]
    entry = (await world.session.execute(select(AuditLog))).scalar_one()
    assert entry.action == "match.run" and entry.actor_id == world.curator.id
    assert entry.details == {
        "run": run.run_id, "mentees": 1, "mentors": 2, "proposed": 1, "unmatched": 0,
        "replaced": 0,
    }

    card = await pairing.proposal_card(world.session, world.programme.id)
    assert card is not None and card.pair.id == pair.id and card.total == 1
    words = [text for _, text in pairing_words.describe_reasons(
        translator("ru"), CATALOG, pairing.reasons_of(card.pair), card.mentee, card.mentor
    )]
    assert (
        "наставник помогает с: «Адаптация к новым условиям учебы», «Улучшить успеваемость»"
        in words
    )
    assert "оба увлекаются: «IT и цифровые технологии», «Проектная деятельность»" in words
    english = [text for _, text in pairing_words.describe_reasons(
        translator("en"), CATALOG, pairing.reasons_of(card.pair), card.mentee, card.mentor
    )]
    assert "both: «IT and digital technology», «Projects»" in english

    again = await pairing.run_match(
        world.session, CATALOG, world.programme, actor_id=world.curator.id, now=NOW
    )
    assert again.replaced == 1 and len(again.proposals) == 1
    assert (await world.session.execute(select(func.count(Pair.id)))).scalar_one() == 1


async def test_rematch_skips_rejected_ended_and_paused(world: World) -> None:
    a = await world.member("А", Role.MENTEE, MENTEE_ANSWERS)
    b = await world.member("Б", Role.MENTEE, MENTEE_ANSWERS)
    paused = await world.member("Пауза", Role.MENTEE, MENTEE_ANSWERS,
                                status=MembershipStatus.PAUSED)
    away = await world.member("Недоступен", Role.MENTEE, MENTEE_ANSWERS)
    away_person = await world.session.get(Participant, away.participant_id)
    assert away_person is not None
    away_person.status = ParticipantStatus.UNREACHABLE
    x = await world.member("Икс", Role.MENTOR, MENTOR_ANSWERS, capacity=2)
    y = await world.member("Игрек", Role.MENTOR, MENTOR_ANSWERS, capacity=2)
    resting = await world.member("Отдыхает", Role.MENTOR, MENTOR_ANSWERS, capacity=2)
    resting_person = await world.session.get(Participant, resting.participant_id)
    assert resting_person is not None
    resting_person.status = ParticipantStatus.PAUSED
    rejected = await world.proposal(a, x)
    rejected.status = PairStatus.REJECTED
    ended = await world.proposal(b, y)
    ended.status = PairStatus.ENDED
    await world.session.flush()

    run = await pairing.run_match(
        world.session, CATALOG, world.programme, actor_id=world.curator.id, now=NOW
    )
    couples = {(p.mentee_membership_id, p.mentor_membership_id) for p in run.proposals}
    assert couples == {(a.id, y.id), (b.id, x.id)}
    assert run.mentees == 2 and run.mentors == 2
    proposed = {p.mentee_membership_id for p in run.proposals} | {
        p.mentor_membership_id for p in run.proposals
    }
    assert not proposed & {paused.id, away.id, resting.id}


async def test_unmatched_mentees_get_a_reason(world: World) -> None:
    no_form = await world.member("Учитель", Role.MENTEE, {"needs": ["classroom"]}, form=TT)
    first = await world.member("Первый", Role.MENTEE, MENTEE_ANSWERS)
    second = await world.member("Второй", Role.MENTEE, MENTEE_ANSWERS)
    only = await world.member("Единственный", Role.MENTOR, MENTOR_ANSWERS, capacity=1)
    rejected = await world.proposal(second, only)
    rejected.status = PairStatus.REJECTED
    await world.session.flush()
    run = await pairing.run_match(
        world.session, CATALOG, world.programme, actor_id=world.curator.id, now=NOW
    )
    assert [(p.mentee_membership_id, p.mentor_membership_id) for p in run.proposals] == [
        (first.id, only.id)
    ]
    reasons = {u.person.membership_id: u.reason for u in run.unmatched}
    assert reasons == {no_form.id: "no_mentor_for_form", second.id: "rejected_before"}

    # the mentor takes the first mentee for real: now a new mentee finds them all full
    result = await pairing.approve(
        world.session, run.proposals[0].id, org_ids=_scope(world), actor_id=world.curator.id,
        now=NOW,
    )
    assert result.pair.status == PairStatus.APPROVED
    third = await world.member("Третий", Role.MENTEE, MENTEE_ANSWERS)
    run = await pairing.run_match(
        world.session, CATALOG, world.programme, actor_id=world.curator.id, now=NOW
    )
    reasons = {u.person.membership_id: u.reason for u in run.unmatched}
    assert reasons[third.id] == "all_full"

    notices = await pairing.tell_unmatched(
        world.session, world.programme, run.run_id, actor_id=world.curator.id, now=NOW
    )
    assert {n.to.membership_id for n in notices} == {no_form.id, second.id, third.id}
    assert all(n.kind == NoticeKind.SEARCH_ON for n in notices)
    assert notices[0].key == f"search-on:{run.run_id}:{notices[0].to.membership_id}"
    with pytest.raises(ServiceError) as error:
        await pairing.tell_unmatched(
            world.session, world.programme, "../bad", actor_id=None, now=NOW
        )
    assert error.value.code == "pairing_stale"


# -- decisions --------------------------------------------------------------------------------

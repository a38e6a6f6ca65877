"""KPIs on a seeded organisation with hand-computed expectations: who counts as involved
(full cycle marked in the organisation's local year, each person once), the ОВЗ mark, the
age- and experience-bound indicators read from the questionnaire answers, satisfaction
shares, the seeds' default targets and the coordinator's override, and "set /totals" instead
of a division by zero. Organisation B's data never leaks into A's numbers."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import translator
from bot.services.errors import ServiceError
from bot.services.reports import kpi as service
from bot.services.reports import kpis, year_bounds
from bot.services.reports.kpi import Kpi, default_target
from bot.views.reports import render_kpi
from db.models import (
    Answer,
    Membership,
    MembershipStatus,
    Organisation,
    OrgTotals,
    Participant,
    Programme,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
    SurveyResponse,
)
from tests.unit.journal_world import db  # noqa: F401 - the fixture, used by name

T = translator("ru")
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
IN_2026 = dt.datetime(2026, 5, 20, 9, 0, tzinfo=dt.UTC)
_tg = itertools.count(700_000)


class Org:
    """One organisation with a programme; people are added with their role, category, full
    cycle mark and answers."""

    def __init__(self, session: AsyncSession, name: str) -> None:
        self.session = session
        self.name = name

    async def setup(self) -> Org:
        self.org = Organisation(name=self.name, timezone="Europe/Moscow")
        self.session.add(self.org)
        await self.session.flush()
        self.programme = Programme(
            organisation_id=self.org.id, name="Программа", forms=["student-student"],
            start_date=dt.date(2025, 9, 1), end_date=dt.date(2027, 5, 31),
        )
        self.session.add(self.programme)
        await self.session.flush()
        return self

    async def person(
        self, role: Role, category: str, *, full_cycle: dt.datetime | None = IN_2026,
        answers: dict[str, Any] | None = None, ovz: bool = False,
        participant: Participant | None = None, form: str = "student-student",
    ) -> Membership:
        if participant is None:
            participant = Participant(telegram_id=next(_tg), language="ru", full_name="Имя")
            self.session.add(participant)
            await self.session.flush()
        membership = Membership(
            participant_id=participant.id, organisation_id=self.org.id,
            programme_id=self.programme.id, role=role, form=form, category=category,
            status=MembershipStatus.COMPLETED if full_cycle else MembershipStatus.PAIRED,
            full_cycle_at=full_cycle, is_disabled_student=ovz,
        )
        self.session.add(membership)
        await self.session.flush()
        if answers:
            response = QuestionnaireResponse(
                membership_id=membership.id, questionnaire_id=f"{role}-q", questionnaire_version=1,
                stage="onboarding", status=ResponseStatus.DONE,
            )
            self.session.add(response)
            await self.session.flush()
            for question, value in answers.items():
                self.session.add(Answer(response_id=response.id, question_id=question,
                                        value=value))
            await self.session.flush()
        return membership

    async def survey(self, membership: Membership, value: int | None,
                     submitted: dt.datetime | None = IN_2026) -> None:
        self.session.add(SurveyResponse(
            survey_id=f"poll-final-{membership.role}", survey_version=1,
            membership_id=membership.id, milestone=f"final-{membership.id}-{value}",
            satisfaction=value, sent_at=IN_2026 - dt.timedelta(days=1), submitted_at=submitted,
        ))
        await self.session.flush()


async def seed(session: AsyncSession) -> tuple[Org, Org]:
    a = await Org(session, "Школа №1").setup()
    b = await Org(session, "Лицей <Б>").setup()
    # Students (mentees and student mentors) with the full cycle in 2026 (Moscow time):
    await a.person(Role.MENTEE, "student", ovz=True)  # S1, ОВЗ
    await a.person(Role.MENTEE, "pupil", form="student-pupil")  # S2: a pupil is a student too
    m1 = await a.person(Role.MENTOR, "student", answers={"age_years": 16})  # 15-19 mentor
    # M1 is also a mentee elsewhere in the programme: still one person
    m1_person = await session.get(Participant, m1.participant_id)
    await a.person(Role.MENTEE, "student", participant=m1_person, form="student-pupil")
    await a.person(Role.MENTOR, "student", answers={"age_years": 21}, form="student-pupil")
    # 31 Dec 2025 20:00 UTC is 1 Jan 2026 23:00 in Moscow: counts in 2026
    await a.person(Role.MENTEE, "student",
                   full_cycle=dt.datetime(2025, 12, 31, 21, 0, tzinfo=dt.UTC))
    # 31 Dec 2025 20:59 UTC is 23:59 on 31 December in Moscow: 2025, not counted
    await a.person(Role.MENTEE, "student",
                   full_cycle=dt.datetime(2025, 12, 31, 20, 59, tzinfo=dt.UTC), ovz=True)
    await a.person(Role.MENTEE, "student", full_cycle=None, ovz=True)  # no full cycle
    # Teachers:
    await a.person(Role.MENTOR, "teacher", form="teacher-student")  # T1
    await a.person(Role.MENTOR, "teacher", form="teacher-teacher")  # T2
    await a.person(Role.MENTOR, "teacher", full_cycle=None, form="teacher-teacher")  # T3: no
    young = {"form": "teacher-teacher"}
    await a.person(Role.MENTEE, "teacher", answers={"age_years": 27, "experience": 2}, **young)
    await a.person(Role.MENTEE, "teacher", answers={"age_years": 34, "experience": 3}, **young)
    await a.person(Role.MENTEE, "teacher", answers={"age_years": 40, "experience": 1}, **young)
    await a.person(Role.MENTEE, "teacher", answers={"age_years": 30, "experience": 5}, **young)
    await a.person(Role.MENTEE, "teacher", answers={"age_years": 25}, **young)  # no stage: no
    # Satisfaction (final survey, 1-10; satisfied 8-10):
    sat_mentee = await a.person(Role.MENTEE, "student", full_cycle=None)
    for value in (9, 8, 7, 3):
        await a.survey(sat_mentee, value)
    await a.survey(sat_mentee, 10, submitted=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))  # 2025
    await a.survey(sat_mentee, None, submitted=None)  # sent, not answered
    sat_mentor = await a.person(Role.MENTOR, "teacher", full_cycle=None)
    for value in (10, 8):
        await a.survey(sat_mentor, value)
    session.add(OrgTotals(organisation_id=a.org.id, year=2026, students=50,
                          students_disabled=2, teachers=10, young_teachers=4, aged_15_19=20))
    # Organisation B: all of these would change A's numbers if they leaked.
    await b.person(Role.MENTEE, "student", ovz=True)
    await b.person(Role.MENTOR, "teacher", answers={"age_years": 17})
    await b.person(Role.MENTEE, "teacher", answers={"age_years": 25, "experience": 0},
                   form="teacher-teacher")
    b_mentee = await b.person(Role.MENTEE, "student", full_cycle=None)
    await b.survey(b_mentee, 1)
    await session.flush()
    return a, b


def _by_code(rows: list[service.KpiRow]) -> dict[str, service.KpiRow]:
    return {row.code: row for row in rows}


async def test_kpis_hand_computed(db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with db() as session:
        a, _ = await seed(session)
        await service.set_target(session, a.org.id, 2026, Kpi.TEACHERS, 20, actor_id=None)
        rows = _by_code(await kpis(session, a.org.id, 2026, NOW))
    # students: S1, S2, M1 (mentor and mentee: one person), M2 and the 1 January one = 5;
    # 5 / 50 = 10 %; target for 2026 = 2024's 70 % -> not met
    students = rows["students"]
    assert (students.numerator, students.denominator) == (5, 50)
    assert students.value_pct == pytest.approx(10.0)
    assert (students.target_pct, students.met, students.target_is_default) == (70, False, True)
    # ОВЗ: S1 only (the 2025 one and the one with no full cycle do not count): 1 / 2 = 50 %
    disabled = rows["disabled"]
    assert (disabled.numerator, disabled.denominator, disabled.value_pct) == (1, 2, 50.0)
    assert (disabled.target_pct, disabled.met) == (100, False)
    # teachers who are mentors: T1, T2 (T3 has no full cycle): 2 / 10 = 20 %; the
    # coordinator's target 20 % for 2026 -> met (20 >= 20)
    teachers = rows["teachers"]
    assert (teachers.numerator, teachers.denominator, teachers.value_pct) == (2, 10, 20.0)
    assert (teachers.target_pct, teachers.met, teachers.target_is_default) == (20, True, False)
    # young teachers: 27 y / 2 years and 34 y / 3 years; not 40 y, not 5 years, not unknown
    # experience: 2 / 4 = 50 %; target 70 -> not met
    young = rows["young"]
    assert (young.numerator, young.denominator, young.value_pct, young.met) == (2, 4, 50.0, False)
    # 15-19-year-old mentors: M1 (16), not M2 (21): 1 / 20 = 5 %; target 10 -> not met
    youth = rows["youth"]
    assert (youth.numerator, youth.denominator, youth.value_pct, youth.met) == (1, 20, 5.0, False)
    # mentee satisfaction in 2026: 9, 8 of 9, 8, 7, 3 -> 2 / 4 = 50 %; target 85 -> not met
    mentee = rows["sat_mentee"]
    assert (mentee.numerator, mentee.denominator, mentee.value_pct) == (2, 4, 50.0)
    assert (mentee.target_pct, mentee.met) == (85, False)
    # mentor satisfaction: 10, 8 -> 2 / 2 = 100 % -> met
    mentor = rows["sat_mentor"]
    assert (mentor.numerator, mentor.denominator, mentor.value_pct, mentor.met) == (
        2, 2, 100.0, True)
    assert list(rows) == [k.value for k in Kpi]


async def test_missing_totals_say_so(db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with db() as session:
        a, b = await seed(session)
        rows = _by_code(await kpis(session, a.org.id, 2025, NOW))
        b_rows = await kpis(session, b.org.id, 2026, NOW)
    # 2025: no totals -> no value, no verdict; the 23:59 one on 31 December is 2025's
    assert rows["students"].numerator == 1 and rows["students"].denominator is None
    assert rows["students"].value_pct is None and rows["students"].met is None
    assert rows["disabled"].numerator == 1
    assert rows["sat_mentee"].numerator == 1 and rows["sat_mentee"].denominator == 1  # the 10
    assert rows["students"].target_pct == 70 and rows["sat_mentee"].target_pct == 85
    text = render_kpi(T, b_rows, "Лицей <Б>", 2026)
    assert "укажите /totals" in text and "Лицей &lt;Б&gt;" in text
    assert "1/1" not in text  # B's one satisfaction answer is 1 of 10: 0 of 1
    assert "0 % (0/1)" in text


def test_default_targets_from_the_seeds() -> None:
    assert [default_target(Kpi.STUDENTS, y) for y in range(2020, 2025)] == [20, 40, 50, 60, 70]
    assert default_target(Kpi.DISABLED, 2022) == 100
    assert [default_target(Kpi.YOUNG_TEACHERS, y) for y in (2020, 2022, 2024)] == [10, 40, 70]
    assert [default_target(Kpi.YOUTH_MENTORS, y) for y in (2020, 2023, 2024)] == [2, 8, 10]
    assert default_target(Kpi.MENTOR_SATISFACTION, 2021) == 60
    assert default_target(Kpi.STUDENTS, 2031) == 70 and default_target(Kpi.STUDENTS, 2019) == 20


def test_local_year_bounds() -> None:
    start, end = year_bounds(2026, "Asia/Vladivostok")
    assert start == dt.datetime(2025, 12, 31, 14, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 12, 31, 14, 0, tzinfo=dt.UTC)


async def test_target_and_totals_validation(db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with db() as session:
        a, _ = await seed(session)
        with pytest.raises(ServiceError):
            await service.set_target(session, a.org.id, 2026, Kpi.STUDENTS, 101, None)
        with pytest.raises(ServiceError):
            service.parse_code("nonsense")
        with pytest.raises(ServiceError):
            await service.save_totals(session, a.org.id, 2027, {"students": -1}, None)
        await service.set_target(session, a.org.id, 2026, service.parse_code("STUDENTS"), 5, 1)
        await service.set_target(session, a.org.id, 2026, Kpi.STUDENTS, 10, 1)  # replaces
        rows = _by_code(await kpis(session, a.org.id, 2026, NOW))
        assert rows["students"].target_pct == 10 and rows["students"].met is True
        targets = await service.targets(session, a.org.id, 2027)
        assert targets[Kpi.STUDENTS] == 70  # a year has its own targets


def test_percent_format_per_language() -> None:
    from bot.views.reports import pct

    assert [pct(100 / 3), pct(100 / 3, "en"), pct(20.0), pct(0.0), pct(None)] == [
        "33,3", "33.3", "20", "0", "—"]

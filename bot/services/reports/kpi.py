"""/kpi: the seven indicators of the target model, computed from the bot's data for one
organisation and calendar year (local), against the year's targets.

Involvement counts a person once their full cycle was marked (Membership.full_cycle_at) in
the year (seed 001: "a participant counts once they pass the full cycle"); the denominators
are the organisation's totals for the year (OrgTotals, entered with /totals). Satisfaction is
the share of final-survey answers of 8-10 (or the organisation's threshold) submitted in the
year. See README "Reports and KPIs" for each definition and source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ServiceError
from bot.services.reports.period import year_bounds
from bot.services.reports.summary import organisation
from db.models import KpiTarget, OrgTotals, Role
from db.queries import reports as q

AGE_QUESTION = "age_years"  # asked in the questionnaires that need it (whole years)
TEACHING_QUESTION = "experience"  # mentee-teacher-teacher: teaching experience, full years
YOUNG_TEACHER_AGE = 35  # under 35
YOUNG_TEACHER_YEARS = 3  # in the first 3 years: experience 0-3 full years
YOUTH_AGES = range(15, 20)  # 15-19 inclusive


class Kpi(StrEnum):
    STUDENTS = "students"  # students (mentees and student mentors) involved / all students
    DISABLED = "disabled"  # students with ОВЗ involved / all students with ОВЗ
    TEACHERS = "teachers"  # teachers who are mentors / all teachers
    YOUNG_TEACHERS = "young"  # teachers under 35 in their first 3 years supported / all such
    YOUTH_MENTORS = "youth"  # 15-19-year-olds who are mentors / all 15-19-year-olds
    MENTEE_SATISFACTION = "sat_mentee"  # satisfied mentees / mentees who answered
    MENTOR_SATISFACTION = "sat_mentor"  # satisfied mentors / mentors who answered


# Which total is each headcount indicator's denominator (OrgTotals column).
DENOMINATOR: dict[Kpi, str] = {
    Kpi.STUDENTS: "students",
    Kpi.DISABLED: "students_disabled",
    Kpi.TEACHERS: "teachers",
    Kpi.YOUNG_TEACHERS: "young_teachers",
    Kpi.YOUTH_MENTORS: "aged_15_19",
}
TOTAL_FIELDS = ("students", "students_disabled", "teachers", "young_teachers", "aged_15_19")

FIRST_YEAR, LAST_YEAR = 2020, 2024
# Seed 002 (college roadmap, 2020-2024): students 20/40/50/60/70, ОВЗ 100, teachers as mentors
# 20/40/50/60/70, satisfaction 50/60/70/80/85. Seed 001 gives 2020 and 2024 only for young
# teachers (10 -> 70) and 15-19-year-old mentors (2 -> 10): the years between are linear.
DEFAULT_TARGETS: dict[Kpi, tuple[int, ...]] = {
    Kpi.STUDENTS: (20, 40, 50, 60, 70),
    Kpi.DISABLED: (100, 100, 100, 100, 100),
    Kpi.TEACHERS: (20, 40, 50, 60, 70),
    Kpi.YOUNG_TEACHERS: (10, 25, 40, 55, 70),
    Kpi.YOUTH_MENTORS: (2, 4, 6, 8, 10),
    Kpi.MENTEE_SATISFACTION: (50, 60, 70, 80, 85),
    Kpi.MENTOR_SATISFACTION: (50, 60, 70, 80, 85),
}


@dataclass(slots=True)
class KpiRow:
    code: str
    numerator: int
    denominator: int | None  # None: the total is not entered (or nobody answered)
    value_pct: float | None
    target_pct: int
    met: bool | None  # None: no value to compare
    target_is_default: bool = True


def default_target(code: Kpi, year: int) -> int:
    """The seeds' target; before 2020 the 2020 one, after 2024 the 2024 one."""
    values = DEFAULT_TARGETS[code]
    return values[min(max(year, FIRST_YEAR), LAST_YEAR) - FIRST_YEAR]


async def targets(session: AsyncSession, organisation_id: int, year: int) -> dict[Kpi, int]:
    stored = await q.targets(session, organisation_id, year)
    return {code: stored.get(code.value, default_target(code, year)) for code in Kpi}


def parse_code(raw: str) -> Kpi:
    try:
        return Kpi(raw.strip().lower())
    except ValueError:
        raise ServiceError("reports_bad_code", codes=", ".join(k.value for k in Kpi)) from None


async def set_target(
    session: AsyncSession, organisation_id: int, year: int, code: Kpi, pct: int,
    actor_id: int | None,
) -> None:
    if not 0 <= pct <= 100:
        raise ServiceError("reports_bad_pct")
    if not 2000 <= year <= 2100:
        raise ServiceError("reports_bad_year")
    await organisation(session, organisation_id)
    row = await q.target_row(session, organisation_id, year, code.value)
    if row is None:
        session.add(KpiTarget(organisation_id=organisation_id, year=year, code=code.value,
                              target_pct=pct, updated_by=actor_id))
    else:
        row.target_pct = pct
        row.updated_by = actor_id
    await session.flush()


async def save_totals(
    session: AsyncSession, organisation_id: int, year: int, values: dict[str, int],
    actor_id: int | None,
) -> OrgTotals:
    if any(name not in TOTAL_FIELDS or value < 0 for name, value in values.items()):
        raise ServiceError("reports_bad_total")
    await organisation(session, organisation_id)
    row = await q.totals(session, organisation_id, year)
    if row is None:
        row = OrgTotals(organisation_id=organisation_id, year=year)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by = actor_id
    await session.flush()
    return row


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _by_person(rows: list[tuple[int, str, Any]]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    for person, question, value in rows:
        number = _as_int(value)
        if number is not None:
            found.setdefault(person, {})[question] = number
    return found


def _row(code: Kpi, numerator: int, denominator: int | None, target: int,
         is_default: bool) -> KpiRow:
    if not denominator:
        return KpiRow(code.value, numerator, denominator, None, target, None, is_default)
    value = 100.0 * numerator / denominator
    return KpiRow(code.value, numerator, denominator, value, target, value >= target, is_default)


async def kpis(
    session: AsyncSession, organisation_id: int, year: int, now: dt.datetime
) -> list[KpiRow]:
    """The seven indicators for the organisation and year (`now` is not needed for a closed
    year; an open year counts what is marked so far)."""
    org = await organisation(session, organisation_id)
    start, end = year_bounds(year, org.timezone)
    end = min(end, max(now, start))  # nothing from the future of the clock
    stored = await q.targets(session, org.id, year)
    target = {code: stored.get(code.value, default_target(code, year)) for code in Kpi}
    totals = await q.totals(session, org.id, year)

    def total(code: Kpi) -> int | None:
        return getattr(totals, DENOMINATOR[code]) if totals is not None else None

    students, disabled, teachers = await q.involvement(session, org.id, start, end)
    young = _by_person(await q.involved_answers(
        session, org.id, start, end, Role.MENTEE, (AGE_QUESTION, TEACHING_QUESTION), "teacher"))
    young_count = sum(
        1 for answers in young.values()
        if answers.get(AGE_QUESTION, YOUNG_TEACHER_AGE) < YOUNG_TEACHER_AGE
        and answers.get(TEACHING_QUESTION, YOUNG_TEACHER_YEARS + 1) <= YOUNG_TEACHER_YEARS
    )
    youth = _by_person(await q.involved_answers(
        session, org.id, start, end, Role.MENTOR, (AGE_QUESTION,)))
    youth_count = sum(1 for answers in youth.values() if answers.get(AGE_QUESTION) in YOUTH_AGES)
    satisfaction = await q.satisfaction(session, org.id, org.satisfied_from, start, end)
    counts = {
        Kpi.STUDENTS: students, Kpi.DISABLED: disabled, Kpi.TEACHERS: teachers,
        Kpi.YOUNG_TEACHERS: young_count, Kpi.YOUTH_MENTORS: youth_count,
    }
    rows = [_row(code, n, total(code), target[code], code.value not in stored)
            for code, n in counts.items()]
    for code, role in ((Kpi.MENTEE_SATISFACTION, Role.MENTEE),
                       (Kpi.MENTOR_SATISFACTION, Role.MENTOR)):
        ok, answered = satisfaction.get(role, (0, 0))
        rows.append(_row(code, ok, answered or None, target[code], code.value not in stored))
    return rows

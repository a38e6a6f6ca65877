"""/charts: the numbers behind the four charts of one organisation, fetched with aggregate
queries (db/queries/report_stats.py). Drawing is elsewhere (bot/chart_worker.py, off the
event loop); this module only counts. Plain Python: no aiogram, no texts, never commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ServiceError
from bot.services.questionnaires import ASSESSMENT_ID, Catalog
from db.models import Organisation, PairStatus, Role
from db.queries import report_stats as q

WEEKS = 12
ENTRY, EXIT = "entry", "exit"  # the self-assessment's stages (bot/services/answering.py)
# The funnel: a pair's way from approval to the completed cycle.
FUNNEL: tuple[str, ...] = (
    PairStatus.APPROVED, PairStatus.INTRO, PairStatus.TRIAL, PairStatus.PLANNING,
    PairStatus.REGULAR, PairStatus.FINAL, PairStatus.COMPLETED,
)
ROLES: tuple[str, ...] = (Role.MENTEE, Role.MENTOR)
SCALE = range(1, 11)


@dataclass(frozen=True, slots=True)
class Dimension:
    """One scale of the self-assessment: mean at entry and at exit of the same people."""

    question_id: str
    label: dict[str, str]
    entry: float
    exit: float
    people: int


@dataclass(slots=True)
class ChartsData:
    organisation_id: int
    organisation: str
    timezone: str
    # stage -> pairs that reached it (or went further); FUNNEL order
    funnel: list[tuple[str, int]] = field(default_factory=list)
    ended: int = 0  # pairs ended early (counted up to the stage they reached)
    # role -> the count of each answer 1..10 in the final satisfaction survey
    satisfaction: dict[str, list[int]] = field(default_factory=dict)
    threshold: int = 8
    assessment: list[Dimension] = field(default_factory=list)
    weeks: list[tuple[dt.date, int]] = field(default_factory=list)  # local Monday, held

    @property
    def has_funnel(self) -> bool:
        return any(n for _, n in self.funnel)

    @property
    def has_satisfaction(self) -> bool:
        return any(sum(v) for v in self.satisfaction.values())

    @property
    def has_assessment(self) -> bool:
        return bool(self.assessment)

    @property
    def has_weeks(self) -> bool:
        return any(n for _, n in self.weeks)


async def organisation(session: AsyncSession, organisation_id: int) -> Organisation:
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise ServiceError("charts_no_org")
    return org


def week_bounds(now: dt.datetime, timezone: str, weeks: int = WEEKS) -> list[dt.datetime]:
    """The UTC starts of the last `weeks` local weeks (Monday 00:00), this one included, and
    the end of this week: weeks + 1 bounds."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    monday = today - dt.timedelta(days=today.weekday())
    days = [monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks + 1)]
    return [dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC) for d in days]


async def funnel(session: AsyncSession, organisation_id: int) -> tuple[list[tuple[str, int]], int]:
    by_status = await q.pairs_by_status(session, organisation_id)
    reached = await q.reached_stages(session, organisation_id, FUNNEL)
    ended = by_status.get(PairStatus.ENDED, 0)
    # Ended pairs with no stage in their history stopped at approval.
    counted = sum(reached.values()) - sum(by_status.get(s, 0) for s in FUNNEL)
    if ended > counted:
        reached[0] = reached.get(0, 0) + ended - counted
    bars = [
        (stage, sum(n for rank, n in reached.items() if rank >= i))
        for i, stage in enumerate(FUNNEL)
    ]
    return bars, ended


async def assessment(
    session: AsyncSession, organisation_id: int, catalog: Catalog
) -> list[Dimension]:
    rows = await q.entry_exit(session, organisation_id, ASSESSMENT_ID, ENTRY, EXIT)
    sums: dict[str, list[int]] = {}  # question -> [entry sum, exit sum, people]
    for question_id, before, after, n in rows:
        a, b = q.decode(before), q.decode(after)
        if not isinstance(a, int) or not isinstance(b, int):
            continue
        acc = sums.setdefault(question_id, [0, 0, 0])
        acc[0] += a * n
        acc[1] += b * n
        acc[2] += n
    dims = []
    for question in catalog.assessment().questions:
        found = sums.get(question.id)
        if question.type != "scale" or not found or not found[2]:
            continue
        dims.append(Dimension(question.id, dict(question.label), found[0] / found[2],
                              found[1] / found[2], found[2]))
    return dims


async def charts_data(
    session: AsyncSession, organisation_id: int, catalog: Catalog, now: dt.datetime
) -> ChartsData:
    org = await organisation(session, organisation_id)
    data = ChartsData(org.id, org.name, org.timezone, threshold=org.satisfied_from)
    data.funnel, data.ended = await funnel(session, org.id)
    found = await q.satisfaction_by_role(session, org.id)
    data.satisfaction = {
        role: [found.get(role, {}).get(v, 0) for v in SCALE] for role in ROLES
    }
    data.assessment = await assessment(session, org.id, catalog)
    bounds = week_bounds(now, org.timezone)
    held = await q.held_by_bucket(session, org.id, bounds)
    zone = ZoneInfo(org.timezone)
    data.weeks = [
        (bound.astimezone(zone).date(), held.get(i, 0)) for i, bound in enumerate(bounds[:-1])
    ]
    return data

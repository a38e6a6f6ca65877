"""The pair's plan (individual plan / development trajectory): 1-5 goals, each with a target
date and tasks, and progress marked from /plan or while logging a meeting.

Both sides of a working pair edit it (the methodology has mentor and mentee agree the plan
together at the planning meeting, and either may tick a task done); every change re-checks
that the person is a side of the pair. Curators read it (/plan <pair id>) and never edit.
A finished or ended pair's plan is read-only for everybody.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ids import valid_id
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.journal import PROGRESS_STEPS, Side, own_pairs
from db.models import ACTIVE_PAIR_STATUSES, Pair, Participant, Plan, PlanGoal, PlanTask
from db.queries import plans as q

MAX_GOALS = 5
MAX_TASKS = 10
TITLE_MAX = 300
_DATE = re.compile(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?")


async def editable_pair(
    session: AsyncSession, participant: Participant | None, pair_id: int
) -> tuple[Pair, Side]:
    """The pair, if the person is one of its sides and it is still working."""
    for pair, side in await own_pairs(session, participant):
        if pair.id == pair_id:
            if pair.status not in ACTIVE_PAIR_STATUSES:
                raise StaleError("plan_closed")
            return pair, side
    raise NotYoursError("plan_not_yours")


def check_title(value: str) -> str:
    title = " ".join(value.split())
    if not title:
        raise ServiceError("plan_title_empty")
    if len(title) > TITLE_MAX:
        raise ServiceError("plan_title_long", limit=TITLE_MAX)
    return title


def parse_date(text: str, today: dt.date) -> dt.date:
    """"25.12" (the next such day from today) or "25.12.2026"; not in the past."""
    found = _DATE.fullmatch(text.strip())
    if found is None:
        raise ServiceError("plan_date_format")
    day, month, year_text = int(found.group(1)), int(found.group(2)), found.group(3)
    year = today.year if year_text is None else int(year_text)
    if year_text is not None and len(year_text) == 2:
        year += 2000
    try:
        date = dt.date(year, month, day)
        if year_text is None and date < today:
            date = dt.date(year + 1, month, day)
    except ValueError:
        raise ServiceError("plan_date_format") from None
    if date < today:
        raise ServiceError("plan_date_past")
    if date > today + dt.timedelta(days=5 * 366):
        raise ServiceError("plan_date_far")
    return date


def check_tasks(lines: list[str]) -> list[str]:
    titles = [check_title(line) for line in lines if line.strip()]
    if len(titles) > MAX_TASKS:
        raise ServiceError("plan_tasks_many", limit=MAX_TASKS)
    return titles


async def add_goal(
    session: AsyncSession, participant: Participant | None, pair_id: int, *,
    title: str, target_date: dt.date, tasks: list[str], today: dt.date,
) -> PlanGoal:
    pair, _ = await editable_pair(session, participant, pair_id)
    title = check_title(title)
    if target_date < today:
        raise ServiceError("plan_date_past")
    task_titles = check_tasks(tasks)
    plan = await q.of_pair(session, pair.id)
    if plan is None:
        plan = Plan(pair_id=pair.id, created_by=participant.id if participant else None, goals=[])
        session.add(plan)
        await session.flush()
    if len(plan.goals) >= MAX_GOALS:
        raise ServiceError("plan_full", limit=MAX_GOALS)
    goal = PlanGoal(
        position=len(plan.goals) + 1, title=title, target_date=target_date, progress=0,
        tasks=[PlanTask(position=i, title=t) for i, t in enumerate(task_titles, start=1)],
    )
    plan.goals.append(goal)
    await session.flush()
    return goal


async def _goal(
    session: AsyncSession, participant: Participant | None, goal_id: int
) -> PlanGoal:
    found = await q.goal(session, goal_id) if valid_id(goal_id) else None
    if found is None:
        raise StaleError("plan_goal_gone")
    goal, pair_id = found
    await editable_pair(session, participant, pair_id)
    return goal


async def goal_of(
    session: AsyncSession, participant: Participant | None, goal_id: int
) -> tuple[PlanGoal, int]:
    """A goal to show its card: any side of the pair (editing is checked again later)."""
    found = await q.goal(session, goal_id) if valid_id(goal_id) else None
    if found is None:
        raise StaleError("plan_goal_gone")
    await editable_pair(session, participant, found[1])
    return found


async def set_progress(
    session: AsyncSession, participant: Participant | None, goal_id: int, percent: int,
    now: dt.datetime,
) -> PlanGoal:
    if percent not in PROGRESS_STEPS:
        raise StaleError("plan_goal_gone")
    goal = await _goal(session, participant, goal_id)
    goal.progress = percent
    goal.done_at = (goal.done_at or now) if percent == 100 else None
    await session.flush()
    return goal


async def add_task(
    session: AsyncSession, participant: Participant | None, goal_id: int, title: str
) -> PlanTask:
    goal = await _goal(session, participant, goal_id)
    if len(goal.tasks) >= MAX_TASKS:
        raise ServiceError("plan_tasks_many", limit=MAX_TASKS)
    task = PlanTask(position=len(goal.tasks) + 1, title=check_title(title))
    goal.tasks.append(task)
    await session.flush()
    return task


async def toggle_task(
    session: AsyncSession, participant: Participant | None, task_id: int, now: dt.datetime
) -> tuple[PlanTask, int]:
    """Done or not done again; returns the task and its goal id."""
    found = await q.task(session, task_id) if valid_id(task_id) else None
    if found is None:
        raise StaleError("plan_goal_gone")
    task, goal_id, pair_id = found
    await editable_pair(session, participant, pair_id)
    task.done_at = None if task.done_at else now
    await session.flush()
    return task, goal_id


async def delete_goal(
    session: AsyncSession, participant: Participant | None, goal_id: int
) -> int:
    """Remove a goal; the others keep their order (positions 1..n). Returns the pair id."""
    found = await q.goal(session, goal_id) if valid_id(goal_id) else None
    if found is None:
        raise StaleError("plan_goal_gone")
    goal, pair_id = found
    await editable_pair(session, participant, pair_id)
    plan = await q.of_pair(session, pair_id)
    assert plan is not None
    kept = [g for g in plan.goals if g.id != goal_id]
    for g in plan.goals:
        if g.id == goal_id:
            plan.goals.remove(g)
            break
    await session.flush()
    for position, g in enumerate(kept, start=1):
        g.position = position
    await session.flush()
    return pair_id

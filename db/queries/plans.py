"""The pair's plan: goals and their tasks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Plan, PlanGoal, PlanTask


async def of_pair(session: AsyncSession, pair_id: int) -> Plan | None:
    stmt = (
        select(Plan)
        .where(Plan.pair_id == pair_id)
        .options(selectinload(Plan.goals).selectinload(PlanGoal.tasks))
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def goal(session: AsyncSession, goal_id: int) -> tuple[PlanGoal, int] | None:
    """The goal with its tasks, and the pair it belongs to."""
    stmt = (
        select(PlanGoal, Plan.pair_id)
        .join(Plan, Plan.id == PlanGoal.plan_id)
        .where(PlanGoal.id == goal_id)
        .options(selectinload(PlanGoal.tasks))
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], int(row[1])) if row else None


async def task(session: AsyncSession, task_id: int) -> tuple[PlanTask, int, int] | None:
    """The task, its goal id and the pair it belongs to."""
    stmt = (
        select(PlanTask, PlanGoal.id, Plan.pair_id)
        .join(PlanGoal, PlanGoal.id == PlanTask.goal_id)
        .join(Plan, Plan.id == PlanGoal.plan_id)
        .where(PlanTask.id == task_id)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], int(row[1]), int(row[2])) if row else None

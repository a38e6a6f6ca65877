"""Texts of the pair's plan. Goal and task titles are people's text: escaped for HTML."""

from __future__ import annotations

from html import escape

from bot.i18n import Translator
from db.models import Plan, PlanGoal

BAR = 10


def bar(percent: int) -> str:
    filled = round(percent / 100 * BAR)
    return "▰" * filled + "▱" * (BAR - filled)


def goal_block(t: Translator, goal: PlanGoal) -> str:
    mark = "✅" if goal.done_at else "🎯"
    date = goal.target_date.strftime("%d.%m.%Y") if goal.target_date else "—"
    lines = [
        t("plan.goal_line", mark=mark, n=goal.position, title=escape(goal.title or "—"),
          date=date),
        t("plan.goal_progress", bar=bar(goal.progress), n=goal.progress),
    ]
    for task in goal.tasks:
        lines.append(("   ✅ " if task.done_at else "   ▫️ ") + escape(task.title or "—"))
    return "\n".join(lines)


def plan_text(t: Translator, label: str, plan: Plan | None, *, editable: bool) -> str:
    head = t("plan.title", pair=label)
    if plan is None or not plan.goals:
        body = t("plan.empty_edit" if editable else "plan.empty")
        return head + "\n\n" + body
    return head + "\n\n" + "\n\n".join(goal_block(t, g) for g in plan.goals)


def goal_text(t: Translator, goal: PlanGoal) -> str:
    return goal_block(t, goal) + "\n\n" + t("plan.goal_hint")

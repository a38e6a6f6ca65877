"""Buttons of the pair's plan (/plan). Ids only: packed data stays under 64 bytes."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from db.models import PlanGoal
from keyboards.common import short

DONE = "✅ "
OPEN = "▫️ "


class PlanAction(StrEnum):
    OPEN = "o"  # id: pair; show the plan
    ADD_GOAL = "a"  # id: pair
    GOAL = "g"  # id: goal; its card
    PROGRESS = "p"  # id: goal; v: percent
    ADD_TASK = "t"  # id: goal
    TOGGLE = "k"  # id: task
    DELETE = "d"  # id: goal; asks first
    DELETE_OK = "D"  # id: goal
    NO_TASKS = "n"  # id: pair; the new goal has no tasks (yet)
    CANCEL = "x"  # leave the dialog


class PlanCb(CallbackData, prefix="pl"):
    a: PlanAction
    id: int
    v: int = 0


PROGRESS_BUTTONS = (0, 25, 50, 75, 100)


def plan(
    t: Translator, pair_id: int, goals: Sequence[PlanGoal], *, editable: bool, room: bool
) -> InlineKeyboardMarkup | None:
    if not editable:
        return None
    builder = InlineKeyboardBuilder()
    for goal in goals:
        mark = DONE if goal.done_at else "🎯 "
        builder.button(text=short(f"{mark}{goal.position}. {goal.title or '—'}"),
                       callback_data=PlanCb(a=PlanAction.GOAL, id=goal.id))
    if room:
        builder.button(text=t("plan.btn_add_goal"),
                       callback_data=PlanCb(a=PlanAction.ADD_GOAL, id=pair_id))
    builder.adjust(1)
    return builder.as_markup()


def goal(t: Translator, pair_id: int, item: PlanGoal) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value in PROGRESS_BUTTONS:
        text = f"•{value}%•" if value == item.progress else f"{value}%"
        builder.button(text=text, callback_data=PlanCb(a=PlanAction.PROGRESS, id=item.id, v=value))
    for task in item.tasks:
        mark = DONE if task.done_at else OPEN
        builder.button(text=short(mark + (task.title or "—")),
                       callback_data=PlanCb(a=PlanAction.TOGGLE, id=task.id))
    builder.button(text=t("plan.btn_add_task"),
                   callback_data=PlanCb(a=PlanAction.ADD_TASK, id=item.id))
    builder.button(text=t("plan.btn_delete"),
                   callback_data=PlanCb(a=PlanAction.DELETE, id=item.id))
    builder.button(text=t("plan.btn_back"), callback_data=PlanCb(a=PlanAction.OPEN, id=pair_id))
    builder.adjust(5, *([1] * len(item.tasks)), 2, 1)
    return builder.as_markup()


def delete_confirm(t: Translator, pair_id: int, goal_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("plan.btn_delete_yes"),
                   callback_data=PlanCb(a=PlanAction.DELETE_OK, id=goal_id))
    builder.button(text=t("common.cancel"), callback_data=PlanCb(a=PlanAction.GOAL, id=goal_id))
    builder.adjust(2)
    return builder.as_markup()


def cancel_only(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("common.cancel"), callback_data=PlanCb(a=PlanAction.CANCEL, id=0))
    return builder.as_markup()


def no_tasks(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("plan.btn_no_tasks"),
                   callback_data=PlanCb(a=PlanAction.NO_TASKS, id=pair_id))
    builder.button(text=t("common.cancel"), callback_data=PlanCb(a=PlanAction.CANCEL, id=0))
    builder.adjust(2)
    return builder.as_markup()


def pairs(choices: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for pair_id, label in choices:
        builder.button(text=short(label), callback_data=PlanCb(a=PlanAction.OPEN, id=pair_id))
    builder.adjust(1)
    return builder.as_markup()

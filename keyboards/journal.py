"""Buttons of the mentor journal: the log request, the logging dialog, the mentee's
confirmation and rating, and /journal's pages. Ids only: packed data stays under 64 bytes."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from keyboards.common import short
from keyboards.meetings import MeetingAction, MeetingCb


class JournalAction(StrEnum):
    HELD = "h"  # id: meeting
    NOT_HELD = "n"  # id: meeting
    MINUTES = "m"  # id: meeting; v: minutes
    SKIP = "s"  # id: meeting; skip the optional next steps
    PROGRESS = "p"  # id: meeting; g: goal; v: percent (-1: unchanged)
    CANCEL = "x"  # id: meeting; leave the dialog
    OPEN = "o"  # id: pair; show its journal (v: page)


class JournalCb(CallbackData, prefix="jr"):
    a: JournalAction
    id: int
    g: int = 0
    v: int = 0


class FeedbackAction(StrEnum):
    YES = "y"
    NO = "n"
    RATE = "r"  # v: 1-5


class FeedbackCb(CallbackData, prefix="jf"):
    """A mentee's answer on a logged meeting: meeting id, the mentee's membership id."""

    a: FeedbackAction
    id: int
    m: int
    v: int = 0


PROGRESS_BUTTONS = (0, 25, 50, 75, 100)


def ask(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("journal.btn_held"),
                   callback_data=JournalCb(a=JournalAction.HELD, id=meeting_id))
    builder.button(text=t("journal.btn_not_held"),
                   callback_data=JournalCb(a=JournalAction.NOT_HELD, id=meeting_id))
    builder.adjust(2)
    return builder.as_markup()


def reschedule(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("journal.btn_reschedule"),
                   callback_data=MeetingCb(a=MeetingAction.RESCHEDULE, id=meeting_id))
    return builder.as_markup()


def _cancel(t: Translator, builder: InlineKeyboardBuilder, meeting_id: int) -> None:
    builder.button(text=t("common.cancel"),
                   callback_data=JournalCb(a=JournalAction.CANCEL, id=meeting_id))


def minutes(t: Translator, meeting_id: int, planned: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value in sorted({planned, 45, 60, 90}):
        builder.button(text=t("journal.btn_minutes", n=value),
                       callback_data=JournalCb(a=JournalAction.MINUTES, id=meeting_id, v=value))
    _cancel(t, builder, meeting_id)
    builder.adjust(4, 1)
    return builder.as_markup()


def cancel_only(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    _cancel(t, builder, meeting_id)
    return builder.as_markup()


def next_steps(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("journal.btn_skip"),
                   callback_data=JournalCb(a=JournalAction.SKIP, id=meeting_id))
    _cancel(t, builder, meeting_id)
    builder.adjust(2)
    return builder.as_markup()


def progress(t: Translator, meeting_id: int, goal_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value in PROGRESS_BUTTONS:
        builder.button(
            text=f"{value}%",
            callback_data=JournalCb(a=JournalAction.PROGRESS, id=meeting_id, g=goal_id, v=value),
        )
    builder.button(
        text=t("journal.btn_unchanged"),
        callback_data=JournalCb(a=JournalAction.PROGRESS, id=meeting_id, g=goal_id, v=-1),
    )
    _cancel(t, builder, meeting_id)
    builder.adjust(5, 1, 1)
    return builder.as_markup()


def took_place(t: Translator, meeting_id: int, membership_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("journal.btn_yes"),
                   callback_data=FeedbackCb(a=FeedbackAction.YES, id=meeting_id, m=membership_id))
    builder.button(text=t("journal.btn_no"),
                   callback_data=FeedbackCb(a=FeedbackAction.NO, id=meeting_id, m=membership_id))
    builder.adjust(2)
    return builder.as_markup()


def rating(meeting_id: int, membership_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value in range(1, 6):
        builder.button(
            text=f"{value} ⭐",
            callback_data=FeedbackCb(a=FeedbackAction.RATE, id=meeting_id, m=membership_id,
                                     v=value),
        )
    builder.adjust(5)
    return builder.as_markup()


def pairs(choices: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for pair_id, label in choices:
        builder.button(text=short(label),
                       callback_data=JournalCb(a=JournalAction.OPEN, id=pair_id))
    builder.adjust(1)
    return builder.as_markup()


def pages(t: Translator, pair_id: int, page: int, total_pages: int) -> InlineKeyboardMarkup | None:
    if total_pages <= 1:
        return None
    builder = InlineKeyboardBuilder()
    if page > 0:
        builder.button(text=t("journal.btn_prev"),
                       callback_data=JournalCb(a=JournalAction.OPEN, id=pair_id, v=page - 1))
    if page + 1 < total_pages:
        builder.button(text=t("journal.btn_next"),
                       callback_data=JournalCb(a=JournalAction.OPEN, id=pair_id, v=page + 1))
    builder.adjust(2)
    return builder.as_markup()

"""Buttons of /pause: the reason, then a quick end date."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from db.models import PauseReason

QUICK = ("1w", "2w", "1m")


class PauseAction(StrEnum):
    REASON = "r"  # v: the reason
    QUICK = "q"  # v: 1w, 2w or 1m; r: the reason chosen


class PauseCb(CallbackData, prefix="ps"):
    a: PauseAction
    v: str
    r: str = ""


def reasons(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason in PauseReason:
        builder.button(text=t(f"pause.reason_{reason.value}"),
                       callback_data=PauseCb(a=PauseAction.REASON, v=reason.value))
    builder.adjust(1)
    return builder.as_markup()


def quick(t: Translator, reason: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in QUICK:
        builder.button(text=t(f"pause.quick_{code}"),
                       callback_data=PauseCb(a=PauseAction.QUICK, v=code, r=reason))
    builder.adjust(3)
    return builder.as_markup()

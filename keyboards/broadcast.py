"""Buttons of /broadcast: the segment, a form, then Confirm/Cancel on the preview."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator

SEGMENTS = ("all", "mentors", "mentees", "forms", "idle")


class BroadcastAction(StrEnum):
    SEGMENT = "s"  # v: all, mentors, mentees, idle, or "forms" (the list of forms)
    FORM = "f"  # v: the form
    GO = "g"  # id: the draft broadcast
    CANCEL = "x"  # id: the draft broadcast


class BroadcastCb(CallbackData, prefix="bcs"):
    a: BroadcastAction
    id: int = 0
    v: str = ""


def segments(t: Translator) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in SEGMENTS:
        builder.button(text=t(f"broadcast.seg_{code}"),
                       callback_data=BroadcastCb(a=BroadcastAction.SEGMENT, v=code))
    builder.adjust(1)
    return builder.as_markup()


def forms(t: Translator, values: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for form in values:
        builder.button(text=t(f"form.{form}"),
                       callback_data=BroadcastCb(a=BroadcastAction.FORM, v=form))
    builder.adjust(1)
    return builder.as_markup()


def confirm(t: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("broadcast.confirm"),
                   callback_data=BroadcastCb(a=BroadcastAction.GO, id=broadcast_id))
    builder.button(text=t("broadcast.cancel"),
                   callback_data=BroadcastCb(a=BroadcastAction.CANCEL, id=broadcast_id))
    builder.adjust(2)
    return builder.as_markup()

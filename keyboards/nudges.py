"""Buttons on nudges: "propose a meeting" for the pair, "remind"/"card" for the curator.

Callback data carries the pair id only; every press re-checks the curator's organisations.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from keyboards.meetings import MeetingAction, MeetingCb


class NudgeAction(StrEnum):
    REMIND = "r"  # nudge the pair now
    CARD = "c"  # open the pair's card


class NudgeCb(CallbackData, prefix="nd"):
    a: NudgeAction
    p: int  # pair id


def propose_meeting(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("nudges.propose"), callback_data=MeetingCb(a=MeetingAction.NEW,
                                                                     id=pair_id))
    return builder.as_markup()


def escalation(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("nudges.remind_button"),
                   callback_data=NudgeCb(a=NudgeAction.REMIND, p=pair_id))
    builder.button(text=t("nudges.card_button"),
                   callback_data=NudgeCb(a=NudgeAction.CARD, p=pair_id))
    builder.adjust(2)
    return builder.as_markup()

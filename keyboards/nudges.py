"""Buttons on nudges: "propose a meeting" for the pair, "remind"/"card" for the curator.

Callback data carries the pair id only; every press re-checks the curator's organisations.
The keyboards are returned as Bot API JSON, the form the outbox stores.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData

from bot.i18n import Translator
from keyboards.meetings import MeetingAction, MeetingCb


class NudgeAction(StrEnum):
    REMIND = "r"  # nudge the pair now
    CARD = "c"  # open the pair's card


class NudgeCb(CallbackData, prefix="nd"):
    a: NudgeAction
    p: int  # pair id


def propose_meeting(t: Translator, pair_id: int) -> dict[str, Any]:
    """The Bot API JSON of the keyboard (built directly: a job words a thousand of these)."""
    data = MeetingCb(a=MeetingAction.NEW, id=pair_id).pack()
    return {"inline_keyboard": [[{"text": t("nudges.propose"), "callback_data": data}]]}


def escalation(t: Translator, pair_id: int) -> dict[str, Any]:
    remind = NudgeCb(a=NudgeAction.REMIND, p=pair_id).pack()
    card = NudgeCb(a=NudgeAction.CARD, p=pair_id).pack()
    return {"inline_keyboard": [[
        {"text": t("nudges.remind_button"), "callback_data": remind},
        {"text": t("nudges.card_button"), "callback_data": card},
    ]]}

"""Buttons of feedback polls: "answer" on an invitation; "end the pair" / "keep" on the
curator's alert. Ids only; every press re-checks who presses. Keyboards are returned as
Bot API JSON, the form the outbox stores."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData

from bot.i18n import Translator


class PollAction(StrEnum):
    START = "s"  # id: the poll's envelope (survey_responses.id); start or resume it
    END = "e"  # id: pair id; the curator ends the pair and the mentee goes back for a re-match
    KEEP = "k"  # id: pair id; the curator keeps the pair (the buttons go)
    ANSWERS = "a"  # id: pair id; the pair's poll answers


class PollCb(CallbackData, prefix="pl"):
    a: PollAction
    id: int


def _button(text: str, action: PollAction, target: int) -> dict[str, str]:
    return {"text": text, "callback_data": PollCb(a=action, id=target).pack()}


def invitation(t: Translator, survey_response_id: int) -> dict[str, Any]:
    return {"inline_keyboard": [[_button(t("polls.start"), PollAction.START,
                                         survey_response_id)]]}


def alert(t: Translator, pair_id: int, *, can_end: bool) -> dict[str, Any]:
    rows = [[_button(t("polls.answers_button"), PollAction.ANSWERS, pair_id)]]
    if can_end:
        rows.insert(0, [_button(t("polls.end_button"), PollAction.END, pair_id),
                        _button(t("polls.keep_button"), PollAction.KEEP, pair_id)])
    return {"inline_keyboard": rows}

"""Buttons of the quarterly reports: the mentor's "fill in" / "edit and resubmit", the
curator's "accept" / "return with a comment". Ids only (packed data well under 64 bytes);
`v` names the submission a curator's buttons were sent for (0 before any). Keyboards are
returned as Bot API JSON, the form the outbox stores."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData

from bot.i18n import Translator


class QuarterAction(StrEnum):
    OPEN = "o"  # id: the report; the mentor fills it in (or edits a returned one)
    ACCEPT = "a"  # id: the report; v: the submission
    RETURN = "r"  # id: the report; v: the submission; a comment is asked
    CANCEL = "x"  # id: the report; leave the comment


class QuarterCb(CallbackData, prefix="qr"):
    a: QuarterAction
    id: int
    v: int = 0


def _button(text: str, action: QuarterAction, report_id: int, version: int = 0) -> dict[str, str]:
    return {"text": text, "callback_data": QuarterCb(a=action, id=report_id, v=version).pack()}


def open_report(t: Translator, report_id: int, version: int = 0, *, edit: bool = False
                ) -> dict[str, Any]:
    key = "quarterly.button_edit" if edit else "quarterly.button_fill"
    return {"inline_keyboard": [[_button(t(key), QuarterAction.OPEN, report_id, version)]]}


def review(t: Translator, report_id: int, version: int) -> dict[str, Any]:
    return {"inline_keyboard": [[
        _button(t("quarterly.button_accept"), QuarterAction.ACCEPT, report_id, version),
        _button(t("quarterly.button_return"), QuarterAction.RETURN, report_id, version),
    ]]}


def cancel(t: Translator, report_id: int) -> dict[str, Any]:
    return {"inline_keyboard": [[_button(t("common.cancel"), QuarterAction.CANCEL, report_id)]]}

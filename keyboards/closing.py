"""Buttons of the cycle's closing: start an item, finish attaching files, complete anyway.
Ids only: packed data stays under 64 bytes."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup

from bot.i18n import Translator
from keyboards.common import column


class CloseAction(StrEnum):
    EXIT = "e"  # id: the membership whose exit self-assessment starts
    REPORT = "r"  # id: the pair whose final report starts
    REVIEW = "v"  # id: the pair the curator reviews
    FILES = "f"  # id: the report (response) to attach files to
    DONE = "d"  # id: the report (response): no more files
    OVERRIDE = "o"  # id: the pair to complete anyway (a reason is asked)
    CANCEL = "x"  # id: the pair; leave the override


class CloseCb(CallbackData, prefix="cl"):
    a: CloseAction
    id: int


def start(t: Translator, action: CloseAction, target_id: int) -> InlineKeyboardMarkup:
    return column([(t(f"closing.button_{action.name.lower()}"), CloseCb(a=action, id=target_id))])


def attach(t: Translator, response_id: int) -> InlineKeyboardMarkup:
    return column([(t("closing.button_attach"), CloseCb(a=CloseAction.FILES, id=response_id)),
                   (t("closing.button_no_files"), CloseCb(a=CloseAction.DONE, id=response_id))])


def files_done(t: Translator, response_id: int) -> InlineKeyboardMarkup:
    return column([(t("closing.button_files_done"), CloseCb(a=CloseAction.DONE, id=response_id))])


def override(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    return column([(t("closing.button_override"), CloseCb(a=CloseAction.OVERRIDE, id=pair_id))])


def cancel(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    return column([(t("common.cancel"), CloseCb(a=CloseAction.CANCEL, id=pair_id))])

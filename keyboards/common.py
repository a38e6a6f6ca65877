"""Small keyboard helpers shared by features."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

MAX_BUTTON_TEXT = 60


def short(text: str, limit: int = MAX_BUTTON_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def column(buttons: Iterable[tuple[str, CallbackData]], width: int = 1) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, data in buttons:
        builder.button(text=short(text), callback_data=data)
    builder.adjust(width)
    return builder.as_markup()

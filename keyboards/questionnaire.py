"""Question keyboards: options, toggles with Done, the 1-10 scale, yes/no, Skip and Back."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.services.questionnaires import Question
from keyboards.callbacks import QAction, QCb
from keyboards.common import short


def question_keyboard(
    t: Translator,
    question: Question,
    *,
    response_id: int,
    index: int,
    selected: list[str] | None = None,
    can_go_back: bool,
) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    sizes: list[int] = []

    def add(text: str, action: QAction, value: int = 0) -> None:
        builder.button(
            text=short(text), callback_data=QCb(a=action, r=response_id, q=index, v=value)
        )

    if question.type == "single":
        for i, option in enumerate(question.options):
            add(t.pick(option.text), QAction.OPTION, i)
        sizes += [1] * len(question.options)
    elif question.type == "multi":
        chosen = set(selected or ())
        for i, option in enumerate(question.options):
            mark = "✅ " if option.id in chosen else "▫️ "
            add(mark + t.pick(option.text), QAction.TOGGLE, i)
        add(t("common.done"), QAction.DONE)
        sizes += [1] * (len(question.options) + 1)
    elif question.type == "scale":
        for value in range(1, 11):
            add(str(value), QAction.SCALE, value)
        sizes += [5, 5]
    elif question.type == "yesno":
        add(t("common.answer_yes"), QAction.YESNO, 1)
        add(t("common.answer_no"), QAction.YESNO, 0)
        sizes.append(2)
    nav = 0
    if can_go_back:
        add(t("common.back"), QAction.BACK)
        nav += 1
    if question.optional:
        add(t("common.skip"), QAction.SKIP)
        nav += 1
    if nav:
        sizes.append(nav)
    if not sizes:
        return None
    builder.adjust(*sizes)
    return builder.as_markup()

"""Question keyboards: options, toggles with Done, the 1-10 scale, yes/no, Skip and Back."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from bot.services.questionnaires import Question
from keyboards.callbacks import QAction, QCb
from keyboards.common import short

# Shown after every answer: buttons are copies of a validated one with their two fields
# replaced (pydantic validation of each new button, and of each QCb, cost more than the
# rest of the keyboard), and the callback data is packed as QCb.pack() packs it.
_TEMPLATE = InlineKeyboardButton(text="-", callback_data="-")
_MARKUP = InlineKeyboardMarkup(inline_keyboard=[])
_SEP = QCb.__separator__


def pack(action: QAction, response_id: int, index: int, value: int = 0) -> str:
    """`QCb(a=action, r=response_id, q=index, v=value).pack()`, without building a model."""
    return f"{QCb.__prefix__}{_SEP}{action.value}{_SEP}{response_id}{_SEP}{index}{_SEP}{value}"


def question_keyboard(
    t: Translator,
    question: Question,
    *,
    response_id: int,
    index: int,
    selected: list[str] | None = None,
    can_go_back: bool,
) -> InlineKeyboardMarkup | None:
    # Rows built directly: shown after every answer, and the builder deep-copies its buttons.
    def button(text: str, action: QAction, value: int = 0) -> InlineKeyboardButton:
        data = pack(action, response_id, index, value)
        return _TEMPLATE.model_copy(update={"text": short(text), "callback_data": data})

    rows: list[list[InlineKeyboardButton]] = []
    if question.type == "single":
        rows += [
            [button(t.pick(option.text), QAction.OPTION, i)]
            for i, option in enumerate(question.options)
        ]
    elif question.type == "multi":
        chosen = set(selected or ())
        for i, option in enumerate(question.options):
            mark = "✅ " if option.id in chosen else "▫️ "
            rows.append([button(mark + t.pick(option.text), QAction.TOGGLE, i)])
        rows.append([button(t("common.done"), QAction.DONE)])
    elif question.type == "scale":
        rows += [[button(str(v), QAction.SCALE, v) for v in range(a, a + 5)] for a in (1, 6)]
    elif question.type == "yesno":
        rows.append(
            [button(t("common.answer_yes"), QAction.YESNO, 1),
             button(t("common.answer_no"), QAction.YESNO, 0)]
        )
    nav = []
    if can_go_back:
        nav.append(button(t("common.back"), QAction.BACK))
    if question.optional:
        nav.append(button(t("common.skip"), QAction.SKIP))
    if nav:
        rows.append(nav)
    return _MARKUP.model_copy(update={"inline_keyboard": rows}) if rows else None

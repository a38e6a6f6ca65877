"""A questionnaire's question on screen: title, progress, the question and its buttons."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup

from bot.i18n import Translator
from bot.render import answer_html, question_html
from bot.services.answering import Cursor
from keyboards.questionnaire import question_keyboard


def render(
    t: Translator, cursor: Cursor, selected: list[str] | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    question = cursor.question
    assert question is not None
    progress = cursor.progress()
    title = escape(t.pick(cursor.questionnaire.title))
    counter = f"{progress.number}/{progress.total}"
    if progress.follow_up:
        counter += " · " + t("questionnaire.follow_up")
    text = f"<b>{title}</b> · {counter}\n\n{question_html(t, question)}"
    current = cursor.current_value()
    if current is not None and question.type not in ("multi",):
        text += "\n\n" + t("answer.current", value=answer_html(t, question, current))
    index = cursor.questionnaire.position(question.id)
    can_go_back = cursor.questionnaire.previous_before(question.id, cursor.answers) is not None
    markup = question_keyboard(
        t, question, response_id=cursor.response.id, index=index,
        selected=selected, can_go_back=can_go_back,
    )
    return text, markup


def initial_selection(cursor: Cursor) -> list[str]:
    """A multiple choice shown again starts from the options chosen before."""
    value = cursor.current_value()
    return list(value) if cursor.question and cursor.question.type == "multi" and value else []

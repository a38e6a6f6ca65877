"""Turning stored values into words for a reader (no Telegram types here)."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from bot.i18n import Translator
from bot.services.questionnaires import Question


def answer_text(t: Translator, question: Question, value: Any) -> str:
    """Plain text of an answer (not escaped)."""
    if value is None:
        return t("answer.skipped")
    if question.type == "single":
        option = question.option(str(value))
        return t.pick(option.text) if option else str(value)
    if question.type == "multi":
        labels = []
        for item in value:
            option = question.option(item)
            labels.append(t.pick(option.text) if option else str(item))
        return ", ".join(labels)
    if question.type == "yesno":
        return t("common.answer_yes") if value else t("common.answer_no")
    if question.type == "date":
        try:
            return dt.date.fromisoformat(value).strftime("%d.%m.%Y")
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_html(t: Translator, question: Question, value: Any) -> str:
    return escape(answer_text(t, question, value))


def question_html(t: Translator, question: Question) -> str:
    parts = [escape(t.pick(question.text))]
    if question.type == "scale":
        low = t.pick(question.low) if question.low else ""
        high = t.pick(question.high) if question.high else ""
        parts.append(escape(t("answer.scale_hint", low=low or "1", high=high or "10")))
    if question.hint:
        parts.append(f"<i>{escape(t.pick(question.hint))}</i>")
    elif question.type == "multi":
        parts.append(f"<i>{escape(t('answer.multi_hint', max=question.choices_limit()))}</i>")
    elif question.type == "date":
        parts.append(f"<i>{escape(t('answer.date_hint'))}</i>")
    elif question.type == "number":
        low = question.min if question.min is not None else "…"
        high = question.max if question.max is not None else "…"
        parts.append(f"<i>{escape(t('answer.number_hint', min=_num(low), max=_num(high)))}</i>")
    return "\n".join(parts)


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def chunks(blocks: list[str], limit: int = 3800) -> list[str]:
    """Join blocks into messages under Telegram's 4096-character limit."""
    out: list[str] = []
    current = ""
    for block in blocks:
        block = block if len(block) <= limit else block[: limit - 1] + "…"
        if current and len(current) + 2 + len(block) > limit:
            out.append(current)
            current = block
        else:
            current = f"{current}\n\n{block}" if current else block
    if current:
        out.append(current)
    return out


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Turning stored values into words for a reader (no Telegram types here)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
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
        least = _num(question.min) if question.min is not None else "…"
        most = _num(question.max) if question.max is not None else "…"
        parts.append(f"<i>{escape(t('answer.number_hint', min=least, max=most))}</i>")
    return "\n".join(parts)


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# -- splitting HTML into messages -------------------------------------------------------------
# Telegram limits a message to 4096 UTF-16 code units of VISIBLE text: after the HTML is parsed,
# tags removed and character references decoded. We split only between tags and whole
# characters (never inside "<b>" or "&amp;"), closing open tags at a cut and reopening them in
# the next message.
TEXT_LIMIT = 4096
_TOKEN = re.compile(r"<[^>]*>|&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);|.", re.DOTALL)
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][a-zA-Z0-9-]*)")


@dataclass(frozen=True, slots=True)
class _Token:
    raw: str
    kind: str  # "text", "open" or "close"
    char: str = ""  # the visible character of a text token
    name: str = ""  # the tag name of an open or close tag

    @property
    def width(self) -> int:
        return utf16_len(self.char)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _tokens(html: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKEN.finditer(html):
        raw = match.group()
        if raw.startswith("<") and len(raw) > 1:
            name_match = _TAG_NAME.match(raw)
            name = name_match.group(1).lower() if name_match else ""
            out.append(_Token(raw, "close" if raw.startswith("</") else "open", name=name))
        elif raw.startswith("&") and len(raw) > 1:
            out.extend(_entity(raw))
        else:
            out.append(_Token(raw, "text", char=raw))
    return out


def _entity(raw: str) -> list[_Token]:
    body = raw[1:-1]
    char: str | None = None
    if body.startswith("#x"):
        code = int(body[2:], 16)
        char = chr(code) if 0 < code < 0x10FFFF else None
    elif body.startswith("#"):
        code = int(body[1:])
        char = chr(code) if 0 < code < 0x10FFFF else None
    else:
        char = _NAMED.get(body)
    if char is None:  # Telegram keeps an unknown reference as plain text
        return [_Token(ch, "text", char=ch) for ch in raw]
    return [_Token(raw, "text", char=char)]


def visible_text(html: str) -> str:
    """The text Telegram shows for this HTML (tags dropped, references decoded)."""
    return "".join(token.char for token in _tokens(html))


def visible_len(html: str) -> int:
    return utf16_len(visible_text(html))


def fits(html: str, limit: int = TEXT_LIMIT) -> bool:
    """Whether Telegram accepts this HTML as one message. Tags and references only shrink
    the visible text, so most texts are settled by their raw length without parsing."""
    return utf16_len(html) <= limit or visible_len(html) <= limit


def split_html(html: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split well-formed Telegram HTML into pieces of at most `limit` visible UTF-16 units.

    Cuts prefer a line break, then a space, in the second half of a piece; a tag open at a
    cut is closed at the end of the piece and reopened at the start of the next one, so every
    piece is well-formed and the pieces' visible texts concatenate to the original's.
    """
    tokens = _tokens(html)
    pieces: list[str] = []
    start = 0
    opened: list[_Token] = []  # open tags at `start`
    while start < len(tokens):
        end, after = _cut(tokens, start, opened, limit)
        body = "".join(token.raw for token in tokens[start:end])
        head = "".join(tag.raw for tag in opened)
        tail = "".join(f"</{tag.name}>" for tag in reversed(after))
        pieces.append(head + body + tail)
        start, opened = end, after
    return pieces


def _cut(
    tokens: list[_Token], start: int, opened: list[_Token], limit: int
) -> tuple[int, list[_Token]]:
    """Where the piece starting at `start` ends, and the tags still open there."""
    stack = list(opened)
    width = 0
    i = start
    line_break: tuple[int, list[_Token]] | None = None
    space: tuple[int, list[_Token]] | None = None
    last_text: tuple[int, list[_Token]] | None = None
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "text":
            if width + token.width > limit and last_text is not None:
                break
            width += token.width
            i += 1
            last_text = (i, list(stack))
            if width * 2 >= limit:
                if token.char == "\n":
                    line_break = last_text
                elif token.char.isspace():
                    space = last_text
        else:
            if token.kind == "open":
                stack.append(token)
            elif stack:
                stack.pop()
            i += 1
    else:
        return i, stack
    assert last_text is not None
    end, stack = line_break or space or last_text
    # Tags that close right at the cut belong to this piece, not to an empty one next.
    while end < len(tokens) and tokens[end].kind == "close" and stack:
        stack = stack[:-1]
        end += 1
    return end, stack


def chunks(blocks: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Join HTML blocks (paragraphs) into as few messages as fit Telegram's limit.

    A block that does not fit in one message is split by split_html(); blocks are otherwise
    kept whole. Pieces with no visible text other than whitespace are dropped (Telegram
    rejects an empty message).
    """
    out: list[str] = []
    current = ""
    width = 0
    for block in blocks:
        for piece in split_html(block, limit):
            piece_width = visible_len(piece)
            if not visible_text(piece).strip():
                continue
            if current and width + 2 + piece_width <= limit:
                current, width = f"{current}\n\n{piece}", width + 2 + piece_width
                continue
            if current:
                out.append(current)
            current, width = piece, piece_width
    if current:
        out.append(current)
    return out


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

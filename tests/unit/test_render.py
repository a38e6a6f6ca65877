"""Splitting HTML into messages, checked against the fake server's reimplementation of
Telegram's HTML parser: every piece parses, fits the limit as Telegram measures it, and the
pieces together show exactly the original text with the original formatting."""

from __future__ import annotations

import random
from html import escape

import pytest

from bot.render import TEXT_LIMIT, chunks, split_html, utf16_len, visible_len, visible_text
from tests.fakeapi.formatting import ParsedText, parse_html
from tests.fakeapi.formatting import utf16_len as telegram_utf16_len

ALPHABET = ["a", "b", "я", "ж", " ", " ", "\n", "&", '"', "'", "<", ">", "😀", "👩‍💻", "€", "𝄞"]
TAGS = ["b", "i", "u", "s", "code", "tg-spoiler"]


def _styles(parsed: ParsedText) -> list[frozenset[str]]:
    """The entity types covering each UTF-16 code unit of a parsed text."""
    styles: list[set[str]] = [set() for _ in range(telegram_utf16_len(parsed.text))]
    for entity in parsed.entities:
        kind = entity["type"] + entity.get("url", "")
        for unit in range(entity["offset"], entity["offset"] + entity["length"]):
            styles[unit].add(kind)
    return [frozenset(s) for s in styles]


def _random_text(rng: random.Random, size: int) -> str:
    return escape("".join(rng.choice(ALPHABET) for _ in range(size)))


def _random_html(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        if roll < 0.3 and depth < 3:
            tag = rng.choice(TAGS)
            parts.append(f"<{tag}>{_random_html(rng, depth + 1)}</{tag}>")
        elif roll < 0.35 and depth < 3:
            parts.append(f'<a href="https://example.com/{rng.randint(1, 9)}">'
                         f"{_random_html(rng, depth + 1)}</a>")
        else:
            parts.append(_random_text(rng, rng.randint(0, 120)))
    return "".join(parts)


def _check_pieces(original: str, pieces: list[str], limit: int) -> None:
    whole = parse_html(original, strict_ampersand=True)
    texts, styles = [], []
    for piece in pieces:
        parsed = parse_html(piece, strict_ampersand=True)  # raises on broken HTML
        assert telegram_utf16_len(parsed.text) <= limit, piece
        texts.append(parsed.text)
        styles += _styles(parsed)
    assert "".join(texts) == whole.text
    # entity types per code unit (a bold split in two still covers the same characters)
    assert styles == _styles(whole)


@pytest.mark.parametrize("seed", range(300))
def test_split_html_properties(seed: int) -> None:
    rng = random.Random(seed)
    html = _random_html(rng)
    limit = rng.choice([2, 3, 7, 20, 64, 200, 1000])
    pieces = split_html(html, limit)
    _check_pieces(html, pieces, limit)
    assert visible_text(html) == parse_html(html).text


@pytest.mark.parametrize("seed", range(100))
def test_chunks_properties(seed: int) -> None:
    rng = random.Random(1000 + seed)
    blocks = [_random_html(rng) for _ in range(rng.randint(1, 8))]
    limit = rng.choice([5, 50, 300, 4096])
    messages = chunks(blocks, limit)
    for message in messages:
        parsed = parse_html(message, strict_ampersand=True)
        assert telegram_utf16_len(parsed.text) <= limit
        assert parsed.text.strip()
    shown = "".join(parse_html(m).text for m in messages)
    expected = "".join(parse_html(b).text for b in blocks)
    assert "".join(shown.split()) == "".join(expected.split())


def test_long_answer_full_of_escapes_is_split_between_entities() -> None:
    # The QA case: each '&' and '"' becomes 5-6 characters of HTML but one visible character.
    answer = escape('a & "b" ' * 750)
    block = f"<b>Анкета</b>\n• Цель\n  <i>{answer}</i>"
    assert len(block) > 3 * TEXT_LIMIT and visible_len(block) < 2 * TEXT_LIMIT
    messages = chunks([block])
    assert len(messages) == 2
    _check_pieces(block, messages, TEXT_LIMIT)
    assert messages[1].startswith("<i>")  # the italic answer goes on in the next message


def test_limit_counts_utf16_units() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units, 3000 code points
    assert utf16_len(text) == 6000
    messages = chunks([text])
    assert [len(m) for m in messages] == [2048, 952]
    _check_pieces(text, messages, TEXT_LIMIT)


def test_prefers_line_breaks_then_spaces() -> None:
    lines = [f"строка {n} " + "слово " * 8 for n in range(40)]
    text = "\n".join(lines)
    pieces = split_html(text, 500)
    _check_pieces(text, pieces, 500)
    assert all(piece.endswith("\n") for piece in pieces[:-1])
    words = "слово " * 200
    assert all(piece.endswith(" ") for piece in split_html(words, 100)[:-1])


def test_blocks_that_fit_are_joined_and_kept_whole() -> None:
    blocks = ["<b>one</b>", "two &amp; three", "<i>" + "x" * 90 + "</i>"]
    assert chunks(blocks, 4096) == ["<b>one</b>\n\ntwo &amp; three\n\n<i>" + "x" * 90 + "</i>"]
    # the third block does not fit with the others: it starts a new message, unsplit
    assert chunks(blocks, 60) == ["<b>one</b>\n\ntwo &amp; three", "<i>" + "x" * 60 + "</i>",
                                  "<i>" + "x" * 30 + "</i>"]
    assert chunks(blocks, 100) == ["<b>one</b>\n\ntwo &amp; three", "<i>" + "x" * 90 + "</i>"]


def test_blank_pieces_are_dropped() -> None:
    assert chunks(["<b></b>", "   ", "ok"]) == ["ok"]
    assert chunks([]) == []


def test_link_and_nested_tags_are_reopened() -> None:
    html = '<a href="https://example.com/x"><b>' + "a" * 30 + "</b></a>"
    pieces = split_html(html, 10)
    assert pieces[1] == '<a href="https://example.com/x"><b>' + "a" * 10 + "</b></a>"
    _check_pieces(html, pieces, 10)

"""Telegram's message formatting (HTML, MarkdownV2, legacy Markdown), reimplemented in Python.

The parsers follow TDLib's behaviour (td/telegram/MessageEntity.cpp) closely enough that the
error texts and byte offsets are the ones the real Bot API puts after
"Bad Request: can't parse entities: ". They work on UTF-8 bytes because Telegram reports byte
offsets; entity offsets and lengths are in UTF-16 code units, as in the Bot API.

Simplifications: the automatic detection of URLs, mentions, hashtags and bot commands in sent
text is not done, and overlapping entities are not split or merged the way Telegram does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Entity = dict[str, Any]


class EntityParseError(ValueError):
    """The text cannot be parsed; str(error) is Telegram's reason."""


@dataclass
class ParsedText:
    text: str
    entities: list[Entity] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- helpers shared by the parsers -------------------------------------------------------------

_SPACES = frozenset(b" \t\r\n\v\0")  # TDLib's is_space() counts the terminating NUL too
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")

# sort order of entities starting at the same place with the same length (TDLib's priorities)
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "date_time": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


class _Bytes:
    """UTF-8 bytes that read as 0 past the end, like TDLib's NUL-terminated strings."""

    def __init__(self, text: str) -> None:
        try:
            self.data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EntityParseError("Strings must be encoded in UTF-8") from exc
        self.size = len(self.data)

    def __getitem__(self, index: int) -> int:
        return self.data[index] if index < self.size else 0

    def slice(self, begin: int, end: int) -> bytes:
        return self.data[begin:end]


def _is_first_code_unit(byte: int) -> bool:
    return byte & 0xC0 != 0x80


def _utf16_units(byte: int) -> int:
    """UTF-16 length of the character that starts with this UTF-8 byte (0 for continuations)."""
    if not _is_first_code_unit(byte):
        return 0
    return 2 if byte >= 0xF0 else 1


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(
        entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50))
    )


def _decode_output(out: bytearray, check: bool) -> str:
    if check:
        try:
            return bytes(out).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from exc
    return bytes(out).decode("utf-8", "surrogatepass")


_HOST_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def check_url(url: str) -> str | None:
    """Return the URL as Telegram would keep it, or None when Telegram rejects it.

    An approximation of TDLib's LinkManager::check_link: http(s) URLs need a real-looking
    public host (so "localhost" or "example" fail); tg://, ton:// and tonsite:// pass.
    """
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    if "://" not in url:
        if url.lower().startswith(("tg:", "ton:", "tonsite:")):
            return url
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("tg", "ton", "tonsite"):
        return url if parts.netloc or parts.path else None
    if scheme not in ("http", "https", "ftp"):
        return None
    try:
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    if _IPV4_RE.match(host):
        return url if all(int(part) < 256 for part in host.split(".")) else None
    return url if _HOST_RE.match(host) else None


def _link_entity(url: str, offset: int, length: int) -> Entity | None:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip(), re.IGNORECASE)
    if match:
        user = {"id": int(match.group(1)), "is_bot": False, "first_name": ""}
        return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    checked = check_url(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


# --- HTML ---------------------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def _decode_html_entity(text: _Bytes, pos: int) -> tuple[int, int]:
    """Decode the character reference at pos ('&'); return (code point, end) or (0, pos)."""
    end = pos + 1
    code = 0
    if text[pos + 1] == ord("#"):
        end += 1
        if text[pos + 2] == ord("x"):
            end += 1
            while text[end] in _HEX:
                code = code * 16 + int(chr(text[end]), 16)
                end += 1
        else:
            while text[end] in _DIGITS:
                code = code * 10 + text[end] - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while text[end] in _ALPHA:
            end += 1
        named = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}.get(text.slice(pos + 1, end))
        if named is None:
            return 0, pos
        code = ord(named)
    if text[end] == ord(";"):
        end += 1
    return code, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    date: int
    utf16_offset: int
    byte_offset: int  # position in the output, for <a> without href


def parse_html(source: str, *, strict_ampersand: bool = False) -> ParsedText:
    """Parse Telegram HTML; raise EntityParseError with Telegram's reason on bad markup.

    strict_ampersand: also reject an "&" that does not start a character reference. The real
    server keeps such an "&" as text, though the documentation says it must be escaped.
    """
    text = _Bytes(source)
    if 0 in text.data:
        raise EntityParseError("Text must not contain null bytes")
    out = bytearray()
    entities: list[Entity] = []
    stack: list[_OpenTag] = []
    utf16 = 0
    recheck_utf8 = False

    i = 0
    while i < text.size:
        c = text[i]
        if c == ord("&"):
            code, end = _decode_html_entity(text, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                recheck_utf8 |= 0xD800 <= code <= 0xDFFF
                out += chr(code).encode("utf-8", "surrogatepass")
                i = end
                continue
            if strict_ampersand:
                raise EntityParseError(
                    f'Character "&" must be escaped as "&amp;" at byte offset {i}'
                )
        if c != ord("<"):
            utf16 += _utf16_units(c)
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if text[i] != ord("/"):
            while text[i] not in _SPACES and text[i] != ord(">"):
                i += 1
            if text[i] == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = text.slice(begin + 1, i).lower().decode("utf-8", "replace")
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument, date, i = _parse_html_attributes(text, i, tag, begin)
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            stack.append(_OpenTag(tag, argument, date, utf16, len(out)))
        else:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
            while text[i] not in _SPACES and text[i] != ord(">"):
                i += 1
            end_tag = text.slice(begin + 2, i).lower().decode("utf-8", "replace")
            while text[i] in _SPACES and text[i] != 0:
                i += 1
            if text[i] != ord(">"):
                raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
            opened = stack[-1]
            if end_tag and end_tag != opened.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{opened.name}>", '
                    f'found "</{end_tag}>"'
                )
            if utf16 > opened.utf16_offset:
                _close_html_entity(opened, utf16, out, entities)
            stack.pop()
        i += 1  # past '>'

    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return ParsedText(_decode_output(out, recheck_utf8), _sorted(entities))


def _parse_html_attributes(text: _Bytes, i: int, tag: str, begin: int) -> tuple[str, int, int]:
    argument = ""
    date = 0
    while text[i] != ord(">"):
        while text[i] != 0 and text[i] in _SPACES:
            i += 1
        if text[i] == ord(">"):
            break
        name_begin = i
        while text[i] not in _SPACES and text[i] not in b"=>/\"'":
            i += 1
        name = text.slice(name_begin, i)
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
            )
        while text[i] != 0 and text[i] in _SPACES:
            i += 1
        if text[i] != ord("="):
            if text[i] == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and name == b"expandable":
                argument = "1"
            continue
        i += 1
        while text[i] != 0 and text[i] in _SPACES:
            i += 1
        if text[i] == 0:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')

        if text[i] not in b"'\"":
            token_begin = i
            while text[i] in _ALNUM or text[i] in b".-":
                i += 1
            raw_value = text.slice(token_begin, i).lower()
            if text[i] not in _SPACES and text[i] != ord(">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {token_begin}"
                )
        else:
            quote = text[i]
            i += 1
            value = bytearray()
            while text[i] != quote and text[i] != 0:
                if text[i] == ord("&"):
                    code, end = _decode_html_entity(text, i)
                    if code:
                        value += chr(code).encode("utf-8", "surrogatepass")
                        i = end
                        continue
                value.append(text[i])
                i += 1
            if text[i] == quote:
                i += 1
            raw_value = bytes(value)
        if text[i] == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")

        value_str = raw_value.decode("utf-8", "replace")
        if tag == "a" and name == b"href":
            argument = value_str
        elif tag == "code" and name == b"class" and value_str.startswith("language-"):
            argument = value_str[len("language-") :]
        elif tag == "span" and name == b"class" and value_str.startswith("tg-"):
            argument = value_str[len("tg-") :]
        elif tag == "tg-emoji" and name == b"emoji-id":
            argument = value_str
        elif tag == "blockquote" and name == b"expandable":
            argument = "1"
        elif tag == "tg-time" and name == b"unix":
            date = int(value_str) if value_str.isdigit() else 0
        elif tag == "tg-time" and name == b"format":
            argument = value_str
    return argument, date, i


def _close_html_entity(
    opened: _OpenTag, utf16: int, out: bytearray, entities: list[Entity]
) -> None:
    offset = opened.utf16_offset
    length = utf16 - offset
    tag = opened.name
    if tag in _SIMPLE_HTML_TAGS:
        entities.append({"type": _SIMPLE_HTML_TAGS[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not opened.argument.isdigit() or int(opened.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": opened.argument,
            }
        )
    elif tag == "tg-time":
        if opened.date > 0:
            entity: Entity = {
                "type": "date_time",
                "offset": offset,
                "length": length,
                "unix_time": opened.date,
            }
            if opened.argument:
                entity["date_time_format"] = opened.argument
            entities.append(entity)
    elif tag == "a":
        url = opened.argument or bytes(out[opened.byte_offset :]).decode("utf-8", "replace")
        link = _link_entity(url, offset, length)
        if link is not None:
            entities.append(link)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (offset, length)
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (offset, length)
            and opened.argument
        ):
            last["language"] = opened.argument
        else:
            code: Entity = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                code["language"] = opened.argument  # dropped later unless <pre> wraps it
            entities.append(code)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if opened.argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


# --- MarkdownV2 ---------------------------------------------------------------------------------

_MDV2_RESERVED = b"_*[]()~`>#+-=|{}.!\n"
_MDV2_TYPES = {
    "Bold": "bold",
    "Italic": "italic",
    "Underline": "underline",
    "Strikethrough": "strikethrough",
    "Spoiler": "spoiler",
    "Code": "code",
    "Pre": "pre",
    "PreCode": "pre",
    "TextUrl": "text_link",
    "CustomEmoji": "custom_emoji",
    "BlockQuote": "blockquote",
    "ExpandableBlockQuote": "expandable_blockquote",
}


@dataclass
class _OpenMd:
    kind: str  # TDLib's type name, used in error texts
    argument: str
    utf16_offset: int
    byte_offset: int  # in the source, for error texts
    out_offset: int  # in the output, for [url] without (link)


def _reserved(char: int) -> EntityParseError:
    return EntityParseError(
        f"Character '{chr(char)}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(source: str) -> ParsedText:
    """Parse Telegram MarkdownV2; raise EntityParseError with Telegram's reason."""
    text = _Bytes(source)
    out = bytearray()
    entities: list[Entity] = []
    stack: list[_OpenMd] = []
    utf16 = 0
    have_blockquote = False
    can_start_blockquote = True

    i = -1
    while True:
        i += 1
        if i >= text.size:
            break
        c = text[i]
        if c == ord("\\") and 0 < text[i + 1] <= 126:
            i += 1
            utf16 += 1
            out.append(text[i])
            if text[i] != ord("\r"):
                can_start_blockquote = text[i] == ord("\n")
            continue

        reserved = _MDV2_RESERVED
        if stack and stack[-1].kind in ("Code", "Pre", "PreCode"):
            reserved = b"`"
        if c not in reserved:
            if _is_first_code_unit(c):
                utf16 += _utf16_units(c)
                if c != ord("\r"):
                    can_start_blockquote = False
            out.append(c)
            continue

        if not _mdv2_is_entity_end(text, i, stack, have_blockquote):
            kind: str | None
            argument = ""
            byte_offset = i
            if c == ord("_"):
                if text[i + 1] == ord("_"):
                    kind = "Underline"
                    i += 1
                else:
                    kind = "Italic"
            elif c == ord("*"):
                kind = "Bold"
            elif c == ord("~"):
                kind = "Strikethrough"
            elif c == ord("|"):
                if text[i + 1] != ord("|"):
                    raise _reserved(c)
                i += 1
                kind = "Spoiler"
            elif c == ord("["):
                kind = "TextUrl"
            elif c == ord("`"):
                if text[i + 1] == ord("`") and text[i + 2] == ord("`"):
                    i += 3
                    kind = "Pre"
                    language_end = i
                    while text[language_end] not in _SPACES and text[language_end] != ord("`"):
                        language_end += 1
                    if (
                        i != language_end
                        and language_end < text.size
                        and (text[language_end] != ord("`"))
                    ):
                        kind = "PreCode"
                        argument = text.slice(i, language_end).decode("utf-8", "replace")
                        i = language_end
                    if text[i] in b"\n\r":
                        if text[i + 1] in b"\n\r" and text[i] != text[i + 1]:
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "Code"
            elif c == ord("!"):
                if text[i + 1] != ord("["):
                    raise _reserved(c)
                i += 1
                kind = "CustomEmoji"
            elif c == ord("\n"):
                utf16 += 1
                out.append(c)
                can_start_blockquote = True
                kind = None
            elif c == ord(">"):
                if not can_start_blockquote:
                    raise _reserved(c)
                if have_blockquote:
                    kind = None
                else:
                    kind = "BlockQuote"
                    have_blockquote = True
            else:
                raise _reserved(c)
            if kind is not None:
                stack.append(_OpenMd(kind, argument, utf16, byte_offset, len(out)))
            continue

        # the end of an entity
        opened = stack[-1]
        kind = opened.kind
        if c == ord("\n") and kind != "BlockQuote":
            expandable_mark = kind == "Spoiler" and (
                opened.byte_offset == i - 2
                or (opened.byte_offset == i - 3 and out and out[-1] == ord("\r"))
            )
            if not expandable_mark:
                raise EntityParseError(
                    f"Can't find end of {kind} entity at byte offset {opened.byte_offset}"
                )
            stack.pop()
            opened = stack[-1]
            if opened.kind != "BlockQuote":
                raise EntityParseError(
                    f"Can't find end of {opened.kind} entity at byte offset {opened.byte_offset}"
                )
            kind = "ExpandableBlockQuote"
        skip = utf16 == opened.utf16_offset
        extra: dict[str, Any] = {}
        if kind in ("Underline", "Spoiler"):
            i += 1
        elif kind in ("Pre", "PreCode"):
            i += 2
            if kind == "PreCode":
                extra["language"] = opened.argument
        elif kind == "TextUrl":
            if text[i + 1] != ord("("):
                url = bytes(out[opened.out_offset :]).decode("utf-8", "replace")
            else:
                url, i = _mdv2_read_url(text, i + 2)
            link = _link_entity(url, opened.utf16_offset, utf16 - opened.utf16_offset)
            if link is None:
                skip = True
            else:
                kind = link["type"]
                extra = {k: v for k, v in link.items() if k not in ("type", "offset", "length")}
        elif kind == "CustomEmoji":
            if text[i + 1] != ord("("):
                raise EntityParseError("The entity must contain a tg://emoji or tg://time URL")
            url, i = _mdv2_read_url(text, i + 2)
            kind, extra = _mdv2_custom_emoji(url)
        elif kind in ("BlockQuote", "ExpandableBlockQuote"):
            have_blockquote = False
            out.append(text[i])
            can_start_blockquote = True
            utf16 += 1
            skip = False
        if not skip:
            entity_type = _MDV2_TYPES.get(kind, kind)
            entity = {
                "type": entity_type,
                "offset": opened.utf16_offset,
                "length": utf16 - opened.utf16_offset,
            }
            entity.update(extra)
            entities.append(entity)
        stack.pop()

    if have_blockquote:
        kind = "BlockQuote"
        if stack and stack[-1].kind == "Spoiler" and stack[-1].byte_offset == text.size - 2:
            stack.pop()
            kind = "ExpandableBlockQuote"
        if stack and stack[-1].kind == "BlockQuote":
            length = utf16 - stack[-1].utf16_offset
            if length:
                entities.append(
                    {"type": _MDV2_TYPES[kind], "offset": stack[-1].utf16_offset, "length": length}
                )
            stack.pop()
    if stack:
        raise EntityParseError(
            f"Can't find end of {stack[-1].kind} entity at byte offset {stack[-1].byte_offset}"
        )
    return ParsedText(_decode_output(out, False), _sorted(entities))


def _mdv2_is_entity_end(text: _Bytes, i: int, stack: list[_OpenMd], have_blockquote: bool) -> bool:
    if not stack:
        return False
    c = text[i]
    if have_blockquote and c == ord("\n") and (i + 1 == text.size or text[i + 1] != ord(">")):
        return True
    kind = stack[-1].kind
    if kind == "Bold":
        return c == ord("*")
    if kind == "Italic":
        return c == ord("_") and text[i + 1] != ord("_")
    if kind == "Code":
        return c == ord("`")
    if kind in ("Pre", "PreCode"):
        return c == ord("`") and text[i + 1] == ord("`") and text[i + 2] == ord("`")
    if kind in ("TextUrl", "CustomEmoji"):
        return c == ord("]")
    if kind == "Underline":
        return c == ord("_") and text[i + 1] == ord("_")
    if kind == "Strikethrough":
        return c == ord("~")
    if kind == "Spoiler":
        return c == ord("|") and text[i + 1] == ord("|")
    return False


def _mdv2_read_url(text: _Bytes, i: int) -> tuple[str, int]:
    """Read "...)" starting at i; return the URL and the index of ")"."""
    begin = i
    url = bytearray()
    while i < text.size and text[i] != ord(")"):
        if text[i] == ord("\\") and 0 < text[i + 1] <= 126:
            url.append(text[i + 1])
            i += 2
            continue
        url.append(text[i])
        i += 1
    if text[i] != ord(")"):
        raise EntityParseError(f"Can't find end of a URL at byte offset {begin}")
    return url.decode("utf-8", "replace"), i


def _mdv2_custom_emoji(url: str) -> tuple[str, dict[str, Any]]:
    emoji = re.fullmatch(r"tg://emoji\?id=(\d+)", url, re.IGNORECASE)
    if emoji and int(emoji.group(1)) > 0:
        return "custom_emoji", {"custom_emoji_id": emoji.group(1)}
    when = re.fullmatch(r"tg://time\?unix=(\d+)(?:&format=(\w*))?", url, re.IGNORECASE)
    if when:
        extra: dict[str, Any] = {"unix_time": int(when.group(1))}
        if when.group(2):
            extra["date_time_format"] = when.group(2)
        return "date_time", extra
    raise EntityParseError("Invalid tg://emoji or tg://time URL specified")


# --- legacy Markdown ----------------------------------------------------------------------------


def parse_markdown(source: str) -> ParsedText:
    """Parse legacy Telegram Markdown; raise EntityParseError with Telegram's reason."""
    text = _Bytes(source)
    out = bytearray()
    entities: list[Entity] = []
    utf16 = 0
    i = -1
    while True:
        i += 1
        if i >= text.size:
            break
        c = text[i]
        if c == ord("\\") and text[i + 1] in b"_*`[":
            i += 1
            out.append(text[i])
            utf16 += 1
            continue
        if c not in b"_*`[":
            utf16 += _utf16_units(c)
            out.append(c)
            continue

        begin = i
        end_char = ord("]") if c == ord("[") else c
        is_pre = False
        language = ""
        i += 1
        if c == ord("`") and text[i] == ord("`") and text[i + 1] == ord("`"):
            i += 2
            is_pre = True
            language_end = i
            while text[language_end] not in _SPACES and text[language_end] != ord("`"):
                language_end += 1
            if i != language_end and language_end < text.size and text[language_end] != ord("`"):
                language = text.slice(i, language_end).decode("utf-8", "replace")
                i = language_end
            if text[i] in b"\n\r":
                if text[i + 1] in b"\n\r" and text[i] != text[i + 1]:
                    i += 2
                else:
                    i += 1

        entity_offset = utf16
        while i < text.size and (
            text[i] != end_char
            or (is_pre and not (text[i + 1] == ord("`") and text[i + 2] == ord("`")))
        ):
            utf16 += _utf16_units(text[i])
            out.append(text[i])
            i += 1
        if i == text.size:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")

        if entity_offset != utf16:
            length = utf16 - entity_offset
            if c == ord("_"):
                entities.append({"type": "italic", "offset": entity_offset, "length": length})
            elif c == ord("*"):
                entities.append({"type": "bold", "offset": entity_offset, "length": length})
            elif c == ord("["):
                if text[i + 1] != ord("("):
                    url = text.slice(begin + 1, i).decode("utf-8", "replace")
                else:
                    i += 2
                    url_begin = i
                    while i < text.size and text[i] != ord(")"):
                        i += 1
                    url = text.slice(url_begin, i).decode("utf-8", "replace")
                link = _link_entity(url, entity_offset, length)
                if link is not None:
                    entities.append(link)
            elif is_pre:
                pre: Entity = {"type": "pre", "offset": entity_offset, "length": length}
                if language:
                    pre["language"] = language
                entities.append(pre)
            else:
                entities.append({"type": "code", "offset": entity_offset, "length": length})
        if is_pre:
            i += 2
    return ParsedText(_decode_output(out, False), _sorted(entities))


# --- entry point used by the server -------------------------------------------------------------

_TRIMMED = " \t\r\n\v\f"


def trim(parsed: ParsedText) -> ParsedText:
    """Strip leading and trailing whitespace as Telegram does, moving the entities with it."""
    stripped = parsed.text.strip(_TRIMMED)
    if stripped == parsed.text:
        return parsed
    head = utf16_len(parsed.text[: len(parsed.text) - len(parsed.text.lstrip(_TRIMMED))])
    end = head + utf16_len(stripped)
    entities: list[Entity] = []
    for entity in parsed.entities:
        begin = max(entity["offset"], head)
        finish = min(entity["offset"] + entity["length"], end)
        if finish > begin:
            entities.append({**entity, "offset": begin - head, "length": finish - begin})
    return ParsedText(stripped, entities)


def parse_text(text: str, parse_mode: str | None, *, strict_ampersand: bool = False) -> ParsedText:
    """Apply parse_mode ("HTML", "MarkdownV2", "Markdown", case-insensitive, or None)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text, strict_ampersand=strict_ampersand)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    if mode == "":
        _Bytes(text)  # rejects lone surrogates like Telegram rejects invalid UTF-8
        return ParsedText(text, [])
    raise ValueError(f"unsupported parse_mode {parse_mode!r}")

"""What the fake records: requests, errors, files and the bot's messages as a user sees them."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .markup import inline_rows


class Signal:
    """Wakes every waiter on notify(); cheaper and simpler than a Condition for this use."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event  # taken before awaiting, so no notify() can slip in between
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


@dataclass
class RecordedRequest:
    method: str  # canonical name when the method is known, else as requested
    params: dict[str, Any]  # JSON fields decoded; uploaded files as "<file name (N bytes)>"
    http_method: str
    time: float
    status: int | None = None  # None while a long poll is still waiting
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class RecordedError:
    method: str
    status: int
    description: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class SentFile:
    kind: str  # "document" or "photo"
    chat_id: int
    message_id: int
    filename: str | None
    content: bytes | None  # None when the bot sent a file_id or a URL instead of bytes
    mime_type: str | None
    file_id: str
    file_unique_id: str
    caption: str | None
    source: str | None = None  # the file_id or URL the bot passed, if it uploaded nothing

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8", "replace")


@dataclass
class CallbackAnswer:
    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


class Button(NamedTuple):
    text: str
    value: str | None  # callback_data, or url, or None for other kinds of buttons


@dataclass
class MessageVersion:
    text: str
    html: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None


@dataclass(eq=False)
class BotMessage:
    """A message the bot sent to a user, kept up to date with later edits and deletion."""

    message_id: int
    chat_id: int
    date: int
    method: str
    text: str  # plain text, or the caption of a document or photo, after parsing
    html: str | None  # the text or caption exactly as the bot sent it
    parse_mode: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    document: SentFile | None = None
    photo: SentFile | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[MessageVersion] = field(default_factory=list)  # earlier versions, oldest first
    seq: int = 0  # position in the user's event order, for waits

    @property
    def kind(self) -> str:
        if self.document is not None:
            return "document"
        if self.photo is not None:
            return "photo"
        return "text"

    @property
    def is_media(self) -> bool:
        return self.kind != "text"

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard rows as (text, callback_data or url)."""
        return [
            [
                Button(b.get("text", ""), b.get("callback_data") or b.get("url"))
                for b in row
                if isinstance(b, dict)
            ]
            for row in inline_rows(self.reply_markup)
        ]

    @property
    def button_texts(self) -> list[str]:
        return [button.text for row in self.buttons for button in row]

    @property
    def keyboard(self) -> list[list[str]]:
        """Reply keyboard rows (the buttons under the input field), if this message set one."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [
            [b.get("text", "") if isinstance(b, dict) else str(b) for b in row] for row in rows
        ]

    @property
    def file_name(self) -> str | None:
        sent = self.document or self.photo
        return sent.filename if sent else None

    @property
    def file_content(self) -> bytes | None:
        sent = self.document or self.photo
        return sent.content if sent else None

    def version(self) -> MessageVersion:
        return MessageVersion(self.text, self.html, list(self.entities), self.reply_markup)

    def __str__(self) -> str:
        parts = [f"#{self.message_id}"]
        if self.deleted:
            parts.append("(deleted)")
        if self.file_name:
            parts.append(f"[{self.kind}: {self.file_name}]")
        parts.append(repr(self.text if len(self.text) <= 300 else self.text[:300] + "…"))
        if self.button_texts:
            parts.append(f"buttons={self.button_texts}")
        return " ".join(parts)


@dataclass
class EditEvent:
    message: BotMessage  # the live message, in its current state
    method: str
    before: MessageVersion
    seq: int
    after: BotMessage  # snapshot right after this edit

"""The bot's HTTP session to the Bot API: aiogram's, with two costs of the hot path removed.

Every answer in a questionnaire makes two requests (the next question, and the button's
answer or the old keyboard's removal), so their encoding showed in the profile (py-spy,
`python -m bench.throughput --profile`):

- aiogram sends each request as a form: every field is walked by `prepare_value` in Python
  and the text is percent-encoded (a Cyrillic character becomes six bytes, quoted one by
  one). Telegram takes the same parameters as a JSON body, which one C-level `json.dumps`
  writes. Requests with files keep aiogram's multipart form.
- A sent or edited message comes back with the keyboard and the formatting the bot just
  attached; nothing reads that copy (only the message's id is used), and validating it
  builds a model per button and per entity. Both are dropped before parsing
  (`load_response`).
- A pressed button's update carries the whole message it was under, keyboard included (a
  model per button again). Where the button's handlers never read that message's keyboard
  or formatting (the questionnaire's: only the message's id), polling drops them too: the
  session is told those buttons' callback prefixes (`unread_pressed`). Every other update
  is parsed whole.

Everything else (the request, timeouts, errors) is aiogram's `make_request`.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import TelegramMethod
from aiogram.types import InlineKeyboardMarkup, InputFile
from aiohttp import BytesPayload, FormData

ECHOED = ("reply_markup", "entities", "caption_entities")


def load_response(raw: str | bytes, *, unread_pressed: tuple[str, ...] = ()) -> Any:
    """Telegram's answer to a request, parsed, without the echo of what the bot sent (and,
    in updates, without the pressed message's keyboard for the `unread_pressed` buttons)."""
    data = json.loads(raw)
    if isinstance(data, dict):
        result = data.get("result")
        if isinstance(result, dict) and "message_id" in result:
            _drop_echoes(result)
        elif isinstance(result, list) and unread_pressed:
            for update in result:
                query = update.get("callback_query") if isinstance(update, dict) else None
                if (
                    isinstance(query, dict)
                    and str(query.get("data", "")).startswith(unread_pressed)
                    and isinstance(query.get("message"), dict)
                ):
                    _drop_echoes(query["message"])
    return data


def _drop_echoes(message: dict[str, Any]) -> None:
    for echoed in ECHOED:
        message.pop(echoed, None)


class JsonSession(AiohttpSession):
    """aiogram's session; requests without files go as JSON bodies.

    unread_pressed: callback data prefixes of buttons whose handlers never read the pressed
    message's keyboard or formatting (see the module's docstring)."""

    def __init__(self, *, unread_pressed: tuple[str, ...] = (), **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", partial(load_response, unread_pressed=unread_pressed))
        super().__init__(**kwargs)

    def build_form_data(  # type: ignore[override]  # any aiohttp payload is a body
        self, bot: Bot, method: TelegramMethod[Any]
    ) -> FormData | BytesPayload:
        """The request's body for aiogram's `make_request`: its parameters as JSON, or
        aiogram's multipart form when it uploads a file."""
        files: dict[str, InputFile] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False, exclude_none=True).items():
            if key == "reply_markup" and isinstance(
                getattr(method, "reply_markup", None), InlineKeyboardMarkup
            ):
                prepared = value  # buttons hold only strings, numbers and flags
            else:
                prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or (isinstance(prepared, str | dict | list) and not prepared):
                continue  # what aiogram's form leaves out too
            body[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        return BytesPayload(self.json_dumps(body).encode(), content_type="application/json")

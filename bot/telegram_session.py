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
  (`load_response`). Incoming updates are not touched.
"""

from __future__ import annotations

import json
from typing import Any, cast

import aiogram
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, InputFile
from aiohttp import ClientError, ClientSession, ClientTimeout, DummyCookieJar
from aiohttp.hdrs import USER_AGENT
from aiohttp.http import SERVER_SOFTWARE

JSON_HEADERS = {"Content-Type": "application/json"}
ECHOED = ("reply_markup", "entities", "caption_entities")


def load_response(raw: str | bytes) -> Any:
    """Telegram's answer to a request, parsed, without the echo of what the bot sent."""
    data = json.loads(raw)
    if isinstance(data, dict):
        result = data.get("result")
        if isinstance(result, dict) and "message_id" in result:
            for echoed in ECHOED:
                result.pop(echoed, None)
    return data


class JsonSession(AiohttpSession):
    """Requests without files go as JSON bodies."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", load_response)
        super().__init__(**kwargs)

    async def create_session(self) -> ClientSession:
        """aiogram's session, without a cookie jar: the Bot API sets no cookies, and the
        jar is still searched for every request and fed every answer's headers."""
        if self._should_reset_connector:
            await self.close()
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                connector=self._connector_type(**self._connector_init),
                headers={USER_AGENT: f"{SERVER_SOFTWARE} aiogram/{aiogram.__version__}"},
                cookie_jar=DummyCookieJar(),
            )
            self._should_reset_connector = False
        return self._session

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The request's parameters as JSON; None when it uploads a file (a form then)."""
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
            return None
        return self.json_dumps(body).encode()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        data = self.json_body(bot, method)
        if data is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url, data=data, headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)

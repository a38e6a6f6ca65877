"""A fake Telegram Bot API server for end-to-end tests, and the simulated users that talk to it.

The bot under test reaches it exactly as it reaches Telegram: aiogram's
``TelegramAPIServer.from_base(fake.base_url)`` builds ``{base}/bot{token}/{method}``. Requests may
be urlencoded or multipart forms (aiogram's way, complex values as JSON strings), JSON bodies or
GET query strings. Answers, limits and error texts follow the real Bot API; see the README-style
notes in tests/fakeapi/__init__.py for what is simplified.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import mimetypes
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

from aiohttp import web

from .errors import ApiError, bad_request, conflict, forbidden, too_many_requests
from .formatting import EntityParseError, ParsedText, parse_text, trim, utf16_len
from .markup import inline_rows, validate_reply_markup
from .models import (
    BotMessage,
    CallbackAnswer,
    EditEvent,
    RecordedError,
    RecordedRequest,
    SentFile,
    Signal,
)
from .spec import ApiSpec, CoercionError, Method, load_spec
from .webhook import WebhookDelivery

T = TypeVar("T")
Params = dict[str, Any]

DEFAULT_TOKEN: Final = "123456:TEST-TOKEN"
DEFAULT_BOT_USERNAME: Final = "nastavnik_test_bot"

MESSAGE_TEXT_LIMIT: Final = 4096  # UTF-16 code units after entity parsing
CAPTION_LIMIT: Final = 1024
CALLBACK_ANSWER_LIMIT: Final = 200
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024

DEFAULT_GLOBAL_PER_SECOND: Final = 30
DEFAULT_CHAT_RATE: Final = 1.0  # messages per second, refilled continuously
DEFAULT_CHAT_BURST: Final = 5
DEFAULT_CALLBACK_TIMEOUT: Final = 15.0

# Updates Telegram delivers when allowed_updates is empty or was never given.
DEFAULT_UPDATE_TYPES: Final = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "inline_query", "chosen_inline_result", "callback_query",
        "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
        "my_chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip
_FORWARDING_METHODS: Final = frozenset(
    {"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"}
)
_QUERY_EXPIRED: Final = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
# Telegram's own wording for some missing required parameters.
_MISSING_PARAMETER: Final = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "document": "there is no document in the request",
    "photo": "there is no photo in the request",
    "message_id": "message identifier is not specified",
}
_MENU_BUTTON_TYPES: Final = frozenset({"default", "commands", "web_app"})
_SCOPE_TYPES: Final = frozenset(
    {
        "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
        "chat_administrators", "chat_member",
    }
)  # fmt: skip

# aiohttp runs each request in its own task, so this is the request being handled.
_current_request: ContextVar[web.Request | None] = ContextVar("_current_request", default=None)


def counts_for_flood_control(method: str) -> bool:
    """Whether a method sends a message and so counts against the flood limits."""
    return (method.startswith("send") and method != "sendChatAction") or (
        method in _FORWARDING_METHODS
    )


@dataclass
class Upload:
    filename: str | None
    content: bytes
    content_type: str | None


@dataclass
class _CallbackQuery:
    query_id: str
    user: FakeUser
    message_id: int
    created: float
    answered: bool = False


class _Unset:
    pass


_UNSET: Final = _Unset()


class FloodControl:
    """Telegram's documented sending limits: ~30 messages/s overall, ~1/s per chat in bursts.

    The global limit counts messages in a rolling one-second window; each chat has a token
    bucket of ``chat_burst`` tokens refilled at ``chat_rate`` per second. None disables a limit.
    """

    def __init__(
        self,
        global_per_second: int | None = DEFAULT_GLOBAL_PER_SECOND,
        chat_rate: float | None = DEFAULT_CHAT_RATE,
        chat_burst: int = DEFAULT_CHAT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_per_second = global_per_second
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self._clock = clock
        self._recent: deque[float] = deque()
        self._buckets: dict[Any, tuple[float, float]] = {}

    def reset(self) -> None:
        self._recent.clear()
        self._buckets.clear()

    def acquire(self, chat_id: Any) -> int:
        """Take one message slot; return 0, or the whole seconds to wait (>= 1) if refused."""
        now = self._clock()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        wait = 0.0
        if self.global_per_second is not None and len(self._recent) >= self.global_per_second:
            wait = self._recent[0] + 1.0 - now
        tokens = float(self.chat_burst)
        if self.chat_rate is not None:
            tokens, updated = self._buckets.get(chat_id, (float(self.chat_burst), now))
            tokens = min(float(self.chat_burst), tokens + (now - updated) * self.chat_rate)
            if tokens < 1.0:
                wait = max(wait, (1.0 - tokens) / self.chat_rate)
        if wait > 0:
            return max(1, math.ceil(wait))
        self._recent.append(now)
        if self.chat_rate is not None:
            self._buckets[chat_id] = (tokens - 1.0, now)
        return 0


class FakeTelegram:
    """The fake Bot API server. Start it inside the test's event loop.

    What tests read: requests (every call, with decoded params, status and response), errors
    (the non-ok answers), warnings (unimplemented methods called), documents (files sent),
    chat_actions, dropped_updates (filtered out by the bot's allowed_updates) and
    commands_for(). What tests change: user() to create users, set_limits(), fail_next(),
    fail_chat() and delay_chat() (per-chat faults: errors, or a delay past the client timeout),
    enqueue_update() for updates the users cannot produce.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "Nastavnik (test)",
        global_per_second: int | None = DEFAULT_GLOBAL_PER_SECOND,
        chat_rate: float | None = DEFAULT_CHAT_RATE,
        chat_burst: int = DEFAULT_CHAT_BURST,
        callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
        html_strict_ampersand: bool = True,
        spec: ApiSpec | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.flood = FloodControl(global_per_second, chat_rate, chat_burst)
        self.callback_timeout = callback_timeout
        self.html_strict_ampersand = html_strict_ampersand
        self.spec = spec or load_spec()
        self.host = host

        self.requests: list[RecordedRequest] = []
        self.errors: list[RecordedError] = []
        self.warnings: list[str] = []
        self.documents: list[SentFile] = []  # documents and photos, in the order sent
        self.chat_actions: list[tuple[int, str]] = []
        self.dropped_updates: list[dict[str, Any]] = []  # filtered out by allowed_updates
        self.users: dict[int, FakeUser] = {}
        self.commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.webhook_url = ""
        self.webhook = WebhookDelivery(self)  # delivery to the URL set by setWebhook
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES

        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._update_signal = Signal()
        self._request_signal = Signal()
        self._poll_generation = 0
        self._injected: dict[str, deque[ApiError]] = {}
        self._chat_faults: dict[str, deque[ApiError | float]] = {}
        self._queries: dict[str, _CallbackQuery] = {}
        self._query_ids = itertools.count(1)
        self._files: dict[str, SentFile] = {}
        self._file_ids = itertools.count(1)
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._handlers: dict[str, Callable[[Params, dict[str, Upload]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._always_true,
            "close": self._always_true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> str:
        """Bind to a free port on 127.0.0.1 and return the base URL for TelegramAPIServer."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://{self.host}:{port}"
        self._stopping = False
        return self._base_url

    async def stop(self) -> None:
        """Release waiting long polls and shut the server down."""
        self._stopping = True
        self._update_signal.notify()
        await self.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._base_url

    # --- test-facing helpers --------------------------------------------------------------------

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _bot_sender(self) -> dict[str, Any]:
        """The bot as it appears in the "from" of its messages (no getMe-only fields)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def user(
        self,
        user_id: int,
        first_name: str = "Ivan",
        username: str | None = None,
        language_code: str | None = "ru",
        last_name: str | None = None,
    ) -> FakeUser:
        """Register (or return the already registered) simulated user with this id."""
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        created = FakeUser(
            self,
            user_id,
            first_name,
            username=username,
            language_code=language_code,
            last_name=last_name,
        )
        self.users[user_id] = created
        return created

    def set_limits(
        self,
        *,
        global_per_second: int | _Unset | None = _UNSET,
        chat_rate: float | _Unset | None = _UNSET,
        chat_burst: int | _Unset = _UNSET,
        callback_timeout: float | _Unset = _UNSET,
    ) -> None:
        """Change flood limits (None disables one) and reset their counters."""
        if not isinstance(global_per_second, _Unset):
            self.flood.global_per_second = global_per_second
        if not isinstance(chat_rate, _Unset):
            self.flood.chat_rate = chat_rate
        if not isinstance(chat_burst, _Unset):
            self.flood.chat_burst = chat_burst
        if not isinstance(callback_timeout, _Unset):
            self.callback_timeout = callback_timeout
        self.flood.reset()

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str = "Internal Server Error",
        *,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail with this error (fault injection).

        The failure is answered after the token and method name are checked, before anything
        else, and is recorded in self.errors like any other.
        """
        self._injected.setdefault(method.lower(), deque()).extend(
            ApiError(status, description, parameters) for _ in range(times)
        )

    def fail_chat(
        self,
        chat_id: int,
        status: int = 500,
        description: str = "Internal Server Error",
        *,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Make the next `times` message-sending calls to this chat fail with this error
        (fault injection per chat: 429 with parameters={"retry_after": n}, 5xx, 403, 400).
        Faults queued for a chat are used in order (with delay_chat's)."""
        self._chat_faults.setdefault(str(chat_id), deque()).extend(
            ApiError(status, description, parameters) for _ in range(times)
        )

    def delay_chat(self, chat_id: int, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` message-sending calls to this chat for `seconds` before
        handling them; one whose client gave up meanwhile (a timeout) is dropped unsent,
        as a request lost on the way would be."""
        self._chat_faults.setdefault(str(chat_id), deque()).extend([seconds] * times)

    def enqueue_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (update_id is assigned here) and return its id."""
        update_id = next(self._update_ids)
        update = {**update, "update_id": update_id}
        kinds = [key for key in update if key != "update_id"]
        if kinds and kinds[0] not in self.allowed_updates:
            self.dropped_updates.append(update)
            return update_id
        self._updates.append(update)
        self._update_signal.notify()
        return update_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def errors_for(self, chat_id: int) -> list[RecordedError]:
        return [e for e in self.errors if str(e.chat_id) == str(chat_id)]

    async def wait_for_request(
        self, method: str, after: int = 0, timeout: float = 10.0
    ) -> RecordedRequest:
        """Wait for a request of this method among self.requests[after:] and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for record in self.requests[after:]:
                if record.method.lower() == method.lower():
                    return record
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [r.method for r in self.requests[after:]][-20:]
                raise AssertionError(
                    f"no {method} request within {timeout}s; requests since #{after}: {seen}"
                )
            await self._request_signal.wait(remaining)

    def commands_for(
        self, scope: dict[str, Any] | int | None = None, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """Bot commands as a test wants to see them.

        With a scope dict (None = default scope): the list stored for exactly that scope and
        language_code ("" or None = for all languages), as getMyCommands answers.
        With a chat id: the list the user of that private chat sees in the menu, resolved like
        Telegram does (chat, then all_private_chats, then default; each first for the language,
        then for all languages). language_code defaults to the user's own.
        """
        if isinstance(scope, int):
            if language_code is None and scope in self.users:
                language_code = self.users[scope].language_code
            languages = [language_code, ""] if language_code else [""]
            chain = [("chat", scope), ("all_private_chats",), ("default",)]
            for key in chain:
                for language in languages:
                    found = self.commands.get((key, language))
                    if found is not None:
                        return [dict(command) for command in found]
            return []
        key = self._scope_key(scope or {"type": "default"})
        return [dict(command) for command in self.commands.get((key, language_code or ""), [])]

    # --- HTTP plumbing --------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        _current_request.set(request)
        name = request.match_info["method"]
        record = RecordedRequest(
            method=name, params={}, http_method=request.method, time=time.time()
        )
        self.requests.append(record)
        try:
            raw, uploads = await self._read_params(request)
            record.params = _describe(raw, uploads)
            self._request_signal.notify()
            result = await self._dispatch(request.match_info["token"], name, raw, uploads, record)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, payload = error.status, error.payload()
            self.errors.append(
                RecordedError(record.method, status, error.description, record.params)
            )
        record.status = status
        record.response = payload
        self._request_signal.notify()
        return web.json_response(payload, status=status)

    async def _read_params(self, request: web.Request) -> tuple[Params, dict[str, Upload]]:
        params: Params = dict(request.query)
        uploads: dict[str, Upload] = {}
        if not request.can_read_body:
            return params, uploads
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request("can't parse JSON encoded request body") from exc
            if not isinstance(body, dict):
                raise bad_request("JSON encoded request body must be an object")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = value
        return params, uploads

    async def _dispatch(
        self,
        token: str,
        name: str,
        raw: Params,
        uploads: dict[str, Upload],
        record: RecordedRequest,
    ) -> Any:
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        method = self.spec.method(name)
        if method is None:
            raise ApiError(404, "Not Found")
        record.method = method.name
        injected = self._injected.get(method.name.lower())
        if injected:
            raise injected.popleft()
        try:
            params = method.coerce(raw)
        except CoercionError as exc:
            raise bad_request(str(exc)) from exc
        record.params = _describe(params, uploads)
        if self._chat_faults and counts_for_flood_control(method.name):
            await self._chat_fault(params.get("chat_id"))
        self._check_required(method, params, uploads)
        handler = self._handlers.get(method.name)
        if handler is None:
            self.warnings.append(f"{method.name} is not implemented by the fake; answered true")
            if counts_for_flood_control(method.name):
                self._check_flood(params.get("chat_id"))
            return True
        return await handler(params, uploads)

    async def _chat_fault(self, chat_id: Any) -> None:
        faults = self._chat_faults.get(str(chat_id))
        if not faults:
            return
        fault = faults.popleft()
        if isinstance(fault, ApiError):
            raise fault
        await asyncio.sleep(fault)
        if _client_gone():
            raise ApiError(499, "Client Closed Request: the client timed out; not delivered")

    @staticmethod
    def _check_required(method: Method, params: Params, uploads: dict[str, Upload]) -> None:
        for spec_field in method.required:
            value = params.get(spec_field.name)
            if value not in (None, "") or spec_field.name in uploads:
                continue
            reason = _MISSING_PARAMETER.get(
                spec_field.name, f'parameter "{spec_field.name}" is required'
            )
            raise bad_request(reason)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        for sent in self._files.values():
            if _file_path(sent) == request.match_info["path"] and sent.content is not None:
                return web.Response(body=sent.content, content_type=sent.mime_type)
        return web.json_response(ApiError(404, "Not Found").payload(), status=404)

    # --- shared checks --------------------------------------------------------------------------

    def _chat_user(self, chat_id: Any) -> FakeUser:
        """The user whose private chat this is, if the bot may write there."""
        user = self._known_user(chat_id)
        if user.blocked:
            raise forbidden("bot was blocked by the user")
        if not user.started:
            raise forbidden("bot can't initiate conversation with a user")
        return user

    def _known_user(self, chat_id: Any) -> FakeUser:
        if isinstance(chat_id, str):
            # Bots cannot address users by @username; other strings are not chat ids.
            chat_id = int(chat_id) if chat_id.lstrip("-").isdigit() else None
        user = self.users.get(chat_id) if isinstance(chat_id, int) else None
        if user is None:
            raise bad_request("chat not found")
        return user

    def _check_flood(self, chat_id: Any) -> None:
        retry_after = self.flood.acquire(chat_id)
        if retry_after:
            raise too_many_requests(retry_after)

    def _format(
        self,
        text: Any,
        parse_mode: Any,
        entities: Any,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> ParsedText:
        text = "" if text is None else str(text)
        if entities:
            if not isinstance(entities, list) or not all(
                isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in entities
            ):
                raise bad_request("can't parse entities JSON object")
            parsed = ParsedText(text, [dict(e) for e in entities])
        else:
            try:
                parsed = parse_text(text, parse_mode, strict_ampersand=self.html_strict_ampersand)
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from exc
            except ValueError as exc:
                raise bad_request("unsupported parse_mode") from exc
        parsed = trim(parsed)
        if not parsed.text and empty is not None:
            raise bad_request(empty)
        if utf16_len(parsed.text) > limit:
            raise bad_request(too_long)
        return parsed

    def _message_text(self, params: Params) -> ParsedText:
        return self._format(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=MESSAGE_TEXT_LIMIT,
            too_long="message is too long",
            empty="message text is empty",
        )

    def _caption(self, params: Params) -> ParsedText:
        return self._format(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=CAPTION_LIMIT,
            too_long="message caption is too long",
            empty=None,
        )

    @staticmethod
    def _reply_to(user: FakeUser, params: Params) -> int | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict) or "message_id" not in reply:
            return None
        message_id = reply["message_id"]
        if user.find_message(message_id) is None and message_id not in user.incoming:
            if not reply.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
            return None
        return int(message_id)

    def message_payload(self, message: BotMessage) -> dict[str, Any]:
        """The Bot API Message object for a bot message, as returned and put in callbacks."""
        user = self.users[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_sender(),
            "chat": user.api_chat(),
            "date": message.date,
        }
        if message.reply_to_message_id is not None:
            replied = user.find_message(message.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = self.message_payload(replied)
            elif message.reply_to_message_id in user.incoming:
                data["reply_to_message"] = user.incoming[message.reply_to_message_id]
        if message.is_media:
            if message.text:
                data["caption"] = message.text
                if message.entities:
                    data["caption_entities"] = message.entities
        else:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.document is not None:
            data["document"] = _file_object(message.document)
        if message.photo is not None:
            data["photo"] = [{**_file_object(message.photo), "width": 800, "height": 600}]
        if inline_rows(message.reply_markup):
            data["reply_markup"] = message.reply_markup
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        return data

    # --- service methods ------------------------------------------------------------------------

    async def _get_me(self, params: Params, uploads: dict[str, Upload]) -> Any:
        return self.bot_user

    async def _always_true(self, params: Params, uploads: dict[str, Upload]) -> Any:
        return True

    async def _get_updates(self, params: Params, uploads: dict[str, Upload]) -> Any:
        if self.webhook_url:
            raise conflict(
                "can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first"
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._update_signal.notify()  # an older poll still waiting now ends with 409

        if "allowed_updates" in params and params["allowed_updates"] is not None:
            allowed = params["allowed_updates"]
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates JSON object")
            self.allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._stopping or _client_gone():
                return []
            if generation != self._poll_generation:
                raise conflict(
                    "terminated by other getUpdates request; "
                    "make sure that only one bot instance is running"
                )
            remaining = deadline - loop.time()
            if self._updates or remaining <= 0:
                return self._updates[:limit]
            await self._update_signal.wait(remaining)

    async def _set_webhook(self, params: Params, uploads: dict[str, Upload]) -> Any:
        url = str(params.get("url") or "")
        if url and not self.webhook.acceptable(url):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("allowed_updates") is not None:
            allowed = params["allowed_updates"]
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates JSON object")
            self.allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        self.webhook_url = url
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._update_signal.notify()
        self.webhook.set(url, str(params["secret_token"]) if params.get("secret_token") else None)
        return True

    async def _delete_webhook(self, params: Params, uploads: dict[str, Upload]) -> Any:
        self.webhook_url = ""
        self.webhook.set("", None)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: Params, uploads: dict[str, Upload]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    # --- commands and menu ----------------------------------------------------------------------

    def _scope_key(self, scope: Any) -> tuple[Any, ...]:
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in ("chat", "chat_administrators", "chat_member"):
            if scope.get("chat_id") in (None, ""):
                raise bad_request("chat_id is empty")
            chat_id = self._known_user(scope["chat_id"]).id
            if kind == "chat_member":
                user_id = scope.get("user_id")
                if not isinstance(user_id, int):
                    raise bad_request("user_id is empty")
                return (kind, chat_id, user_id)
            return (kind, chat_id)
        return (kind,)

    @staticmethod
    def _language(params: Params) -> str:
        language = str(params.get("language_code") or "")
        if language and not (len(language) == 2 and language.isalpha() and language.islower()):
            raise bad_request("invalid language code specified")
        return language

    async def _set_my_commands(self, params: Params, uploads: dict[str, Upload]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        cleaned: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", ""))
            if not (1 <= len(name) <= 32) or not all(
                ch.isascii() and (ch.islower() or ch.isdigit() or ch == "_") for ch in name
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not description.strip() or len(description) > 256:
                raise bad_request("command description must be non-empty")
            cleaned.append({"command": name, "description": description})
        key = (self._scope_key(params.get("scope") or {"type": "default"}), self._language(params))
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params, uploads: dict[str, Upload]) -> Any:
        key = (self._scope_key(params.get("scope") or {"type": "default"}), self._language(params))
        return self.commands.get(key, [])

    async def _delete_my_commands(self, params: Params, uploads: dict[str, Upload]) -> Any:
        key = (self._scope_key(params.get("scope") or {"type": "default"}), self._language(params))
        self.commands.pop(key, None)
        return True

    async def _set_chat_menu_button(self, params: Params, uploads: dict[str, Upload]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat_id = self._known_user(chat_id).id
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in _MENU_BUTTON_TYPES:
            raise bad_request("can't parse MenuButton JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: Params, uploads: dict[str, Upload]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat_id = self._known_user(chat_id).id
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "default"}

    # --- sending --------------------------------------------------------------------------------

    async def _send_message(self, params: Params, uploads: dict[str, Upload]) -> Any:
        parsed = self._message_text(params)
        markup = validate_reply_markup(params.get("reply_markup"))
        user = self._chat_user(params["chat_id"])
        reply_to = self._reply_to(user, params)
        self._check_flood(user.id)
        message = user._new_message(
            method="sendMessage",
            parsed=parsed,
            raw=params.get("text"),
            parse_mode=params.get("parse_mode"),
            markup=markup,
            reply_to=reply_to,
        )
        user._publish(message)
        return self.message_payload(message)

    async def _send_document(self, params: Params, uploads: dict[str, Upload]) -> Any:
        return await self._send_file("document", "sendDocument", params, uploads)

    async def _send_photo(self, params: Params, uploads: dict[str, Upload]) -> Any:
        return await self._send_file("photo", "sendPhoto", params, uploads)

    async def _send_file(
        self, kind: str, method: str, params: Params, uploads: dict[str, Upload]
    ) -> Any:
        parsed = self._caption(params)
        markup = validate_reply_markup(params.get("reply_markup"))
        upload, source = self._find_upload(kind, params, uploads)
        user = self._chat_user(params["chat_id"])
        reply_to = self._reply_to(user, params)
        self._check_flood(user.id)
        message = user._new_message(
            method=method,
            parsed=parsed,
            raw=params.get("caption"),
            parse_mode=params.get("parse_mode"),
            markup=markup,
            reply_to=reply_to,
        )
        sent = self._store_file(kind, message, upload, source)
        if kind == "document":
            message.document = sent
        else:
            message.photo = sent
        self.documents.append(sent)
        user._publish(message)
        return self.message_payload(message)

    def _find_upload(
        self, kind: str, params: Params, uploads: dict[str, Upload]
    ) -> tuple[Upload | SentFile, str | None]:
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
        elif kind in uploads:
            upload = uploads[kind]
        elif isinstance(value, str) and value in self._files:
            return self._files[value], value
        elif isinstance(value, str) and value.lower().startswith(("http://", "https://")):
            return Upload(value.rsplit("/", 1)[-1] or None, b"", None), value
        elif value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            upload = None
        if upload is None:
            raise bad_request(f"there is no {kind} in the request")
        if not upload.content:
            raise bad_request("file must be non-empty")
        if len(upload.content) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return upload, None

    def _store_file(
        self, kind: str, message: BotMessage, upload: Upload | SentFile, source: str | None
    ) -> SentFile:
        number = next(self._file_ids)
        if isinstance(upload, SentFile):
            filename, content, mime_type = upload.filename, upload.content, upload.mime_type
        else:
            filename = upload.filename
            content = upload.content if source is None else None
            mime_type = upload.content_type
            if not mime_type or mime_type == "application/octet-stream":
                mime_type = mimetypes.guess_type(filename or "")[0] or mime_type
        sent = SentFile(
            kind=kind,
            chat_id=message.chat_id,
            message_id=message.message_id,
            filename=filename,
            content=content,
            mime_type=mime_type,
            file_id=f"{kind.upper()}-{number:06d}-{self.bot_id}",
            file_unique_id=f"U{number:06d}",
            caption=message.text or None,
            source=source,
        )
        self._files[sent.file_id] = sent
        return sent

    async def _send_chat_action(self, params: Params, uploads: dict[str, Upload]) -> Any:
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        user = self._chat_user(params["chat_id"])
        self.chat_actions.append((user.id, params["action"]))
        return True

    # --- editing and deleting -------------------------------------------------------------------

    def _message_to_edit(self, params: Params) -> tuple[FakeUser, BotMessage]:
        if params.get("inline_message_id") and params.get("chat_id") is None:
            self.warnings.append("inline_message_id is not supported by the fake")
            raise bad_request("MESSAGE_ID_INVALID")
        if params.get("chat_id") in (None, ""):
            raise bad_request("chat_id is empty")
        if params.get("message_id") in (None, ""):
            raise bad_request("message identifier is not specified")
        user = self._chat_user(params["chat_id"])
        message = user.find_message(params["message_id"])
        if message is None or message.deleted:
            if params["message_id"] in user.incoming:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return user, message

    async def _edit_message_text(self, params: Params, uploads: dict[str, Upload]) -> Any:
        parsed = self._message_text(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        user, message = self._message_to_edit(params)
        if message.is_media:
            raise bad_request("there is no text in the message to edit")
        user._edit(message, "editMessageText", parsed, params.get("text"), markup)
        return self.message_payload(message)

    async def _edit_message_caption(self, params: Params, uploads: dict[str, Upload]) -> Any:
        parsed = self._caption(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        user, message = self._message_to_edit(params)
        if not message.is_media:
            raise bad_request("there is no caption in the message to edit")
        user._edit(message, "editMessageCaption", parsed, params.get("caption"), markup)
        return self.message_payload(message)

    async def _edit_message_reply_markup(self, params: Params, uploads: dict[str, Upload]) -> Any:
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        user, message = self._message_to_edit(params)
        parsed = ParsedText(message.text, message.entities)
        user._edit(message, "editMessageReplyMarkup", parsed, message.html, markup)
        return self.message_payload(message)

    async def _delete_message(self, params: Params, uploads: dict[str, Upload]) -> Any:
        user = self._chat_user(params["chat_id"])
        message_id = params["message_id"]
        message = user.find_message(message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            user._signal.notify()
            return True
        if message_id in user.incoming:
            user.incoming.pop(message_id)
            return True
        raise bad_request("message to delete not found")

    # --- callbacks, chats, files ----------------------------------------------------------------

    def _new_callback_query(self, user: FakeUser, message: BotMessage, data: str) -> str:
        query_id = str(4_000_000_000_000_000 + next(self._query_ids))
        self._queries[query_id] = _CallbackQuery(
            query_id, user, message.message_id, time.monotonic()
        )
        self.enqueue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.api_user(),
                    "message": self.message_payload(message),
                    "chat_instance": str(7_000_000_000_000 + user.id),
                    "data": data,
                }
            }
        )
        return query_id

    async def _answer_callback_query(self, params: Params, uploads: dict[str, Upload]) -> Any:
        query = self._queries.get(str(params["callback_query_id"]))
        if (
            query is None
            or query.answered
            or time.monotonic() - query.created > self.callback_timeout
        ):
            raise bad_request(_QUERY_EXPIRED)
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        cache_time = params.get("cache_time")
        answer = CallbackAnswer(
            query_id=query.query_id,
            text=None if text is None else str(text),
            show_alert=bool(params.get("show_alert")),
            url=params.get("url"),
            cache_time=int(cache_time) if cache_time is not None else None,
        )
        query.user.callback_answers[query.query_id] = answer
        query.user._signal.notify()
        return True

    async def _get_chat(self, params: Params, uploads: dict[str, Upload]) -> Any:
        user = self._known_user(params["chat_id"])
        if not user.started:
            raise bad_request("chat not found")
        return {
            **user.api_chat(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_file(self, params: Params, uploads: dict[str, Upload]) -> Any:
        sent = self._files.get(str(params["file_id"]))
        if sent is None:
            raise bad_request("invalid file_id")
        result = _file_object(sent)
        if sent.content is not None:
            result["file_path"] = _file_path(sent)
        return result


class FakeUser:
    """A Telegram user in a private chat with the bot.

    Waits use a cursor: wait_message() returns the next bot message not returned (or skipped)
    by an earlier wait_message(); wait_edit() does the same over edits; wait_response() takes
    whichever of the two comes first. A wait returns a snapshot: the message as it was right
    after the send or edit it consumed. user.messages and user.last hold the live messages,
    which edits change in place (old versions in .history) and deletion marks .deleted.
    Anything given a message (press, wait_edit) accepts a snapshot and uses its message_id.
    """

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.started = False
        self.blocked = False
        self.messages: list[BotMessage] = []  # the bot's messages, in order, kept current
        self._sent_versions: list[BotMessage] = []  # each message as it was when sent
        self.edits: list[EditEvent] = []
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.incoming: dict[int, dict[str, Any]] = {}  # messages this user sent, by id
        self._signal = Signal()
        self._message_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._message_cursor = 0
        self._edit_cursor = 0

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def last(self) -> BotMessage | None:
        """The bot's most recent message (deleted ones included)."""
        return self.messages[-1] if self.messages else None

    @property
    def unread(self) -> list[BotMessage]:
        return self.messages[self._message_cursor :]

    def api_user(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def api_chat(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    def find_message(self, message_id: int | BotMessage) -> BotMessage | None:
        """The bot's message with this id (or the id of this snapshot), in its current state."""
        if isinstance(message_id, BotMessage):
            message_id = message_id.message_id
        for message in reversed(self.messages):
            if message.message_id == message_id:
                return message
        return None

    # --- acting as the user ---------------------------------------------------------------------

    async def send(self, text: str) -> int:
        """Send a text message to the bot; return the update id."""
        if self.blocked:
            raise AssertionError(f"{self!r} has blocked the bot; call unblock() first")
        self.started = True
        message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.api_user(),
            "chat": self.api_chat(),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/") and len(text) > 1:
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        self.incoming[message_id] = message
        return self.fake.enqueue_update({"message": message})

    async def send_file(
        self,
        content: bytes,
        *,
        kind: str = "document",
        filename: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> int:
        """Send a photo or a document to the bot (the bot can getFile and download it);
        return the update id."""
        if self.blocked:
            raise AssertionError(f"{self!r} has blocked the bot; call unblock() first")
        self.started = True
        message_id = next(self._message_ids)
        number = next(self.fake._file_ids)
        sent = SentFile(
            kind=kind, chat_id=self.id, message_id=message_id, filename=filename,
            content=content, mime_type=mime_type,
            file_id=f"IN{kind.upper()}-{number:06d}-{self.id}", file_unique_id=f"V{number:06d}",
            caption=caption,
        )
        self.fake._files[sent.file_id] = sent
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.api_user(),
            "chat": self.api_chat(),
            "date": int(time.time()),
        }
        described = {"file_id": sent.file_id, "file_unique_id": sent.file_unique_id,
                     "file_size": len(content)}
        if kind == "photo":
            message["photo"] = [{**described, "width": 800, "height": 600}]
        else:
            message["document"] = {**described, **({"file_name": filename} if filename else {}),
                                   **({"mime_type": mime_type} if mime_type else {})}
        if caption:
            message["caption"] = caption
        self.incoming[message_id] = message
        return self.fake.enqueue_update({"message": message})

    async def press(
        self, button: str, message: BotMessage | int | None = None, *, exact: bool = True
    ) -> str:
        """Press an inline button by its text (a substring if exact=False); return the query id.

        Looks in the given message, or else in the newest not deleted bot message having it.
        """
        if self.blocked:
            raise AssertionError(f"{self!r} has blocked the bot; call unblock() first")
        if message is not None:
            found = self.find_message(message)
            if found is None:
                raise AssertionError(f"{self!r} has no bot message {message!r}")
            if found.deleted:
                raise AssertionError(f"{self!r} cannot press a button on deleted message {found}")
            candidates = [found]
        else:
            candidates = [m for m in reversed(self.messages) if not m.deleted]
        for candidate in candidates:
            for row in inline_rows(candidate.reply_markup):
                for raw in row:
                    text = raw.get("text", "") if isinstance(raw, dict) else ""
                    if text == button or (not exact and button in text):
                        data = raw.get("callback_data")
                        if not data:
                            raise AssertionError(
                                f"button {text!r} in {candidate} has no callback_data "
                                f"(it is {raw}); pressing it sends the bot nothing"
                            )
                        return self.fake._new_callback_query(self, candidate, data)
        available = [f"{m.message_id}: {m.button_texts}" for m in candidates[:5] if m.buttons]
        raise AssertionError(
            f"{self!r}: no inline button {button!r} "
            f"({'exact' if exact else 'substring'} match). Buttons on recent messages: "
            + ("; ".join(available) or "none")
        )

    def block(self) -> None:
        """Block the bot: sends to this user now fail with 403; the bot gets my_chat_member."""
        if not self.blocked:
            self.blocked = True
            self._member_update("member", "kicked")

    def unblock(self) -> None:
        if self.blocked:
            self.blocked = False
            self._member_update("kicked", "member")

    def _member_update(self, old: str, new: str) -> None:
        bot = self.fake.bot_user
        new_member: dict[str, Any] = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"status": old, "user": bot}
        if old == "kicked":
            old_member["until_date"] = 0
        self.fake.enqueue_update(
            {
                "my_chat_member": {
                    "chat": self.api_chat(),
                    "from": self.api_user(),
                    "date": int(time.time()),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    # --- waiting for the bot --------------------------------------------------------------------

    async def wait_until(
        self, check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition"
    ) -> T:
        """Wait until check() returns something other than None/False, re-checking on events."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._timeout_report(what, timeout))
            await self._signal.wait(remaining)

    async def wait_message(self, contains: str | None = None, timeout: float = 10.0) -> BotMessage:
        """The next unread bot message whose text contains the substring (others are skipped)."""

        def check() -> BotMessage | None:
            for index in range(self._message_cursor, len(self.messages)):
                message = self._sent_versions[index]
                if contains is None or contains in message.text:
                    self._message_cursor = index + 1
                    return message
            return None

        what = "a new message" + (f" containing {contains!r}" if contains else "")
        return await self.wait_until(check, timeout, what)

    async def wait_edit(
        self,
        message_id: int | BotMessage | None = None,
        contains: str | None = None,
        timeout: float = 10.0,
    ) -> BotMessage:
        """The next unseen edit (of that message; whose text or buttons contain the substring)."""
        wanted = message_id.message_id if isinstance(message_id, BotMessage) else message_id

        def check() -> BotMessage | None:
            for index in range(self._edit_cursor, len(self.edits)):
                event = self.edits[index]
                if (wanted is None or event.message.message_id == wanted) and _shows(
                    event.after, contains, buttons=True
                ):
                    self._edit_cursor = index + 1
                    return event.after
            return None

        what = "an edit" + (f" of message {wanted}" if wanted else "")
        what += f" containing {contains!r}" if contains else ""
        return await self.wait_until(check, timeout, what)

    async def wait_response(
        self, contains: str | None = None, timeout: float = 10.0
    ) -> BotMessage:
        """The next new message or edit, whichever the bot made first (contains: as above)."""

        def check() -> BotMessage | None:
            best: tuple[int, str, int, BotMessage] | None = None
            for index in range(self._message_cursor, len(self.messages)):
                message = self._sent_versions[index]
                if _shows(message, contains, buttons=False):
                    best = (message.seq, "message", index, message)
                    break
            for index in range(self._edit_cursor, len(self.edits)):
                event = self.edits[index]
                if _shows(event.after, contains, buttons=True):
                    if best is None or event.seq < best[0]:
                        best = (event.seq, "edit", index, event.after)
                    break
            if best is None:
                return None
            _, kind, index, message = best
            if kind == "message":
                self._message_cursor = index + 1
            else:
                self._edit_cursor = index + 1
            return message

        what = "a new message or edit" + (f" containing {contains!r}" if contains else "")
        return await self.wait_until(check, timeout, what)

    async def wait_callback_answer(self, query_id: str, timeout: float = 10.0) -> CallbackAnswer:
        return await self.wait_until(
            lambda: self.callback_answers.get(query_id),
            timeout,
            f"answerCallbackQuery for query {query_id}",
        )

    def mark_all_read(self) -> None:
        """Move both cursors to the end, so waits only see what the bot does from now on."""
        self._message_cursor = len(self.messages)
        self._edit_cursor = len(self.edits)

    def _timeout_report(self, what: str, timeout: float) -> str:
        lines = [f"{self!r}: timed out after {timeout}s waiting for {what}."]
        unread = self.unread
        lines.append(f"Unread bot messages ({len(unread)}):")
        lines += [f"  {m}" for m in unread[-5:]] or ["  none"]
        lines.append("Last bot messages:")
        lines += [f"  {m}" for m in self.messages[-5:]] or ["  none"]
        errors = self.fake.errors_for(self.id)
        if errors:
            lines.append("Errors the fake returned for this chat:")
            lines += [f"  {e.method}: {e.status} {e.description}" for e in errors[-5:]]
        other = [e for e in self.fake.errors[-5:] if e not in errors]
        if other:
            lines.append("Other recent errors:")
            lines += [f"  {e.method}: {e.status} {e.description}" for e in other]
        if self.fake.warnings:
            lines.append(f"Fake warnings: {self.fake.warnings[-5:]}")
        return "\n".join(lines)

    # --- called by the server -------------------------------------------------------------------

    def _new_message(
        self,
        *,
        method: str,
        parsed: ParsedText,
        raw: Any,
        parse_mode: Any,
        markup: dict[str, Any] | None,
        reply_to: int | None,
    ) -> BotMessage:
        message = BotMessage(
            message_id=next(self._message_ids),
            chat_id=self.id,
            date=int(time.time()),
            method=method,
            text=parsed.text,
            html=None if raw is None else str(raw),
            parse_mode=None if parse_mode is None else str(parse_mode),
            entities=parsed.entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )
        return message

    def _publish(self, message: BotMessage) -> None:
        message.seq = next(self._seq)
        self.messages.append(message)
        self._sent_versions.append(_snapshot(message))
        self._signal.notify()

    def _edit(
        self,
        message: BotMessage,
        method: str,
        parsed: ParsedText,
        raw: Any,
        markup: dict[str, Any] | None,
    ) -> None:
        new_markup = markup if inline_rows(markup) else None
        old_markup = message.reply_markup if inline_rows(message.reply_markup) else None
        if (
            parsed.text == message.text
            and _entity_key(parsed.entities) == _entity_key(message.entities)
            and new_markup == old_markup
        ):
            raise bad_request(_NOT_MODIFIED)
        before = message.version()
        message.history.append(before)
        message.text = parsed.text
        message.entities = parsed.entities
        message.html = None if raw is None else str(raw)
        message.reply_markup = new_markup
        message.edit_date = int(time.time())
        self.edits.append(EditEvent(message, method, before, next(self._seq), _snapshot(message)))
        self._signal.notify()


def _snapshot(message: BotMessage) -> BotMessage:
    return replace(message, entities=list(message.entities), history=list(message.history))


def _shows(message: BotMessage, contains: str | None, *, buttons: bool) -> bool:
    if contains is None or contains in message.text:
        return True
    return buttons and any(contains in text for text in message.button_texts)


def _client_gone() -> bool:
    """Whether the client of the request being handled has disconnected (e.g. was killed)."""
    request = _current_request.get()
    return request is not None and (request.transport is None or request.transport.is_closing())


def _entity_key(entities: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(sorted((k, str(v)) for k, v in e.items())) for e in entities)


def _describe(params: Params, uploads: dict[str, Upload]) -> Params:
    """Params for the record, with each uploaded file shown where it is referenced."""
    described = dict(params)
    attached: set[str] = set()
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            name = value.removeprefix("attach://")
            if name in uploads:
                attached.add(name)
                described[key] = _file_label(uploads[name])
    for key, upload in uploads.items():
        if key not in attached:
            described[key] = _file_label(upload)
    return described


def _file_label(upload: Upload) -> str:
    return f"<file {upload.filename!r} ({len(upload.content)} bytes)>"


def _file_object(sent: SentFile) -> dict[str, Any]:
    data: dict[str, Any] = {"file_id": sent.file_id, "file_unique_id": sent.file_unique_id}
    if sent.content is not None:
        data["file_size"] = len(sent.content)
    if sent.kind == "document":
        if sent.filename:
            data["file_name"] = sent.filename
        if sent.mime_type:
            data["mime_type"] = sent.mime_type
    return data


def _file_path(sent: SentFile) -> str:
    suffix = ""
    if sent.filename and "." in sent.filename:
        suffix = "." + sent.filename.rsplit(".", 1)[-1]
    return f"{sent.kind}s/{sent.file_unique_id}{suffix}"

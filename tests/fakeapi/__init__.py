"""A fake Telegram Bot API server and simulated users for end-to-end tests.

    fake = FakeTelegram()                      # token "123456:TEST-TOKEN"
    base = await fake.start()                  # "http://127.0.0.1:PORT"
    ivan = fake.user(1001, "Ivan")
    await ivan.send("/start CODE")
    reply = await ivan.wait_message(contains="Welcome")
    query_id = await ivan.press("Next")
    await ivan.wait_callback_answer(query_id)
    await fake.stop()

Where the fake differs from Telegram on purpose:
- An "&" that starts no character reference is rejected in HTML (html_strict_ampersand=True);
  Telegram keeps it as text. Pass html_strict_ampersand=False for Telegram's behaviour.
- An inline button with more than one action field is rejected; Telegram takes the first.
- Entities are not auto-detected in sent text (no url/mention/hashtag entities in results), and
  only private chats exist. inline_message_id edits are not supported.
- Methods in the spec that are not implemented answer {"ok": true, "result": true} and add a
  line to fake.warnings.
- Webhooks (tests/fakeapi/webhook.py): after setWebhook, updates are POSTed to the URL one at a
  time with the secret header, and retried until answered 2xx. http:// is accepted for loopback
  addresses; fake.webhook.targets may name several URLs that take turns (a load balancer).
"""

from .errors import ApiError
from .formatting import EntityParseError, ParsedText, parse_html, parse_markdown_v2, utf16_len
from .models import (
    BotMessage,
    Button,
    CallbackAnswer,
    EditEvent,
    MessageVersion,
    RecordedError,
    RecordedRequest,
    SentFile,
)
from .server import (
    DEFAULT_BOT_USERNAME,
    DEFAULT_CHAT_BURST,
    DEFAULT_CHAT_RATE,
    DEFAULT_GLOBAL_PER_SECOND,
    DEFAULT_TOKEN,
    FakeTelegram,
    FakeUser,
    FloodControl,
)

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_CHAT_BURST",
    "DEFAULT_CHAT_RATE",
    "DEFAULT_GLOBAL_PER_SECOND",
    "DEFAULT_TOKEN",
    "ApiError",
    "BotMessage",
    "Button",
    "CallbackAnswer",
    "EditEvent",
    "EntityParseError",
    "FakeTelegram",
    "FakeUser",
    "FloodControl",
    "MessageVersion",
    "ParsedText",
    "RecordedError",
    "RecordedRequest",
    "SentFile",
    "parse_html",
    "parse_markdown_v2",
    "utf16_len",
]

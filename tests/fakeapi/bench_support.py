"""The fake server for benchmarks: no flood limits, and every reply reported as it happens.

    fake = BenchTelegram()
    fake.on_reply = lambda chat_id, payload, at: ...   # sendMessage / editMessageText
    await fake.start()

A reply is a message the bot sends or a text it edits (a question shown in place); an edit of
the buttons alone (a question answered by text loses its keyboard) and callback answers are
not replies. `at` is time.perf_counter() when the fake handled the request.

Benchmarks make thousands of requests: `keep_records=False` keeps the request log from
growing without bound (errors are still recorded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .server import DEFAULT_TOKEN, FakeTelegram, Params, Upload

ReplyHook = Callable[[int, dict[str, Any], float], None]


class BenchTelegram(FakeTelegram):
    def __init__(self, token: str = DEFAULT_TOKEN, *, keep_records: bool = False) -> None:
        super().__init__(
            token, global_per_second=None, chat_rate=None, html_strict_ampersand=False
        )
        self.on_reply: ReplyHook | None = None
        self.keep_records = keep_records
        self.replies = 0

    def _reply(self, payload: dict[str, Any]) -> None:
        self.replies += 1
        if not self.keep_records:
            del self.requests[:-100]  # the tail is enough to see what happened last
        if self.on_reply is not None:
            self.on_reply(int(payload["chat"]["id"]), payload, time.perf_counter())

    async def _send_message(self, params: Params, uploads: dict[str, Upload]) -> Any:
        payload = await super()._send_message(params, uploads)
        self._reply(payload)
        return payload

    async def _edit_message_text(self, params: Params, uploads: dict[str, Upload]) -> Any:
        payload = await super()._edit_message_text(params, uploads)
        self._reply(payload)
        return payload

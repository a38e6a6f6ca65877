"""The flood limiter: replies wait only for their chat; the outbox yields to them."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, SendMessage

from bot.ratelimit import FloodLimiter, RetryAfterMiddleware, initiative


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, rate: float = 25.0) -> FloodLimiter:
    return FloodLimiter(global_rate=rate, chat_rate=1.0, chat_burst=4.0, clock=clock)


def test_replies_to_many_chats_never_wait_for_the_global_budget() -> None:
    clock = Clock()
    flood = limiter(clock)
    delays = [flood.reply_delay(chat) for chat in range(200)]
    assert delays == [0.0] * 200


def test_a_chat_gets_a_short_burst_then_one_per_second() -> None:
    clock = Clock()
    flood = limiter(clock)
    delays = [flood.reply_delay(7) for _ in range(6)]
    assert delays[:4] == [0.0] * 4
    assert delays[4] == pytest.approx(1.0)
    assert delays[5] == pytest.approx(2.0)


def test_outbox_paces_at_the_global_rate_and_yields_to_replies() -> None:
    clock = Clock()
    flood = limiter(clock, rate=10.0)
    assert flood.initiative_delay(1) == 0.0
    assert flood.initiative_delay(2) == pytest.approx(0.1)
    clock.now += 0.1
    assert flood.initiative_delay(2) == 0.0
    # Ten replies in the same instant put the global budget a second into debt.
    for chat in range(100, 110):
        assert flood.reply_delay(chat) == 0.0
    assert flood.initiative_delay(3) == pytest.approx(1.1)
    clock.now += 1.1
    assert flood.initiative_delay(3) == 0.0


def test_outbox_keeps_a_second_between_messages_in_one_chat() -> None:
    clock = Clock()
    flood = limiter(clock, rate=1000.0)
    assert flood.initiative_delay(5) == 0.0
    clock.now += 0.01
    assert flood.initiative_delay(5) == pytest.approx(0.99)
    clock.now += 0.99
    assert flood.initiative_delay(5) == 0.0


def test_a_429_pauses_that_chat_only_and_two_chats_pause_everything() -> None:
    clock = Clock()
    flood = limiter(clock)
    for _ in range(3):
        flood.reply_delay(1)  # the chat's own burst, then Telegram says wait
    flood.retry_after(1, 5)
    assert flood.paused_for(1) == 5
    assert flood.paused_for(2) == 0
    assert flood.reply_delay(1) == pytest.approx(5)
    assert flood.paused_for(2) == 0
    assert flood.reply_delay(2) == 0.0
    flood.retry_after(2, 3)  # a second chat within the first pause: global flood control
    assert flood.paused_for(3) == 3
    assert flood.initiative_delay(3) == pytest.approx(3)
    clock.now += 5
    assert flood.paused_for(1) == 0
    assert flood.initiative_delay(3) == 0.0


async def _ok(bot: Any, method: Any) -> Any:
    return "ok"


async def test_middleware_retries_a_reply_after_its_429() -> None:
    calls: list[str] = []

    async def flaky(bot: Any, method: Any) -> Any:
        calls.append(method.__api_method__)
        if len(calls) == 1:
            raise TelegramRetryAfter(method=method, message="flood", retry_after=0)
        return "ok"

    middleware = RetryAfterMiddleware(FloodLimiter())
    method = SendMessage(chat_id=1, text="hi")
    assert await middleware(flaky, None, method) == "ok"  # type: ignore[arg-type]
    assert calls == ["sendMessage", "sendMessage"]


async def test_middleware_hands_an_outbox_429_back_and_pauses_the_chat() -> None:
    async def flood(bot: Any, method: Any) -> Any:
        raise TelegramRetryAfter(method=method, message="flood", retry_after=7)

    limiter_ = FloodLimiter()
    for _ in range(3):
        limiter_.reply_delay(9)
    middleware = RetryAfterMiddleware(limiter_)
    with initiative(), pytest.raises(TelegramRetryAfter):
        await middleware(flood, None, SendMessage(chat_id=9, text="hi"))  # type: ignore[arg-type]
    assert limiter_.paused_for(9) > 6
    assert limiter_.paused_for(10) == 0
    # A request without a chat is not paced and pauses nothing.
    answer = AnswerCallbackQuery(callback_query_id="1")
    assert await middleware(_ok, None, answer) == "ok"  # type: ignore[arg-type]


def test_after_a_global_flood_replies_queue_for_the_global_budget() -> None:
    clock = Clock()
    flood = limiter(clock, rate=10.0)
    flood.retry_after(1, 1)  # a chat we had not written to: the global limit
    assert flood.paused_for(2) == 1
    clock.now += 1
    delays = [flood.reply_delay(chat) for chat in range(100, 105)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    clock.now += 40  # calm again: replies stop waiting for the budget
    assert [flood.reply_delay(chat) for chat in range(200, 230)] == [0.0] * 30

"""bot.telegram_session: what is dropped before parsing, and only that."""

from __future__ import annotations

import json
from typing import Any

from aiogram.types import Update

from bot.telegram_session import JsonSession, load_response

KEYBOARD = {"inline_keyboard": [[{"text": "1", "callback_data": "q:s:5:1:1"}]]}


def message(**extra: Any) -> dict[str, Any]:
    return {
        "message_id": 9, "date": 1_700_000_000, "text": "Вопрос",
        "chat": {"id": 7, "type": "private", "first_name": "U"},
        "entities": [{"type": "bold", "offset": 0, "length": 6}], **extra,
    }


def pressed(data: str) -> dict[str, Any]:
    return {"update_id": 1, "callback_query": {
        "id": "c", "chat_instance": "i", "data": data,
        "from": {"id": 7, "is_bot": False, "first_name": "U"},
        "message": message(reply_markup=KEYBOARD),
    }}


def test_a_sent_message_comes_back_without_the_echo_of_its_keyboard() -> None:
    raw = json.dumps({"ok": True, "result": message(reply_markup=KEYBOARD)})
    result = load_response(raw)["result"]
    assert result["message_id"] == 9 and result["text"] == "Вопрос"
    assert "reply_markup" not in result and "entities" not in result


def test_updates_lose_the_pressed_keyboard_only_for_the_named_buttons() -> None:
    typed = {"update_id": 2, "message": message(reply_markup=KEYBOARD)}
    raw = json.dumps({"ok": True, "result": [pressed("q:s:5:1:1"), pressed("mt:1"), typed]})
    light, other, text = load_response(raw, unread_pressed=("q:",))["result"]
    assert "reply_markup" not in light["callback_query"]["message"]
    assert light["callback_query"]["message"]["message_id"] == 9
    assert other["callback_query"]["message"]["reply_markup"] == KEYBOARD
    assert text["message"]["reply_markup"] == KEYBOARD and text["message"]["entities"]
    # What is left still parses as Telegram's update.
    assert Update.model_validate(light).callback_query.message.message_id == 9  # type: ignore[union-attr]
    # Without prefixes nothing in an update is touched.
    whole = load_response(raw)["result"]
    assert whole[0]["callback_query"]["message"]["reply_markup"] == KEYBOARD


def test_the_session_parses_with_its_prefixes() -> None:
    session = JsonSession(unread_pressed=("q:",))
    raw = json.dumps({"ok": True, "result": [pressed("q:s:5:1:1")]})
    assert "reply_markup" not in session.json_loads(raw)["result"][0]["callback_query"]["message"]

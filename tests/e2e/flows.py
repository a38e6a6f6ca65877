"""Steps that many end-to-end tests share: set-up by the admin CLI, joining, answering."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.services.questionnaires import Catalog, Question, Questionnaire
from tests import backends
from tests.backends import url_for
from tests.e2e.harness import REPO_ROOT
from tests.fakeapi.models import BotMessage
from tests.fakeapi.server import FakeUser

BOT_USERNAME = "nastavnik_test_bot"
PROGRESS = re.compile(r"· (\d+)/(\d+)")


def admin(db_path: Path, *args: str) -> dict[str, Any]:
    """Run `python -m bot admin ... --json` against the test database."""
    env = dict(os.environ, DATABASE_URL=url_for(db_path), BOT_USERNAME=BOT_USERNAME)
    env.pop("BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "admin", *args, "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def setup_programme(
    db_path: Path,
    forms: str = "student-student",
    timezone: str = "Europe/Moscow",
    quiet: str | None = "off",
) -> dict[str, Any]:
    """An organisation, a programme and invitations. The tests run at any hour of the real
    day, so the organisation's quiet hours are off unless a test asks for them (quiet=None
    keeps the default 22:00-08:00)."""
    org = admin(db_path, "create-org", "--name", "Школа № 1", "--timezone", timezone)
    if quiet is not None:
        admin(db_path, "org-settings", "--org", str(org["org_id"]), "--quiet", quiet)
    programme = admin(
        db_path, "create-programme", "--org", str(org["org_id"]), "--name", "Наставничество",
        "--forms", forms, "--start", "2026-09-01", "--end", "2027-05-31",
    )
    pid = str(programme["programme_id"])
    return {
        "org_id": org["org_id"],
        "programme_id": programme["programme_id"],
        "mentee": admin(db_path, "invite", "--programme", pid, "--role", "mentee")["code"],
        "mentor": admin(db_path, "invite", "--programme", pid, "--role", "mentor")["code"],
        "curator": admin(db_path, "invite", "--programme", pid, "--role", "curator")["code"],
    }


def query(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """One statement ("?" parameters) on the test database, whichever backend it is on."""
    return backends.query(db_path, sql, *params)


async def join_adult(user: FakeUser, code: str, *, age: str = "18 лет и старше") -> None:
    """Open the invite, give the age group, accept consent."""
    await user.send(f"/start {code}")
    await user.wait_message("Приглашение принято")
    if age:
        await user.wait_message("Сколько вам лет")
        await user.press(age)
    consent = await consent_message(user)
    await user.press("✅ Даю согласие", consent)
    await user.wait_message("согласие сохранено")


async def consent_message(user: FakeUser) -> BotMessage:
    def check() -> BotMessage | None:
        for message in reversed(user.messages):
            if any(b.text == "✅ Даю согласие" for row in message.buttons for b in row):
                return message
        return None

    return await user.wait_until(check, 15, "the consent message")


def identify(questionnaire: Questionnaire, message: BotMessage) -> Question:
    matches = [q for q in questionnaire.questions if q.text["ru"] in message.text]
    assert matches, f"no question of {questionnaire.id} in {message.text!r}"
    return max(matches, key=lambda q: len(q.text["ru"]))


async def next_question(user: FakeUser, timeout: float = 30.0) -> BotMessage:
    """The next question shown, new or edited in place (not a question losing its buttons)."""
    seen: set[tuple[int, str]] = getattr(user, "_seen_questions", set())
    while True:
        message = await user.wait_response(contains="· ", timeout=timeout)
        shown = (message.message_id, message.text)
        if shown not in seen:
            seen.add(shown)
            user._seen_questions = seen  # type: ignore[attr-defined]
            return message


def default_text(question: Question) -> str:
    if question.type == "number":
        return str(int(question.min if question.min is not None else 1))
    if question.type == "date":
        return "01.09.2025"
    if question.id == "full_name":
        return "Иванов Иван"
    return f"Ответ на {question.id}"[: question.max_length].ljust(question.min_length, "x")


async def answer(user: FakeUser, question: Question, message: BotMessage, text: str | None = None) -> None:
    """Answer one question the usual way for its type."""
    if question.type == "single":
        await user.press(question.options[0].text["ru"], message, exact=False)
    elif question.type == "multi":
        await user.press(question.options[0].text["ru"], message, exact=False)
        await user.wait_edit(message)
        await user.press("Готово", message)
    elif question.type == "scale":
        await user.press("7", message)
    elif question.type == "yesno":
        await user.press("Да", message)
    else:
        await user.send(text or default_text(question))


async def answer_all(
    user: FakeUser,
    questionnaire: Questionnaire,
    *,
    stop_after: int | None = None,
    on_question: Callable[[Question], str | None] | None = None,
) -> list[str]:
    """Answer questions until the questionnaire ends (or `stop_after` answers)."""
    answered: list[str] = []
    while stop_after is None or len(answered) < stop_after:
        message = await next_question(user)
        question = identify(questionnaire, message)
        number, total = map(int, PROGRESS.search(message.text).groups())  # type: ignore[union-attr]
        await answer(user, question, message, on_question(question) if on_question else None)
        answered.append(question.id)
        if number == total:
            break
    return answered


def catalog() -> Catalog:
    return Catalog.from_dir()


async def gather(*coros: Any) -> list[Any]:
    return list(await asyncio.gather(*coros))

"""Updates per second and reply latency of the real bot: ``python -m bench.throughput``.

One run, on the repo's fake Bot API server over HTTP (tests/fakeapi, flood limits off):

1. A temporary SQLite database with an organisation, a programme and 200 registered
   mentees who consented and stand at different questions of their questionnaire (written
   directly, in a second). ``--dataset N`` puts them on top of the N-participant dataset of
   bench/dataset.py (built once, cached in the temp directory).
2. The bare aiogram echo bot (bench/echo.py) and then the real bot (``python -m bot``), each
   its own process, are driven by the same client code: every user answers what is on their
   screen (typed or with a button, as the question asks) and answers again when the reply
   comes (closed loop). Updates per second = replies per second in the measured window.
3. The real bot at a fixed offered load (open loop: each user on a timer, 100 updates/s in
   all): p50/p95/p99 from an update to the bot's reply. A late reply delays the user's next
   update; its latency still counts from the moment it was due (no coordinated omission).
4. Every answer the bot acknowledged (it showed the next question) must be in the database,
   and the bot's log must hold no error.

So that 200 people never run out of questions during the run, the mentee questionnaire is
served as several copies of itself in a row (the same questions, types and conditions; ids
suffixed), from a temporary QUESTIONNAIRES_DIR.

Human-readable lines go to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import pg
from bot.services.consent import load_document
from bot.services.questionnaires import DATA_DIR, AnswerValue, Catalog, Question
from tests.e2e.harness import BotProcess
from tests.fakeapi.bench_support import BenchTelegram
from tests.fakeapi.server import FakeUser

USERS = 200
OFFERED = 100.0
QUESTIONNAIRE = "mentee-student-student"
FORM = "student-student"
COPIES = 10
FIRST_USER = 700_000_000
PROGRESS = re.compile(r"· (\d+)/(\d+)")
REPLY_TIMEOUT = 60.0
TYPED = "Ответ на вопрос"


# -- the data -------------------------------------------------------------------------------
def long_questionnaires(directory: Path, copies: int = COPIES) -> Path:
    """The data files, with the mentee questionnaire repeated `copies` times in a row."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in DATA_DIR.glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    source = DATA_DIR / f"{QUESTIONNAIRE}.yaml"
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    questions: list[dict[str, Any]] = []
    for copy in range(copies):
        suffix = f"_r{copy}" if copy else ""
        for item in raw["questions"]:
            question = dict(item, id=item["id"] + suffix)
            if item.get("when"):
                question["when"] = dict(item["when"], question=item["when"]["question"] + suffix)
            questions.append(question)
    raw["questions"] = questions
    (directory / source.name).write_text(
        yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return directory


def sample_value(question: Question) -> AnswerValue:
    """A valid answer of each type (the one the users give)."""
    if question.type == "single":
        return question.options[0].id
    if question.type == "multi":
        return [question.options[0].id]
    if question.type == "scale":
        return 7
    if question.type == "yesno":
        return True
    return typed_answer(question)


def typed_answer(question: Question) -> str:
    if question.type == "number":
        return str(int(question.min if question.min is not None else 1))
    if question.type == "date":
        return "01.09.2025"
    return TYPED[: question.max_length]


def _stored(question: Question, value: AnswerValue) -> AnswerValue:
    if question.type == "number" and isinstance(value, str):
        return int(value)
    if question.type == "date":
        return "2025-09-01"
    return value


def add_users(db_path: Path, catalog: Catalog, users: int = USERS) -> list[int]:
    """An organisation, a programme and `users` consented mentees mid-questionnaire.

    Returns their Telegram ids. User i stands at the i-th question (cycling) of the first
    copy of the questionnaire, the earlier ones answered."""
    questionnaire = catalog.get(QUESTIONNAIRE)
    assert questionnaire is not None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    version = load_document().version
    first_copy = len(questionnaire.questions) // COPIES
    # The path through the first copy with the users' answers (conditions followed).
    answers: dict[str, AnswerValue] = {}
    path: list[tuple[Question, AnswerValue]] = []
    for question in questionnaire.questions[:first_copy]:
        if question.when is None or question.when.holds(answers):
            value = _stored(question, sample_value(question))
            answers[question.id] = value
            path.append((question, value))
    con = sqlite3.connect(db_path)
    try:
        cur = con.cursor()
        cur.execute(
            "INSERT INTO organisations (name, timezone, quiet_from_min, quiet_to_min,"
            " nudge_first_days, nudge_idle_days, escalate_days, created_at)"
            " VALUES ('Bench college', 'Europe/Moscow', 1320, 480, 10, 14, 7, ?)",
            (now,),
        )
        org = cur.lastrowid
        cur.execute(
            "INSERT INTO programmes (organisation_id, name, forms, start_date, end_date,"
            " is_archived, created_at) VALUES (?, 'Bench', ?, '2026-09-01', '2027-05-31', 0, ?)",
            (org, json.dumps([FORM]), now),
        )
        programme = cur.lastrowid
        telegram_ids = []
        for i in range(users):
            telegram_id = FIRST_USER + i
            telegram_ids.append(telegram_id)
            cur.execute(
                "INSERT INTO participants (telegram_id, language, age_group, status,"
                " is_coordinator, share_contacts, created_at)"
                " VALUES (?, 'ru', 'adult', 'active', 0, 0, ?)",
                (telegram_id, now),
            )
            participant = cur.lastrowid
            cur.execute(
                "INSERT INTO memberships (participant_id, organisation_id, programme_id, role,"
                " form, category, status, capacity, load, is_disabled_student, created_at,"
                " updated_at) VALUES (?, ?, ?, 'mentee', ?, 'student', 'questionnaire', 1, 0,"
                " 0, ?, ?)",
                (participant, org, programme, FORM, now, now),
            )
            membership = cur.lastrowid
            cur.execute(
                "INSERT INTO consents (participant_id, organisation_id, membership_id, kind,"
                " decision, version, created_at) VALUES (?, ?, ?, 'self', 'accepted', ?, ?)",
                (participant, org, membership, version, now),
            )
            at = 1 + i % (len(path) - 1)
            cur.execute(
                "INSERT INTO questionnaire_responses (membership_id, questionnaire_id,"
                " questionnaire_version, stage, status, current_question, started_at)"
                " VALUES (?, ?, ?, 'onboarding', 'in_progress', ?, ?)",
                (membership, QUESTIONNAIRE, questionnaire.version, path[at][0].id, now),
            )
            response = cur.lastrowid
            cur.executemany(
                "INSERT INTO answers (response_id, question_id, value, is_personal,"
                " answered_at) VALUES (?, ?, ?, ?, ?)",
                [
                    (response, q.id, json.dumps(v, ensure_ascii=False), q.stores_personal, now)
                    for q, v in path[:at]
                ],
            )
        con.commit()
    finally:
        con.close()
    return telegram_ids


def settle(db_path: Path) -> None:
    """The dataset as a running bot leaves it: the mentors of its past meetings were asked
    for their journal already, and the nudge job has looked at every pair due. (Otherwise
    the journal and nudge jobs work off backlogs of tens of thousands of meetings and pairs
    during the measurement, competing with the answers for the CPU and the database: a
    one-time catch-up, not the steady state measured here.)"""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con = sqlite3.connect(db_path)
    try:
        con.execute(
            "UPDATE meetings SET log_requested_at = starts_at WHERE status = 'confirmed'"
            " AND log_requested_at IS NULL AND starts_at <= ?",
            (now,),
        )
        con.execute(
            "UPDATE pairs SET next_check_at = ? WHERE next_check_at <= ?",
            (now + dt.timedelta(days=1), now),
        )
        con.commit()
    finally:
        con.close()


def stored_answers(db_path: Path) -> dict[int, set[str]]:
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT p.telegram_id, a.question_id FROM answers a"
            " JOIN questionnaire_responses r ON r.id = a.response_id"
            " JOIN memberships m ON m.id = r.membership_id"
            " JOIN participants p ON p.id = m.participant_id"
            " WHERE p.telegram_id >= ?",
            (FIRST_USER,),
        ).fetchall()
    finally:
        con.close()
    found: dict[int, set[str]] = {}
    for telegram_id, question_id in rows:
        found.setdefault(telegram_id, set()).add(question_id)
    return found


# -- the users ------------------------------------------------------------------------------
@dataclass
class Client:
    """One simulated person: answers what their screen shows, the same way for both bots."""

    fake: BenchTelegram
    user: FakeUser
    questions: tuple[Question, ...] | None  # None: the echo bot (no questionnaire)
    screen: dict[str, Any] | None = None
    waiter: asyncio.Future[float] | None = None
    answering: int | None = None  # the question index an answer in flight is for
    answered: set[str] = field(default_factory=set)
    unexpected: int = 0

    def on_reply(self, payload: dict[str, Any], at: float) -> None:
        text = payload.get("text", "")
        if self.questions is not None and not PROGRESS.search(text):
            self.unexpected += 1  # "resuming…" before the question, an intro
            return
        if self.answering is not None and self.questions is not None:
            if _index(payload) != self.answering:  # the bot moved on: the answer is stored
                self.answered.add(self.questions[self.answering].id)
            self.answering = None
        self.screen = payload
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(at)

    def expect(self) -> asyncio.Future[float]:
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    async def act(self) -> None:
        """Send the answer to what is on screen (one update)."""
        screen = self.screen
        assert screen is not None
        buttons = [
            (b.get("text", ""), b.get("callback_data", ""))
            for row in (screen.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ]
        if self.questions is None:
            if buttons:
                self._press(screen, buttons[0][1])
            else:
                await self.user.send(TYPED)
            return
        by_action: dict[str, list[tuple[str, str]]] = {}
        for text, data in buttons:
            if data.startswith("q:"):
                by_action.setdefault(data.split(":")[1], []).append((text, data))
        index = _index(screen)
        if "t" in by_action:
            if any(text.startswith("✅") for text, _ in by_action["t"]):
                self.answering = index
                self._press(screen, by_action["d"][0][1])
            else:
                self._press(screen, by_action["t"][0][1])
            return
        for action in ("o", "s", "y"):
            if action in by_action:
                self.answering = index
                self._press(screen, by_action[action][-1 if action == "s" else 0][1])
                return
        self.answering = index
        await self.user.send(typed_answer(self.questions[index]))

    def _press(self, screen: dict[str, Any], data: str) -> None:
        message = self.user.find_message(int(screen["message_id"]))
        assert message is not None
        self.fake._new_callback_query(self.user, message, data)


def _index(payload: dict[str, Any]) -> int:
    """The question's index in the questionnaire, from its buttons (the first has none)."""
    for row in (payload.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data", "")
            if data.startswith("q:"):
                return int(data.split(":")[3])
    return 0


@dataclass
class Window:
    replies: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0


async def closed_loop(
    clients: list[Client], seconds: float, warmup: float
) -> tuple[float, Window]:
    """Everyone answers as fast as the bot replies; replies per second after the warm-up."""
    window = Window()
    start = time.perf_counter()
    end = start + warmup + seconds

    async def run(client: Client) -> None:
        while time.perf_counter() < end:
            sent = time.perf_counter()
            waiter = client.expect()
            await client.act()
            try:
                at = await asyncio.wait_for(waiter, REPLY_TIMEOUT)
            except TimeoutError:
                window.timeouts += 1
                return
            window.replies.append(at)
            window.latencies.append(at - sent)

    await asyncio.gather(*(run(c) for c in clients))
    measured = [t for t in window.replies if start + warmup <= t < end]
    return len(measured) / seconds, window


async def open_loop(clients: list[Client], rate: float, seconds: float) -> Window:
    """Each user on a timer (`rate` updates/s in all); latency from when an update was due."""
    window = Window()
    period = len(clients) / rate
    start = time.perf_counter() + 0.5

    async def run(i: int, client: Client) -> None:
        due = start + period * i / len(clients)
        while due < start + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            waiter = client.expect()
            await client.act()
            try:
                at = await asyncio.wait_for(waiter, REPLY_TIMEOUT)
            except TimeoutError:
                window.timeouts += 1
                return
            window.latencies.append(at - due)
            due += period

    await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
    return window


async def warm_up(clients: list[Client], text: str) -> int:
    """Each user sends `text` and waits for their screen; returns the timeouts."""

    async def one(client: Client) -> bool:
        waiter = client.expect()
        await client.user.send(text)
        try:
            await asyncio.wait_for(waiter, REPLY_TIMEOUT)
        except TimeoutError:
            return False
        return True

    done = await asyncio.gather(*(one(c) for c in clients))
    return done.count(False)


# -- processes ------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class Peak:
    """The highest resident memory of a process, sampled twice a second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mb = rss_mb(pid)
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self.mb = max(self.mb, rss_mb(self.pid))
            except OSError:
                return

    def stop(self) -> float:
        self._task.cancel()
        with contextlib.suppress(OSError):
            self.mb = max(self.mb, rss_mb(self.pid))
        return self.mb


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Run:
    updates_per_s: float
    rss_mb: float
    cpu_ms: float
    window: Window


async def measure(
    fake: BenchTelegram,
    clients: list[Client],
    process: BotProcess,
    first: str,
    args: argparse.Namespace,
) -> Run:
    await process.start(fake, ready_timeout=120)
    assert process.pid is not None
    peak = Peak(process.pid)
    by_chat = {c.user.id: c for c in clients}
    fake.on_reply = lambda chat_id, payload, at: by_chat[chat_id].on_reply(payload, at)
    missing = await warm_up(clients, first)
    spy = None
    if args.profile and first != "hello":  # the real bot, during the measured window
        spy = await asyncio.create_subprocess_exec(
            shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
            "record", "--threads", "--format", "raw", "--rate", "200", "--nonblocking",
            "--duration", str(int(args.seconds + args.warmup)), "--pid", str(process.pid),
            "-o", args.profile, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    user_before, sys_before = cpu_split(process.pid)
    rate, window = await closed_loop(clients, args.seconds, args.warmup)
    user_after, sys_after = cpu_split(process.pid)
    cpu = user_after - user_before + sys_after - sys_before
    log(f"{first!r} driven: {len(window.replies)} replies, CPU user"
        f" {user_after - user_before:.2f}s system {sys_after - sys_before:.2f}s")
    if spy is not None:
        await spy.wait()
    window.timeouts += missing
    return Run(rate, peak.mb, 1000 * cpu / max(1, len(window.replies)), window)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from bench.dataset import prepared_database

    workdir = Path(tempfile.mkdtemp(prefix="nastavnik-bench-"))
    try:
        qdir = long_questionnaires(workdir / "questionnaires")
        catalog = Catalog.from_dir(qdir)
        db_path = workdir / "bot.db"
        started = time.perf_counter()
        prepared_database(db_path, args.dataset)  # migrations run their own event loop
        if args.dataset:
            settle(db_path)
        telegram_ids = add_users(db_path, catalog, args.users)
        args.database_url = f"sqlite+aiosqlite:///{db_path}"
        if args.db == "postgres":  # the same data, copied into a database of its own
            args.database_url = pg.create_database(args.pg_url)
            pg.copy_from_sqlite(db_path, args.database_url)
        log(f"database ready in {time.perf_counter() - started:.1f}s ({args.dataset}"
            f" participants + {args.users} users, {args.db})")
        return asyncio.run(_drive(args, workdir, catalog, telegram_ids))
    finally:
        if args.db == "postgres" and getattr(args, "database_url", "").startswith("postgres"):
            pg.drop_database(args.database_url, args.pg_url)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir}")


@contextmanager
def frozen_driver_heap() -> Iterator[None]:
    """This process (the fake Bot API and the users) keeps every message it served; its own
    full collections walked them for 100-200 ms, stalling the replies of whichever bot was
    being measured (the bot's p99 rose with the throughput of the phase before). Before each
    measured phase what exists is frozen, so collections walk only what the phase creates."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _drive(
    args: argparse.Namespace, workdir: Path, catalog: Catalog, telegram_ids: list[int]
) -> dict[str, Any]:
    questionnaire = catalog.get(QUESTIONNAIRE)
    assert questionnaire is not None
    db_path = workdir / "bot.db"
    qdir = workdir / "questionnaires"
    fake = BenchTelegram()
    await fake.start()
    try:
        users = [fake.user(tid, first_name=f"U{tid}") for tid in telegram_ids]
        # The echo bot: the same users and client code.
        echo_clients = [Client(fake, u, None) for u in users]
        echo = BotProcess(
            {"BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url},
            log_path=workdir / "echo.log",
            argv=[sys.executable, "-m", "bench.echo"],
        )
        try:
            with frozen_driver_heap():
                echo_run = await measure(fake, echo_clients, echo, "hello", args)
        finally:
            await echo.stop()
        log(f"echo: {echo_run.updates_per_s:.0f} updates/s, {echo_run.cpu_ms:.2f} ms CPU per"
            f" update, {echo_run.rss_mb:.0f} MB")

        env = {
            "BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE": fake.base_url,
            "DATABASE_URL": args.database_url,
            "QUESTIONNAIRES_DIR": str(qdir),
            "LOG_LEVEL": "INFO",
        }
        bot = BotProcess(env, log_path=workdir / "bot.log")
        bot_clients = [Client(fake, u, questionnaire.questions) for u in users]
        try:
            with frozen_driver_heap():
                bot_run = await measure(fake, bot_clients, bot, "/questionnaire", args)
            log(f"bot: {bot_run.updates_per_s:.0f} updates/s, {bot_run.cpu_ms:.2f} ms CPU per"
                f" update, {bot_run.rss_mb:.0f} MB")
            assert bot.pid is not None
            peak = Peak(bot.pid)
            with frozen_driver_heap():
                latency = await open_loop(bot_clients, args.rate, args.latency_seconds)
            bot_rss = max(bot_run.rss_mb, peak.stop())
        finally:
            await bot.stop()
        bot_log = bot.log_text()
    finally:
        await fake.stop()

    stored = (stored_answers(db_path) if args.db == "sqlite"
              else pg.stored_answers(args.database_url, FIRST_USER))
    lost = sum(len(c.answered - stored.get(c.user.id, set())) for c in bot_clients)
    acknowledged = sum(len(c.answered) for c in bot_clients)
    log_errors = [
        line for line in bot_log.splitlines() if " ERROR " in line or "Traceback" in line
    ]
    timeouts = bot_run.window.timeouts + latency.timeouts
    api_errors = len(fake.errors)
    for line in log_errors[:5]:
        log(f"bot log: {line}")
    for error in fake.errors[:5]:
        log(f"fake API error: {error.method} {error.status} {error.description}")
    lat = [1000 * x for x in latency.latencies]
    log(f"latency at {args.rate:.0f}/s offered: {len(lat)} updates, p50 {percentile(lat, .5):.1f}"
        f" ms, p95 {percentile(lat, .95):.1f} ms, p99 {percentile(lat, .99):.1f} ms")
    log(f"answers acknowledged {acknowledged}, lost {lost}; log errors {len(log_errors)},"
        f" API errors {api_errors}, reply timeouts {timeouts}")
    return {
        "db": args.db,
        "users": args.users,
        "bot_updates_per_s": round(bot_run.updates_per_s, 1),
        "echo_updates_per_s": round(echo_run.updates_per_s, 1),
        "ratio": round(bot_run.updates_per_s / max(echo_run.updates_per_s, 1e-9), 3),
        "offered_per_s": args.rate,
        "p50_ms": round(percentile(lat, 0.5), 1),
        "p95_ms": round(percentile(lat, 0.95), 1),
        "p99_ms": round(percentile(lat, 0.99), 1),
        "lost_answers": lost,
        "errors": len(log_errors) + api_errors + timeouts,
        "bot_rss_mb": round(bot_rss, 1),
        "echo_rss_mb": round(echo_run.rss_mb, 1),
        "bot_cpu_ms_per_update": round(bot_run.cpu_ms, 2),
        "echo_cpu_ms_per_update": round(echo_run.cpu_ms, 2),
        "answers_acknowledged": acknowledged,
        "dataset_participants": args.dataset,
        "mean_closed_loop_ms": round(1000 * statistics.fmean(bot_run.window.latencies or [0]), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured closed-loop time")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=OFFERED, help="open-loop updates/s")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--dataset", type=int, default=0, help="participants of bench/dataset.py underneath"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (DB, logs)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="the bot's database (postgres: a throwaway one, dropped after)")
    parser.add_argument("--pg-url", default=None,
                        help="admin DSN for --db postgres (default BENCH_PG_URL, TEST_PG_URL"
                             " or the local postgres/postgres@127.0.0.1:5432)")
    parser.add_argument(
        "--profile", help="py-spy the bot during the closed loop: collapsed stacks to this file"
    )
    args = parser.parse_args(argv)
    result = bench(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Runs the real bot process (`python -m bot`) against the fake Telegram server.

A conftest imports the fixtures:

    from tests.e2e.harness import bot_process, fake_telegram  # noqa: F401

    async def test_start(fake_telegram, bot_process):
        await bot_process()
        user = fake_telegram.user(1001)
        await user.send("/start")
        await user.wait_message()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import IO, Protocol

import pytest_asyncio

from tests.backends import url_for
from tests.fakeapi import DEFAULT_TOKEN, FakeTelegram

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 10.0
# Starting takes ~3 s (imports, migrations); a machine busy with parallel test workers (CI
# runs the suite on two backends) can stretch it well past 30 s without anything wrong.
READY_TIMEOUT = 90.0
LOG_TAIL_LINES = 60


class BotStartError(RuntimeError):
    """The bot process exited, or never polled, before it was ready."""


CLOCK_SETTLE_S = 2.2  # the bot syncs its clock every second; 2 s is the promise


class BotProcess:
    """One bot process; start(), stop() and restart() it around the same FakeTelegram."""

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: str | Path = REPO_ROOT,
        log_path: str | Path | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.env = dict(env)
        self.cwd = Path(cwd)
        if log_path is None:
            log_path = Path(tempfile.gettempdir()) / f"nastavnik-bot-{os.getpid()}-{id(self)}.log"
        self.log_path = Path(log_path)
        self.argv = argv or [sys.executable, "-m", "bot"]
        self.starts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self._fake: FakeTelegram | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def full_env(self, fake: FakeTelegram) -> dict[str, str]:
        defaults = {
            "BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE": fake.base_url,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        return {**os.environ, **defaults, **self.env}

    async def start(self, fake: FakeTelegram, ready_timeout: float = READY_TIMEOUT) -> None:
        """Launch the process; return once it has called getUpdates on the fake."""
        if self.running:
            raise RuntimeError("the bot process is already running")
        self._fake = fake
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n===== start #{self.starts}: {' '.join(self.argv)} =====\n".encode())
        self._log.flush()
        seen = len(fake.requests)
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.cwd,
            env=self.full_env(fake),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        polled = asyncio.create_task(
            fake.wait_for_request("getUpdates", after=seen, timeout=ready_timeout)
        )
        exited = asyncio.create_task(self._process.wait())
        try:
            done, _ = await asyncio.wait({polled, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (polled, exited):
                task.cancel()
            await asyncio.gather(polled, exited, return_exceptions=True)
        if polled in done and polled.exception() is None:
            return
        if exited in done and not exited.cancelled():
            await self._close_log()
            raise BotStartError(
                f"the bot exited with code {self.returncode} before polling; log tail:\n"
                + self.log_tail()
            )
        await self.stop()
        raise BotStartError(
            f"the bot did not call getUpdates within {ready_timeout}s; log tail:\n"
            + self.log_tail()
        )

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM the process, SIGKILL it after `timeout` seconds; return its exit code."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            try:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), timeout)
            except ProcessLookupError:
                pass
            except TimeoutError:
                process.kill()
                await process.wait()
        await self._close_log()
        return process.returncode

    async def kill(self) -> int | None:
        """SIGKILL the process (a crash: no shutdown code runs); return its exit code."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        await self._close_log()
        return process.returncode

    async def restart(self, ready_timeout: float = READY_TIMEOUT) -> None:
        if self._fake is None:
            raise RuntimeError("restart() needs an earlier start()")
        await self.stop()
        await self.start(self._fake, ready_timeout)

    async def admin(self, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """Run `python -m bot admin ARGS` against this bot's database; (rc, stdout, stderr)."""
        full = {**os.environ, **self.env, **(env or {})}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "admin", *args, cwd=self.cwd, env=full,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        return process.returncode or 0, out.decode(), err.decode()

    async def clock(self, *args: str, settle: float = CLOCK_SETTLE_S) -> str:
        """`admin clock ARGS` (the bot must run with CLOCK_CONTROL=1), then wait until the
        running bot has picked the new time up (it re-reads it every second)."""
        rc, out, err = await self.admin("clock", *args)
        if rc != 0:
            raise AssertionError(f"admin clock {' '.join(args)} failed ({rc}): {err}")
        await asyncio.sleep(settle)
        return out.strip()

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class BotProcessFactory(Protocol):
    def __call__(
        self, env: Mapping[str, str] | None = None, *, ready_timeout: float = READY_TIMEOUT
    ) -> Awaitable[BotProcess]: ...


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(token=DEFAULT_TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture
async def bot_process(
    fake_telegram: FakeTelegram, tmp_path: Path
) -> AsyncIterator[BotProcessFactory]:
    """Start bot processes against fake_telegram; all are stopped at teardown.

    Each gets DATABASE_URL=tests.backends.url_for(<tmp_path>/bot.db) (SQLite's file there, or
    a PostgreSQL database made for it under TEST_DB=postgres; shared by every process of the
    test, so a restart keeps the data) unless env overrides it, and its own log file.
    """
    started: list[BotProcess] = []

    async def start(
        env: Mapping[str, str] | None = None, *, ready_timeout: float = READY_TIMEOUT
    ) -> BotProcess:
        full_env = {
            "BOT_TOKEN": fake_telegram.token,
            "TELEGRAM_API_BASE": fake_telegram.base_url,
            "DATABASE_URL": url_for(tmp_path / "bot.db"),
            **(env or {}),
        }
        process = BotProcess(full_env, log_path=tmp_path / f"bot-{len(started) + 1}.log")
        started.append(process)
        await process.start(fake_telegram, ready_timeout=ready_timeout)
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            await process.stop()
            # pytest shows captured output only for failing tests
            print(f"--- bot log {process.log_path} ---\n{process.log_tail()}")

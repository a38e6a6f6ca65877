"""/export: the monitoring workbook (.xlsx) or one sheet as CSV, for curators (their
organisations) and coordinators (any, or all).

The file is built by a separate process (bot/report_worker.py), so the bot answers everyone
else meanwhile. The handler only checks who asks and what, sends "готовлю выгрузку: 0 %"
and starts a task that follows the worker's progress lines, edits that one message (at most
every EDIT_EVERY seconds, only when the number changed), sends the document and deletes the
temporary file. One export at a time per person: a second /export gets "уже готовлю".
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, FSInputFile, Message

from bot.context import Ctx
from bot.i18n import Translator
from bot.ids import parse_id
from bot.messaging import edit_or_send
from bot.services import people
from bot.services.reports import export
from bot.views import export as views
from db.fsm_storage import update_session
from db.models import Role
from db.queries import organisations as q_orgs
from keyboards import export as kb
from keyboards.export import ExportAction, ExportCb

log = logging.getLogger(__name__)

EDIT_EVERY = 2.0  # seconds between progress edits
WORKER_TIMEOUT = 15 * 60  # seconds; a worker still running then is stopped


@dataclass(frozen=True, slots=True)
class Request:
    """One export to build and send, as the task needs it (no session, no update)."""

    chat_id: int
    language: str
    org_ids: tuple[int, ...]
    everything: bool  # a coordinator's "all organisations"
    org_label: str  # escaped HTML
    sheet: str | None  # None: the workbook; else one sheet as CSV
    now: dt.datetime
    day: dt.date
    database_url: str


class Jobs:
    """Exports being built, one per person (by Telegram id). Made per router."""

    def __init__(self) -> None:
        self._running: dict[int, asyncio.Task[None]] = {}

    def busy(self, user_id: int) -> bool:
        return user_id in self._running

    def start(self, user_id: int, bot: Bot, t: Translator, request: Request,
              message_id: int) -> None:
        task = asyncio.create_task(_run(bot, t, request, message_id))
        self._running[user_id] = task
        task.add_done_callback(lambda _: self._running.pop(user_id, None))


def _worker_args(request: Request, out: Path) -> list[str]:
    args = [
        sys.executable, "-m", "bot.report_worker",
        "--orgs", ",".join(map(str, request.org_ids)), "--lang", request.language,
        "--out", str(out), "--now", request.now.isoformat(),
    ]
    if request.sheet is not None:
        args += ["--csv", request.sheet]
    return args


async def _follow(
    bot: Bot, t: Translator, request: Request, message_id: int, out: Path
) -> bool:
    """Runs the worker, edits the progress message; True when the file is ready."""
    process = await asyncio.create_subprocess_exec(
        *_worker_args(request, out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "DATABASE_URL": request.database_url},
    )
    assert process.stdout is not None
    shown, last_edit, ok = 0, time.monotonic(), False
    try:
        async with asyncio.timeout(WORKER_TIMEOUT):
            async for raw in process.stdout:
                word, _, value = raw.decode("utf-8", "replace").strip().partition(" ")
                if word == "done":
                    ok = True
                elif word == "progress" and value.isdigit():
                    percent = int(value)
                    if percent != shown and time.monotonic() - last_edit >= EDIT_EVERY:
                        shown, last_edit = percent, time.monotonic()
                        await edit_or_send(bot, request.chat_id,
                                           t("export.progress", percent=percent),
                                           message_id=message_id)
                elif word == "error":
                    log.warning("export worker failed: %s", value)
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return ok and code == 0


async def _run(bot: Bot, t: Translator, request: Request, message_id: int) -> None:
    update_session.set(None)  # the update's session is not this task's: it has none open
    folder = Path(tempfile.mkdtemp(prefix="nastavnik-export-"))
    name = views.file_name(None if request.everything else request.org_ids, request.sheet,
                           request.day)
    out = folder / name
    try:
        ready = await _follow(bot, t, request, message_id, out)
        if not ready:
            await edit_or_send(bot, request.chat_id, t("export.failed"), message_id=message_id)
            return
        await edit_or_send(bot, request.chat_id, t("export.ready", org=request.org_label),
                           message_id=message_id)
        await bot.send_document(
            request.chat_id, FSInputFile(out, filename=name),
            caption=views.caption(t, request.org_label, request.day, request.sheet),
        )
    except TelegramAPIError as exc:
        log.warning("export not delivered to chat %s: %s", request.chat_id, type(exc).__name__)
    except TimeoutError:
        log.warning("export worker timed out for chat %s", request.chat_id)
        with contextlib.suppress(TelegramAPIError):
            await edit_or_send(bot, request.chat_id, t("export.failed"), message_id=message_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the command ----------------------------------------------------------------------------------
def _may_export(ctx: Ctx) -> bool:
    return bool({Role.CURATOR, Role.COORDINATOR} & ctx.roles)


async def _begin(
    ctx: Ctx, jobs: Jobs, target: int | None, sheet: str | None, scope: list[int]
) -> None:
    """Export `target` (kb.ALL: everything in scope) or ask which organisation."""
    coordinator = Role.COORDINATOR in ctx.roles
    if target is None:
        if not scope:
            await ctx.send(ctx.t("export.no_orgs"))
            return
        if len(scope) > 1:
            orgs = [o for o in await q_orgs.all_orgs(ctx.session) if o.id in scope]
            markup = kb.picker(
                [(o.id, o.name) for o in orgs],
                all_label=ctx.t("export.all_orgs") if coordinator else None, sheet=sheet or "",
            )
            text = ctx.t("export.choose_org")
            if len(orgs) > kb.PICKER_LIMIT:
                text += "\n" + ctx.t("export.choose_more", shown=kb.PICKER_LIMIT)
            await ctx.send(text, reply_markup=markup)
            return
        target = scope[0]
    if target == kb.ALL and not coordinator or target != kb.ALL and target not in scope:
        await ctx.send(ctx.t("export.not_yours"))
        return
    if jobs.busy(ctx.user.id):
        await ctx.send(ctx.t("export.busy"))
        return
    org_ids = tuple(scope) if target == kb.ALL else (target,)
    organisation = None if target == kb.ALL else await q_orgs.get_org(ctx.session, target)
    request = Request(
        chat_id=ctx.chat_id, language=ctx.t.language, org_ids=org_ids, everything=target == kb.ALL,
        org_label=views.org_label(ctx.t, None if organisation is None else [organisation.name]),
        sheet=sheet, now=ctx.now, day=ctx.now.date(), database_url=ctx.settings.database_url,
    )
    sent = await ctx.send(ctx.t("export.progress", percent=0))
    jobs.start(ctx.user.id, ctx.bot, ctx.t, request, sent.message_id)


def create_router() -> Router:
    router = Router(name="export")
    jobs = Jobs()

    async def export_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
        if not _may_export(ctx):
            await ctx.send(ctx.t("export.curators_only"))
            return
        words = (command.args or "").split()
        sheet: str | None = None
        if words and words[0].lower() == "csv":
            found = export.find_sheet(words[1]) if len(words) > 1 else None
            if found is None:
                await ctx.send(views.sheet_list(ctx.t, export.sheets()))
                return
            sheet, words = found.name, words[2:]
        target: int | None = None
        if words:
            target = kb.ALL if words[0].lower() == "all" else parse_id(words[0])
            if target is None:
                await ctx.send(ctx.t("export.not_yours"))
                return
        scope = await people.curator_scope(
            ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles
        )
        await _begin(ctx, jobs, target, sheet, scope)

    async def on_pick(query: CallbackQuery, callback_data: ExportCb, ctx: Ctx) -> None:
        """A picked organisation: re-checked against the presser's scope now."""
        scope = await people.curator_scope(
            ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles
        )
        found = export.find_sheet(callback_data.csv) if callback_data.csv else None
        target = callback_data.org
        allowed = _may_export(ctx) and (
            target in scope if target != kb.ALL else Role.COORDINATOR in ctx.roles
        )
        if not allowed or (callback_data.csv and found is None):
            await ctx.answer(query, ctx.t("export.not_yours"))
            return
        if jobs.busy(ctx.user.id):
            await ctx.answer(query, ctx.t("export.busy"))
            return
        await ctx.answer(query)
        await ctx.drop_buttons(query.message)
        await _begin(ctx, jobs, target, None if found is None else found.name, scope)

    router.message.register(export_command, Command("export"))
    router.callback_query.register(on_pick, ExportCb.filter(F.a == ExportAction.ORG))
    return router

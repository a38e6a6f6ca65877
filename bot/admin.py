"""Deployment commands: `python -m bot admin create-org|create-programme|invite|org-settings`,
and `clock show|advance DURATION|set ISO-DATETIME` for demos and tests (CLOCK_CONTROL=1).

They use the same DATABASE_URL as the bot and apply migrations first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ConfigError, DatabaseSettings, load_settings
from bot.services import clock_control
from bot.services import organisations as orgs
from bot.services.errors import ServiceError
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.models import InviteKind, utcnow

ERROR_TEXTS = {
    "org_not_found": "organisation {id} does not exist",
    "programme_not_found": "programme {id} does not exist",
    "forms_empty": "give at least one form: {known}",
    "form_unknown": "unknown form {form!r}; known: {known}",
    "timezone_unknown": "unknown timezone {tz!r}, e.g. Europe/Moscow",
    "name_length": "the name must be 2 to 200 characters",
    "dates_order": "the end date is before the start date",
    "programme_required": "mentee and mentor invitations need --programme",
    "duration_invalid": "expected a duration like 1d, 3h, 90m or 1d12h, got {raw!r}",
    "moment_invalid": "expected an ISO date-time like 2026-11-25T09:00+10:00, got {raw!r}",
    "quiet_invalid": "expected quiet hours like 22:00-08:00, got {raw!r}",
    "days_range": "{name} must be 1 to 365 days",
}


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {raw!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    org = sub.add_parser("create-org", help="create an organisation")
    org.add_argument("--name", required=True)
    org.add_argument("--timezone", required=True, help="IANA name, e.g. Europe/Moscow")

    prog = sub.add_parser("create-programme", help="create a programme in an organisation")
    prog.add_argument("--org", required=True, type=int)
    prog.add_argument("--name", required=True)
    prog.add_argument("--forms", required=True, help="comma-separated, e.g. teacher-teacher")
    prog.add_argument("--start", required=True, type=_date)
    prog.add_argument("--end", required=True, type=_date)

    inv = sub.add_parser("invite", help="make an invitation link")
    inv.add_argument("--programme", required=True, type=int)
    inv.add_argument("--role", required=True, choices=["mentee", "mentor", "curator"])
    inv.add_argument("--ttl-days", type=int, default=30,
                     help="0: never expires; curator links: single use, at most 7 days")
    inv.add_argument("--bot-username", default=os.environ.get("BOT_USERNAME"),
                     help="for the link; default: BOT_USERNAME or asked from Telegram")

    conf = sub.add_parser("org-settings", help="an organisation's quiet hours and nudges")
    conf.add_argument("--org", required=True, type=int)
    conf.add_argument("--quiet", help="quiet hours, local time, e.g. 22:00-08:00")
    conf.add_argument("--first-days", type=int, help="nudge: no first meeting after N days")
    conf.add_argument("--idle-days", type=int, help="nudge: no meeting held for N days")
    conf.add_argument("--escalate-days", type=int, help="curator told N days after a nudge")
    conf.add_argument("--satisfied-from", type=int,
                      help="polls: a 1-10 satisfaction of N or more counts as satisfied (8)")

    clock = sub.add_parser("clock", help="the bot's clock, for demos and tests")
    clock_sub = clock.add_subparsers(dest="clock_command", required=True)
    clock_sub.add_parser("show", help="print the bot's current time")
    adv = clock_sub.add_parser("advance", help="move the clock forward, e.g. 1d, 3h, 90m")
    adv.add_argument("duration")
    setp = clock_sub.add_parser("set", help="set the clock, e.g. 2026-11-25T09:00+10:00")
    setp.add_argument("moment")

    for p in (org, prog, inv, conf, clock):
        p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


async def _bot_username(given: str | None) -> str:
    if given:
        return given.lstrip("@")
    from bot.app import create_bot
    from bot.config import Settings

    settings = load_settings(Settings)
    bot = create_bot(settings)
    try:
        me = await bot.me()
    finally:
        await bot.session.close()
    return me.username or ""


async def _clock(args: argparse.Namespace, session: AsyncSession) -> dict[str, Any]:
    real = utcnow()
    offset = await clock_control.read_offset(session)
    if args.clock_command == "advance":
        offset += clock_control.parse_duration(args.duration)
    elif args.clock_command == "set":
        offset = clock_control.parse_moment(args.moment) - real
    if args.clock_command != "show":
        await clock_control.write_offset(session, offset, real)
    return {"now": (real + offset).isoformat(timespec="seconds"),
            "offset_s": round(offset.total_seconds())}


async def _apply(args: argparse.Namespace, session: AsyncSession) -> dict[str, Any]:
    if args.command == "clock":
        return await _clock(args, session)
    if args.command == "org-settings":
        values = await orgs.update_settings(
            session, args.org, quiet=args.quiet, first_days=args.first_days,
            idle_days=args.idle_days, escalate_days=args.escalate_days,
            satisfied_from=args.satisfied_from,
        )
        return {"org_id": args.org, "settings": values}
    if args.command == "create-org":
        org = await orgs.create_organisation(session, args.name, args.timezone)
        return {"org_id": org.id}
    if args.command == "create-programme":
        programme = await orgs.create_programme(
            session, args.org, args.name, args.forms, args.start, args.end
        )
        return {"programme_id": programme.id}
    invite = await orgs.create_invite(
        session, kind=InviteKind(args.role), now=utcnow(),
        ttl_days=args.ttl_days or None, programme_id=args.programme,
    )
    return {"code": invite.code}


async def _run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    # Asked from Telegram before the transaction: none stays open across a network call.
    username = await _bot_username(args.bot_username) if args.command == "invite" else ""
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:  # commits when the block ends
            result = await _apply(args, session)
    finally:
        await engine.dispose()
    if "code" in result:
        result["link"] = orgs.deep_link(username, result["code"])
    return result


def _human(result: dict[str, Any]) -> str:
    if "now" in result:
        return f"bot time: {result['now']} (offset {result['offset_s']} s)"
    if "settings" in result:
        return f"organisation {result['org_id']}: " + ", ".join(
            f"{k}={v}" for k, v in result["settings"].items()
        )
    if "org_id" in result:
        return f"organisation created: id {result['org_id']}"
    if "programme_id" in result:
        return f"programme created: id {result['programme_id']}"
    return f"invitation link: {result['link']}"


def main(
    argv: list[str], run: Callable[..., Coroutine[Any, Any, dict[str, Any]]] = _run
) -> int:
    args = _parser().parse_args(argv)
    try:
        db_settings = load_settings(DatabaseSettings)
        if args.command == "clock" and not db_settings.clock_control:
            print("the clock can be moved only when the bot runs with CLOCK_CONTROL=1 "
                  "(demos and tests)", file=sys.stderr)
            return 2
        database_url = db_settings.database_url
        upgrade_to_head(database_url)
        result = asyncio.run(run(args, database_url))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        text = ERROR_TEXTS.get(exc.code, exc.code).format(**exc.params)
        print(f"error: {text}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False) if args.json else _human(result))
    return 0

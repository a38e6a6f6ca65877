"""Curator and coordinator reports in chat: /summary, /kpi, the /totals dialog, /targets
(the coordinator edits them) and the ОВЗ mark on a person's card.

A curator sees their own organisations, a coordinator every one; with several, buttons pick
one (in pages). Every press re-checks the presser's scope: another organisation's id in a
forged button gets a short answer and changes nothing. Mentees and mentors get a refusal.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.context import Ctx
from bot.ids import parse_id
from bot.services import people
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.people import Access
from bot.services.reports import kpi as kpi_service
from bot.services.reports import kpis, local_year, summary
from bot.services.reports.summary import organisation
from bot.views import reports as views
from db.models import Organisation, Role
from db.queries import audit
from db.queries import organisations as q_orgs
from db.queries import reports as q
from keyboards import reports as kb
from keyboards.reports import ReportAction, ReportCb

MAX_TOTAL = 10_000_000
MIN_YEAR, MAX_YEAR = 2000, 2100


class Totals(StatesGroup):
    value = State()  # data: org, y, i (the question asked), vals (answers so far)


# -- scope ------------------------------------------------------------------------------------
async def _scope(ctx: Ctx) -> list[int]:
    if not ctx.roles & {Role.CURATOR, Role.COORDINATOR}:
        return []
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _scope_or_refuse(ctx: Ctx) -> list[int]:
    scope = await _scope(ctx)
    if not scope:
        await ctx.send(ctx.t("reports.curators_only"))
    return scope


async def _org_in_scope(ctx: Ctx, organisation_id: int) -> Organisation:
    """The organisation a button names, if the presser may see it."""
    scope = await _scope(ctx)
    if not scope:
        raise NotYoursError("reports_not_yours")
    if organisation_id not in scope:
        raise NotYoursError("reports_not_yours")
    return await organisation(ctx.session, organisation_id)


def _year(ctx: Ctx, org: Organisation, raw: int | None = None) -> int:
    if raw is not None:
        if not MIN_YEAR <= raw <= MAX_YEAR:
            raise ServiceError("reports_bad_year")
        return raw
    return local_year(ctx.now, org.timezone)


async def _names(ctx: Ctx, scope: list[int]) -> list[tuple[int, str]]:
    return [(org.id, org.name) for org in await q_orgs.all_orgs(ctx.session)
            if org.id in scope]


def _args(command: CommandObject) -> list[str]:
    return (command.args or "").replace(",", " ").split()


async def _target_org(
    ctx: Ctx, scope: list[int], raw: str | None, report: ReportAction, year: int = 0
) -> Organisation | None:
    """The organisation named by the argument, the only one in scope, or None after showing
    the picker (or a refusal for an organisation outside the scope)."""
    if raw is not None:
        org_id = parse_id(raw)
        if org_id is None or org_id not in scope:
            await ctx.send(ctx.t("reports.no_org"))
            return None
        return await organisation(ctx.session, org_id)
    if len(scope) == 1:
        return await organisation(ctx.session, scope[0])
    names = await _names(ctx, scope)
    await ctx.send(ctx.t("reports.pick_org"), kb.markup(kb.picker(ctx.t, report, names, 0, year)))
    return None


# -- /summary and /kpi ------------------------------------------------------------------------
async def _send_summary(ctx: Ctx, org: Organisation) -> None:
    found = await summary(ctx.session, org.id, ctx.now)
    text = views.render_summary(ctx.t, found, org.name)
    await ctx.send(text, kb.markup(kb.summary_buttons(ctx.t, org.id, _year(ctx, org))))


async def _send_kpi(ctx: Ctx, org: Organisation, year: int) -> None:
    rows = await kpis(ctx.session, org.id, year, ctx.now)
    await ctx.send(views.render_kpi(ctx.t, rows, org.name, year))


async def summary_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    scope = await _scope_or_refuse(ctx)
    if not scope:
        return
    args = _args(command)
    org = await _target_org(ctx, scope, args[0] if args else None, ReportAction.SUMMARY)
    if org is not None:
        await _send_summary(ctx, org)


async def kpi_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    """/kpi [ORG] [YEAR]."""
    scope = await _scope_or_refuse(ctx)
    if not scope:
        return
    args = _args(command)
    if len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
        await ctx.send(ctx.t("reports.kpi_usage"))
        return
    year_arg = int(args[1]) if len(args) == 2 else None
    org = await _target_org(ctx, scope, args[0] if args else None, ReportAction.KPI,
                            year_arg or 0)
    if org is not None:
        await _send_kpi(ctx, org, _year(ctx, org, year_arg))


# -- /totals ----------------------------------------------------------------------------------
async def _start_totals(ctx: Ctx, org: Organisation, year: int) -> None:
    current = views.totals_of(await q.totals(ctx.session, org.id, year))
    await ctx.state.set_state(Totals.value)
    await ctx.state.set_data({"org": org.id, "y": year, "i": 0, "vals": {}})
    intro = ctx.t("reports.totals_current") + "\n" + views.totals_table(ctx.t, current)
    await ctx.send(intro + "\n\n" + views.totals_question(ctx.t, 0, org.name, year))


async def totals_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    """/totals [ORG] [YEAR]: the organisation's totals for the year, one question each."""
    scope = await _scope_or_refuse(ctx)
    if not scope:
        return
    args = _args(command)
    if len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
        await ctx.send(ctx.t("reports.totals_usage"))
        return
    year_arg = int(args[1]) if len(args) == 2 else None
    org = await _target_org(ctx, scope, args[0] if args else None, ReportAction.TOTALS,
                            year_arg or 0)
    if org is not None:
        await _start_totals(ctx, org, _year(ctx, org, year_arg))


def _parse_total(text: str) -> int | None:
    raw = text.replace(" ", "").replace("\u00a0", "")
    if not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if value <= MAX_TOTAL else None


async def on_total(message: Message, ctx: Ctx) -> None:
    data = await ctx.state.get_data()
    value = _parse_total(message.text or "")
    if value is None:
        await ctx.send(ctx.t("reports.totals_invalid"))
        return
    org = await _org_in_scope(ctx, int(data["org"]))
    index = int(data["i"])
    values: dict[str, int] = dict(data.get("vals") or {})
    values[kpi_service.TOTAL_FIELDS[index]] = value
    index += 1
    year = int(data["y"])
    await ctx.state.update_data(i=index, vals=values)
    if index < len(kpi_service.TOTAL_FIELDS):
        await ctx.send(views.totals_question(ctx.t, index, org.name, year))
        return
    await ctx.send(views.totals_confirm(ctx.t, org.name, year, values),
                   kb.markup(kb.confirm_totals(ctx.t, org.id, year)))


async def on_save(query: CallbackQuery, callback_data: ReportCb, ctx: Ctx) -> None:
    org = await _org_in_scope(ctx, callback_data.org)
    data = await ctx.state.get_data()
    state = await ctx.state.get_state()
    done = (
        state == Totals.value.state
        and int(data.get("org") or 0) == org.id
        and int(data.get("y") or 0) == callback_data.y
        and int(data.get("i") or 0) == len(kpi_service.TOTAL_FIELDS)
    )
    if not done:
        raise StaleError("reports_totals_stale")
    await kpi_service.save_totals(ctx.session, org.id, callback_data.y, dict(data["vals"]),
                                  ctx.participant.id if ctx.participant else None)
    audit.record(ctx.session, actor_id=ctx.participant.id if ctx.participant else None,
                 organisation_id=org.id, action="reports.totals", target_type="organisation",
                 target_id=org.id, details={"year": callback_data.y})
    await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("reports.totals_saved", org=escape(org.name),
                         year=callback_data.y))


async def on_cancel(query: CallbackQuery, callback_data: ReportCb, ctx: Ctx) -> None:
    if await ctx.state.get_state() == Totals.value.state:
        await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("common.cancelled"))


# -- the organisation picker ------------------------------------------------------------------
async def on_pick(query: CallbackQuery, callback_data: ReportCb, ctx: Ctx) -> None:
    org = await _org_in_scope(ctx, callback_data.org)
    year = _year(ctx, org, callback_data.y or None)
    await ctx.answer(query)
    if callback_data.a == ReportAction.SUMMARY:
        await _send_summary(ctx, org)
    elif callback_data.a == ReportAction.KPI:
        await _send_kpi(ctx, org, year)
    else:
        await _start_totals(ctx, org, year)


async def on_page(query: CallbackQuery, callback_data: ReportCb, ctx: Ctx) -> None:
    scope = await _scope(ctx)
    if not scope:
        raise NotYoursError("reports_not_yours")
    try:
        report = ReportAction(callback_data.v)
    except ValueError:
        raise StaleError("reports_stale") from None
    if report not in (ReportAction.SUMMARY, ReportAction.KPI, ReportAction.TOTALS):
        raise StaleError("reports_stale")
    names = await _names(ctx, scope)
    keyboard = kb.picker(ctx.t, report, names, callback_data.p, callback_data.y)
    await ctx.answer(query)
    markup = kb.markup(keyboard)
    assert isinstance(markup, InlineKeyboardMarkup)
    await ctx.edit_buttons(query.message, markup)


# -- /targets ---------------------------------------------------------------------------------
async def targets_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    """/targets [ORG] [YEAR]: the table; /targets ORG YEAR CODE PERCENT (coordinator) sets."""
    scope = await _scope_or_refuse(ctx)
    if not scope:
        return
    args = _args(command)
    if len(args) not in (0, 1, 2, 4) or any(not a.isdigit() for a in args[1:2] + args[3:]):
        await ctx.send(ctx.t("reports.targets_usage"))
        return
    if not args and len(scope) > 1:
        await ctx.send(ctx.t("reports.targets_usage"))
        return
    org = await _target_org(ctx, scope, args[0] if args else None, ReportAction.KPI)
    if org is None:
        return
    year = _year(ctx, org, int(args[1]) if len(args) >= 2 else None)
    is_coordinator = Role.COORDINATOR in ctx.roles
    if len(args) == 4:
        if not is_coordinator:
            await ctx.send(ctx.t("reports.targets_coordinator_only"))
            return
        code = kpi_service.parse_code(args[2])
        await kpi_service.set_target(ctx.session, org.id, year, code, int(args[3]),
                                     ctx.participant.id if ctx.participant else None)
        audit.record(ctx.session, actor_id=ctx.participant.id if ctx.participant else None,
                     organisation_id=org.id, action="reports.target",
                     target_type="organisation", target_id=org.id,
                     details={"year": year, "code": code.value, "pct": int(args[3])})
    targets = await kpi_service.targets(ctx.session, org.id, year)
    stored = list(await q.targets(ctx.session, org.id, year))
    await ctx.send(views.targets_table(ctx.t, org.name, year, targets, stored, is_coordinator))


# -- the ОВЗ mark -----------------------------------------------------------------------------
async def on_ovz(query: CallbackQuery, callback_data: ReportCb, ctx: Ctx) -> None:
    scope = await _scope(ctx)
    if not scope:
        raise NotYoursError("reports_not_yours")
    access, membership = await people.card_access(ctx.session, callback_data.id, scope)
    if access == Access.NOT_YOURS:
        raise NotYoursError("reports_not_yours")
    if access != Access.OK or membership is None or callback_data.v not in ("0", "1"):
        raise StaleError("reports_stale")
    wanted = callback_data.v == "1"
    if membership.is_disabled_student == wanted:
        await ctx.answer(query, ctx.t("reports.ovz_already"))
        return
    membership.is_disabled_student = wanted
    audit.record(ctx.session, actor_id=ctx.participant.id if ctx.participant else None,
                 organisation_id=membership.organisation_id, action="reports.ovz",
                 target_type="membership", target_id=membership.id,
                 details={"set": wanted})
    await ctx.answer(query, ctx.t("reports.ovz_set" if wanted else "reports.ovz_unset"))
    message = query.message
    if isinstance(message, Message) and message.reply_markup is not None:
        pressed = callback_data.pack()
        text, data = kb.ovz_button(ctx.t, membership.id, wanted)
        rows = [
            [button.model_copy(update={"text": text, "callback_data": data.pack()})
             if button.callback_data == pressed else button for button in row]
            for row in message.reply_markup.inline_keyboard
        ]
        await ctx.edit_buttons(message, InlineKeyboardMarkup(inline_keyboard=rows))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(summary_command, Command("summary"))
    router.message.register(kpi_command, Command("kpi"))
    router.message.register(totals_command, Command("totals"))
    router.message.register(targets_command, Command("targets"))
    router.message.register(
        on_total, StateFilter(Totals.value), F.text, ~F.text.startswith("/")
    )
    for action in (ReportAction.SUMMARY, ReportAction.KPI, ReportAction.TOTALS):
        router.callback_query.register(on_pick, ReportCb.filter(F.a == action))
    router.callback_query.register(on_page, ReportCb.filter(F.a == ReportAction.PAGE))
    router.callback_query.register(on_save, ReportCb.filter(F.a == ReportAction.SAVE))
    router.callback_query.register(on_cancel, ReportCb.filter(F.a == ReportAction.CANCEL))
    router.callback_query.register(on_ovz, ReportCb.filter(F.a == ReportAction.OVZ))
    return router

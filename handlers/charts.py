"""Curator and coordinator reports in chat: /charts (PNG charts, also the "charts" button
that /summary shows), /swot (the SWOT analysis of the first monitoring stage) and /top
(candidates for "Наставник года" and "Лучшая пара").

Scope: a coordinator sees every organisation and picks one (or names it: `/charts 2`), a
curator only their own; anyone else gets a short refusal. A button naming an organisation
outside the presser's scope is answered briefly and sends nothing.
"""

from __future__ import annotations

import math

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import chart_worker
from bot.context import Ctx
from bot.ids import parse_id
from bot.services import people
from bot.services.reports import charts, swot, top
from bot.views import charts as views
from bot.views import swot as texts
from db.models import Role
from db.queries import report_stats as q
from keyboards.charts import ChartsAction, ChartsCb, ChartsPageCb


async def _scope(ctx: Ctx) -> list[int]:
    if not ctx.roles & {Role.CURATOR, Role.COORDINATOR}:
        return []
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _charts(ctx: Ctx, organisation_id: int) -> None:
    data = await charts.charts_data(ctx.session, organisation_id, ctx.catalog, ctx.now)
    await ctx.commit()  # no transaction (on SQLite: the write lock) held while drawing
    specs, missing = views.specs(ctx.t, data)
    if not specs:
        await ctx.send(views.empty(ctx.t, data))
        return
    await ctx.send(views.head(ctx.t, data, missing))  # at once; the photos follow
    images = await chart_worker.draw(specs)
    for number, (spec, image) in enumerate(zip(specs, images, strict=True), 1):
        await ctx.send_photo(image, f"chart-{organisation_id}-{number}.png", spec.title)


async def _swot(ctx: Ctx, organisation_id: int) -> None:
    org = await charts.organisation(ctx.session, organisation_id)
    found = await swot.swot(ctx.session, organisation_id)
    await ctx.send(texts.swot_text(ctx.t, org.name, found))


async def _top(ctx: Ctx, organisation_id: int) -> None:
    org = await charts.organisation(ctx.session, organisation_id)
    name = org.name
    numbers = await top.aggregates(ctx.session, organisation_id)
    await ctx.commit()  # no transaction (on SQLite: the write lock) held while ranking
    found = await top.named(ctx.session, await top.ranking(numbers))
    await ctx.send(texts.top_text(ctx.t, name, found))


REPORTS = {ChartsAction.SHOW: _charts, ChartsAction.SWOT: _swot, ChartsAction.TOP: _top}


async def _pick(ctx: Ctx, action: ChartsAction, scope: list[int], page: int,
                message_id: int | None = None) -> None:
    pages = max(1, math.ceil(await q.org_count(ctx.session, scope) / views.PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    orgs = await q.org_page(ctx.session, scope, offset=page * views.PAGE_SIZE,
                            limit=views.PAGE_SIZE)
    text, markup = views.pick(ctx.t, action, orgs, page, pages)
    if message_id is None:
        await ctx.send(text, reply_markup=markup)
    else:
        await ctx.edit(message_id, text, reply_markup=markup)


async def _command(ctx: Ctx, action: ChartsAction, args: str | None) -> None:
    scope = await _scope(ctx)
    if not scope:
        coordinator = Role.COORDINATOR in ctx.roles
        await ctx.send(ctx.t("charts.no_orgs" if coordinator else "charts.only_curators"))
        return
    raw = (args or "").strip()
    if raw:
        organisation_id = parse_id(raw)
        if organisation_id is None:
            await ctx.send(ctx.t("charts.usage"))
        elif organisation_id not in scope:
            await ctx.send(ctx.t("charts.no_org", id=organisation_id))
        else:
            await REPORTS[action](ctx, organisation_id)
        return
    if len(scope) == 1:
        await REPORTS[action](ctx, scope[0])
        return
    await _pick(ctx, action, scope, 0)


async def charts_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await _command(ctx, ChartsAction.SHOW, command.args)


async def swot_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await _command(ctx, ChartsAction.SWOT, command.args)


async def top_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await _command(ctx, ChartsAction.TOP, command.args)


async def on_report(query: CallbackQuery, callback_data: ChartsCb, ctx: Ctx) -> None:
    """A report for the organisation the button names, if the presser may see it."""
    if callback_data.org not in await _scope(ctx):
        await ctx.answer(query, ctx.t("charts.not_yours"))
        return
    await ctx.answer(query)
    await REPORTS[callback_data.a](ctx, callback_data.org)


async def on_page(query: CallbackQuery, callback_data: ChartsPageCb, ctx: Ctx) -> None:
    scope = await _scope(ctx)
    if not scope:
        await ctx.answer(query, ctx.t("charts.not_yours"))
        return
    await ctx.answer(query)
    message_id = query.message.message_id if query.message is not None else None
    await _pick(ctx, callback_data.a, scope, callback_data.p, message_id)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(charts_command, Command("charts"))
    router.message.register(swot_command, Command("swot"))
    router.message.register(top_command, Command("top"))
    router.callback_query.register(on_report, ChartsCb.filter(F.a.in_(set(REPORTS))))
    router.callback_query.register(on_page, ChartsPageCb.filter())
    return router

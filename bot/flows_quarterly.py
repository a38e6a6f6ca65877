"""What follows a finished quarterly report: submitted, and the pair's curators get it with
Accept / Return buttons (through the outbox). `bot.flows.finished` hands it here."""

from __future__ import annotations

from bot.context import Ctx
from bot.services import quarterly
from bot.services.answering import Cursor
from bot.views import quarterly as views


async def finished(ctx: Ctx, cursor: Cursor) -> None:
    await ctx.state.clear()
    notices = await quarterly.submit(ctx.session, cursor.response, ctx.now)
    await views.queue(ctx.session, notices, ctx.now, ctx.catalog, cursor.answers)
    await ctx.send(ctx.t("quarterly.sent"))

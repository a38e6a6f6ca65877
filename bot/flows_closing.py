"""The closing items in chat: what follows the exit self-assessment, a report or a review.

`bot.flows.finished` hands a finished closing response here (one call); the questions are
asked by the questionnaire engine like any other (bot/flows.py, handlers/questionnaire.py).
"""

from __future__ import annotations

from html import escape

from bot import flows
from bot.context import Ctx
from bot.services import answering, closing
from bot.services.answering import Cursor
from bot.views import closing as views
from db.models import Membership, Role


async def begin_item(
    ctx: Ctx, membership: Membership, questionnaire_id: str, stage: str
) -> None:
    """Start or resume a report or review; the intro is shown before the first answer."""
    cursor = await closing.start(
        ctx.session, ctx.catalog, membership, questionnaire_id, stage,
        consent_version=ctx.consent.version,
    )
    if cursor.finished:
        await ctx.state.clear()
        await finished(ctx, membership, cursor, again=True)
        return
    if not cursor.answers:
        intro = cursor.questionnaire.intro
        if intro:
            await ctx.send(escape(ctx.t.pick(intro)))
    else:
        await ctx.send(ctx.t("questionnaire.resume"))
    await flows.show(ctx, cursor)


async def finished(
    ctx: Ctx, membership: Membership, cursor: Cursor, *, again: bool = False
) -> None:
    t = ctx.t
    stage = cursor.response.stage
    await ctx.state.clear()
    if stage == answering.EXIT:
        changes = await closing.assessment_change(ctx.session, ctx.catalog, membership.id)
        await ctx.send(views.change_text(t, changes))
        return
    if stage.startswith(closing.MONITOR_PREFIX):
        await ctx.send(t("closing.monitoring_saved"))
        return
    if stage.startswith(closing.REVIEW_PREFIX):
        await ctx.send(t("closing.review_saved", pair=closing.pair_of_stage(stage)))
        return
    if again:
        await ctx.send(t("closing.report_already"))
    if membership.role == Role.MENTEE:
        await ctx.send(*views.attach_offer(t, cursor.response.id))
    else:
        await ctx.send(t("closing.report_saved"))

"""A participant's way through the bot, across features: "what is this person's next step?"

Onboarding (links, consent, form) leads into the questionnaire, and the questionnaire leads
back to consent when its text changed; /start, /questionnaire and /me enter the same way.
The routers call these functions and never each other. Texts and keyboards come from
`bot.views`; every reply goes through the update's `Ctx`.
"""

from __future__ import annotations

import contextlib
from html import escape
from typing import Any

from aiogram.exceptions import TelegramBadRequest

from bot.context import Ctx
from bot.services import answering, closing, onboarding, polls, quarterly
from bot.services.answering import Cursor
from bot.services.onboarding import Next
from bot.states import Answering
from bot.views import onboarding as views
from bot.views import polls as poll_views
from bot.views.onboarding import Paper
from bot.views.questionnaire import initial_selection, render
from db.models import Membership, MembershipStatus, Participant, Role
from db.queries import organisations as q_orgs
from db.queries import participants as q_people
from db.queries.participants import AnyMembership


async def send_paper(ctx: Ctx, paper: Paper) -> None:
    await ctx.send_document(paper.content, paper.filename, paper.caption)
    await ctx.send(paper.text, paper.buttons)


async def continue_onboarding(
    ctx: Ctx,
    participant: Participant,
    *,
    membership: Membership | None = None,
    announce_done: bool = False,
) -> bool:
    """Take the participant to their next step. False when nothing is left to do."""
    candidates = [membership] if membership else participant.memberships
    for item in candidates:
        if item.status in (MembershipStatus.DECLINED, MembershipStatus.WITHDRAWN):
            continue
        full = await q_people.membership(ctx.session, item.id)
        assert full is not None
        onboarding.auto_form(full)
        step = await onboarding.next_step(
            ctx.session, full, full.participant, ctx.consent.version
        )
        if step == Next.AGE and (await ctx.state.get_data()).get("age"):
            step = Next.CONSENT  # the age group chosen before consent lives in the dialog
        if step == Next.READY:
            if announce_done and membership is not None:
                await ctx.send(ctx.t("onboarding.already_done"))
            continue
        await do_step(ctx, full, step)
        return True
    return False


async def do_step(ctx: Ctx, membership: Membership, step: Next) -> None:
    t = ctx.t
    org_name = membership.organisation.name
    if step == Next.AGE:
        await ctx.send(*views.age_question(t, membership))
    elif step == Next.CONSENT and membership.role == Role.CURATOR:
        await send_paper(ctx, views.curator_terms(t, ctx.consent, org_name, membership.id))
    elif step == Next.CONSENT:
        await send_paper(ctx, views.own_consent(t, ctx.consent, org_name, membership.id))
    elif step == Next.GUARDIAN:
        invite = await q_orgs.guardian_invite(ctx.session, membership.id, ctx.now)
        if invite is None:
            invite = await onboarding.request_guardian(ctx.session, membership, now=ctx.now)
        await ctx.send(views.waiting_guardian(t, ctx.bot_username, invite.code))
    elif step == Next.FORM:
        await ctx.send(*views.form_question(t, membership))
    elif step == Next.QUESTIONNAIRE:
        await begin(ctx, membership)


async def consent_again(ctx: Ctx, membership: AnyMembership) -> None:
    """The consent text changed (a new version): ask again before storing anything new."""
    membership = await q_people.load(ctx.session, membership)
    await ctx.state.clear()
    await ctx.send(ctx.t("consent.new_version"))
    await continue_onboarding(ctx, membership.participant, membership=membership)


async def begin(ctx: Ctx, membership: Membership, stage: str = answering.ONBOARDING) -> None:
    """Start or resume a questionnaire; the intro is shown only before the first answer."""
    t = ctx.t
    cursor = await answering.start(
        ctx.session, ctx.catalog, membership, stage, consent_version=ctx.consent.version
    )
    if cursor.finished:
        await ctx.state.clear()
        await finished(ctx, membership, cursor)
        return
    if not cursor.answers:
        intro = cursor.questionnaire.intro
        if stage == answering.ENTRY:
            await ctx.send(t("questionnaire.assessment_intro"))
        elif intro:
            await ctx.send(escape(t.pick(intro)))
    else:
        await ctx.send(t("questionnaire.resume"))
    await show(ctx, cursor)


async def show(
    ctx: Ctx, cursor: Cursor, *, message_id: int | None = None, edit: bool = False
) -> None:
    """The cursor's question, in place of `message_id` when given; the dialog remembers it.

    `edit`: a change from /me, which ends at the changed question instead of going on.
    """
    selected = initial_selection(cursor)
    text, markup = render(ctx.t, cursor, selected)
    # The dialog is written before the reply, in the update's one transaction (the reply
    # commits it); the id of a new message is added afterwards, when it has buttons to drop.
    await ctx.state.set_state(Answering.active)
    await ctx.state.set_data(
        {"r": cursor.response.id, "q": cursor.question.id if cursor.question else None,
         "msg": message_id, "kb": markup is not None, "sel": selected, "edit": edit}
    )
    if message_id is not None:
        shown = await ctx.edit(message_id, text, markup)
    else:
        shown = (await ctx.send(text, markup)).message_id
    if shown != message_id and markup is not None:
        await ctx.state.update_data(msg=shown)


async def finished(ctx: Ctx, membership: Membership, cursor: Cursor) -> None:
    t = ctx.t
    await ctx.state.clear()
    if cursor.response.stage == answering.ONBOARDING:
        await ctx.send(t("questionnaire.done"))
        await begin(ctx, membership, answering.ENTRY)
    elif cursor.response.stage == answering.ENTRY:
        await ctx.send(t(f"questionnaire.in_base_{membership.role}"))
    elif closing.is_closing_stage(cursor.response.stage):  # the closing hook
        from bot import flows_closing  # it starts items with show(): imported late

        await flows_closing.finished(ctx, membership, cursor)
    elif quarterly.is_quarterly_stage(cursor.response.stage):  # bot/services/quarterly
        from bot import flows_quarterly

        await flows_quarterly.finished(ctx, cursor)
    elif polls.is_poll_stage(cursor.response.stage):  # a feedback poll (bot/services/polls)
        alerts = await polls.submit(ctx.session, cursor.response, ctx.now, cursor.answers)
        await poll_views.queue(ctx.session, alerts, ctx.now)
        await ctx.send(t("polls.thanks"))
    else:
        await ctx.send(t("questionnaire.assessment_done"))


async def after_answer(
    ctx: Ctx,
    membership: AnyMembership,
    cursor: Cursor,
    data: dict[str, Any],
    *,
    message_id: int | None,
) -> None:
    """The next question, or the end: a change from /me ends with "saved"."""
    if cursor.finished:
        if data.get("edit") and cursor.response.stage != answering.ENTRY:
            await ctx.state.clear()
            await ctx.send(ctx.t("profile.saved"))
            return
        full = await q_people.load(ctx.session, membership)
        if message_id is not None:
            await _close_message(ctx, message_id, ctx.t("questionnaire.saved"))
        await finished(ctx, full, cursor)
        return
    await show(ctx, cursor, message_id=message_id, edit=bool(data.get("edit")))


async def _close_message(ctx: Ctx, message_id: int, text: str) -> None:
    await ctx.commit()
    with contextlib.suppress(TelegramBadRequest):
        await ctx.bot.edit_message_text(text, chat_id=ctx.chat_id, message_id=message_id)


async def drop_keyboard(ctx: Ctx, message_id: int) -> None:
    """Keep the chat readable: a question answered by text loses its buttons."""
    await ctx.commit()
    with contextlib.suppress(TelegramBadRequest):
        await ctx.bot.edit_message_reply_markup(
            chat_id=ctx.chat_id, message_id=message_id, reply_markup=None
        )

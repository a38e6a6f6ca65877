"""Invitation links, age group, consent (own and guardian's), form choice."""

from __future__ import annotations

import re
from html import escape

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.types import CallbackQuery, Message

from bot import flows
from bot.commands import update_menu
from bot.context import Ctx
from bot.roles import CuratorAccess, curator_access, roles_of
from bot.services import onboarding
from bot.services.onboarding import Next
from bot.views import onboarding as views
from db.models import AgeGroup, InviteKind, Membership, MembershipStatus, Role
from db.queries import organisations as q_orgs
from db.queries import participants as q_people
from keyboards.callbacks import AgeCb, ConsentCb, FormCb, GuardianCb, StartQCb

CODE_RE = re.compile(r"^g?[A-Za-z0-9_-]{16}$")

# A consent button still means something in these states (a repeat is answered kindly).
CONSENT_STATES = (
    MembershipStatus.CONSENT_PENDING,
    MembershipStatus.GUARDIAN_PENDING,
    MembershipStatus.QUESTIONNAIRE,
    MembershipStatus.IN_BASE,
    MembershipStatus.PAIRED,
)


async def start_with_code(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await open_code(message, (command.args or "").strip(), ctx)


async def code_as_text(message: Message, ctx: Ctx) -> None:
    await open_code(message, (message.text or "").strip(), ctx)


async def open_code(message: Message, code: str, ctx: Ctx) -> None:
    t = ctx.t
    # The code is checked before the dialog is touched: a bad or repeated link never
    # drops a questionnaire in progress.
    in_dialog = await ctx.state.get_state() is not None
    invite = await q_orgs.invite_by_code(ctx.session, code)
    if invite is not None and invite.kind == InviteKind.GUARDIAN:
        request = await onboarding.open_guardian_link(
            ctx.session, code, telegram_id=ctx.user.id, now=ctx.now
        )
        await ctx.send(t("consent.guardian_intro", org=escape(request.organisation_name)))
        await flows.send_paper(
            ctx, views.guardian_consent(
                t, ctx.consent, request.organisation_name, request.invite.code
            )
        )
        return
    refusal = onboarding.join_refusal(invite, ctx.now) if in_dialog else None
    if refusal is not None:
        await ctx.send(t(refusal.text_key(), **refusal.params))
        await ctx.send(t("onboarding.code_kept_questionnaire"))
        return
    joined = await onboarding.join(
        ctx.session, telegram_id=ctx.user.id, language=t.language, code=code, now=ctx.now,
        consent_version=ctx.consent.version,
    )
    membership = await q_people.membership(ctx.session, joined.membership.id)
    assert membership is not None
    if not joined.is_new and joined.next != Next.READY:
        # The same invitation again: take the person back to where they stopped.
        await flows.continue_onboarding(ctx, membership.participant, membership=membership)
        return
    if joined.is_new:
        await ctx.state.clear()
    await ctx.send(views.joined(t, membership))
    if membership.role == Role.CURATOR:
        await _curator_joined(ctx, membership)
        return
    if joined.next == Next.READY:
        participant = await q_people.by_telegram_id(ctx.session, ctx.user.id)
        if participant is not None:
            await update_menu(
                ctx, roles_of(participant, ctx.user.id, ctx.settings.admin_ids)
            )
        await ctx.send(t(f"onboarding.ready_{membership.role}"))
        return
    await flows.do_step(ctx, membership, joined.next)


async def _curator_joined(ctx: Ctx, membership: Membership) -> None:
    """Curators get their own terms and wait for the inviter's confirmation (coordinator.py)."""
    access = curator_access(membership)
    if access == CuratorAccess.TERMS:
        org_name = membership.organisation.name
        terms = views.curator_terms(ctx.t, ctx.consent, org_name, membership.id)
        await flows.send_paper(ctx, terms)
    elif access == CuratorAccess.AWAITING:
        await ctx.send(ctx.t("curator_access.awaiting"))
    else:
        await ctx.send(ctx.t("onboarding.ready_curator"))


async def _own_membership(ctx: Ctx, membership_id: int) -> Membership | None:
    membership = await q_people.membership(ctx.session, membership_id)
    if membership is None or membership.participant.telegram_id != ctx.user.id:
        return None
    return membership


async def on_age(query: CallbackQuery, callback_data: AgeCb, ctx: Ctx) -> None:
    t = ctx.t
    membership = await _own_membership(ctx, callback_data.m)
    if membership is None or membership.status != MembershipStatus.CONSENT_PENDING:
        await ctx.answer(query, t("common.stale_button"))
        return
    if (await ctx.state.get_data()).get("age") or membership.participant.age_group is not None:
        # The age message of a step already passed: the choice made stands.
        await ctx.answer(query, t("onboarding.age_already"))
        return
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    if callback_data.age == AgeGroup.CHILD:
        invite = await onboarding.request_guardian(ctx.session, membership, now=ctx.now)
        await ctx.send(t("consent.child"))
        await ctx.send(views.guardian_link(t, ctx.bot_username, invite.code))
        return
    # Kept in the dialog only: nothing about the person is stored before consent.
    await ctx.state.update_data(age=callback_data.age.value)
    await flows.send_paper(ctx, views.own_consent(
        t, ctx.consent, membership.organisation.name, membership.id
    ))


async def on_consent(query: CallbackQuery, callback_data: ConsentCb, ctx: Ctx) -> None:
    t = ctx.t
    membership = await _own_membership(ctx, callback_data.m)
    if membership is None or membership.status not in CONSENT_STATES:
        await ctx.answer(query, t("common.stale_button"))
        return
    version = ctx.consent.version
    if callback_data.v != version:
        await ctx.answer(query, t("onboarding.consent_old_version"))
        await ctx.drop_buttons(query.message)
        return
    if await onboarding.self_consent_given(ctx.session, membership, version):
        # A repeated tap: the decision already stands; nothing is stored twice.
        await ctx.answer(
            query,
            t("onboarding.consent_already" if callback_data.ok
              else "onboarding.consent_withdraw_hint"),
        )
        await ctx.drop_buttons(query.message)
        return
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    if not callback_data.ok:
        await onboarding.decline(ctx.session, membership, version=version)
        await ctx.state.clear()
        await ctx.send(t("consent.declined"))
        return
    await _accept(ctx, membership, version)


async def _accept(ctx: Ctx, membership: Membership, version: int) -> None:
    t = ctx.t
    participant = membership.participant
    age = (await ctx.state.get_data()).get("age")
    if onboarding.self_consent_age(membership, participant, age) == AgeGroup.CHILD:
        # The buttons are gone already: the refusal comes as a message, not an alert.
        await ctx.send(t("errors.child_needs_guardian"))
        return
    outcome = await onboarding.accept_self(
        ctx.session, membership, participant, age_group=age,
        first_name=ctx.user.first_name, username=ctx.user.username,
        version=version, now=ctx.now,
    )
    await ctx.state.clear()
    await ctx.send(t("consent.accepted"))
    await update_menu(ctx, roles_of(participant, ctx.user.id, ctx.settings.admin_ids))
    if outcome.guardian_invite is not None:
        await ctx.send(t("consent.teen"))
        await ctx.send(views.guardian_link(t, ctx.bot_username, outcome.guardian_invite.code))
        return
    if outcome.next == Next.READY:
        await ctx.send(t(f"onboarding.ready_{membership.role}"))
        return
    fresh = await q_people.membership(ctx.session, membership.id)
    assert fresh is not None
    await flows.continue_onboarding(ctx, fresh.participant, membership=fresh)


async def on_guardian(query: CallbackQuery, callback_data: GuardianCb, ctx: Ctx) -> None:
    t = ctx.t
    invite = await q_orgs.invite_by_code(ctx.session, callback_data.c)
    if invite is None or invite.kind != InviteKind.GUARDIAN:
        await ctx.answer(query, t("common.stale_button"))
        return
    if invite.opened_by != ctx.user.id:
        # Only the person who opened this guardian link may decide on it.
        await ctx.answer(query, t("guardian.not_yours"), alert=True)
        return
    already = await onboarding.guardian_decision_made(
        ctx.session, invite.code, telegram_id=ctx.user.id
    )
    if already is not None:
        await ctx.answer(
            query, t("guardian.already_accepted" if already else "guardian.already_declined")
        )
        await ctx.drop_buttons(query.message)
        return
    decide = onboarding.accept_guardian if callback_data.ok else onboarding.decline_guardian
    membership = await decide(
        ctx.session, invite.code, guardian_telegram_id=ctx.user.id,
        version=ctx.consent.version, now=ctx.now,
    )
    await views.tell_minor(
        ctx.session, membership, invite.id, accepted=callback_data.ok, now=ctx.now
    )
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(t("consent.guardian_thanks" if callback_data.ok else "consent.guardian_no"))


async def on_start_questionnaire(
    query: CallbackQuery, callback_data: StartQCb, ctx: Ctx
) -> None:
    membership = await _own_membership(ctx, callback_data.m)
    if membership is None:
        await ctx.answer(query, ctx.t("common.stale_button"))
        return
    if await ctx.state.get_state() is not None:
        # A second tap: the questionnaire is already on screen.
        await ctx.answer(query, ctx.t("onboarding.questionnaire_open"))
        return
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await flows.continue_onboarding(
        ctx, membership.participant, membership=membership, announce_done=True
    )


async def on_form(query: CallbackQuery, callback_data: FormCb, ctx: Ctx) -> None:
    t = ctx.t
    membership = await _own_membership(ctx, callback_data.m)
    programme = membership.programme if membership else None
    if (
        membership is None
        or programme is None
        or membership.form is not None
        or not 0 <= callback_data.i < len(programme.forms)
    ):
        await ctx.answer(query, t("common.stale_button"))
        return
    await onboarding.choose_form(ctx.session, membership, programme.forms[callback_data.i])
    await ctx.answer(query)
    assert query.message is not None
    await ctx.edit(query.message.message_id, t("form.chosen", form=t(f"form.{membership.form}")))
    await flows.continue_onboarding(ctx, membership.participant, membership=membership)


async def start_resume(message: Message, ctx: Ctx) -> None:
    """Plain /start takes a person to their next step, whatever it is; else the greeting."""
    if ctx.participant is None or not await flows.continue_onboarding(ctx, ctx.participant):
        raise SkipHandler


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start_with_code, CommandStart(deep_link=True))
    router.message.register(code_as_text, StateFilter(None), F.text.regexp(CODE_RE))
    router.callback_query.register(on_age, AgeCb.filter())
    router.callback_query.register(on_consent, ConsentCb.filter())
    router.callback_query.register(on_guardian, GuardianCb.filter())
    router.callback_query.register(on_start_questionnaire, StartQCb.filter())
    router.callback_query.register(on_form, FormCb.filter())
    router.message.register(start_resume, CommandStart())
    return router

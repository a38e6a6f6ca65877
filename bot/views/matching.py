"""Pairing in words: proposal cards, manual-pair checks, messages to participants.

The router (handlers/matching.py) parses and decides; this module only renders, and puts
messages for other people into the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import Translator, translator
from bot.ids import first_invalid
from bot.messaging import enqueue
from bot.render import clip
from bot.services import pairing
from bot.services.pairing import Card, MatchRun, Notice, NoticeKind, PairWarning, Person
from bot.services.questionnaires import Catalog
from bot.views.pairing_words import answer_words, describe_reasons
from db.models import Role
from keyboards import matching as kb

LINE_LIMIT = 160
MAX_UNMATCHED_SHOWN = 25  # keeps the summary under Telegram's 4096 characters
# A reason that says the same as a warning is not repeated under it.
SAME_AS_WARNING = {PairWarning.FORM: "form_mismatch"}


def name_of(t: Translator, person: Person) -> str:
    """Plain name (not escaped)."""
    return person.name or t("matching.no_name", id=person.membership_id)


def who(t: Translator, person: Person) -> str:
    return f"<b>{escape(clip(name_of(t, person), 60))}</b> (#{person.membership_id})"


def _facts(t: Translator, catalog: Catalog, person: Person) -> list[tuple[str, str]]:
    """What the other side should know: (label key, plain value)."""
    keys = (
        ("needs", "interests", "subject")
        if person.role == Role.MENTEE
        else ("competences", "interests", "subject", "experience")
    )
    out = []
    for tag in keys:
        value = answer_words(t, catalog, person, tag)
        if value:
            out.append((f"matching.fact_{tag}", value))
    return out


def _profile_line(t: Translator, catalog: Catalog, person: Person) -> str:
    """A short plain-text profile for the preference list."""
    parts = [
        answer_words(t, catalog, person, tag, limit=3)
        for tag in (("needs", "interests") if person.role == Role.MENTEE
                    else ("competences", "interests"))
    ]
    return "; ".join(p for p in parts if p)


def card_text(
    t: Translator, catalog: Catalog, card: Card, position: tuple[int, int] | None = None
) -> str:
    """A proposal card; `position` keeps the numbering it was shown with ("1 of 2")."""
    pair = card.pair
    n, total = position or (card.position, card.total)
    lines = [
        t("matching.card_header", n=n, total=total, id=pair.id),
        t("matching.card_mentee", who=who(t, card.mentee)),
        t("matching.card_mentor", who=who(t, card.mentor),
          free=max(0, card.mentor_capacity - card.mentor_load), capacity=card.mentor_capacity),
        t("matching.card_form", form=escape(t(f"form.{pair.form}") if t.has(f"form.{pair.form}")
                                             else pair.form)),
        t("matching.card_score", score=score_text(t, pair.score)),
    ]
    reasons = describe_reasons(
        t, catalog, pairing.reasons_of(pair), card.mentee, card.mentor
    )
    if reasons:
        lines.append(t("matching.card_reasons"))
        lines += [("⚠️ " if caveat else "• ") + escape(text) for caveat, text in reasons]
    return "\n".join(lines)


def proposal_keyboard(t: Translator, card: Card) -> InlineKeyboardMarkup:
    return kb.proposal(t, card.pair.id, card.pair.match_run_id or "", more=card.total > 1)


def score_text(t: Translator, value: float | None) -> str:
    """52.5 in English, 52,5 in Russian."""
    if value is None:
        return "—"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if t.language == "ru" else text


def _notice(t: Translator, catalog: Catalog, notice: Notice) -> tuple[str, Any]:
    about = notice.about
    if notice.kind == NoticeKind.INTRO and about is not None and notice.pair_id is not None:
        lines = [
            t(f"matching.intro_{notice.to.role}", name=escape(name_of(t, about))),
            t("matching.intro_form", form=escape(t(f"form.{about.form}")
                                                  if about.form and t.has(f"form.{about.form}")
                                                  else "—")),
        ]
        lines += [
            t(label, value=escape(clip(value, 300))) for label, value in _facts(t, catalog, about)
        ]
        goal = pairing.free_text(catalog, about, "goal") if about.role == Role.MENTEE else None
        if goal:
            lines.append(t("matching.fact_goal", value=escape(clip(goal, 500))))
        lines += ["", t("matching.intro_next"), t("matching.intro_contacts")]
        return "\n".join(lines), kb.share(t, notice.pair_id, meeting=True)
    if notice.kind == NoticeKind.CONTACTS and about is not None:
        if about.username:
            contact = escape("@" + about.username)
        elif about.telegram_id:
            contact = f'<a href="tg://user?id={about.telegram_id}">{escape(name_of(t, about))}</a>'
        else:
            contact = "—"
        return t(f"matching.contacts_{about.role}", name=escape(name_of(t, about)),
                 contact=contact), None
    if notice.kind == NoticeKind.ENDED and about is not None:
        return t("matching.ended", name=escape(name_of(t, about))), None
    if notice.kind == NoticeKind.SEARCH_ON:
        return t("matching.search_on"), None
    if notice.kind == NoticeKind.PREFERENCES and notice.round_id is not None:
        lines = [t(f"matching.prefs_intro_{notice.to.role}", max=pairing.MAX_PICKS)]
        for i, person in enumerate(notice.candidates, start=1):
            profile = _profile_line(t, catalog, person)
            line = f"{name_of(t, person)} — {profile}" if profile else name_of(t, person)
            lines.append(f"{i}. {escape(clip(line, LINE_LIMIT))}")
        markup = kb.picks(
            t, notice.round_id, notice.to.membership_id,
            [(p.membership_id, name_of(t, p)) for p in notice.candidates], (),
        )
        return "\n".join(lines), markup
    raise ValueError(f"cannot render notice {notice.kind}")


@dataclass(slots=True)
class Delivered:
    count: int = 0
    unreached: list[Person] = field(default_factory=list)  # blocked the bot: nothing queued


async def deliver(
    session: AsyncSession, catalog: Catalog, notices: Iterable[Notice], clock: Clock
) -> Delivered:
    """Put the notices in the outbox, each in its recipient's language. People the bot
    cannot reach get nothing queued; they are returned so the curator can be told."""
    out = Delivered()
    for notice in notices:
        if notice.to.telegram_id is None or not notice.to.reachable:
            if notice.to not in out.unreached:
                out.unreached.append(notice.to)
            continue
        text, markup = _notice(translator(notice.to.language), catalog, notice)
        queued = await enqueue(
            session, chat_id=notice.to.telegram_id, text=text, key=notice.key,
            now=clock.now(), reply_markup=markup,
        )
        out.count += queued is not None
    return out


def intro_report(t: Translator, notices: Iterable[Notice], delivered: Delivered) -> str:
    """Who got the introduction and who could not be reached (empty when all were)."""
    if not delivered.unreached:
        return ""
    reached = [n.to for n in notices if n.to not in delivered.unreached]
    lines = []
    if reached:
        lines.append(t("matching.intro_sent_to", who=", ".join(who(t, p) for p in reached)))
    lines.append(t("matching.intro_not_sent",
                   who=", ".join(who(t, p) for p in delivered.unreached)))
    return "\n".join(lines)


def manual_warning(t: Translator, catalog: Catalog, result: pairing.ManualResult) -> str:
    lines = [
        t("matching.manual_check", mentee=who(t, result.mentee), mentor=who(t, result.mentor),
          score=score_text(t, result.score.value)),
    ]
    lines += [t(f"matching.warning_{w.value}") for w in result.warnings]
    repeated = {SAME_AS_WARNING[w] for w in result.warnings if w in SAME_AS_WARNING}
    reasons = describe_reasons(
        t, catalog, [r for r in result.score.reasons if r.code not in repeated],
        result.mentee, result.mentor,
    )
    lines += [("⚠️ " if caveat else "• ") + escape(text) for caveat, text in reasons]
    lines += ["", t("matching.manual_ask")]
    return "\n".join(lines)


def manual_done(t: Translator, result: pairing.ManualResult, delivered: Delivered) -> str:
    assert result.pair is not None
    report = intro_report(t, result.notices, delivered)
    key = "matching.manual_created" if report else "matching.manual_done"
    text = t(key, id=result.pair.id, mentee=who(t, result.mentee), mentor=who(t, result.mentor))
    if report:
        text += "\n" + report
    if result.capacity_raised_to is not None:
        text += "\n" + t("matching.capacity_raised", capacity=result.capacity_raised_to)
    return text


def usage(t: Translator, args: str | None, usage_key: str) -> str:
    """How to use a command, after what was wrong in the arguments given."""
    bad = first_invalid(args)
    if bad is None:
        return t(usage_key)
    return t("curator.number_invalid", value=escape(bad[:30])) + "\n" + t(usage_key)


def match_summary(t: Translator, programme_name: str, run: MatchRun) -> str:
    """What a match run proposed, who stays without a mentor and why."""
    lines = [
        t("matching.summary", name=escape(programme_name), mentees=run.mentees,
          mentors=run.mentors, proposed=len(run.proposals)),
    ]
    if run.replaced:
        lines.append(t("matching.summary_replaced", n=run.replaced))
    if run.unmatched:
        lines += ["", t("matching.unmatched_header", n=len(run.unmatched))]
        for item in run.unmatched[:MAX_UNMATCHED_SHOWN]:
            lines.append(t("matching.unmatched_line", who=who(t, item.person),
                           reason=t(f"matching.unmatched_{item.reason}")))
        if len(run.unmatched) > MAX_UNMATCHED_SHOWN:
            lines.append(t("matching.and_more", n=len(run.unmatched) - MAX_UNMATCHED_SHOWN))
    if run.unreachable_mentors:
        lines += ["", t("matching.unreachable_mentors", n=len(run.unreachable_mentors))]
        shown = run.unreachable_mentors[:MAX_UNMATCHED_SHOWN]
        lines += [f"• {who(t, person)}" for person in shown]
        if len(run.unreachable_mentors) > MAX_UNMATCHED_SHOWN:
            lines.append(t("matching.and_more",
                           n=len(run.unreachable_mentors) - MAX_UNMATCHED_SHOWN))
    if run.proposals:
        lines += ["", t("matching.summary_next")]
    elif not run.mentees:
        lines += ["", t("matching.nobody_waiting")]
    return "\n".join(lines)


def summary_keyboard(
    t: Translator, programme_id: int, run: MatchRun
) -> InlineKeyboardMarkup | None:
    return kb.summary(t, programme_id, run.run_id, proposals=bool(run.proposals),
                      unmatched=any(u.reason != "unreachable" for u in run.unmatched))


def unpair_question(t: Translator, card: Card) -> str:
    return t("matching.unpair_confirm", id=card.pair.id, mentee=who(t, card.mentee),
             mentor=who(t, card.mentor))


def decided_text(
    t: Translator, catalog: Catalog, card: Card, position: tuple[int, int] | None, verdict: str
) -> str:
    """The card as it was shown, with what became of it."""
    return card_text(t, catalog, card, position) + "\n\n" + verdict


def picks_saved(t: Translator, chosen: list[Person]) -> str:
    names = ", ".join(escape(name_of(t, p)) for p in chosen)
    return t("matching.prefs_saved", names=names) if chosen else t("matching.prefs_none")


def picks_keyboard(
    t: Translator, round_id: int, chooser_id: int, candidates: list[Person], picked: list[int]
) -> InlineKeyboardMarkup:
    """The pick keyboard again, with the marks where the picks are now."""
    return kb.picks(
        t, round_id, chooser_id, [(p.membership_id, name_of(t, p)) for p in candidates], picked
    )

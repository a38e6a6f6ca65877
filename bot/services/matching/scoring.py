"""One pair's score and the reasons behind it, criterion by criterion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.services.matching.model import (
    MAX_REASONS,
    MIXED,
    TEACHER,
    TIMES,
    MenteeProfile,
    MentorProfile,
    Reason,
    Score,
    Weights,
)


@dataclass(frozen=True, slots=True)
class _Part:
    weight: float
    value: float  # 0..1
    reason: Reason | None = None  # a merit when value > 0, a caveat when value == 0


def compatible(mentee: MenteeProfile, mentor: MentorProfile) -> bool:
    return mentee.form in mentor.forms


def explain_incompatible(mentee: MenteeProfile, mentor: MentorProfile) -> Reason | None:
    """Why the pair can never be formed, or None when it can."""
    if compatible(mentee, mentor):
        return None
    return Reason("form_mismatch", (mentee.form,))


def required_experience(mentee: MenteeProfile, weights: Weights) -> float | None:
    required = None
    if mentee.experience_years is not None:
        required = mentee.experience_years + weights.experience_gap_years
    if mentee.category == TEACHER:
        floor = weights.teacher_mentor_min_years
        required = floor if required is None else max(required, floor)
    return required


def _parts(mentee: MenteeProfile, mentor: MentorProfile, w: Weights) -> list[_Part]:
    """The six criteria in a fixed order; the vectorised score adds them in the same order.

    A criterion that either side left unanswered gets the neutral value and no reason.
    """
    unknown = w.neutral

    if mentee.needs:
        covered = mentee.needs & mentor.competences
        needs = _Part(
            w.needs,
            len(covered) / len(mentee.needs),
            Reason("covers_needs", tuple(sorted(covered)))
            if covered
            else Reason("needs_not_covered", tuple(sorted(mentee.needs))),
        )
    else:
        needs = _Part(w.needs, unknown)

    if mentee.interests:
        shared = mentee.interests & mentor.interests
        full = min(w.interests_saturation, len(mentee.interests))
        interests = _Part(
            w.interests,
            min(len(shared), full) / full,
            Reason("shared_interests", tuple(sorted(shared))) if shared else None,
        )
    else:
        interests = _Part(w.interests, unknown)

    if mentee.subject is not None and mentor.subject is not None:
        if mentee.subject == mentor.subject:
            subject = _Part(w.subject, 1.0, Reason("same_subject", (mentee.subject,)))
        else:
            subject = _Part(
                w.subject, 0.0, Reason("different_subject", (mentee.subject, mentor.subject))
            )
    else:
        subject = _Part(w.subject, unknown)

    if mentee.times and mentor.times:
        if common := mentee.times & mentor.times:
            times = _Part(w.times, 1.0, Reason("times_overlap", _sorted_times(common)))
        else:
            times = _Part(w.times, 0.0, Reason("no_common_time"))
    else:
        times = _Part(w.times, unknown)

    if mentee.format is not None and mentor.format is not None:
        if mentee.format == mentor.format or MIXED in (mentee.format, mentor.format):
            agreed = mentor.format if mentee.format == MIXED else mentee.format
            fmt = _Part(w.format, 1.0, Reason("format_fit", (agreed,)))
        else:
            fmt = _Part(w.format, 0.0, Reason("format_mismatch", (mentee.format, mentor.format)))
    else:
        fmt = _Part(w.format, unknown)

    required = required_experience(mentee, w)
    if required is not None and mentor.experience_years is not None:
        if mentor.experience_years >= required:
            experience = _Part(w.experience, 1.0, Reason("experienced"))
        else:
            experience = _Part(w.experience, 0.0, Reason("too_little_experience"))
    else:
        experience = _Part(w.experience, unknown)

    return [needs, interests, subject, times, fmt, experience]


_TIME_ORDER = {t: i for i, t in enumerate(TIMES)}


def _sorted_times(times: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(times, key=lambda t: (_TIME_ORDER.get(t, len(TIMES)), t)))


def score(mentee: MenteeProfile, mentor: MentorProfile, weights: Weights) -> Score:
    """Score one pair: value 0..100 and the most important reasons first."""
    if (incompatible := explain_incompatible(mentee, mentor)) is not None:
        return Score(0.0, (incompatible,), compatible=False)

    parts = _parts(mentee, mentor, weights)
    base = 0.0
    for part in parts:
        base = base + part.weight * part.value
    value = base * weights.scale

    by_mentee = mentor.id in mentee.preferred
    by_mentor = mentee.id in mentor.preferred
    if by_mentee:
        value = value + weights.picked_by_mentee
    if by_mentor:
        value = value + weights.picked_by_mentor
    if by_mentee and by_mentor:
        value = value + weights.mutual_bonus
    value = min(value, 100.0)

    return Score(round(value * 100) / 100, _reasons(parts, by_mentee, by_mentor))


def _reasons(parts: list[_Part], by_mentee: bool, by_mentor: bool) -> tuple[Reason, ...]:
    picked: list[Reason] = []
    if by_mentee and by_mentor:
        picked.append(Reason("mutual_choice"))
    elif by_mentee:
        picked.append(Reason("picked_by_mentee"))
    elif by_mentor:
        picked.append(Reason("picked_by_mentor"))

    # (points won or lost, criterion order): the biggest effect comes first
    ranked = sorted(
        (-(p.weight * p.value if p.value > 0 else p.weight), order, p.value == 0, p.reason)
        for order, p in enumerate(parts)
        if p.reason is not None and p.weight > 0
    )
    room = MAX_REASONS - len(picked)
    shown = ranked[:room]
    caveats = [r for r in ranked if r[2]]
    if caveats and not any(r[2] for r in shown) and room > 0:
        # a caveat must not be crowded out by merits
        shown = sorted([*shown[: room - 1], caveats[0]])
    return (*picked, *(r[3] for r in shown))


# --------------------------------------------------------------------------- vectorised

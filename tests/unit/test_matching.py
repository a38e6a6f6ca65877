from __future__ import annotations

import math
import random
from collections.abc import Collection
from dataclasses import replace

import pytest

from bot.services import matching
from bot.services.matching import (
    Assignment,
    MenteeProfile,
    MentorProfile,
    Reason,
    Weights,
    explain_incompatible,
    score,
    score_matrix,
)

SS = "student-student"
TT = "teacher-teacher"

WEIGHTS = Weights(
    needs=35,
    interests=15,
    subject=10,
    times=15,
    format=10,
    experience=15,
    picked_by_mentee=10,
    picked_by_mentor=10,
    mutual_bonus=10,
    threshold=50,
)
# only needs coverage counts: a mentee with 4 needs scores 0/25/50/75/100 per mentor
NEEDS_ONLY = Weights(
    needs=1,
    interests=0,
    subject=0,
    times=0,
    format=0,
    experience=0,
    picked_by_mentee=0,
    picked_by_mentor=0,
    mutual_bonus=0,
    threshold=25,
)


def tee(id: int, form: str = SS, **kw: object) -> MenteeProfile:
    fields: dict[str, object] = {
        "category": "student",
        "needs": frozenset(),
        "interests": frozenset(),
        "subject": None,
        "times": frozenset(),
        "format": None,
        "experience_years": None,
    }
    fields.update(kw)
    return MenteeProfile(id=id, form=form, **fields)  # type: ignore[arg-type]


def tor(id: int, forms: tuple[str, ...] = (SS,), capacity: int = 1, **kw: object) -> MentorProfile:
    fields: dict[str, object] = {
        "competences": frozenset(),
        "interests": frozenset(),
        "subject": None,
        "times": frozenset(),
        "format": None,
        "experience_years": None,
    }
    fields.update(kw)
    return MentorProfile(id=id, forms=frozenset(forms), capacity=capacity, **fields)  # type: ignore[arg-type]


def fs(*items: str) -> frozenset[str]:
    return frozenset(items)


def pairs_of(result: Assignment) -> set[tuple[int, int]]:
    return {(p.mentee_id, p.mentor_id) for p in result.pairs}


def points(result: Assignment) -> int:
    return sum(p.score.points for p in result.pairs)


def check_valid(
    result: Assignment,
    mentees: list[MenteeProfile],
    mentors: list[MentorProfile],
    weights: Weights,
    excluded: Collection[tuple[int, int]] = frozenset(),
    per_mentee: int = 1,
) -> None:
    tees = {t.id: t for t in mentees}
    tors = {m.id: m for m in mentors}
    seen = pairs_of(result)
    assert len(seen) == len(result.pairs)
    for p in result.pairs:
        assert (p.mentee_id, p.mentor_id) not in excluded
        assert p.score == score(tees[p.mentee_id], tors[p.mentor_id], weights)
        assert p.score.compatible and p.score.points >= weights.threshold_points
    for m in mentors:
        assert sum(1 for p in result.pairs if p.mentor_id == m.id) <= max(m.capacity, 0)
    for t in mentees:
        assert sum(1 for p in result.pairs if p.mentee_id == t.id) <= per_mentee
    matched = {p.mentee_id for p in result.pairs}
    assert sorted(u.mentee_id for u in result.unmatched) == sorted(set(tees) - matched)


# --------------------------------------------------------------------------- score


def test_score_perfect_pair_with_reasons() -> None:
    mentee = tee(
        1,
        needs=fs("exam_prep", "motivation"),
        interests=fs("robotics", "chess", "music"),
        subject="math",
        times=fs("weekday_evening", "weekend"),
        format="online",
        experience_years=1,
    )
    mentor = tor(
        10,
        competences=fs("exam_prep", "motivation", "leadership"),
        interests=fs("robotics", "chess", "music", "sports"),
        subject="math",
        times=fs("weekend", "weekday_evening"),
        format="mixed",
        experience_years=3,
    )
    s = score(mentee, mentor, WEIGHTS)
    assert s.value == 100.0 and s.compatible
    assert len(s.reasons) == matching.MAX_REASONS
    assert s.reasons[0] == Reason("covers_needs", ("exam_prep", "motivation"))
    codes = [r.code for r in s.reasons]
    assert codes[:2] == ["covers_needs", "shared_interests"]
    assert s.reasons[1].items == ("chess", "music", "robotics")


def test_score_caveats_and_partial_values() -> None:
    mentee = tee(
        1,
        form=TT,
        category="teacher",
        needs=fs("lesson_planning", "assessment"),
        interests=fs("robotics", "chess"),
        times=fs("weekday_morning"),
        format="offline",
        experience_years=1,
    )
    mentor = tor(
        10,
        forms=(TT,),
        competences=fs("assessment"),
        interests=fs("chess"),
        times=fs("weekend"),
        format="online",
        experience_years=4,  # ahead of the mentee, but a teacher mentee needs 5 years
    )
    s = score(mentee, mentor, WEIGHTS)
    # needs 1/2, interests 1/2, subject unknown (neutral), times 0, format 0, experience 0
    expected = (35 * 0.5 + 15 * 0.5 + 10 * 0.5) * 100 / 100
    assert s.value == pytest.approx(expected)
    codes = {r.code for r in s.reasons}
    assert {"covers_needs", "no_common_time"} <= codes
    assert Reason("covers_needs", ("assessment",)) in s.reasons
    assert len(s.reasons) <= matching.MAX_REASONS

    experienced = replace(mentor, experience_years=5)
    assert score(mentee, experienced, WEIGHTS).value == pytest.approx(expected + 15)


def test_caveat_is_never_crowded_out() -> None:
    mentee = tee(
        1,
        needs=fs("a"),
        interests=fs("x"),
        subject="math",
        times=fs("weekend"),
        format="offline",
        experience_years=0,
    )
    mentor = tor(
        2,
        competences=fs("a"),
        interests=fs("x"),
        subject="math",
        times=fs("weekend"),
        format="online",
        experience_years=2,
    )
    reasons = score(mentee, mentor, WEIGHTS).reasons
    assert len(reasons) == 4
    assert Reason("format_mismatch", ("offline", "online")) in reasons


def test_preferences_add_bonus_and_lead_the_reasons() -> None:
    mentee = tee(1, needs=fs("a", "b"), preferred=frozenset({10}))
    mentor = tor(10, competences=fs("a"))
    base = score(tee(1, needs=fs("a", "b")), tor(10, competences=fs("a")), WEIGHTS)
    picked = score(mentee, mentor, WEIGHTS)
    assert picked.value == pytest.approx(base.value + 10)
    assert picked.reasons[0] == Reason("picked_by_mentee")

    mutual = score(mentee, replace(mentor, preferred=frozenset({1})), WEIGHTS)
    assert mutual.value == pytest.approx(base.value + 30)
    assert mutual.reasons[0] == Reason("mutual_choice")

    by_mentor = score(
        tee(1, needs=fs("a", "b")), replace(mentor, preferred=frozenset({1})), WEIGHTS
    )
    assert by_mentor.reasons[0] == Reason("picked_by_mentor")


def test_incompatible_forms() -> None:
    mentee = tee(1, form="employer-pupil")
    mentor = tor(2, forms=(SS, TT))
    assert explain_incompatible(mentee, mentor) == Reason("form_mismatch", ("employer-pupil",))
    s = score(mentee, mentor, WEIGHTS)
    assert not s.compatible and s.value == 0.0
    assert s.reasons == (Reason("form_mismatch", ("employer-pupil",)),)
    assert explain_incompatible(tee(1), mentor) is None


def random_profiles(
    rng: random.Random, n_mentees: int, n_mentors: int, forms: tuple[str, ...] = (SS, TT)
) -> tuple[list[MenteeProfile], list[MentorProfile]]:
    needs = [f"n{i}" for i in range(8)]
    interests = [f"i{i}" for i in range(8)]
    subjects = ["math", "physics", "history", None]

    def some(pool: list[str], hi: int) -> frozenset[str]:
        return frozenset(rng.sample(pool, rng.randint(0, hi)))

    def maybe_years(hi: float) -> float | None:
        return None if rng.random() < 0.2 else round(rng.uniform(0, hi), 1)

    mentees = [
        MenteeProfile(
            id=i,
            form=rng.choice(forms),
            category=rng.choice(["student", "teacher", "pupil"]),
            needs=some(needs, 4),
            interests=some(interests, 4),
            subject=rng.choice(subjects),
            times=some(list(matching.TIMES), 3),
            format=rng.choice([*matching.FORMATS, None]),
            experience_years=maybe_years(6),
            preferred=frozenset(100 + j for j in range(n_mentors) if rng.random() < 0.15),
        )
        for i in range(1, n_mentees + 1)
    ]
    mentors = [
        MentorProfile(
            id=100 + j,
            forms=frozenset(rng.sample(forms, rng.randint(1, len(forms)))),
            competences=some(needs, 6),
            interests=some(interests, 5),
            subject=rng.choice(subjects),
            times=some(list(matching.TIMES), 4),
            format=rng.choice([*matching.FORMATS, None]),
            experience_years=maybe_years(12),
            capacity=rng.randint(0, 3),
            preferred=frozenset(i for i in range(1, n_mentees + 1) if rng.random() < 0.15),
        )
        for j in range(n_mentors)
    ]
    return mentees, mentors


def test_scalar_and_vectorised_scores_agree() -> None:
    rng = random.Random(7)
    for _ in range(5):
        mentees, mentors = random_profiles(rng, 60, 40, forms=(SS, TT, "employer-pupil"))
        matrix = score_matrix(mentees, mentors, WEIGHTS)
        for i, t in enumerate(mentees):
            for j, m in enumerate(mentors):
                s = score(t, m, WEIGHTS)
                if s.compatible:
                    assert matrix[i, j] == s.value, (t, m)
                else:
                    assert math.isnan(matrix[i, j])


# --------------------------------------------------------------------------- assignment

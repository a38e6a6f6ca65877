from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from bot.services import matching
from bot.services.matching import (
    Assignment,
    MenteeProfile,
    MentorProfile,
    Reason,
    Weights,
    assign,
    explain_incompatible,
    greedy_assign,
    load_weights,
    score,
    score_matrix,
)
from bot.services.matching import assignment as solver

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


def greedy_trap() -> tuple[list[MenteeProfile], list[MentorProfile]]:
    # A-X 100, A-Y 75, B-X 75, B-Y 25: greedy takes A-X and leaves B with Y
    mentees = [tee(1, needs=fs("a", "b", "c", "d")), tee(2, needs=fs("e", "f", "g", "h"))]
    mentors = [
        tor(10, competences=fs("a", "b", "c", "d", "e", "f", "g")),
        tor(20, competences=fs("a", "b", "c", "e")),
    ]
    return mentees, mentors


def test_optimum_beats_greedy_on_2x2() -> None:
    mentees, mentors = greedy_trap()
    greedy = greedy_assign(mentees, mentors, NEEDS_ONLY)
    best = assign(mentees, mentors, NEEDS_ONLY)
    assert pairs_of(greedy) == {(1, 10), (2, 20)}
    assert greedy.total_score == 125.0
    assert pairs_of(best) == {(1, 20), (2, 10)}
    assert best.total_score == 150.0
    assert best.unmatched == [] and greedy.unmatched == []


def test_capacity_two_gets_two_never_three() -> None:
    mentees = [tee(i, needs=fs("a")) for i in range(1, 5)]
    mentors = [tor(10, capacity=2, competences=fs("a"))]
    result = assign(mentees, mentors, NEEDS_ONLY)
    assert len(result.pairs) == 2
    assert {u.reason for u in result.unmatched} == {"all_full"}
    assert len(greedy_assign(mentees, mentors, NEEDS_ONLY).pairs) == 2


def test_form_is_a_hard_constraint() -> None:
    mentees = [tee(1, form=TT, category="teacher", needs=fs("a"))]
    mentors = [tor(10, forms=(SS,), capacity=3, competences=fs("a"))]
    result = assign(mentees, mentors, NEEDS_ONLY)
    assert result.pairs == []
    assert [(u.mentee_id, u.reason) for u in result.unmatched] == [(1, "no_mentor_for_form")]

    mentors.append(tor(20, forms=(SS, TT), competences=fs("a")))
    assert pairs_of(assign(mentees, mentors, NEEDS_ONLY)) == {(1, 20)}


def test_excluded_pairs_are_never_proposed() -> None:
    mentees, mentors = greedy_trap()
    excluded = {(1, 20)}
    for solve in (assign, greedy_assign):
        result = solve(mentees, mentors, NEEDS_ONLY, excluded=excluded)
        assert not pairs_of(result) & excluded
    assert pairs_of(assign(mentees, mentors, NEEDS_ONLY, excluded=excluded)) == {
        (1, 10),
        (2, 20),
    }

    only = assign(mentees[:1], mentors, NEEDS_ONLY, excluded={(1, 10), (1, 20)})
    assert [(u.mentee_id, u.reason) for u in only.unmatched] == [(1, "below_threshold")]


def test_unmatched_reasons() -> None:
    mentees = [
        tee(1, form="employer-pupil", category="pupil", needs=fs("a")),  # nobody offers it
        tee(2, needs=fs("x", "y", "z", "w")),  # nobody covers enough
        tee(3, needs=fs("a")),
        tee(4, needs=fs("a")),
        tee(5, form=TT, category="teacher", needs=fs("a")),  # only a full mentor fits
    ]
    mentors = [
        tor(10, competences=fs("a")),
        tor(20, forms=(TT,), capacity=0, competences=fs("a")),
    ]
    result = assign(mentees, mentors, NEEDS_ONLY)
    reasons = {u.mentee_id: u.reason for u in result.unmatched}
    assert reasons == {1: "no_mentor_for_form", 2: "below_threshold", 4: "all_full", 5: "all_full"}
    assert pairs_of(result) == {(3, 10)}  # equal scores: the lower mentee id wins
    greedy = greedy_assign(mentees, mentors, NEEDS_ONLY)
    assert {u.mentee_id: u.reason for u in greedy.unmatched} == reasons


def test_group_mode_gives_distinct_mentors() -> None:
    mentees = [tee(1, needs=fs("a", "b", "c", "d")), tee(2, needs=fs("a", "b", "c", "d"))]
    mentors = [
        tor(10, capacity=2, competences=fs("a", "b", "c", "d")),
        tor(20, capacity=1, competences=fs("a", "b", "c")),
        tor(30, capacity=2, competences=fs("a", "b")),
    ]
    single = assign(mentees, mentors, NEEDS_ONLY)
    assert pairs_of(single) == {(1, 10), (2, 10)}

    group = assign(mentees, mentors, NEEDS_ONLY, max_mentors_per_mentee=2)
    check_valid(group, mentees, mentors, NEEDS_ONLY, per_mentee=2)
    assert len(group.pairs) == 4
    assert group.total_score == 100 + 100 + 75 + 50
    for mentee_id in (1, 2):
        assert len({p.mentor_id for p in group.pairs if p.mentee_id == mentee_id}) == 2

    with pytest.raises(ValueError):
        assign(mentees, mentors, NEEDS_ONLY, max_mentors_per_mentee=0)


def test_deterministic_and_independent_of_input_order() -> None:
    rng = random.Random(3)
    mentees, mentors = random_profiles(rng, 80, 25)
    first = assign(mentees, mentors, WEIGHTS)
    for _ in range(3):
        rng.shuffle(mentees)
        rng.shuffle(mentors)
        assert assign(mentees, mentors, WEIGHTS) == first
        assert greedy_assign(mentees, mentors, WEIGHTS) == greedy_assign(
            sorted(mentees, key=lambda t: t.id), mentors, WEIGHTS
        )
    assert [p.mentee_id for p in first.pairs] == sorted(p.mentee_id for p in first.pairs)


def test_equal_totals_go_to_lower_mentee_ids() -> None:
    mentees = [tee(i, needs=fs("a")) for i in (7, 3, 9, 5)]
    mentors = [tor(20, competences=fs("a")), tor(10, capacity=1, competences=fs("a"))]
    for order in (mentees, mentees[::-1]):
        result = assign(order, mentors, NEEDS_ONLY)
        assert {p.mentee_id for p in result.pairs} == {3, 5}
        assert [u.mentee_id for u in result.unmatched] == [7, 9]
        assert {p.mentee_id for p in greedy_assign(order, mentors, NEEDS_ONLY).pairs} == {3, 5}


def brute_force(
    mentees: list[MenteeProfile],
    mentors: list[MentorProfile],
    weights: Weights,
    excluded: set[tuple[int, int]],
    per_mentee: int,
) -> int:
    """Best total (hundredths) over every feasible assignment."""
    options = []
    for t in mentees:
        allowed = [
            j
            for j, m in enumerate(mentors)
            if (t.id, m.id) not in excluded
            and score(t, m, weights).compatible
            and score(t, m, weights).points >= weights.threshold_points
        ]
        options.append(
            [c for k in range(per_mentee + 1) for c in itertools.combinations(allowed, k)]
        )
    gain = [[score(t, m, weights).points for m in mentors] for t in mentees]
    best = 0
    for choice in itertools.product(*options):
        load = [0] * len(mentors)
        for chosen in choice:
            for j in chosen:
                load[j] += 1
        if any(load[j] > max(m.capacity, 0) for j, m in enumerate(mentors)):
            continue
        best = max(best, sum(gain[i][j] for i, chosen in enumerate(choice) for j in chosen))
    return best


@pytest.mark.parametrize("per_mentee", [1, 2])
def test_matches_brute_force_on_small_instances(per_mentee: int) -> None:
    rng = random.Random(11 + per_mentee)
    weights = replace(WEIGHTS, threshold=35)
    for _ in range(25 if per_mentee == 1 else 12):
        mentees, mentors = random_profiles(rng, 5, 3)
        excluded = {(t.id, m.id) for t in mentees for m in mentors if rng.random() < 0.1}
        result = assign(
            mentees, mentors, weights, excluded=excluded, max_mentors_per_mentee=per_mentee
        )
        check_valid(result, mentees, mentors, weights, excluded, per_mentee)
        assert points(result) == brute_force(mentees, mentors, weights, excluded, per_mentee)
        greedy = greedy_assign(
            mentees, mentors, weights, excluded=excluded, max_mentors_per_mentee=per_mentee
        )
        check_valid(greedy, mentees, mentors, weights, excluded, per_mentee)
        assert points(greedy) <= points(result)


def lp_optimum(
    mentees: list[MenteeProfile], mentors: list[MentorProfile], weights: Weights
) -> int:
    """Reference optimum: the b-matching LP over every allowed pair."""
    edges = [
        (i, j, s.points)
        for i, t in enumerate(mentees)
        for j, m in enumerate(mentors)
        if (s := score(t, m, weights)).compatible and s.points >= weights.threshold_points
    ]
    rows, cols, gains = map(np.array, zip(*edges, strict=True))
    n = len(edges)
    a = sparse.csr_array(
        (np.ones(2 * n), (np.concatenate([rows, len(mentees) + cols]), np.tile(np.arange(n), 2))),
        shape=(len(mentees) + len(mentors), n),
    )
    b = np.concatenate([np.ones(len(mentees)), [max(m.capacity, 0) for m in mentors]])
    res = linprog(-gains, A_ub=a, b_ub=b, bounds=(0, 1), method="highs")
    return round(-res.fun)


def test_pruned_solver_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    mentees, mentors = random_profiles(rng, 300, 60)
    weights = replace(WEIGHTS, threshold=30)
    expected = lp_optimum(mentees, mentors, weights)
    assert points(assign(mentees, mentors, weights)) == expected

    # a tiny candidate set forces several certify-and-grow rounds
    monkeypatch.setattr(solver, "_CANDIDATES_PER_MENTEE", 1)
    monkeypatch.setattr(solver, "_CANDIDATES_PER_MENTOR_SLOT", 0)
    monkeypatch.setattr(solver, "_NEAR_MISS", 0)
    result = assign(mentees, mentors, weights)
    check_valid(result, mentees, mentors, weights)
    assert points(result) == expected

    # wrong prices must not produce a wrong answer: the full problem is solved instead
    def no_prices(
        problem: solver.Problem, edges: solver._Edges, chosen: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(problem.mentees), np.int64), np.zeros(len(problem.mentors), np.int64)

    monkeypatch.setattr(solver, "_duals", no_prices)
    assert points(assign(mentees, mentors, weights)) == expected
    assert points(greedy_assign(mentees, mentors, weights)) <= expected


def test_empty_inputs() -> None:
    assert assign([], [], WEIGHTS) == Assignment([], [])
    result = assign([tee(1)], [], WEIGHTS)
    assert result.unmatched[0].reason == "no_mentor_for_form"
    assert greedy_assign([tee(1)], [], WEIGHTS) == result


# --------------------------------------------------------------------------- weights, bench


def test_load_weights(tmp_path: Path) -> None:
    weights = load_weights()
    assert weights.threshold > 0
    assert weights.base_total > 0
    bad = tmp_path / "w.yaml"
    bad.write_text("needs: 1\nsurprise: 2\n")
    with pytest.raises(ValueError, match="surprise"):
        load_weights(bad)
    bad.write_text("needs: 1\n")
    with pytest.raises(ValueError, match="missing keys"):
        load_weights(bad)
    bad.write_text("- 1\n")
    with pytest.raises(TypeError):
        load_weights(bad)
    with pytest.raises(ValueError):
        replace(weights, threshold=120)


def test_bench_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import matching as bench

    assert bench.main(["--mentees", "300", "--mentors", "60", "--runs", "1", "--seed", "1"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(line)
    assert report["mentees"] == 300 and report["mentors"] == 60
    assert report["total_score"] >= report["greedy_score"]
    assert len(report["runs"]) == 1

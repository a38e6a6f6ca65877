"""Matching: the optimal assignment against greedy, capacities and hard constraints."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from bot.services.matching import (
    Assignment,
    MenteeProfile,
    MentorProfile,
    Weights,
    assign,
    greedy_assign,
    load_weights,
    score,
)
from bot.services.matching import assignment as solver
from tests.unit.test_matching import (  # shared helpers and fixtures
    NEEDS_ONLY,
    SS,
    TT,
    WEIGHTS,
    check_valid,
    fs,
    pairs_of,
    points,
    random_profiles,
    tee,
    tor,
)


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

"""Pair scoring and optimal mentor-mentee assignment (programme stage 5).

Pure Python + numpy/scipy: the handlers load profiles from the database, call
:func:`assign` (or :func:`score` for one pair) and turn reason codes and option ids
into words.

Scores are kept in hundredths of a point (integers) inside the solver so that the
optimum is exact and ties are real ties; :attr:`Score.value` is that integer / 100.

The optimal assignment is a maximum-weight b-matching (mentor capacities, one or
``max_mentors_per_mentee`` mentors per mentee). It is solved on a pruned candidate
graph (the best mentors of every mentee and the best mentees of every mentor) and
then certified against *all* allowed pairs with LP duality: dual prices ``u`` (mentees)
and ``v`` (mentors) are read off the residual graph of the pruned optimum, and
``sum(m*u) + sum(cap*v) + sum(max(0, s - u - v))`` over every allowed pair is an upper
bound of any assignment. When it equals the found total the result is optimal; pairs
that break the bound (and pairs close to breaking it) join the candidates and the pruned
problem is solved again. On a college-sized base that takes two solves of ~0.2 s each.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

FORMS = (
    "student-student",
    "teacher-teacher",
    "teacher-student",
    "student-pupil",
    "employer-pupil",
    "employer-student",
)
TIMES = ("weekday_morning", "weekday_afternoon", "weekday_evening", "weekend")
FORMATS = ("online", "offline", "mixed")
MIXED = "mixed"
TEACHER = "teacher"

DEFAULT_WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "data" / "matching.yaml"
MAX_REASONS = 4

UnmatchedReason = Literal["no_mentor_for_form", "all_full", "below_threshold"]

_MAX_POINTS = 10_000  # 100.00 in hundredths
_CANDIDATES_PER_MENTEE = 6
_CANDIDATES_PER_MENTOR_SLOT = 3
_NEAR_MISS = 300  # 3 points
_MAX_PRUNED_ROUNDS = 20


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True, slots=True)
class MenteeProfile:
    id: int
    form: str
    category: str  # student | teacher | pupil
    needs: frozenset[str]
    interests: frozenset[str]
    subject: str | None
    times: frozenset[str]
    format: str | None  # online | offline | mixed
    experience_years: float | None
    preferred: frozenset[int] = frozenset()  # mentor ids picked after a group meeting


@dataclass(frozen=True, slots=True)
class MentorProfile:
    id: int
    forms: frozenset[str]
    competences: frozenset[str]
    interests: frozenset[str]
    subject: str | None
    times: frozenset[str]
    format: str | None
    experience_years: float | None
    capacity: int  # free slots now
    preferred: frozenset[int] = frozenset()  # mentee ids picked after a group meeting


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True, slots=True)
class Weights:
    """Criteria weights (normalised to 0-100), bonus points and the proposal threshold."""

    needs: float
    interests: float
    subject: float
    times: float
    format: float
    experience: float
    picked_by_mentee: float
    picked_by_mentor: float
    mutual_bonus: float
    threshold: float
    neutral: float = 0.5
    interests_saturation: int = 3
    experience_gap_years: float = 1.0
    teacher_mentor_min_years: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"matching weight {f.name!r} must be a number >= 0")
        if self.base_total <= 0:
            raise ValueError("at least one criterion weight must be positive")
        if not 0 <= self.neutral <= 1:
            raise ValueError("neutral must be within 0..1")
        if not 0 <= self.threshold <= 100:
            raise ValueError("threshold must be within 0..100")
        if int(self.interests_saturation) != self.interests_saturation or (
            self.interests_saturation < 1
        ):
            raise ValueError("interests_saturation must be a whole number >= 1")

    @property
    def base_total(self) -> float:
        return (
            self.needs + self.interests + self.subject + self.times + self.format + self.experience
        )

    @property
    def scale(self) -> float:
        return 100.0 / self.base_total

    @property
    def threshold_points(self) -> int:
        return round(self.threshold * 100)


def load_weights(path: str | Path | None = None) -> Weights:
    """Read :class:`Weights` from YAML (default ``bot/data/matching.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS_PATH
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a mapping of weights")
    known = {f.name for f in fields(Weights)}
    required = {f.name for f in fields(Weights) if f.default is MISSING}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"{path}: unknown keys {unknown}")
    if missing := sorted(required - set(data)):
        raise ValueError(f"{path}: missing keys {missing}")
    return Weights(**data)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Score:
    value: float  # 0..100, two decimals
    reasons: tuple[Reason, ...] = ()
    compatible: bool = True

    @property
    def points(self) -> int:
        """The value in hundredths, as the solver sees it."""
        return round(self.value * 100)


@dataclass(frozen=True, slots=True)
class Proposal:
    mentee_id: int
    mentor_id: int
    score: Score


@dataclass(frozen=True, slots=True)
class Unmatched:
    mentee_id: int
    reason: UnmatchedReason


@dataclass(frozen=True, slots=True)
class Assignment:
    pairs: list[Proposal]  # sorted by (mentee_id, mentor_id)
    unmatched: list[Unmatched]  # sorted by mentee_id

    @property
    def total_score(self) -> float:
        return sum(p.score.points for p in self.pairs) / 100


# --------------------------------------------------------------------------- scalar score


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


def _required_experience(mentee: MenteeProfile, weights: Weights) -> float | None:
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

    required = _required_experience(mentee, w)
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


def _vocab(sets: Iterable[frozenset[str]]) -> dict[str, int]:
    return {item: i for i, item in enumerate(sorted(set().union(*sets)))}


def _encode(sets: Sequence[frozenset[str]], vocab: dict[str, int]) -> np.ndarray:
    """Sets as rows of 64-bit words (bit k = vocab item k); items outside vocab are dropped."""
    words = max(1, -(-len(vocab) // 64))
    masks = []
    for items in sets:
        mask = 0
        for item in items:
            bit = vocab.get(item)
            if bit is not None:
                mask |= 1 << bit
        masks.append(mask)
    out = np.zeros((len(sets), words), dtype=np.uint64)
    low64 = (1 << 64) - 1
    for w in range(words):
        out[:, w] = np.array([(m >> (64 * w)) & low64 for m in masks], dtype=np.uint64)
    return out


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_i & b_j| for all i, j."""
    count = np.zeros((a.shape[0], b.shape[0]), dtype=np.int16)
    for w in range(a.shape[1]):
        count += np.bitwise_count(a[:, w, None] & b[None, :, w])
    return count


def _known(*columns: Iterable[str | None]) -> list[str]:
    """The distinct answers given, sorted, without "unanswered"."""
    return sorted({v for column in columns for v in column if v is not None})


def _codes(values: Sequence[str | None], vocab: dict[str, int]) -> np.ndarray:
    return np.array([-1 if v is None else vocab[v] for v in values], dtype=np.int32)


def _block_values(
    mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile], w: Weights
) -> np.ndarray:
    """Score values (float, before rounding) for mentees x mentors that share the form.

    Mirrors :func:`score` operation by operation so both give bit-identical floats.
    """
    neutral = w.neutral

    vocab = _vocab(t.needs for t in mentees)
    covered = _overlap(
        _encode([t.needs for t in mentees], vocab),
        _encode([m.competences for m in mentors], vocab),
    )
    n_needs = np.array([len(t.needs) for t in mentees])[:, None]
    c = np.where(n_needs == 0, neutral, covered / np.maximum(n_needs, 1))
    base = w.needs * c

    vocab = _vocab(t.interests for t in mentees)
    shared = _overlap(
        _encode([t.interests for t in mentees], vocab),
        _encode([m.interests for m in mentors], vocab),
    )
    full = np.minimum(w.interests_saturation, [len(t.interests) for t in mentees])[:, None]
    c = np.where(full == 0, neutral, np.minimum(shared, full) / np.maximum(full, 1))
    base = base + w.interests * c

    subjects = _known([t.subject for t in mentees], [m.subject for m in mentors])
    vocab = {subject: i for i, subject in enumerate(subjects)}
    se = _codes([t.subject for t in mentees], vocab)[:, None]
    sm = _codes([m.subject for m in mentors], vocab)[None, :]
    c = np.where((se < 0) | (sm < 0), neutral, (se == sm).astype(np.float64))
    base = base + w.subject * c

    vocab = _vocab(t.times for t in mentees)
    common = _overlap(
        _encode([t.times for t in mentees], vocab), _encode([m.times for m in mentors], vocab)
    )
    te = np.array([bool(t.times) for t in mentees])[:, None]
    tm = np.array([bool(m.times) for m in mentors])[None, :]
    c = np.where(te & tm, (common > 0).astype(np.float64), neutral)
    base = base + w.times * c

    formats = _known([t.format for t in mentees], [m.format for m in mentors])
    vocab = {MIXED: 0} | {f: i + 1 for i, f in enumerate(f for f in formats if f != MIXED)}
    fe = _codes([t.format for t in mentees], vocab)[:, None]
    fm = _codes([m.format for m in mentors], vocab)[None, :]
    fits = (fe == fm) | (fe == 0) | (fm == 0)
    c = np.where((fe < 0) | (fm < 0), neutral, fits.astype(np.float64))
    base = base + w.format * c

    required = [_required_experience(t, w) for t in mentees]
    req = np.array([np.nan if r is None else r for r in required], dtype=np.float64)[:, None]
    exp = np.array(
        [np.nan if m.experience_years is None else m.experience_years for m in mentors],
        dtype=np.float64,
    )[None, :]
    c = np.where(np.isnan(req) | np.isnan(exp), neutral, (exp >= req).astype(np.float64))
    base = base + w.experience * c

    value = base * w.scale

    col_of = {m.id: j for j, m in enumerate(mentors)}
    row_of = {t.id: i for i, t in enumerate(mentees)}
    by_mentee = {(i, col_of[j]) for i, t in enumerate(mentees) for j in t.preferred if j in col_of}
    by_mentor = {(row_of[i], j) for j, m in enumerate(mentors) for i in m.preferred if i in row_of}
    for picks, bonus in (
        (by_mentee, w.picked_by_mentee),
        (by_mentor, w.picked_by_mentor),
        (by_mentee & by_mentor, w.mutual_bonus),
    ):
        if picks:
            rows, cols = np.array(sorted(picks)).T
            value[rows, cols] = value[rows, cols] + bonus
    return np.minimum(value, 100.0)


def _to_points(values: np.ndarray) -> np.ndarray:
    return np.rint(values * 100).astype(np.int32)


def score_matrix(
    mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile], weights: Weights
) -> np.ndarray:
    """Score values of every pair at once (NaN where the forms differ)."""
    out = np.full((len(mentees), len(mentors)), np.nan)
    for form in sorted({t.form for t in mentees}):
        rows = [i for i, t in enumerate(mentees) if t.form == form]
        cols = [j for j, m in enumerate(mentors) if form in m.forms]
        if cols:
            values = _block_values([mentees[i] for i in rows], [mentors[j] for j in cols], weights)
            out[np.ix_(rows, cols)] = _to_points(values) / 100
    return out


# --------------------------------------------------------------------------- problem


@dataclass(slots=True)
class _Block:
    rows: np.ndarray  # mentee indices
    cols: np.ndarray  # mentor indices
    points: np.ndarray  # (rows, cols) int32 hundredths; -1 = never allowed


@dataclass(slots=True)
class _Problem:
    mentees: list[MenteeProfile]  # sorted by id
    mentors: list[MentorProfile]  # sorted by id
    capacity: np.ndarray  # int64, >= 0
    per_mentee: int
    blocks: list[_Block]
    has_form: np.ndarray  # some mentor offers the mentee's form
    has_allowed: np.ndarray  # some pair of the mentee is allowed (ignoring capacity)

    def usable(self, block: _Block) -> np.ndarray:
        """Points with full mentors masked out (-1)."""
        return np.where(self.capacity[block.cols][None, :] > 0, block.points, -1)


def _prepare(
    mentees: Sequence[MenteeProfile],
    mentors: Sequence[MentorProfile],
    weights: Weights,
    excluded: Collection[tuple[int, int]],
    max_mentors_per_mentee: int,
) -> _Problem:
    if max_mentors_per_mentee < 1:
        raise ValueError("max_mentors_per_mentee must be >= 1")
    tees = sorted(mentees, key=lambda t: t.id)
    tors = sorted(mentors, key=lambda m: m.id)
    for kind, items in (("mentee", tees), ("mentor", tors)):
        ids = [p.id for p in items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate {kind} ids")

    capacity = np.array([max(0, m.capacity) for m in tors], dtype=np.int64)
    has_form = np.zeros(len(tees), dtype=bool)
    has_allowed = np.zeros(len(tees), dtype=bool)
    banned: dict[int, list[int]] = {}
    for mentee_id, mentor_id in excluded:
        banned.setdefault(mentee_id, []).append(mentor_id)
    blocks: list[_Block] = []
    threshold = weights.threshold_points
    for form in sorted({t.form for t in tees}):
        rows = np.array([i for i, t in enumerate(tees) if t.form == form], dtype=np.int64)
        cols = np.array([j for j, m in enumerate(tors) if form in m.forms], dtype=np.int64)
        if not len(cols):
            continue
        has_form[rows] = True
        values = _block_values([tees[i] for i in rows], [tors[j] for j in cols], weights)
        points = _to_points(values)
        points[points < threshold] = -1
        if banned:
            col_of = {tors[j].id: c for c, j in enumerate(cols)}
            hits = [
                (r, col_of[b])
                for r, i in enumerate(rows.tolist())
                for b in banned.get(tees[i].id, ())
                if b in col_of
            ]
            if hits:
                r, c = np.array(hits).T
                points[r, c] = -1
        has_allowed[rows] = (points >= 0).any(axis=1)
        blocks.append(_Block(rows, cols, points))
    return _Problem(tees, tors, capacity, max_mentors_per_mentee, blocks, has_form, has_allowed)


def _result(problem: _Problem, pairs: Iterable[tuple[int, int]], weights: Weights) -> Assignment:
    tees, tors = problem.mentees, problem.mentors
    proposals = [
        Proposal(tees[i].id, tors[j].id, score(tees[i], tors[j], weights))
        for i, j in sorted(pairs)
    ]
    matched = {p.mentee_id for p in proposals}
    unmatched: list[Unmatched] = []
    for i, t in enumerate(tees):
        if t.id in matched:
            continue
        reason: UnmatchedReason
        if not problem.has_form[i]:
            reason = "no_mentor_for_form"
        elif not problem.has_allowed[i]:
            reason = "below_threshold"
        else:
            reason = "all_full"
        unmatched.append(Unmatched(t.id, reason))
    return Assignment(proposals, unmatched)


# --------------------------------------------------------------------------- greedy


def greedy_assign(
    mentees: Sequence[MenteeProfile],
    mentors: Sequence[MentorProfile],
    weights: Weights,
    *,
    excluded: Collection[tuple[int, int]] = frozenset(),
    max_mentors_per_mentee: int = 1,
) -> Assignment:
    """Baseline: take the highest-scoring allowed pair first (ties: mentee id, mentor id)."""
    problem = _prepare(mentees, mentors, weights, excluded, max_mentors_per_mentee)
    tee_ids = [t.id for t in problem.mentees]
    tor_ids = [m.id for m in problem.mentors]
    load = [0] * len(problem.mentors)
    cap = problem.capacity.tolist()
    full = problem.capacity == 0  # kept as an array to skip full mentors in bulk

    # each mentee walks down its own ranking (best first, ties by mentor id); the heap
    # holds every mentee's current candidate and yields the globally best pair
    ranked_tors: list[np.ndarray] = []
    ranked_pts: list[np.ndarray] = []
    where: dict[int, tuple[int, int, int]] = {}  # mentee -> (block, row, candidates)
    heap: list[tuple[int, int, int, int]] = []
    for b, block in enumerate(problem.blocks):
        usable = problem.usable(block)
        order = np.argsort(-usable, axis=1, kind="stable")
        ranked_tors.append(block.cols[order])
        ranked_pts.append(np.take_along_axis(usable, order, axis=1))
        counts = (usable >= 0).sum(axis=1).tolist()
        for r, i in enumerate(block.rows.tolist()):
            if counts[r]:
                where[i] = (b, r, counts[r])
                j = int(ranked_tors[b][r, 0])
                heap.append((-int(ranked_pts[b][r, 0]), tee_ids[i], tor_ids[j], i))
    heapq.heapify(heap)

    position = dict.fromkeys(where, 0)
    taken = dict.fromkeys(where, 0)
    pairs: list[tuple[int, int]] = []
    while heap:
        _, tee_id, _, i = heapq.heappop(heap)
        b, r, n = where[i]
        tors, pts = ranked_tors[b][r], ranked_pts[b][r]
        k = position[i]
        j = int(tors[k])
        if not full[j]:
            load[j] += 1
            full[j] = load[j] >= cap[j]
            taken[i] += 1
            pairs.append((i, j))
            if taken[i] == problem.per_mentee:
                continue
            k += 1
        if k < n:
            k += int(np.argmin(full[tors[k:n]]))  # the next mentor with a free slot
            if full[tors[k]]:
                k = n
        position[i] = k
        if k < n:
            heapq.heappush(heap, (-int(pts[k]), tee_id, tor_ids[int(tors[k])], i))
    return _result(problem, pairs, weights)


# --------------------------------------------------------------------------- optimum


def assign(
    mentees: Sequence[MenteeProfile],
    mentors: Sequence[MentorProfile],
    weights: Weights,
    *,
    excluded: Collection[tuple[int, int]] = frozenset(),
    max_mentors_per_mentee: int = 1,
) -> Assignment:
    """Assignment with the maximum total score (exact), respecting capacities and bans.

    Among assignments with the same total, the one matching mentees with lower ids
    (registered earlier) wins; see :func:`_tie_break`.
    """
    problem = _prepare(mentees, mentors, weights, excluded, max_mentors_per_mentee)
    return _result(problem, _optimal_pairs(problem), weights)


@dataclass(slots=True)
class _Edges:
    mentee: np.ndarray
    mentor: np.ndarray
    gain: np.ndarray  # int64: points * unit + mentee bonus, see _tie_break


def _tie_break(problem: _Problem) -> tuple[int, np.ndarray]:
    """Integer gains that settle equal totals in favour of lower mentee ids.

    gain = points * unit + bonus(mentee) with bonus = n - 1 - rank by id. The bonuses of
    one assignment add up to less than ``unit``, so more points always win, and among
    equal totals the assignment whose matched mentees registered earlier (smaller sum of
    id ranks) wins. The assignment solver works in float64, so the tie-break is dropped
    (unit 1, no bonus) where the costs would stop being exact integers, and in group
    mode, where the LP solver prefers small coefficients.
    """
    n = len(problem.mentees)
    slots = int(np.minimum(problem.capacity, n).sum())
    pairs = min(slots, n * problem.per_mentee)
    unit = pairs * max(n - 1, 0) + 1
    if problem.per_mentee > 1 or (_MAX_POINTS + 1) * unit * slots >= 2**52:
        return 1, np.zeros(n, dtype=np.int64)
    return unit, np.arange(n - 1, -1, -1, dtype=np.int64)


def _optimal_pairs(problem: _Problem) -> list[tuple[int, int]]:
    unit, bonus = _tie_break(problem)
    usable = [problem.usable(b) for b in problem.blocks]
    candidates = [_initial_candidates(problem, b, p) for b, p in zip(problem.blocks, usable)]
    for _ in range(_MAX_PRUNED_ROUNDS):
        edges = _collect(problem.blocks, usable, candidates, unit, bonus)
        chosen = _solve(problem, edges, unit)
        u, v = _duals(problem, edges, chosen)
        grown = False
        for block, points, cand in zip(problem.blocks, usable, candidates):
            allowed = points >= 0
            slack = (
                points.astype(np.int64) * unit
                + (bonus[block.rows] - u[block.rows])[:, None]
                - v[block.cols][None, :]
            )
            if (allowed & ~cand & (slack > 0)).any():
                # prices shift once the missing pairs join, and pairs just short of
                # breaking the bound tend to break it next round: take them now
                cand |= allowed & (slack > -_NEAR_MISS * unit)
                grown = True
        if grown:
            continue
        # no pair outside the candidates beats the prices, so the candidates' dual
        # objective bounds every assignment; reaching it proves the optimum
        slack = edges.gain - u[edges.mentee] - v[edges.mentor]
        bound = (
            int((problem.per_mentee * u).sum())
            + int((problem.capacity * v).sum())
            + int(np.maximum(slack, 0).sum())
        )
        if bound == int(edges.gain[chosen].sum()):
            return _pairs(edges, chosen)
        break  # only wrong prices can get here; the full problem below is exact anyway
    full = [points >= 0 for points in usable]
    edges = _collect(problem.blocks, usable, full, unit, bonus)
    return _pairs(edges, _solve(problem, edges, unit))


def _initial_candidates(problem: _Problem, block: _Block, points: np.ndarray) -> np.ndarray:
    """The best mentors of each mentee and the best mentees of each mentor."""
    cand = np.zeros(points.shape, dtype=bool)
    n_rows, n_cols = points.shape
    k = min(_CANDIDATES_PER_MENTEE, n_cols)
    if k:
        best = np.argpartition(-points, k - 1, axis=1)[:, :k]
        cand[np.arange(n_rows)[:, None], best] = True
    max_cap = int(problem.capacity[block.cols].max(initial=0))
    k = min(_CANDIDATES_PER_MENTOR_SLOT * max_cap, n_rows)
    if k:
        best = np.argpartition(-points, k - 1, axis=0)[:k, :]
        cand[best, np.arange(n_cols)[None, :]] = True
    return cand & (points >= 0)


def _collect(
    blocks: list[_Block],
    usable: list[np.ndarray],
    masks: list[np.ndarray],
    unit: int,
    bonus: np.ndarray,
) -> _Edges:
    tee, tor, gain = [], [], []
    for block, points, mask in zip(blocks, usable, masks):
        r, c = np.nonzero(mask)
        tee.append(block.rows[r])
        tor.append(block.cols[c])
        gain.append(points[r, c].astype(np.int64) * unit + bonus[block.rows[r]])
    empty = np.zeros(0, dtype=np.int64)
    return _Edges(
        np.concatenate([empty, *tee]),
        np.concatenate([empty, *tor]),
        np.concatenate([empty, *gain]),
    )


def _pairs(edges: _Edges, chosen: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(edges.mentee[chosen].tolist(), edges.mentor[chosen].tolist()))


def _solve(problem: _Problem, edges: _Edges, unit: int) -> np.ndarray:
    """Exact optimum on the given edges; returns a mask of the chosen edges."""
    if not len(edges.gain):
        return np.zeros(0, dtype=bool)
    if problem.per_mentee == 1:
        return _solve_assignment(problem.capacity, edges, (_MAX_POINTS + 1) * unit)
    return _solve_lp(problem.capacity, problem.per_mentee, edges)


def _solve_assignment(capacity: np.ndarray, edges: _Edges, ceiling: int) -> np.ndarray:
    """One mentor per mentee: a sparse assignment problem between mentor slots and mentees.

    The smaller side forms the rows (every row costs one augmentation) and each row gets
    a private "left alone" column, so a full matching always exists. Cost = ceiling - gain
    stays positive: explicit zeros would vanish from a sparse matrix.
    """
    tees, tee = np.unique(edges.mentee, return_inverse=True)
    tors, tor = np.unique(edges.mentor, return_inverse=True)
    slots = np.minimum(capacity[tors], np.bincount(tor, minlength=len(tors)))
    first_slot = np.cumsum(slots) - slots
    n_slots = int(slots.sum())

    per_edge = slots[tor]
    edge = np.repeat(np.arange(len(tor)), per_edge)
    copy = np.arange(len(edge)) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    slot_of, tee_of = first_slot[tor[edge]] + copy, tee[edge]
    cost = (ceiling - edges.gain[edge]).astype(np.float64)

    slots_are_rows = n_slots <= len(tees)
    rows, cols = (slot_of, tee_of) if slots_are_rows else (tee_of, slot_of)
    n_rows, n_cols = (n_slots, len(tees)) if slots_are_rows else (len(tees), n_slots)
    alone = np.arange(n_rows)
    graph = sparse.csr_array(
        (
            np.concatenate([cost, np.full(n_rows, float(ceiling))]),
            (np.concatenate([rows, alone]), np.concatenate([cols, n_cols + alone])),
        ),
        shape=(n_rows, n_cols + n_rows),
    )
    row, col = min_weight_full_bipartite_matching(graph)
    paired = col < n_cols
    slot_ids, tee_ids = (row, col) if slots_are_rows else (col, row)
    slot_ids, tee_ids = slot_ids[paired], tee_ids[paired]

    owner = np.repeat(np.arange(len(tors)), slots)
    key = tee * len(tors) + tor
    order = np.argsort(key)
    hit = order[np.searchsorted(key[order], tee_ids * len(tors) + owner[slot_ids])]
    chosen = np.zeros(len(tor), dtype=bool)
    chosen[hit] = True
    return chosen


def _solve_lp(capacity: np.ndarray, per_mentee: int, edges: _Edges) -> np.ndarray:
    """Several distinct mentors per mentee: the b-matching LP, integral because its
    matrix is totally unimodular and HiGHS returns a vertex."""
    tees, tee = np.unique(edges.mentee, return_inverse=True)
    tors, tor = np.unique(edges.mentor, return_inverse=True)
    n = len(tee)
    a = sparse.csr_array(
        (np.ones(2 * n), (np.concatenate([tee, len(tees) + tor]), np.tile(np.arange(n), 2))),
        shape=(len(tees) + len(tors), n),
    )
    b = np.concatenate([np.full(len(tees), per_mentee), capacity[tors]])
    res = linprog(-edges.gain, A_ub=a, b_ub=b, bounds=(0, 1), method="highs")
    if res.status != 0:
        raise RuntimeError(f"assignment LP failed: {res.message}")
    x = np.rint(res.x)
    if np.abs(res.x - x).max() > 1e-6:
        raise RuntimeError("assignment LP returned a fractional solution")
    return x > 0.5


def _duals(problem: _Problem, edges: _Edges, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal dual prices of the solved edges from shortest paths in the residual graph.

    Nodes: mentees, mentors and one source/sink node z. An optimal flow leaves no negative
    cycle there, so shortest distances d are feasible potentials; the prices are
    u = d(mentee) - d(z) and v = d(z) - d(mentor), clipped at 0.
    """
    n, m = len(problem.mentees), len(problem.mentors)
    z = n + m
    deg = np.bincount(edges.mentee[chosen], minlength=n)
    load = np.bincount(edges.mentor[chosen], minlength=m)
    open_tees = np.flatnonzero(deg < problem.per_mentee)
    busy_tees = np.flatnonzero(deg > 0)
    open_tors = n + np.flatnonzero(load < problem.capacity)
    busy_tors = n + np.flatnonzero(load > 0)
    to_z = np.concatenate([busy_tees, open_tors])
    from_z = np.concatenate([open_tees, busy_tors])
    tail = np.concatenate(
        [edges.mentee[~chosen], n + edges.mentor[chosen], to_z, np.full(len(from_z), z)]
    )
    head = np.concatenate(
        [n + edges.mentor[~chosen], edges.mentee[chosen], np.full(len(to_z), z), from_z]
    )
    cost = np.concatenate(
        [-edges.gain[~chosen], edges.gain[chosen], np.zeros(len(to_z) + len(from_z), np.int64)]
    )
    d = _shortest_from_everywhere(n + m + 1, tail, head, cost)
    u = np.maximum(d[:n] - d[z], 0)
    v = np.maximum(d[z] - d[n:z], 0)
    return u, v


def _shortest_from_everywhere(
    n_nodes: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Bellman-Ford from a virtual root joined to every node by a zero arc.

    Each round relaxes, all at once, the arcs leaving the nodes improved in the last one.
    """
    order = np.argsort(tail, kind="stable")
    tail, head, cost = tail[order], head[order], cost[order]
    start = np.searchsorted(tail, np.arange(n_nodes + 1))
    dist = np.zeros(n_nodes, dtype=np.int64)
    active = np.arange(n_nodes)
    for _ in range(n_nodes + 1):
        lo, width = start[active], start[active + 1] - start[active]
        arcs = np.repeat(lo - np.cumsum(width) + width, width) + np.arange(width.sum())
        cand = dist[tail[arcs]] + cost[arcs]
        better = cand < dist[head[arcs]]
        if not better.any():
            return dist
        improved = head[arcs][better]
        np.minimum.at(dist, improved, cand[better])
        active = np.unique(improved)
    raise RuntimeError("negative cycle: the assignment is not optimal")

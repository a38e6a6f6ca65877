"""Every pair scored at once (vectorised, bit-identical to :func:`score`) and the
assignment problem built from those scores."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.services.matching.model import (
    MIXED,
    Assignment,
    MenteeProfile,
    MentorProfile,
    Proposal,
    Unmatched,
    UnmatchedReason,
    Weights,
)
from bot.services.matching.scoring import required_experience, score


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

    required = [required_experience(t, w) for t in mentees]
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
class Block:
    rows: np.ndarray  # mentee indices
    cols: np.ndarray  # mentor indices
    points: np.ndarray  # (rows, cols) int32 hundredths; -1 = never allowed


@dataclass(slots=True)
class Problem:
    mentees: list[MenteeProfile]  # sorted by id
    mentors: list[MentorProfile]  # sorted by id
    capacity: np.ndarray  # int64, >= 0
    per_mentee: int
    blocks: list[Block]
    has_form: np.ndarray  # some mentor offers the mentee's form
    has_allowed: np.ndarray  # some pair of the mentee is allowed (ignoring capacity)

    def usable(self, block: Block) -> np.ndarray:
        """Points with full mentors masked out (-1)."""
        return np.where(self.capacity[block.cols][None, :] > 0, block.points, -1)


def prepare(
    mentees: Sequence[MenteeProfile],
    mentors: Sequence[MentorProfile],
    weights: Weights,
    excluded: Collection[tuple[int, int]],
    max_mentors_per_mentee: int,
) -> Problem:
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
    blocks: list[Block] = []
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
        blocks.append(Block(rows, cols, points))
    return Problem(tees, tors, capacity, max_mentors_per_mentee, blocks, has_form, has_allowed)


def result_of(problem: Problem, pairs: Iterable[tuple[int, int]], weights: Weights) -> Assignment:
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


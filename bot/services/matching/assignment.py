"""The assignment itself: the greedy baseline and the exact optimum (pruned, then
certified with LP duality; see the package docstring)."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from bot.services.matching.model import Assignment, MenteeProfile, MentorProfile, Weights
from bot.services.matching.problem import Block, Problem, prepare, result_of

_MAX_POINTS = 10_000  # 100.00 in hundredths
_CANDIDATES_PER_MENTEE = 6
_CANDIDATES_PER_MENTOR_SLOT = 3
_NEAR_MISS = 300  # 3 points
_MAX_PRUNED_ROUNDS = 20


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
    problem = prepare(mentees, mentors, weights, excluded, max_mentors_per_mentee)
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
    return result_of(problem, pairs, weights)


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
    problem = prepare(mentees, mentors, weights, excluded, max_mentors_per_mentee)
    return result_of(problem, _optimal_pairs(problem), weights)


@dataclass(slots=True)
class _Edges:
    mentee: np.ndarray
    mentor: np.ndarray
    gain: np.ndarray  # int64: points * unit + mentee bonus, see _tie_break


def _tie_break(problem: Problem) -> tuple[int, np.ndarray]:
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


def _optimal_pairs(problem: Problem) -> list[tuple[int, int]]:
    unit, bonus = _tie_break(problem)
    usable = [problem.usable(b) for b in problem.blocks]
    candidates = [
        _initial_candidates(problem, b, p) for b, p in zip(problem.blocks, usable, strict=True)
    ]
    for _ in range(_MAX_PRUNED_ROUNDS):
        edges = _collect(problem.blocks, usable, candidates, unit, bonus)
        chosen = _solve(problem, edges, unit)
        u, v = _duals(problem, edges, chosen)
        grown = False
        for block, points, cand in zip(problem.blocks, usable, candidates, strict=True):
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


def _initial_candidates(problem: Problem, block: Block, points: np.ndarray) -> np.ndarray:
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
    blocks: list[Block],
    usable: list[np.ndarray],
    masks: list[np.ndarray],
    unit: int,
    bonus: np.ndarray,
) -> _Edges:
    tee, tor, gain = [], [], []
    for block, points, mask in zip(blocks, usable, masks, strict=True):
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
    return list(zip(edges.mentee[chosen].tolist(), edges.mentor[chosen].tolist(), strict=True))


def _solve(problem: Problem, edges: _Edges, unit: int) -> np.ndarray:
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


def _duals(problem: Problem, edges: _Edges, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

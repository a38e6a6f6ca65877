"""/top: candidates for "Наставник года" (mentor of the year) and "Лучшая пара" (best pair),
the rewards the seeds name (seed 000, "Механизмы мотивации и поощрения наставников").

One formula for both rankings (our own design; the README documents it):

    points = 10 × C + M + 3 × S + 3 × R

- C, completed cycles: pairs with the status "completed" (a pair: 1 or 0);
- M, meetings held (a group's meeting once for its mentor, once for each pair of the group);
- S, partners' satisfaction: the mean 1-10 "overall satisfaction" of the final survey, given
  by the mentor's mentees (for a mentor) or by both sides (for a pair); 0 without answers;
- R, the final reports' rating: the mean of the 1-10 ratings in the mentee's final report
  ("satisfaction") and in the curators' review of the pair ("pair_rating"); 0 without any.

Ties: more points first, then more completed cycles, more meetings, higher S, higher R, and
finally the lower number (the mentor's participant id, the pair's id), so the order never
depends on the database. A candidate has held at least one meeting or completed a cycle;
people who withdrew consent are not candidates. The top 10 are shown, each with C, M, S, R.
Plain Python: no aiogram, no texts, never commits.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PairStatus
from db.queries import report_stats as q

TOP = 10
W_COMPLETED, W_MEETINGS, W_SATISFACTION, W_RATING = 10, 1, 3, 3
# The 1-10 ratings of the final reports: (questionnaire, question), by response stage prefix.
RATINGS = (("report-mentee", "satisfaction"), ("review-curator", "pair_rating"))
RATING_STAGES = ("final:", "review:")
# Means and points are compared rounded to this many decimals, so that equal values reached
# by different float sums tie (then the tie-breaks decide) instead of differing at 1e-16.
PRECISION = 9


@dataclass(slots=True)
class Mean:
    total: int = 0
    count: int = 0

    def add(self, total: int, count: int) -> None:
        self.total += total
        self.count += count

    @property
    def value(self) -> float:
        return round(self.total / self.count, PRECISION) if self.count else 0.0


@dataclass(slots=True)
class Candidate:
    id: int  # the mentor's participant id, or the pair's id
    completed: int = 0
    meetings: int = 0
    satisfaction: Mean = field(default_factory=Mean)
    rating: Mean = field(default_factory=Mean)
    # the people: a mentor's participant id; a pair's mentor and mentee participant ids
    people: tuple[int, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def points(self) -> float:
        return round(W_COMPLETED * self.completed + W_MEETINGS * self.meetings
                     + W_SATISFACTION * self.satisfaction.value + W_RATING * self.rating.value,
                     PRECISION)

    def order(self) -> tuple[float, int, int, float, float, int]:
        return (-self.points, -self.completed, -self.meetings, -self.satisfaction.value,
                -self.rating.value, self.id)


@dataclass(slots=True)
class Top:
    organisation_id: int
    mentors: list[Candidate] = field(default_factory=list)
    pairs: list[Candidate] = field(default_factory=list)


def ranked(candidates: Iterable[Candidate], limit: int = TOP) -> list[Candidate]:
    found = (c for c in candidates if c.meetings > 0 or c.completed > 0)
    return heapq.nsmallest(limit, found, key=Candidate.order)


def _pair_of_stage(stage: str) -> int | None:
    for prefix in RATING_STAGES:
        if stage.startswith(prefix) and stage[len(prefix):].isdigit():
            return int(stage[len(prefix):])
    return None


def rank_all(
    rows: list[q.PairRow], by_pair: dict[int, int], by_group: dict[str, int],
    satisfaction: dict[tuple[int, int], tuple[int, int]], ratings: dict[int, Mean], limit: int,
) -> tuple[list[Candidate], list[Candidate]]:
    """The top mentors and pairs from the organisation's aggregates (pure Python)."""
    mentors: dict[int, Candidate] = {}
    pairs: list[Candidate] = []
    groups: dict[int, set[str]] = {}
    for row in rows:
        done = int(row.status == PairStatus.COMPLETED)
        held = by_group.get(row.group_key, 0) if row.group_key else by_pair.get(row.id, 0)
        rating = ratings.get(row.id, Mean())
        mentee_side = satisfaction.get((row.id, row.mentee_membership_id), (0, 0))
        if not row.mentee_forgotten:
            pair = Candidate(row.id, done, held, people=(row.mentor_id, row.mentee_id))
            pair.satisfaction.add(*mentee_side)
            pair.satisfaction.add(*satisfaction.get((row.id, row.mentor_membership_id), (0, 0)))
            pair.rating.add(rating.total, rating.count)
            pairs.append(pair)
        mentor = mentors.get(row.mentor_id)
        if mentor is None:
            mentor = mentors[row.mentor_id] = Candidate(row.mentor_id, people=(row.mentor_id,))
        mentor.completed += done
        mentor.satisfaction.add(*mentee_side)
        mentor.rating.add(rating.total, rating.count)
        # Meetings: a mentor's single pairs, and each of their groups once.
        if row.group_key:
            groups.setdefault(row.mentor_id, set()).add(row.group_key)
        else:
            mentor.meetings += held
    for mentor_id, keys in groups.items():
        mentors[mentor_id].meetings += sum(by_group.get(k, 0) for k in keys)
    return ranked(mentors.values(), limit), ranked(pairs, limit)


@dataclass(slots=True)
class Aggregates:
    """What the ranking needs, fetched with aggregate queries."""

    organisation_id: int
    rows: list[q.PairRow]
    by_pair: dict[int, int]
    by_group: dict[str, int]
    satisfaction: dict[tuple[int, int], tuple[int, int]]
    ratings: dict[int, Mean]


async def aggregates(session: AsyncSession, organisation_id: int) -> Aggregates:
    rows = [r for r in await q.pairs_for_top(session, organisation_id)
            if not r.mentor_forgotten]
    by_pair, by_group = await q.held_per_pair(session, organisation_id)
    satisfaction = await q.satisfaction_per_side(session, organisation_id)
    ratings: dict[int, Mean] = {}
    for stage, text, n in await q.ratings_per_stage(session, organisation_id, RATINGS):
        value, pair_id = q.decode(text), _pair_of_stage(stage)
        if pair_id is not None and isinstance(value, int) and not isinstance(value, bool):
            ratings.setdefault(pair_id, Mean()).add(value * n, n)
    return Aggregates(organisation_id, rows, by_pair, by_group, satisfaction, ratings)


async def ranking(found: Aggregates, limit: int = TOP) -> Top:
    """Ranked in a worker thread: a large organisation has tens of thousands of pairs, and
    the event loop keeps answering others meanwhile. Needs no database: the caller may end
    the transaction first."""
    mentors, pairs = await asyncio.to_thread(
        rank_all, found.rows, found.by_pair, found.by_group, found.satisfaction,
        found.ratings, limit,
    )
    return Top(found.organisation_id, mentors, pairs)


async def named(session: AsyncSession, result: Top) -> Top:
    """The candidates' names (only theirs are read)."""
    candidates = [*result.mentors, *result.pairs]
    names = await q.names(session, {p for c in candidates for p in c.people})
    for candidate in candidates:
        candidate.names = tuple(names.get(p, "") for p in candidate.people)
    return result


async def top(session: AsyncSession, organisation_id: int, limit: int = TOP) -> Top:
    return await named(session, await ranking(await aggregates(session, organisation_id), limit))

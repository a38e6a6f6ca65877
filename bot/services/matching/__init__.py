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

from bot.services.matching.assignment import assign, greedy_assign
from bot.services.matching.model import (
    DEFAULT_WEIGHTS_PATH,
    FORMATS,
    FORMS,
    MAX_REASONS,
    MIXED,
    TEACHER,
    TIMES,
    Assignment,
    MenteeProfile,
    MentorProfile,
    Proposal,
    Reason,
    Score,
    Unmatched,
    UnmatchedReason,
    Weights,
    load_weights,
)
from bot.services.matching.problem import score_matrix
from bot.services.matching.scoring import compatible, explain_incompatible, score

__all__ = [
    "DEFAULT_WEIGHTS_PATH",
    "FORMATS",
    "FORMS",
    "MAX_REASONS",
    "MIXED",
    "TEACHER",
    "TIMES",
    "Assignment",
    "MenteeProfile",
    "MentorProfile",
    "Proposal",
    "Reason",
    "Score",
    "Unmatched",
    "UnmatchedReason",
    "Weights",
    "assign",
    "compatible",
    "explain_incompatible",
    "greedy_assign",
    "load_weights",
    "score",
    "score_matrix",
]

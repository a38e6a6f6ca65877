"""Benchmark of the optimal pair assignment: ``python -m bench.matching``.

Generates a college-sized base of questionnaires (fixed seed), times
``assign()`` from profiles to the optimal assignment (median of several runs) and
compares its total score with the greedy baseline. Human-readable lines go to
stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

from bot.services import matching
from bot.services.matching import MenteeProfile, MentorProfile, Weights, problem


def _ids(text: str) -> list[str]:
    """Option ids written as one space-separated string."""
    return text.split()


MENTEE_FORMS = {  # most pairs are teacher-student and student-student, few employer ones
    "teacher-student": 0.36,
    "student-student": 0.34,
    "teacher-teacher": 0.10,
    "student-pupil": 0.10,
    "employer-student": 0.06,
    "employer-pupil": 0.04,
}
MENTEE_CATEGORY = {
    "teacher-student": "student",
    "student-student": "student",
    "teacher-teacher": "teacher",
    "student-pupil": "pupil",
    "employer-student": "student",
    "employer-pupil": "pupil",
}
# mentor kind -> (share of mentors, [(forms offered, probability)])
MENTOR_KINDS = {
    "teacher": (
        0.50,
        [
            (("teacher-student",), 0.55),
            (("teacher-student", "teacher-teacher"), 0.30),
            (("teacher-teacher",), 0.15),
        ],
    ),
    "student": (
        0.38,
        [
            (("student-student",), 0.60),
            (("student-student", "student-pupil"), 0.25),
            (("student-pupil",), 0.15),
        ],
    ),
    "employer": (
        0.12,
        [
            (("employer-student",), 0.45),
            (("employer-pupil",), 0.25),
            (("employer-student", "employer-pupil"), 0.30),
        ],
    ),
}
NEEDS = {  # ordered from the most to the least requested
    "student-student": _ids(
        "adaptation study_help exam_prep motivation time_management self_confidence "
        "leadership project_work public_speaking olympiad_prep career_choice "
        "conflict_resolution dorm_life volunteering sports_events student_council"
    ),
    "teacher-teacher": _ids(
        "lesson_planning classroom_management documentation assessment "
        "parent_communication digital_tools burnout_prevention inclusive_education "
        "exam_methodology subject_content class_teacher_work project_method "
        "extracurricular certification_prep self_education"
    ),
    "teacher-student": _ids(
        "exam_prep olympiad_prep research_project motivation study_skills remedial_study "
        "career_choice gifted_support behaviour_support self_confidence competitions "
        "creative_skills ovz_support social_adaptation"
    ),
    "student-pupil": _ids(
        "career_choice college_admission exam_prep school_subjects projects "
        "digital_skills motivation robotics_club study_skills soft_skills adaptation "
        "leisure"
    ),
    "employer-pupil": _ids(
        "career_choice professional_trial excursions project_work it_basics engineering "
        "digital_skills soft_skills entrepreneurship finance_literacy workplace_basics"
    ),
    "employer-student": _ids(
        "internship professional_skills thesis_project job_search resume_interview "
        "industry_practice team_project digital_skills career_growth soft_skills "
        "workplace_culture entrepreneurship certification"
    ),
}
INTERESTS = _ids(
    "sports music programming reading cinema travel art robotics volunteering "
    "psychology science languages photography chess dance history ecology theatre "
    "business design cooking gaming"
)
SUBJECTS = _ids(
    "math russian english informatics physics history biology chemistry literature "
    "social_studies geography pe technology art music"
)
# probability of each time slot (weekday_morning, weekday_afternoon, weekday_evening, weekend)
TIME_SLOTS = {
    "student": (0.10, 0.70, 0.40, 0.30),
    "pupil": (0.05, 0.75, 0.35, 0.25),
    "teacher": (0.15, 0.60, 0.40, 0.20),
    "employer": (0.15, 0.30, 0.60, 0.40),
}
FORMAT_CHOICES = ("online", "offline", "mixed", None)
FORMAT_P = {
    "student": (0.25, 0.40, 0.30, 0.05),
    "pupil": (0.20, 0.45, 0.30, 0.05),
    "teacher": (0.15, 0.50, 0.30, 0.05),
    "employer": (0.40, 0.20, 0.35, 0.05),
}
SUBJECT_SHARE = {  # share of questionnaires that name a subject
    "teacher-teacher": 0.95,
    "teacher-student": 0.80,
    "student-pupil": 0.60,
    "student-student": 0.50,
    "employer-student": 0.25,
    "employer-pupil": 0.25,
}
MENTOR_SUBJECT_SHARE = {"teacher": 0.95, "student": 0.50, "employer": 0.30}
CAPACITY_P = (0.25, 0.30, 0.22, 0.13, 0.10)  # capacity 1..5
PICK_SHARE = 0.05  # took part in a group meeting and named preferred partners


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def zipf_pick(self, items: list[str], low: int, high: int, s: float = 0.8) -> frozenset[str]:
        """low..high distinct items, earlier items more popular."""
        k = int(self.rng.integers(low, high + 1))
        p = 1.0 / np.arange(1, len(items) + 1) ** s
        idx = self.rng.choice(len(items), size=min(k, len(items)), replace=False, p=p / p.sum())
        return frozenset(items[i] for i in idx)

    def times(self, kind: str) -> frozenset[str]:
        if self.rng.random() < 0.03:
            return frozenset()  # left unanswered
        p = np.array(TIME_SLOTS[kind])
        while True:
            picked = self.rng.random(4) < p
            if picked.any():
                return frozenset(t for t, on in zip(matching.TIMES, picked, strict=True) if on)

    def format(self, kind: str) -> str | None:
        return FORMAT_CHOICES[self.rng.choice(4, p=FORMAT_P[kind])]

    def subject(self, share: float) -> str | None:
        if self.rng.random() >= share:
            return None
        p = 1.0 / np.arange(1, len(SUBJECTS) + 1) ** 0.7
        return SUBJECTS[self.rng.choice(len(SUBJECTS), p=p / p.sum())]

    def mentee_experience(self, form: str) -> float | None:
        if form == "teacher-teacher":
            if self.rng.random() < 0.75:  # young specialists
                return round(float(self.rng.uniform(0, 3)), 1)
            return round(float(self.rng.uniform(3, 20)), 1)  # newcomers, skill gaps
        if MENTEE_CATEGORY[form] == "student":
            return float(self.rng.integers(0, 3))  # year of study
        return None

    def mentor_experience(self, kind: str) -> float | None:
        if self.rng.random() < 0.03:
            return None
        if kind == "teacher":
            return round(float(1 + self.rng.gamma(3.0, 5.0)), 1)
        if kind == "student":
            return float(self.rng.integers(1, 5))
        return round(float(1 + self.rng.gamma(2.0, 5.0)), 1)


def generate(
    n_mentees: int, n_mentors: int, seed: int
) -> tuple[list[MenteeProfile], list[MentorProfile]]:
    gen = _Gen(seed)
    rng = gen.rng
    forms = list(MENTEE_FORMS)
    tee_forms = rng.choice(len(forms), size=n_mentees, p=list(MENTEE_FORMS.values()))
    kinds = list(MENTOR_KINDS)
    tor_kinds = rng.choice(len(kinds), size=n_mentors, p=[v[0] for v in MENTOR_KINDS.values()])

    mentors: list[MentorProfile] = []
    for j in range(n_mentors):
        kind = kinds[tor_kinds[j]]
        options = MENTOR_KINDS[kind][1]
        offered = options[rng.choice(len(options), p=[p for _, p in options])][0]
        pool = list(dict.fromkeys(n for f in offered for n in NEEDS[f]))
        mentors.append(
            MentorProfile(
                id=100_000 + j,
                forms=frozenset(offered),
                competences=gen.zipf_pick(pool, 3, 9, s=0.6),
                interests=gen.zipf_pick(INTERESTS, 2, 6),
                subject=gen.subject(MENTOR_SUBJECT_SHARE[kind]),
                times=gen.times(kind),
                format=gen.format(kind),
                experience_years=gen.mentor_experience(kind),
                capacity=int(rng.choice(5, p=CAPACITY_P)) + 1,
            )
        )
    mentor_ids_by_form: dict[str, list[int]] = {f: [] for f in forms}
    for m in mentors:
        for f in m.forms:
            mentor_ids_by_form[f].append(m.id)

    mentees: list[MenteeProfile] = []
    for i in range(n_mentees):
        form = forms[tee_forms[i]]
        category = MENTEE_CATEGORY[form]
        preferred: frozenset[int] = frozenset()
        if mentor_ids_by_form[form] and rng.random() < PICK_SHARE:
            pool_ids = mentor_ids_by_form[form]
            k = min(int(rng.integers(1, 4)), len(pool_ids))
            preferred = frozenset(int(x) for x in rng.choice(pool_ids, size=k, replace=False))
        mentees.append(
            MenteeProfile(
                id=i + 1,
                form=form,
                category=category,
                needs=gen.zipf_pick(NEEDS[form], 1, 4),
                interests=gen.zipf_pick(INTERESTS, 2, 5),
                subject=gen.subject(SUBJECT_SHARE[form]),
                times=gen.times(category),
                format=gen.format(category),
                experience_years=gen.mentee_experience(form),
                preferred=preferred,
            )
        )

    by_form: dict[str, list[int]] = {f: [] for f in forms}
    for t in mentees:
        by_form[t.form].append(t.id)
    picked_by: dict[int, set[int]] = {}
    for t in mentees:
        for mentor_id in t.preferred:
            picked_by.setdefault(mentor_id, set()).add(t.id)
    for j, m in enumerate(mentors):
        preferred_tees: set[int] = set()
        if rng.random() < PICK_SHARE:
            pool_ids = [i for f in sorted(m.forms) for i in by_form[f]]
            if pool_ids:
                k = min(int(rng.integers(1, 4)), len(pool_ids))
                preferred_tees.update(int(x) for x in rng.choice(pool_ids, size=k, replace=False))
        # after a group meeting picks are often mutual
        for mentee_id in sorted(picked_by.get(m.id, ())):
            if rng.random() < 0.3:
                preferred_tees.add(mentee_id)
        mentors[j] = replace(m, preferred=frozenset(preferred_tees))
    return mentees, mentors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentees", type=int, default=10_000)
    parser.add_argument("--mentors", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    weights = matching.load_weights()
    mentees, mentors = generate(args.mentees, args.mentors, args.seed)
    slots = sum(m.capacity for m in mentors)
    _log(f"{len(mentees)} mentees, {len(mentors)} mentors, {slots} free slots, seed {args.seed}")

    runs: list[float] = []
    result = matching.Assignment([], [])
    for run in range(max(args.runs, 1)):
        start = time.perf_counter()
        result = matching.assign(mentees, mentors, weights)
        runs.append(time.perf_counter() - start)
        _log(f"run {run + 1}: assign {runs[-1]:.3f} s")

    _log(f"of which score matrices: {_time_scores(mentees, mentors, weights):.3f} s")

    start = time.perf_counter()
    greedy = matching.greedy_assign(mentees, mentors, weights)
    _log(f"greedy: {time.perf_counter() - start:.3f} s")

    _report(result, greedy)
    print(
        json.dumps(
            {
                "mentees": len(mentees),
                "mentors": len(mentors),
                "seconds": round(statistics.median(runs), 3),
                "total_score": round(result.total_score, 2),
                "greedy_score": round(greedy.total_score, 2),
                "pairs": len(result.pairs),
                "greedy_pairs": len(greedy.pairs),
                "runs": [round(r, 3) for r in runs],
            }
        )
    )
    return 0


def _log(*parts: object) -> None:
    print(*parts, file=sys.stderr)


def _time_scores(
    mentees: list[MenteeProfile], mentors: list[MentorProfile], weights: Weights
) -> float:
    """The vectorised scoring part of assign() alone (profiles to score blocks)."""
    start = time.perf_counter()
    problem.prepare(mentees, mentors, weights, frozenset(), 1)
    return time.perf_counter() - start


def _report(result: matching.Assignment, greedy: matching.Assignment) -> None:
    for name, a in (("optimal", result), ("greedy", greedy)):
        reasons: dict[str, int] = {}
        for u in a.unmatched:
            reasons[u.reason] = reasons.get(u.reason, 0) + 1
        mean = a.total_score / len(a.pairs) if a.pairs else 0.0
        _log(
            f"{name}: {len(a.pairs)} pairs, total {a.total_score:.2f}, mean {mean:.2f}, "
            f"unmatched {dict(sorted(reasons.items()))}"
        )
    gain = result.total_score - greedy.total_score
    _log(f"optimal - greedy = {gain:+.2f} ({gain / max(greedy.total_score, 1e-9):+.2%})")


if __name__ == "__main__":
    raise SystemExit(main())

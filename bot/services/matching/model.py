"""Profiles, weights and results of the matching: the plain values the solver takes and gives."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Literal

import yaml

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

DEFAULT_WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "data" / "matching.yaml"
MAX_REASONS = 4

UnmatchedReason = Literal["no_mentor_for_form", "all_full", "below_threshold"]




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

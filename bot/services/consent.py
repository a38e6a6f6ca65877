"""The personal-data consent document (bot/data/consent.yaml) and who has consented."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AgeGroup, Consent, ConsentDecision, ConsentKind, Membership
from db.queries.participants import MembershipRow

CONSENT_FILE = Path(__file__).resolve().parent.parent / "data" / "consent.yaml"


@dataclass(frozen=True, slots=True)
class ConsentDocument:
    version: int
    sections: dict[str, dict[str, Any]]

    def title(self, kind: str, language: str) -> str:
        return _pick(self.sections[kind]["title"], language)

    def text(self, kind: str, language: str, org: str) -> str:
        return _pick(self.sections[kind]["text"], language).replace("{org}", org)


def _pick(node: dict[str, str], language: str) -> str:
    return node.get(language) or node["ru"]


SELF, GUARDIAN, CURATOR = "self", "guardian", "curator"


def load_document(path: Path = CONSENT_FILE) -> ConsentDocument:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    sections = {kind: raw[kind] for kind in (SELF, GUARDIAN)}
    if CURATOR in raw:
        sections[CURATOR] = raw[CURATOR]
    elif path != CONSENT_FILE:
        # A custom participants' consent file may leave the curator's terms to ours.
        sections[CURATOR] = load_document(CONSENT_FILE).sections[CURATOR]
    return ConsentDocument(version=int(raw["version"]), sections=sections)


@dataclass(frozen=True, slots=True)
class ConsentState:
    self_ok: bool
    guardian_ok: bool
    paper_ok: bool

    def satisfied(self, age_group: str | None) -> bool:
        if self.paper_ok:
            return True
        if age_group == AgeGroup.CHILD:
            return self.guardian_ok
        if age_group == AgeGroup.TEEN:
            return self.self_ok and self.guardian_ok
        return self.self_ok


# Asked on every answer: built once (SQLAlchemy memoizes its cache key), and only the three
# columns the decision needs (no objects).
_DECISIONS = (
    select(Consent.kind, Consent.decision, Consent.version)
    .where(Consent.participant_id == bindparam("p"), Consent.organisation_id == bindparam("o"))
    .order_by(Consent.created_at, Consent.id)
)


async def state_for(
    session: AsyncSession, membership: Membership | MembershipRow, version: int
) -> ConsentState:
    """The latest decision of each kind for this participant and organisation counts (a
    membership read as a row carries the decisions read with it)."""
    if isinstance(membership, MembershipRow):
        return weigh(membership.decisions, version)
    params = {"p": membership.participant_id, "o": membership.organisation_id}
    return weigh((await session.execute(_DECISIONS, params)).all(), version)


def weigh(decisions: Iterable[Any], version: int) -> ConsentState:
    """Decisions (kind, decision, version), oldest first: a withdrawal voids what came
    before it, and each kind's latest decision counts."""
    latest: dict[str, Any] = {}
    withdrawn = False
    for consent in decisions:
        if consent.decision == ConsentDecision.WITHDRAWN:
            latest.clear()
            withdrawn = True
            continue
        latest[consent.kind] = consent
        withdrawn = False

    def ok(kind: ConsentKind) -> bool:
        found = latest.get(kind)
        return (
            not withdrawn
            and found is not None
            and found.decision == ConsentDecision.ACCEPTED
            and found.version == version
        )

    return ConsentState(
        self_ok=ok(ConsentKind.SELF),
        guardian_ok=ok(ConsentKind.GUARDIAN),
        paper_ok=ok(ConsentKind.PAPER),
    )

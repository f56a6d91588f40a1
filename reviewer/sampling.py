"""Which decisions go to blind QA re-grading, and when a gold item is served.

Every pick is a pure function of a seed and an id (a keyed BLAKE2b hash mapped to a
uniform number in [0, 1)), never of process state or wall-clock time. So a pick can be
re-derived later for an inspector ("why was decision 812 sampled?"), tests are exact,
and two workstations with the same seed agree without talking to each other. The seed
should be a team secret: a moderator who knew it could predict which decisions are
checked and which items are gold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from reviewer.vocabulary import AgeConfidence

Seed = int | str | bytes

# Domain-separation tags: the QA draw and the gold draw for the same number must be
# independent, or gold items would cluster on sampled decisions.
_QA_TAG = b"qa-sample:v1:"
_GOLD_TAG = b"golden-mix:v1:"


def _key(seed: Seed) -> bytes:
    if isinstance(seed, bool):
        raise TypeError("seed must be an int, str or bytes, not bool")
    if isinstance(seed, int):
        raw = str(seed).encode()
    elif isinstance(seed, str):
        raw = seed.encode()
    elif isinstance(seed, bytes):
        raw = seed
    else:
        raise TypeError(f"seed must be an int, str or bytes, not {type(seed).__name__}")
    # BLAKE2b keys are at most 64 bytes; longer secrets are hashed down first.
    return raw if len(raw) <= 64 else hashlib.blake2b(raw).digest()


def uniform(seed: Seed, tag: bytes, number: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, tag, number)."""
    h = hashlib.blake2b(tag + str(int(number)).encode(), key=_key(seed), digest_size=8)
    # 53 bits: exactly representable as a float, so u < rate is unbiased.
    return (int.from_bytes(h.digest(), "big") >> 11) / float(1 << 53)


class SampleReason(StrEnum):
    """Why a decision was sent to QA. Stored with the sample, so values never change."""

    ON_DEMAND = "on_demand"
    UNCERTAIN_AGE = "uncertain_age"
    NEW_MODERATOR = "new_moderator"
    BASE = "base"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    SampleReason.ON_DEMAND: "Requested by a lead or QA reviewer",
    SampleReason.UNCERTAIN_AGE: "Age band graded as uncertain",
    SampleReason.NEW_MODERATOR: "Moderator is in their first decisions",
    SampleReason.BASE: "Routine random sample",
}


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {rate!r}")


@dataclass(frozen=True)
class SamplingPolicy:
    """How much of each moderator's work QA re-grades.

    base_rate: share of all decisions sampled at random.
    always_uncertain_age: every decision whose age confidence is Uncertain is sampled
      (older teenagers are the hardest call and the costliest to get wrong).
    new_moderator_rate / new_moderator_first_n: a moderator's first N decisions are
      sampled at this higher rate (N counts decisions made before this one).
    """

    base_rate: float = 0.05
    always_uncertain_age: bool = True
    new_moderator_rate: float = 0.5
    new_moderator_first_n: int = 50

    def __post_init__(self) -> None:
        _check_rate("base_rate", self.base_rate)
        _check_rate("new_moderator_rate", self.new_moderator_rate)
        if self.new_moderator_first_n < 0:
            raise ValueError("new_moderator_first_n must not be negative")


class Sampler:
    """Decides, per decision, whether it goes to QA and why."""

    def __init__(self, policy: SamplingPolicy, seed: Seed) -> None:
        self.policy = policy
        self._seed = seed
        _key(seed)  # reject a bad seed now rather than on the first decision

    def draw(self, decision_id: int) -> float:
        """The decision's fixed uniform number; sampled when it falls under a rate."""
        return uniform(self._seed, _QA_TAG, decision_id)

    def should_sample(
        self,
        decision_id: int,
        moderator_decision_count: int,
        age_confidence: AgeConfidence | None,
        on_demand: bool = False,
    ) -> SampleReason | None:
        """The reason this decision is sampled, or None.

        `moderator_decision_count` is how many decisions the moderator had made before
        this one (0 for their first). Reasons are checked most specific first; one draw
        serves both random rates, so a new moderator's decisions are sampled at
        max(new_moderator_rate, base_rate), not at the two rates compounded.
        """
        if moderator_decision_count < 0:
            raise ValueError("moderator_decision_count must not be negative")
        if on_demand:
            return SampleReason.ON_DEMAND
        p = self.policy
        if p.always_uncertain_age and age_confidence is AgeConfidence.UNCERTAIN:
            return SampleReason.UNCERTAIN_AGE
        u = self.draw(decision_id)
        if moderator_decision_count < p.new_moderator_first_n and u < p.new_moderator_rate:
            return SampleReason.NEW_MODERATOR
        if u < p.base_rate:
            return SampleReason.BASE
        return None


class GoldenMix:
    """Whether the n-th item served to someone is a gold (known-answer) item.

    The caller keeps the serve counter (per moderator, in the database) and asks
    `is_gold(n)`; the answer depends only on the seed, the rate and n.
    """

    def __init__(self, rng_seed: Seed, rate: float) -> None:
        _check_rate("rate", rate)
        _key(rng_seed)
        self._seed = rng_seed
        self.rate = rate

    def is_gold(self, serve_number: int) -> bool:
        if serve_number < 0:
            raise ValueError("serve_number must not be negative")
        return uniform(self._seed, _GOLD_TAG, serve_number) < self.rate

    def __iter__(self) -> Iterator[bool]:
        """is_gold(0), is_gold(1), ...: for simulations and tests."""
        n = 0
        while True:
            yield self.is_gold(n)
            n += 1


def golden_mix(rng_seed: Seed, rate: float) -> GoldenMix:
    """The deterministic gold-item schedule for one seed (e.g. team secret + moderator id)."""
    return GoldenMix(rng_seed, rate)

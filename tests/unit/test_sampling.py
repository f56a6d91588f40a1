"""QA sampling and the golden mix: configured rates, forced reasons, determinism."""

from __future__ import annotations

import math
from itertools import islice

import pytest

from reviewer.sampling import (
    GoldenMix,
    Sampler,
    SampleReason,
    SamplingPolicy,
    golden_mix,
    uniform,
)
from reviewer.vocabulary import AgeConfidence

N = 10_000
SEED = "team-secret-2026"


def within_binomial(count: int, n: int, p: float, sds: float = 4.0) -> bool:
    """Is `count` within `sds` binomial standard deviations of n*p?"""
    sd = math.sqrt(n * p * (1 - p))
    return abs(count - n * p) <= sds * sd


def picks(sampler: Sampler, count: int, conf: AgeConfidence | None) -> list[SampleReason | None]:
    return [sampler.should_sample(i, count, conf) for i in range(1, N + 1)]


def test_base_rate_lands_within_tolerance() -> None:
    got = picks(Sampler(SamplingPolicy(), SEED), 500, AgeConfidence.CERTAIN)
    assert set(got) <= {SampleReason.BASE, None}
    assert within_binomial(got.count(SampleReason.BASE), N, 0.05)


def test_new_moderator_rate_lands_within_tolerance() -> None:
    got = picks(Sampler(SamplingPolicy(), SEED), 0, AgeConfidence.PROBABLE)
    assert set(got) <= {SampleReason.NEW_MODERATOR, None}
    assert within_binomial(got.count(SampleReason.NEW_MODERATOR), N, 0.5)


def test_new_moderator_window_ends_after_first_n() -> None:
    sampler = Sampler(SamplingPolicy(new_moderator_first_n=50), SEED)
    assert all(
        sampler.should_sample(i, 50, AgeConfidence.CERTAIN) != SampleReason.NEW_MODERATOR
        for i in range(N)
    )
    # The 50th decision (49 made before it) is still in the window.
    assert any(
        sampler.should_sample(i, 49, AgeConfidence.CERTAIN) == SampleReason.NEW_MODERATOR
        for i in range(100)
    )


def test_mixed_population_every_rate_within_tolerance() -> None:
    """Simulated moderators at all stages, some uncertain ages: each reason at its rate."""
    policy = SamplingPolicy(base_rate=0.08, new_moderator_rate=0.4, new_moderator_first_n=50)
    sampler = Sampler(policy, 20260105)
    confs = [AgeConfidence.CERTAIN, AgeConfidence.PROBABLE, None, AgeConfidence.UNCERTAIN]
    counts: dict[SampleReason | None, int] = {}
    n_uncertain = n_new = n_old = 0
    for i in range(N):
        count = i % 200  # a quarter of decisions fall in the first-50 window
        conf = confs[i % 7 % 4]
        reason = sampler.should_sample(i, count, conf)
        counts[reason] = counts.get(reason, 0) + 1
        if conf is AgeConfidence.UNCERTAIN:
            n_uncertain += 1
            assert reason is SampleReason.UNCERTAIN_AGE
        elif count < 50:
            n_new += 1
        else:
            n_old += 1
    assert counts[SampleReason.UNCERTAIN_AGE] == n_uncertain
    assert within_binomial(counts[SampleReason.NEW_MODERATOR], n_new, 0.4)
    assert within_binomial(counts[SampleReason.BASE], n_old, 0.08)


def test_new_rate_below_base_rate_still_samples_at_base_rate() -> None:
    """One draw serves both rates: a new moderator is sampled at max(new, base)."""
    sampler = Sampler(SamplingPolicy(base_rate=0.2, new_moderator_rate=0.1), SEED)
    got = picks(sampler, 0, AgeConfidence.CERTAIN)
    assert within_binomial(got.count(SampleReason.NEW_MODERATOR), N, 0.1)
    assert within_binomial(got.count(SampleReason.BASE), N, 0.1)
    assert within_binomial(N - got.count(None), N, 0.2)


def test_uncertain_age_always_sampled() -> None:
    sampler = Sampler(SamplingPolicy(base_rate=0.0, new_moderator_rate=0.0), SEED)
    assert all(
        sampler.should_sample(i, c, AgeConfidence.UNCERTAIN) is SampleReason.UNCERTAIN_AGE
        for i in range(N)
        for c in (0, 10_000)
    )


def test_uncertain_age_can_be_left_to_the_base_rate() -> None:
    sampler = Sampler(SamplingPolicy(always_uncertain_age=False), SEED)
    got = picks(sampler, 500, AgeConfidence.UNCERTAIN)
    assert within_binomial(got.count(SampleReason.BASE), N, 0.05)


def test_on_demand_wins_over_everything() -> None:
    sampler = Sampler(SamplingPolicy(base_rate=0.0, new_moderator_rate=0.0), SEED)
    assert sampler.should_sample(7, 0, AgeConfidence.UNCERTAIN, on_demand=True) is (
        SampleReason.ON_DEMAND
    )
    assert sampler.should_sample(7, 900, None, on_demand=True) is SampleReason.ON_DEMAND


def test_zero_and_full_rates() -> None:
    never = Sampler(SamplingPolicy(base_rate=0.0, new_moderator_rate=0.0), SEED)
    always = Sampler(SamplingPolicy(base_rate=1.0), SEED)
    assert all(never.should_sample(i, 0, None) is None for i in range(2000))
    assert all(always.should_sample(i, 500, None) is SampleReason.BASE for i in range(2000))


def test_same_seed_same_picks_even_from_a_new_sampler() -> None:
    a = picks(Sampler(SamplingPolicy(), SEED), 500, AgeConfidence.CERTAIN)
    b = picks(Sampler(SamplingPolicy(), SEED), 500, AgeConfidence.CERTAIN)
    assert a == b
    # Order does not matter: each pick depends only on the decision id.
    sampler = Sampler(SamplingPolicy(), SEED)
    backwards = [sampler.should_sample(i, 500, AgeConfidence.CERTAIN) for i in range(N, 0, -1)]
    assert backwards[::-1] == a


def test_different_seed_different_picks() -> None:
    a = picks(Sampler(SamplingPolicy(), SEED), 500, AgeConfidence.CERTAIN)
    b = picks(Sampler(SamplingPolicy(), SEED + "x"), 500, AgeConfidence.CERTAIN)
    chosen_a = {i for i, r in enumerate(a) if r}
    chosen_b = {i for i, r in enumerate(b) if r}
    assert chosen_a != chosen_b
    # Independent draws: the overlap is about 5% of 5%, far from all of them.
    assert len(chosen_a & chosen_b) < len(chosen_a) // 2


def test_seed_types_and_long_secrets() -> None:
    assert uniform(5, b"t", 1) == uniform("5", b"t", 1) == uniform(b"5", b"t", 1)
    long_secret = b"k" * 200
    assert 0.0 <= uniform(long_secret, b"t", 1) < 1.0
    assert uniform(long_secret, b"t", 1) != uniform(b"k" * 201, b"t", 1)
    with pytest.raises(TypeError):
        Sampler(SamplingPolicy(), 1.5)  # type: ignore[arg-type]


def test_uniform_is_roughly_uniform() -> None:
    values = [uniform(SEED, b"qa", i) for i in range(N)]
    assert all(0.0 <= v < 1.0 for v in values)
    for lo in (0.0, 0.25, 0.5, 0.75):
        inside = sum(1 for v in values if lo <= v < lo + 0.25)
        assert within_binomial(inside, N, 0.25)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_rate": -0.1},
        {"base_rate": 1.5},
        {"new_moderator_rate": 2},
        {"new_moderator_first_n": -1},
    ],
)
def test_policy_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SamplingPolicy(**kwargs)  # type: ignore[arg-type]


def test_negative_decision_count_rejected() -> None:
    with pytest.raises(ValueError):
        Sampler(SamplingPolicy(), SEED).should_sample(1, -1, None)


# ------------------------------------------------------------------------ golden mix
def test_golden_mix_rate_within_tolerance() -> None:
    mix = golden_mix(SEED, 0.03)
    assert isinstance(mix, GoldenMix)
    served = list(islice(mix, N))
    assert within_binomial(sum(served), N, 0.03)


def test_golden_mix_is_deterministic_and_seed_dependent() -> None:
    a = [golden_mix("mod-7", 0.1).is_gold(n) for n in range(N)]
    b = [golden_mix("mod-7", 0.1).is_gold(n) for n in range(N)]
    c = [golden_mix("mod-8", 0.1).is_gold(n) for n in range(N)]
    assert a == b
    assert a != c
    assert list(islice(golden_mix("mod-7", 0.1), N)) == a


def test_golden_mix_independent_of_qa_draw() -> None:
    """Same seed and number: the gold and the QA draws must not coincide."""
    sampler = Sampler(SamplingPolicy(base_rate=0.1), SEED)
    mix = golden_mix(SEED, 0.1)
    qa = {i for i in range(N) if sampler.should_sample(i, 500, None)}
    gold = {i for i in range(N) if mix.is_gold(i)}
    assert len(qa & gold) < len(gold) // 2


def test_golden_mix_extremes_and_validation() -> None:
    assert not any(islice(golden_mix(SEED, 0.0), 1000))
    assert all(islice(golden_mix(SEED, 1.0), 1000))
    with pytest.raises(ValueError):
        golden_mix(SEED, 1.2)
    with pytest.raises(ValueError):
        golden_mix(SEED, 0.1).is_gold(-1)

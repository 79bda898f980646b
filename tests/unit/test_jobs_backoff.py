"""Retry backoff: doubles per attempt up to a cap, jittered into the upper half, never early."""

from __future__ import annotations

import pytest

from opsdesk.core.job_claims import BACKOFF_BASE_S, BACKOFF_CAP_S, backoff_delay


def test_the_ceiling_doubles_per_attempt() -> None:
    ceilings = [backoff_delay(attempt, jitter=1.0) for attempt in range(1, 6)]
    assert ceilings == [BACKOFF_BASE_S * 2**n for n in range(5)]


def test_jitter_spreads_over_the_upper_half_of_the_ceiling() -> None:
    assert backoff_delay(3, jitter=0.0) == BACKOFF_BASE_S * 4 / 2
    assert backoff_delay(3, jitter=0.5) == BACKOFF_BASE_S * 4 * 0.75
    assert backoff_delay(3, jitter=1.0) == BACKOFF_BASE_S * 4


@pytest.mark.parametrize("attempt", [10, 11, 30, 64, 65, 10**6])
def test_the_cap_holds_even_for_huge_attempt_numbers(attempt: int) -> None:
    assert backoff_delay(attempt, jitter=1.0) == BACKOFF_CAP_S
    assert backoff_delay(attempt, jitter=0.0) == BACKOFF_CAP_S / 2


def test_a_later_attempt_never_waits_less_at_the_same_jitter() -> None:
    for jitter in (0.0, 0.3, 1.0):
        delays = [backoff_delay(attempt, jitter=jitter) for attempt in range(1, 40)]
        assert delays == sorted(delays)


def test_base_and_cap_are_parameters() -> None:
    assert backoff_delay(1, jitter=1.0, base_s=2, cap_s=5) == 2
    assert backoff_delay(2, jitter=1.0, base_s=2, cap_s=5) == 4
    assert backoff_delay(3, jitter=1.0, base_s=2, cap_s=5) == 5


@pytest.mark.parametrize(
    ("attempt", "jitter", "field"), [(0, 0.5, "attempt"), (-1, 0.5, "attempt"), (1, 1.5, "jitter")]
)
def test_bad_input_names_the_argument(attempt: int, jitter: float, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        backoff_delay(attempt, jitter=jitter)

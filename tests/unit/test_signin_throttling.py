"""The sign-in wait: free failures, then a doubling wait up to a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsdesk.auth.throttling import ThrottlePolicy, account_key, retry_after_s

POLICY = ThrottlePolicy(free_failures=5, first_delay_s=15, max_delay_s=900)


def test_the_first_failures_cost_nothing_then_the_wait_doubles_up_to_the_cap() -> None:
    waits = [POLICY.delay_after(failures) for failures in range(1, 14)]
    assert waits == [0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900, 900]
    assert POLICY.delay_after(10_000) == 900


def test_retry_after_rounds_up_and_is_at_least_one_second() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_s(now + timedelta(seconds=14.2), now) == 15
    assert retry_after_s(now + timedelta(milliseconds=1), now) == 1
    assert retry_after_s(now, now) == 1


def test_the_account_key_is_the_address_as_typed_in_any_case() -> None:
    assert account_key("  User@Example.COM ") == account_key("user@example.com")

"""Account lockout after repeated failed logins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.patient_access import (
    LOCK_FOR,
    LOGIN_LIMIT,
    MAX_LOCK,
    LoginCounters,
    after_failure,
    after_success,
    locked_refusal,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_locks_at_the_limit_and_not_before() -> None:
    counters = after_success()
    for _ in range(LOGIN_LIMIT - 1):
        counters = after_failure(counters, T0)
        assert locked_refusal(counters, T0) is None
    counters = after_failure(counters, T0)
    assert counters.locked_until == T0 + LOCK_FOR
    refusal = locked_refusal(counters, T0)
    assert refusal is not None and "15 minutes" in refusal
    assert locked_refusal(counters, T0 + LOCK_FOR) is None


def test_second_lock_is_longer() -> None:
    counters = LoginCounters(0, None)
    for _ in range(LOGIN_LIMIT):
        counters = after_failure(counters, T0)
    later = T0 + LOCK_FOR
    for _ in range(LOGIN_LIMIT):
        counters = after_failure(counters, later)
    assert counters.locked_until == later + 2 * LOCK_FOR


def test_success_resets() -> None:
    assert after_success() == LoginCounters(0, None)


@given(st.integers(1, 500))
def test_lock_never_exceeds_the_maximum(failures: int) -> None:
    counters = LoginCounters(0, None)
    for _ in range(failures):
        counters = after_failure(counters, T0)
    assert counters.failures == failures
    if failures >= LOGIN_LIMIT:
        assert counters.locked_until is not None
        assert T0 < counters.locked_until <= T0 + MAX_LOCK
    else:
        assert counters.locked_until is None
    assert locked_refusal(counters, T0 + MAX_LOCK + timedelta(seconds=1)) is None

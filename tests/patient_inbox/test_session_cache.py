"""The in-memory cache of logged-in web sessions: bounded in time and size, forgetting on demand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from patient_inbox.models import PatientAccount, WebSession
from patient_inbox.web.sessions import SessionCache, _Cached

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def entry(read_at: datetime = T0) -> _Cached:
    account = PatientAccount(
        id=1, ins="185077512345664", address="p@patient.example", family_name="Dupont", given_names="Élodie",
        birth_date=date(1985, 7, 14), email="e@example.org", state="active", created_at=T0, state_changed_at=T0,
        failed_logins=0,
    )
    row = WebSession(id="k", patient_id=1, stage="full", created_at=T0, last_seen_at=T0)
    return _Cached(row, account, T0, read_at)


def test_an_entry_is_trusted_for_ttl_seconds_only() -> None:
    cache = SessionCache(5)
    cache.put("k", entry())
    assert cache.get("k", T0) is not None
    assert cache.get("k", T0 + timedelta(seconds=5)) is not None
    assert cache.get("k", T0 + timedelta(seconds=5.001)) is None
    assert len(cache) == 0  # a stale entry is dropped, not kept
    assert cache.get("other", T0) is None


def test_a_clock_that_goes_back_makes_entries_stale() -> None:
    cache = SessionCache(5)
    cache.put("k", entry())
    assert cache.get("k", T0 - timedelta(seconds=1)) is None


def test_forget() -> None:
    cache = SessionCache(5)
    cache.put("k", entry())
    cache.forget("k")
    cache.forget("never seen")
    assert cache.get("k", T0) is None


def test_the_oldest_entries_go_first_past_the_size_limit() -> None:
    cache = SessionCache(5, max_entries=3)
    for key in "abcd":
        cache.put(key, entry())
    assert len(cache) == 3
    assert cache.get("a", T0) is None
    assert all(cache.get(key, T0) is not None for key in "bcd")


def test_ttl_zero_turns_the_cache_off() -> None:
    cache = SessionCache(0)
    cache.put("k", entry())
    assert len(cache) == 0 and cache.get("k", T0) is None


def test_a_negative_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more seconds, not -1"):
        SessionCache(-1)

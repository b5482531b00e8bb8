"""TtlCache: the expiring LRU map behind the mailbox, login, directory owner and web session caches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.ttl_cache import MISSING, TtlCache


def test_a_value_lives_ttl_seconds_and_none_lives_negative_ttl() -> None:
    cache: TtlCache[str, int | None] = TtlCache(ttl=10, negative_ttl=2, max_entries=10)
    cache.put("found", 1, now=100.0)
    cache.put("absent", None, now=100.0)
    assert cache.get("found", 110.0) == 1  # the lifetime is inclusive
    assert cache.get("absent", 101.0) is None  # a cached "not found" is a value, not a miss
    assert cache.get("absent", 102.5) is MISSING
    assert cache.get("found", 110.5) is MISSING
    assert len(cache) == 0  # expired entries are dropped when met
    assert cache.get("never", 100.0) is MISSING


def test_a_clock_that_went_back_makes_an_entry_stale() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=10, max_entries=10)
    cache.put("k", 1, now=100.0)
    assert cache.get("k", 99.0) is MISSING


def test_the_least_recently_used_goes_first() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=10, max_entries=2)
    cache.put("a", 1, now=0.0)
    cache.put("b", 2, now=0.0)
    assert cache.get("a", 1.0) == 1  # a is now the most recent
    cache.put("c", 3, now=1.0)
    assert cache.get("b", 1.0) is MISSING
    assert (cache.get("a", 1.0), cache.get("c", 1.0)) == (1, 3)


def test_zero_lifetimes_store_nothing_and_forget_clear() -> None:
    cache: TtlCache[str, int | None] = TtlCache(ttl=0, negative_ttl=0, max_entries=5)
    cache.put("k", 1, now=0.0)
    cache.put("n", None, now=0.0)
    assert len(cache) == 0
    only_found: TtlCache[str, int | None] = TtlCache(ttl=5, negative_ttl=0, max_entries=5)
    only_found.put("k", 1, now=0.0)
    only_found.put("k", None, now=1.0)  # an entry replaced by an uncacheable answer is gone, not stale
    assert only_found.get("k", 1.0) is MISSING
    only_found.put("a", 1, now=0.0)
    only_found.put("b", 2, now=0.0)
    only_found.forget("a")
    only_found.forget("never")
    assert only_found.get("a", 0.0) is MISSING and only_found.get("b", 0.0) == 2
    only_found.clear()
    assert len(only_found) == 0


@pytest.mark.parametrize(("arguments", "message"), [
    ({"ttl": -1, "max_entries": 1}, "0 or more seconds, not -1"),
    ({"ttl": 1, "negative_ttl": -2, "max_entries": 1}, "0 or more seconds, not -2"),
    ({"ttl": 1, "max_entries": 0}, "at least one entry, not 0"),
])
def test_bad_settings_are_refused(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TtlCache(**arguments)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 3), st.floats(0, 1)), max_size=60))
def test_it_behaves_like_a_dict_with_expiry_and_a_bound(operations: list[tuple[str, int, float]]) -> None:
    """Model check: whatever is found is what was last put under that key, within its lifetime; the size
    never exceeds the bound."""
    cache: TtlCache[str, int] = TtlCache(ttl=2, max_entries=3)
    model: dict[str, tuple[int, float]] = {}
    now = 0.0
    for key, value, step in operations:
        now += step
        if value:
            cache.put(key, value, now)
            model[key] = (value, now)
        else:
            found = cache.get(key, now)
            if found is not MISSING:
                assert key in model and model[key][0] == found and now - model[key][1] <= 2
            elif key in model and now - model[key][1] > 2:
                del model[key]
        assert len(cache) <= 3

"""Lockout of a patient account after repeated failed logins (pure, with an explicit ``now``).

Counting is per account and stored with it, so every web node sees the same count. After ``limit`` consecutive
failures the account is locked for ``lock_for``; each further lock doubles, up to ``max_lock``, so a patient
who mistypes a few times waits briefly while a guessing attack slows down exponentially. A success resets
the count. (Per-address throttling of anonymous attempts is :mod:`policies.rate_limits`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

LOGIN_LIMIT = 5
LOCK_FOR = timedelta(minutes=15)
MAX_LOCK = timedelta(hours=24)


@dataclass(frozen=True)
class LoginCounters:
    failures: int  # consecutive failures since the last success
    locked_until: datetime | None


def locked_refusal(counters: LoginCounters, now: datetime) -> str | None:
    """A sentence telling the person the account is locked and until when, or None when it is not."""
    if counters.locked_until is None or now >= counters.locked_until:
        return None
    minutes = max(1, math.ceil((counters.locked_until - now).total_seconds() / 60))
    return (
        "Trop de tentatives de connexion ont échoué : votre compte est bloqué pendant "
        f"{minutes} minute{'s' if minutes > 1 else ''}. Réessayez plus tard."
    )


def after_failure(
    counters: LoginCounters,
    now: datetime,
    *,
    limit: int = LOGIN_LIMIT,
    lock_for: timedelta = LOCK_FOR,
    max_lock: timedelta = MAX_LOCK,
) -> LoginCounters:
    failures = counters.failures + 1
    if failures < limit:
        return LoginCounters(failures, counters.locked_until)
    rounds = (failures - limit) // limit  # 0 at the first lock, then one more per further ``limit`` failures
    duration = min(lock_for * (2 ** min(rounds, 32)), max_lock)
    if failures % limit == 0:
        return LoginCounters(failures, now + duration)
    return LoginCounters(failures, counters.locked_until)


def after_success() -> LoginCounters:
    return LoginCounters(0, None)

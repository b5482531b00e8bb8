"""The life of a patient's space: created, active, opposed, closed (pure, with an explicit ``now``).

::

    created ──activate (code, within the window)──▶ active ──close──▶ closed
       │  └──window ends without opposition──────▶ active ◀─reopen──┘
       └──oppose (within the window)──▶ opposed ──reopen──▶ active

A space is created for the person with an activation code printed on the notification letter; the person has an
opposition window (6 weeks) to refuse it. Without opposition it becomes active by itself when the window ends:
that is a fact of time, so :func:`effective_state` derives it from the stored state and ``now`` instead of
relying on a job having run. Closing keeps the data (it is archived) and reopening restores it; a person who
opposed may change their mind later, so reopening an opposed space is allowed too.

Every refusal carries a stable code and a sentence in French for the person concerned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

OPPOSITION_WINDOW = timedelta(weeks=6)


class State(StrEnum):
    CREATED = "created"
    ACTIVE = "active"
    OPPOSED = "opposed"
    CLOSED = "closed"


class Event(StrEnum):
    ACTIVATE = "activate"
    OPPOSE = "oppose"
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True)
class Refusal:
    code: str
    sentence: str


@dataclass(frozen=True)
class Transition:
    state: State
    at: datetime


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("pass an aware datetime for now")
    return now


def window_end(created_at: datetime, window: timedelta = OPPOSITION_WINDOW) -> datetime:
    return created_at + window


def effective_state(stored: State, created_at: datetime, now: datetime, window: timedelta = OPPOSITION_WINDOW) -> State:
    """The state as of ``now``: a created space whose window has ended is active."""
    if stored is State.CREATED and _aware(now) >= window_end(created_at, window):
        return State.ACTIVE
    return stored


_REFUSALS = {
    (State.ACTIVE, Event.ACTIVATE): Refusal("already-active", "Votre espace est déjà activé : connectez-vous."),
    (State.OPPOSED, Event.ACTIVATE): Refusal(
        "opposed", "Vous vous êtes opposé à la création de votre espace ; contactez le support pour le rouvrir."
    ),
    (State.CLOSED, Event.ACTIVATE): Refusal("closed", "Votre espace est fermé ; contactez le support pour le rouvrir."),
    (State.ACTIVE, Event.OPPOSE): Refusal(
        "window-over",
        "Le délai d'opposition est terminé ou votre espace est déjà activé : vous pouvez le fermer à tout moment.",
    ),
    (State.OPPOSED, Event.OPPOSE): Refusal("already-opposed", "Votre opposition a déjà été enregistrée."),
    (State.CLOSED, Event.OPPOSE): Refusal("closed", "Votre espace est déjà fermé."),
    (State.CREATED, Event.CLOSE): Refusal(
        "not-active", "Votre espace n'est pas encore activé : vous pouvez vous opposer à sa création."
    ),
    (State.OPPOSED, Event.CLOSE): Refusal("opposed", "Votre espace n'a pas été créé : il n'y a rien à fermer."),
    (State.CLOSED, Event.CLOSE): Refusal("already-closed", "Votre espace est déjà fermé."),
    (State.CREATED, Event.REOPEN): Refusal("not-closed", "Cet espace n'est pas fermé."),
    (State.ACTIVE, Event.REOPEN): Refusal("not-closed", "Cet espace n'est pas fermé."),
}
_TARGETS = {
    (State.CREATED, Event.ACTIVATE): State.ACTIVE,
    (State.CREATED, Event.OPPOSE): State.OPPOSED,
    (State.ACTIVE, Event.CLOSE): State.CLOSED,
    (State.CLOSED, Event.REOPEN): State.ACTIVE,
    (State.OPPOSED, Event.REOPEN): State.ACTIVE,
}


def transition(
    stored: State, event: Event, created_at: datetime, now: datetime, window: timedelta = OPPOSITION_WINDOW
) -> Transition | Refusal:
    """Apply ``event`` to a space whose stored state is ``stored``; the result is the new state or a refusal."""
    current = effective_state(stored, created_at, now, window)
    target = _TARGETS.get((current, event))
    if target is not None:
        return Transition(target, now)
    return _REFUSALS[(current, event)]


_MAIL_REFUSALS = {
    State.OPPOSED: Refusal(
        "space-opposed",
        "Ce patient s'est opposé à la création de son espace santé : il ne peut pas recevoir de message.",
    ),
    State.CLOSED: Refusal(
        "space-closed", "L'espace santé de ce patient est fermé : il ne peut pas recevoir de message."
    ),
}


def mail_refusal(stored: State, created_at: datetime, now: datetime) -> Refusal | None:
    """Why mail to this space must be refused, or None. A created space receives mail (it is kept for the
    person until the window ends; most people never oppose)."""
    return _MAIL_REFUSALS.get(effective_state(stored, created_at, now))


def login_refusal(stored: State, created_at: datetime, now: datetime) -> Refusal | None:
    """Why the holder cannot log in, or None. Login needs an active space (activation makes it active)."""
    current = effective_state(stored, created_at, now)
    if current is State.ACTIVE:
        return None
    if current is State.CREATED:
        return Refusal("not-active", "Votre espace n'est pas encore activé : utilisez votre code d'activation.")
    return _REFUSALS[(current, Event.ACTIVATE)]


def enrolment_refusal(stored: State, created_at: datetime, now: datetime, *, has_credentials: bool) -> Refusal | None:
    """Why the activation code cannot be used to set a password and a second factor now, or None.

    The code works while the space is created, and also once it became active by itself at the end of the
    window as long as no credentials were set: otherwise the person could never get in.
    """
    current = effective_state(stored, created_at, now)
    if current is State.CREATED:
        return None
    if current is State.ACTIVE:
        return None if not has_credentials else _REFUSALS[(State.ACTIVE, Event.ACTIVATE)]
    return _REFUSALS[(current, Event.ACTIVATE)]

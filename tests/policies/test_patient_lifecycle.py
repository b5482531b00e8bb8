"""The patient space state machine, with explicit time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.patient_lifecycle import (
    OPPOSITION_WINDOW,
    Event,
    Refusal,
    State,
    Transition,
    effective_state,
    enrolment_refusal,
    login_refusal,
    mail_refusal,
    transition,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
INSIDE = T0 + OPPOSITION_WINDOW - timedelta(seconds=1)
AFTER = T0 + OPPOSITION_WINDOW


def test_created_becomes_active_exactly_when_the_window_ends() -> None:
    assert effective_state(State.CREATED, T0, INSIDE) is State.CREATED
    assert effective_state(State.CREATED, T0, AFTER) is State.ACTIVE
    assert timedelta(weeks=6) == OPPOSITION_WINDOW


def test_custom_window() -> None:
    assert effective_state(State.CREATED, T0, T0 + timedelta(days=2), timedelta(days=1)) is State.ACTIVE


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        effective_state(State.CREATED, T0, datetime(2026, 11, 2))


@pytest.mark.parametrize(
    ("stored", "event", "now", "expected"),
    [
        (State.CREATED, Event.ACTIVATE, INSIDE, State.ACTIVE),
        (State.CREATED, Event.OPPOSE, INSIDE, State.OPPOSED),
        (State.ACTIVE, Event.CLOSE, INSIDE, State.CLOSED),
        (State.CREATED, Event.CLOSE, AFTER, State.CLOSED),  # active by itself, then closed
        (State.CLOSED, Event.REOPEN, AFTER, State.ACTIVE),
        (State.OPPOSED, Event.REOPEN, AFTER, State.ACTIVE),
    ],
)
def test_allowed_transitions(stored: State, event: Event, now: datetime, expected: State) -> None:
    result = transition(stored, event, T0, now)
    assert result == Transition(expected, now)


@pytest.mark.parametrize(
    ("stored", "event", "now", "code"),
    [
        (State.CREATED, Event.OPPOSE, AFTER, "window-over"),
        (State.CREATED, Event.ACTIVATE, AFTER, "already-active"),
        (State.ACTIVE, Event.ACTIVATE, INSIDE, "already-active"),
        (State.OPPOSED, Event.ACTIVATE, INSIDE, "opposed"),
        (State.CLOSED, Event.ACTIVATE, INSIDE, "closed"),
        (State.OPPOSED, Event.OPPOSE, INSIDE, "already-opposed"),
        (State.CREATED, Event.CLOSE, INSIDE, "not-active"),
        (State.CLOSED, Event.CLOSE, INSIDE, "already-closed"),
        (State.ACTIVE, Event.REOPEN, INSIDE, "not-closed"),
        (State.CREATED, Event.REOPEN, INSIDE, "not-closed"),
    ],
)
def test_refused_transitions_say_why(stored: State, event: Event, now: datetime, code: str) -> None:
    result = transition(stored, event, T0, now)
    assert isinstance(result, Refusal)
    assert result.code == code
    assert result.sentence.endswith(".")


def test_mail_is_refused_to_opposed_and_closed_spaces_with_distinct_sentences() -> None:
    assert mail_refusal(State.CREATED, T0, INSIDE) is None
    assert mail_refusal(State.ACTIVE, T0, INSIDE) is None
    opposed = mail_refusal(State.OPPOSED, T0, INSIDE)
    closed = mail_refusal(State.CLOSED, T0, INSIDE)
    assert opposed is not None and "opposé" in opposed.sentence
    assert closed is not None and "fermé" in closed.sentence


def test_login_needs_an_active_space() -> None:
    assert login_refusal(State.ACTIVE, T0, INSIDE) is None
    assert login_refusal(State.CREATED, T0, AFTER) is None
    refusal = login_refusal(State.CREATED, T0, INSIDE)
    assert refusal is not None and refusal.code == "not-active"
    assert login_refusal(State.CLOSED, T0, INSIDE) is not None
    assert login_refusal(State.OPPOSED, T0, INSIDE) is not None


def test_enrolment_works_after_automatic_activation_until_credentials_exist() -> None:
    assert enrolment_refusal(State.CREATED, T0, INSIDE, has_credentials=False) is None
    assert enrolment_refusal(State.CREATED, T0, AFTER, has_credentials=False) is None
    assert enrolment_refusal(State.ACTIVE, T0, AFTER, has_credentials=True) is not None
    assert enrolment_refusal(State.OPPOSED, T0, INSIDE, has_credentials=False) is not None
    assert enrolment_refusal(State.CLOSED, T0, INSIDE, has_credentials=False) is not None


@given(
    st.lists(
        st.tuples(st.sampled_from(list(Event)), st.integers(0, 10 * 7 * 24 * 3600)),
        max_size=30,
    )
)
def test_any_sequence_of_events_stays_in_the_machine(steps: list[tuple[Event, int]]) -> None:
    state = State.CREATED
    ever_active = False
    for event, offset in sorted(steps, key=lambda step: step[1]):
        now = T0 + timedelta(seconds=offset)
        before = effective_state(state, T0, now)
        result = transition(state, event, T0, now)
        if isinstance(result, Transition):
            state = result.state
            ever_active = ever_active or state is State.ACTIVE
            # opposition only happens before the window ends, from a created space
            if state is State.OPPOSED:
                assert before is State.CREATED and now < T0 + OPPOSITION_WINDOW
            # a closed space was active just before
            if state is State.CLOSED:
                assert before is State.ACTIVE
        else:
            assert result.sentence
        # mail is refused exactly for opposed and closed spaces
        current = effective_state(state, T0, now)
        assert (mail_refusal(state, T0, now) is None) == (current in (State.CREATED, State.ACTIVE))
        assert (login_refusal(state, T0, now) is None) == (current is State.ACTIVE)

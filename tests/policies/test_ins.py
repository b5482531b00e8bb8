"""INS matricule: syntax, control key (Corsica included), addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.ins import (
    ins_from_address,
    ins_key,
    ins_problem,
    is_valid_ins,
    normalise_ins,
    patient_address,
    with_key,
)

KNOWN = [
    # (first 13, key) with key = 97 - (N mod 97), N read with 2A -> 19, 2B -> 18
    ("1850775123456", 97 - 1850775123456 % 97),
    ("2690599350029", 97 - 2690599350029 % 97),
    ("185012A123456", 97 - 1850119123456 % 97),
    ("185012B123456", 97 - 1850118123456 % 97),
]


@pytest.mark.parametrize(("first13", "key"), KNOWN)
def test_key_follows_the_formula(first13: str, key: int) -> None:
    assert ins_key(first13) == key
    assert is_valid_ins(f"{first13}{key:02d}")


def test_a_published_example_is_valid() -> None:
    # The classic example NIR 2 55 08 14 168 025 has key 38.
    assert ins_key("2550814168025") == 38
    assert is_valid_ins("255081416802538")


def test_corsica_2a_and_2b_differ() -> None:
    a = with_key("185012A123456")
    b = with_key("185012B123456")
    assert a[-2:] != b[-2:]
    assert is_valid_ins(a)
    assert is_valid_ins(b)
    # swapping the department without changing the key is caught
    assert not is_valid_ins(a.replace("2A", "2B"))


def test_corsica_digits_are_not_letters() -> None:
    # 2A is 19 for the key, but "19" written literally is another department with the same key computation.
    literal = with_key("1850119123456")
    assert literal[-2:] == with_key("185012A123456")[-2:]
    assert is_valid_ins(literal)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "15 caractères"),
        ("18507751234566", "15 caractères"),
        ("1850775123456640", "15 caractères"),
        ("585077512345664", "commencer par 1 ou 2"),
        ("18507X5123456xx", "commencer par 1 ou 2"),
        ("185012a12345601", "commencer par 1 ou 2"),  # lower-case Corsica letters are refused
        ("185137512345601", "mois"),
        ("185007512345601", "mois"),
    ],
)
def test_problems_are_explained(value: str, fragment: str) -> None:
    problem = ins_problem(value)
    assert problem is not None
    assert fragment in problem


def test_wrong_key_is_refused() -> None:
    good = with_key("1850775123456")
    bad = good[:13] + f"{(int(good[13:]) % 97) + 1:02d}"
    assert ins_problem(bad) is not None
    assert "clé" in (ins_problem(bad) or "")


def test_ins_key_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="13"):
        ins_key("123")
    with pytest.raises(ValueError, match="digits"):
        ins_key("18501XX123456")


def test_normalise_removes_separators() -> None:
    assert normalise_ins(" 1 85 07 75 123 456 64 ") == "185077512345664"
    assert normalise_ins("1.85-07") == "18507"


def test_addresses_round_trip() -> None:
    ins = with_key("185012A123456")
    address = patient_address(ins, "patient.mssante.localhost")
    assert address == address.lower()
    assert ins_from_address(address, "patient.mssante.localhost") == ins
    assert ins_from_address(address, "other.example") is None
    assert ins_from_address("nobody@patient.mssante.localhost", "patient.mssante.localhost") is None
    assert ins_from_address("no-at-sign", "patient.mssante.localhost") is None


first13 = st.builds(
    lambda sex, year, month, dept, rest: f"{sex}{year:02d}{month:02d}{dept}{rest:06d}",
    st.sampled_from("12"),
    st.integers(0, 99),
    st.integers(1, 12),
    st.one_of(st.integers(1, 95).map(lambda d: f"{d:02d}"), st.sampled_from(["2A", "2B"])),
    st.integers(0, 999_999),
)


@given(first13)
def test_every_keyed_matricule_is_valid(prefix: str) -> None:
    value = with_key(prefix)
    assert 1 <= int(value[13:]) <= 97
    assert ins_problem(value) is None


@given(first13, st.integers(0, 12), st.sampled_from("0123456789"))
def test_any_single_digit_change_is_caught(prefix: str, position: int, digit: str) -> None:
    value = with_key(prefix)
    if not value[position].isdigit() or value[position] == digit:
        return
    if position in (5, 6) and value[5:7] in ("2A", "2B"):
        return
    changed = value[:position] + digit + value[position + 1 :]
    # mod 97 detects every single-digit substitution (97 is prime and larger than 10)
    assert ins_problem(changed) is not None


@given(st.text(max_size=40))
def test_arbitrary_text_never_raises(value: str) -> None:
    result = ins_problem(value)
    assert result is None or isinstance(result, str)

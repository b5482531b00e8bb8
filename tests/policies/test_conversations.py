"""Conversation rules: who may open, reply, to whom, and closing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.conversations import (
    Code,
    ConversationFacts,
    Role,
    Sender,
    check_patient_mail,
    check_patient_reply,
    check_recipient,
    file_professional_message,
    is_closing,
    message_ids,
    role_of_kind,
    thread_candidates,
)

PD = "patient.mssante.localhost"
PATIENT = f"185077512345664@{PD}"
OTHER_PATIENT = f"269059935002912@{PD}"
DOC = "dr.martin@mssante.localhost"
NURSE = "ide.durand@mssante.localhost"
STRANGER = "dr.inconnu@mssante.localhost"

OPEN = ConversationFacts(PATIENT, frozenset({DOC, NURSE}), open=True)
CLOSED = ConversationFacts(PATIENT, frozenset({DOC}), open=False)


def test_roles_of_mailbox_kinds() -> None:
    assert role_of_kind("PER") is Role.PROFESSIONAL
    assert role_of_kind("ORG") is Role.PROFESSIONAL
    assert role_of_kind("APP") is Role.PROFESSIONAL
    assert role_of_kind("CAB") is Role.OTHER


def test_professional_may_write_to_a_patient() -> None:
    assert check_recipient(Sender(DOC, Role.PROFESSIONAL), PATIENT, PD) is None


def test_non_patient_recipients_are_not_our_business() -> None:
    assert check_recipient(Sender(PATIENT, Role.PATIENT), DOC, PD) is None


def test_patient_to_patient_is_refused_even_if_the_role_is_wrong() -> None:
    refusal = check_recipient(Sender(PATIENT, Role.PATIENT), OTHER_PATIENT, PD)
    assert refusal is not None and refusal.code is Code.PATIENT_TO_PATIENT
    # a patient address claimed as professional is still a patient
    refusal = check_recipient(Sender(PATIENT.upper().replace(PD.upper(), PD), Role.PROFESSIONAL), OTHER_PATIENT, PD)
    assert refusal is not None and refusal.code is Code.PATIENT_TO_PATIENT


def test_other_mailboxes_cannot_open() -> None:
    refusal = check_recipient(Sender("cabinet@mssante.localhost", Role.OTHER), PATIENT, PD)
    assert refusal is not None and refusal.code is Code.NOT_A_PROFESSIONAL
    assert "professionnel" in refusal.sentence


def test_closing_markers() -> None:
    assert is_closing("FIN", None)
    assert is_closing(" fin ", "Bonjour")
    assert is_closing(None, "[FIN]")
    assert is_closing(None, "  [FIN] ")
    assert not is_closing(None, "Re: [FIN]")
    assert not is_closing("FINAL", "[FIN] résultats")
    assert not is_closing(None, None)


def test_message_ids_and_candidates() -> None:
    assert message_ids("<a@x> <b@y>") == ["<a@x>", "<b@y>"]
    assert message_ids("garbage") == []
    assert message_ids(None) == []
    assert thread_candidates("<c@z>", "<a@x> <b@y> <c@z>") == ["<c@z>", "<b@y>", "<a@x>"]
    assert len(thread_candidates(None, " ".join(f"<{i}@x>" for i in range(500)))) == 100


def test_professional_joins_an_open_conversation() -> None:
    filing = file_professional_message(Sender(STRANGER, Role.PROFESSIONAL), [], OPEN, closing=False)
    assert filing.join_existing
    assert filing.participants == {DOC, NURSE, STRANGER}


def test_professional_in_a_closed_thread_opens_a_new_conversation() -> None:
    filing = file_professional_message(Sender(DOC, Role.PROFESSIONAL), [NURSE], CLOSED, closing=False)
    assert not filing.join_existing
    assert filing.participants == {DOC, NURSE}


def test_fin_closes_after_filing() -> None:
    filing = file_professional_message(Sender(DOC, Role.PROFESSIONAL), [], OPEN, closing=True)
    assert filing.join_existing and filing.close_after
    new = file_professional_message(Sender(DOC, Role.PROFESSIONAL), [], None, closing=True)
    assert not new.join_existing and new.close_after


def test_patient_reply_rules() -> None:
    assert check_patient_reply(PATIENT, [DOC], OPEN, PD) is None
    assert check_patient_reply(PATIENT, [DOC, NURSE], OPEN, PD) is None
    cases = [
        ([DOC], None, Code.PATIENT_CANNOT_START),
        ([DOC], ConversationFacts(OTHER_PATIENT, frozenset({DOC}), open=True), Code.PATIENT_CANNOT_START),
        ([DOC, OTHER_PATIENT], OPEN, Code.PATIENT_TO_PATIENT),
        ([DOC], CLOSED, Code.CONVERSATION_CLOSED),
        ([], OPEN, Code.NO_RECIPIENT),
        ([DOC, STRANGER], OPEN, Code.EXTRA_RECIPIENT),
    ]
    for recipients, conversation, code in cases:
        refusal = check_patient_reply(PATIENT, recipients, conversation, PD)
        assert refusal is not None and refusal.code is code, (recipients, conversation)
        assert refusal.sentence


addresses = st.sampled_from([DOC, NURSE, STRANGER, OTHER_PATIENT, "x@elsewhere.example"])


@given(st.lists(addresses, max_size=6), st.booleans(), st.frozensets(addresses, max_size=4))
def test_a_patient_reply_is_allowed_only_to_participants_of_an_open_conversation(
    recipients: list[str], is_open: bool, professionals: frozenset[str]
) -> None:
    conversation = ConversationFacts(PATIENT, professionals, open=is_open)
    refusal = check_patient_reply(PATIENT, recipients, conversation, PD)
    allowed = (
        is_open
        and bool(recipients)
        and all(r in professionals for r in recipients)
        and not any(r.endswith("@" + PD) for r in recipients)
    )
    assert (refusal is None) == allowed


def test_patient_mail_from_outside_the_web_is_always_refused_with_the_best_reason() -> None:
    assert check_patient_mail(PATIENT, [DOC], None, PD).code is Code.PATIENT_CANNOT_START
    assert check_patient_mail(PATIENT, [DOC], CLOSED, PD).code is Code.CONVERSATION_CLOSED
    assert check_patient_mail(PATIENT, [DOC, STRANGER], OPEN, PD).code is Code.EXTRA_RECIPIENT
    assert check_patient_mail(PATIENT, [OTHER_PATIENT], OPEN, PD).code is Code.PATIENT_TO_PATIENT
    assert check_patient_mail(PATIENT, [DOC], OPEN, PD).code is Code.PATIENT_WEB_ONLY

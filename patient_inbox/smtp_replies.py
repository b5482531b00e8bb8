"""The SMTP replies of the patient domain: each refusal's code, enhanced code (RFC 3463) and sentence.

The sentences are the same French ones the patient sees on the web, written without accents because SMTP
replies are ASCII unless SMTPUTF8 was negotiated (RFC 5321 §4.2, RFC 6531 §3.7.4.2).
"""

from __future__ import annotations

import unicodedata

from mail_gateway.errors import DeliveryRefused
from policies.conversations import Refusal as RuleRefusal
from policies.patient_lifecycle import Refusal as LifecycleRefusal


def ascii_sentence(text: str) -> str:
    text = text.replace("’", "'").replace("«", '"').replace("»", '"').replace("\u00a0", " ")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isprintable() or ch == " "))


def rule_refusal(refusal: RuleRefusal) -> DeliveryRefused:
    # RFC 3463 §3.7: 5.7.1 delivery not authorised, message refused
    return DeliveryRefused(550, "5.7.1", ascii_sentence(refusal.sentence))


def unknown_patient(address: str) -> DeliveryRefused:
    # RFC 3463 §3.2: 5.1.1 bad destination mailbox address
    return DeliveryRefused(550, "5.1.1", f"Aucun espace sante n'existe pour l'adresse {address}")


def space_unavailable(refusal: LifecycleRefusal) -> DeliveryRefused:
    # RFC 3463 §3.3: 5.2.1 mailbox disabled, not accepting messages
    return DeliveryRefused(550, "5.2.1", ascii_sentence(refusal.sentence))

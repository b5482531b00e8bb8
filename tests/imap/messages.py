"""Messages used by the IMAP tests, chosen to exercise the MIME tree: nesting, encodings, charsets."""

from __future__ import annotations

SIMPLE = (
    b"From: Dr Alice Martin <alice@mssante.test>\r\n"
    b"To: bob@mssante.test\r\n"
    b"Subject: Compte rendu\r\n"
    b"Date: Fri, 20 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <simple@mssante.test>\r\n"
    b"\r\n"
    b"Bonjour,\r\nVoici le compte rendu.\r\n"
)

MULTIPART = (
    b"From: =?utf-8?q?Dr_=C3=89lise_Dupr=C3=A9?= <elise@mssante.test>\r\n"
    b"To: bob@mssante.test, Carol <carol@mssante.test>\r\n"
    b"Cc: dan@mssante.test\r\n"
    b"Subject: =?utf-8?q?R=C3=A9sultats_d=27=C3=A9chographie?=\r\n"
    b"Date: Sat, 21 Nov 2026 08:15:00 +0000\r\n"
    b"Message-ID: <multi@mssante.test>\r\n"
    b"X-MSS-NIL: logiciel-1\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"L'=E9chographie est normale.\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>L'\xc3\xa9chographie est normale.</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: lab@mssante.test\r\n"
    b"Subject: Analyse\r\n"
    b"\r\n"
    b"Glyc\xc3\xa9mie 5.2 mmol/L\r\n"
    b"--outer\r\n"
    b'Content-Type: application/pdf; name="cr.pdf"\r\n'
    b'Content-Disposition: attachment; filename="cr.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def numbered(n: int, *, subject: str | None = None) -> bytes:
    return (
        f"From: sender{n}@mssante.test\r\nTo: bob@mssante.test\r\nSubject: {subject or f'Message {n}'}\r\n"
        f"Date: Sun, 22 Nov 2026 12:{n % 60:02d}:00 +0000\r\nMessage-ID: <m{n}@mssante.test>\r\n\r\n"
        f"Body of message {n}.\r\n"
    ).encode()

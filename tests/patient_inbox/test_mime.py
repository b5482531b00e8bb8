"""Reading messages: bodies and attachments from bytes; hostile or broken input never raises."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from patient_inbox.mime import MAX_ATTACHMENTS, parse_message
from patient_inbox.sanitise import ALLOWED_TAGS, ATTRIBUTES, URL_SCHEMES, sanitise_html


def test_body_attachments_and_threading_fields() -> None:
    message = EmailMessage()
    message["From"] = "=?utf-8?q?Dr_=C3=89lise_Martin?= <elise.martin@mssante.localhost>"
    message["To"] = "Patient <185077512345664@patient.mssante.localhost>, Dr B <b@mssante.localhost>"
    message["Cc"] = "b@mssante.localhost, c@mssante.localhost"
    message["Subject"] = "=?utf-8?b?UsOpc3VsdGF0cw==?="
    message["Message-ID"] = "<m1@x>"
    message["In-Reply-To"] = "<m0@x>"
    message["References"] = "<a@x> <m0@x>"
    message["X-MSS-MES"] = "FIN"
    message["X-MSSante-Conversation"] = "tok"
    message.set_content("texte")
    message.add_alternative("<p>html</p>", subtype="html")
    message.add_attachment(b"\x00\x01binaire", maintype="application", subtype="pdf", filename="résumé/../x.pdf")
    message.add_attachment("notes", subtype="plain", filename="notes.txt")
    parsed = parse_message(message.as_bytes(policy=SMTP))
    assert (parsed.subject, parsed.from_name, parsed.from_address) == (
        "Résultats", "Dr Élise Martin", "elise.martin@mssante.localhost"
    )
    assert [a for _, a in parsed.visible_recipients] == [
        "185077512345664@patient.mssante.localhost", "b@mssante.localhost", "c@mssante.localhost"
    ]
    assert (parsed.message_id, parsed.in_reply_to, parsed.references) == ("<m1@x>", "<m0@x>", "<a@x> <m0@x>")
    assert (parsed.mss_mes, parsed.conversation_token) == ("FIN", "tok")
    assert parsed.text is not None and parsed.text.strip() == "texte"
    assert parsed.html is not None and parsed.html.strip() == "<p>html</p>"
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("résumé_.._x.pdf", "application/pdf", b"\x00\x01binaire"),
        ("notes.txt", "text/plain", b"notes\r\n"),  # the bytes as sent, line endings included
    ]


def test_attachments_are_bounded() -> None:
    message = EmailMessage()
    message["Subject"] = "beaucoup"
    message.set_content("x")
    for n in range(MAX_ATTACHMENTS + 10):
        message.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"{n}.bin")
    assert len(parse_message(message.as_bytes(policy=SMTP)).attachments) == MAX_ATTACHMENTS


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    parse_message(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([
            b"Content-Type: multipart/mixed; boundary=b\r\n", b"\r\n", b"--b\r\n", b"--b--\r\n",
            b"Content-Transfer-Encoding: base64\r\n", b"Content-Type: text/html; charset=x-unknown\r\n",
            b"Content-Disposition: attachment; filename*=utf-8''%FF%FE\r\n", b"=?utf-8?q?=FF?=", b"\xff\xfe",
            b"Subject: =?bad?x?y?=\r\n", b"From: <<<@>>>\r\n", b"<script>", b"AAAA====\r\n",
        ]),
        max_size=40,
    )
)
def test_broken_mime_never_raises(parts: list[bytes]) -> None:
    parse_message(b"".join(parts))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' scriptonerrorhrefjavascript:imgsvgstyle&#x;()ab")), max_size=300))
def test_sanitised_html_keeps_only_allowed_tags_attributes_and_schemes(fragment: str) -> None:
    parser = _Tags()
    parser.feed(sanitise_html(fragment))
    for tag, attrs in parser.seen:
        assert tag in ALLOWED_TAGS, tag
        allowed = ATTRIBUTES.get(tag, set()) | ({"target", "rel"} if tag == "a" else set())
        for name, value in attrs:
            assert name in allowed, (tag, name)
            if name == "href":
                assert (value or "").split(":", 1)[0].lower() in URL_SCHEMES, value

"""The sans-IO core on its own: framer, parser, sequence sets, modified UTF-7, strings, limits.

Hypothesis checks render-then-parse round-trips and that arbitrary bytes only ever produce protocol events.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mail_gateway.imap.errors import ImapError, LimitExceeded, ProtocolError
from mail_gateway.imap.protocol import commands as c
from mail_gateway.imap.protocol import search, utf7
from mail_gateway.imap.protocol.framer import (
    NEED_DATA,
    CommandReader,
    CommandReady,
    CommandRejected,
    Event,
    LiteralRequested,
    NeedData,
)
from mail_gateway.imap.protocol.limits import Limits
from mail_gateway.imap.protocol.reader import Reader
from mail_gateway.imap.protocol.response import astring, string
from mail_gateway.imap.protocol.sequence_set import SequenceSet


def events(data: bytes, *, bytewise: bool, limits: Limits | None = None) -> list[Event]:
    reader = CommandReader(limits or Limits())
    out: list[Event] = []
    for piece in [data[i : i + 1] for i in range(len(data))] if bytewise else [data]:
        reader.receive_data(piece)
        while not isinstance(event := reader.next_event(), NeedData):
            out.append(event)
    return out


PIPELINE = (
    b'a1 LOGIN {3}\r\nbob "p\\"w"\r\n'
    b"a2 UID FETCH 1:*,7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100> BODY[1.2.MIME]) (CHANGEDSINCE 5)\r\n"
    b"a3 SEARCH CHARSET UTF-8 OR (FROM x SUBJECT {3+}\r\nabc) NOT SINCE 1-Jan-2020 UID 1:5,7\r\n"
    b'a4 APPEND INBOX (\\Seen) "01-Jan-2020 10:00:00 +0100" {5}\r\nhello\r\n'
    b"a5 STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Deleted $X)\r\n"
    b'a6 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Work/%") RETURN (CHILDREN STATUS (MESSAGES))\r\n'
    b"a7 SELECT &AMk-t&AOk- (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n"
    b"zz BOGUS\r\n"
)


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
def test_pipeline_parses_the_same_whole_and_byte_by_byte(bytewise: bool) -> None:
    got = events(PIPELINE, bytewise=bytewise)
    kinds = [type(e).__name__ for e in got]
    assert kinds == [
        "LiteralRequested",
        "CommandReady",
        "CommandReady",
        "CommandReady",
        "LiteralRequested",
        "CommandReady",
        "CommandReady",
        "CommandReady",
        "CommandReady",
        "CommandRejected",
    ]
    commands = [e.command for e in got if isinstance(e, CommandReady)]
    assert commands[0] == c.Login(b"a1", b"bob", b'p"w')
    fetch = commands[1]
    assert isinstance(fetch, c.Fetch) and fetch.uid and fetch.changedsince == 5
    assert str(fetch.messages) == "1:*,7" and len(fetch.attrs) == 4
    query = commands[2]
    assert isinstance(query, c.Search) and query.charset == "UTF-8"
    assert search.render(query.key).startswith(b'(OR (FROM "x" SUBJECT "abc") NOT SINCE 1-Jan-2020')  # type: ignore[arg-type]
    assert commands[3] == c.Append(b"a4", "INBOX", ("\\Seen",), commands[3].date, b"hello")  # type: ignore[attr-defined]
    assert commands[4] == c.Store(b"a5", SequenceSet(((1, 1),)), "+", True, ("\\Deleted", "$X"), False, 3)
    listing = commands[5]
    assert isinstance(listing, c.List) and listing.patterns == ("INBOX", "Work/%")
    assert listing.selection == ("SUBSCRIBED", "RECURSIVEMATCH") and listing.status_items == ("MESSAGES",)
    select = commands[6]
    assert isinstance(select, c.Select) and select.mailbox == "Été" and select.qresync is not None
    rejected = got[-1]
    assert isinstance(rejected, CommandRejected) and rejected.tag == b"zz"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"a FETCH 1 (FLAGS", "expected ')' at octet 16"),
        (b"a FETCH 0 FLAGS", "bad number in sequence set: '0'"),
        (b"a FETCH 1:4294967296 FLAGS", "sequence numbers are 32-bit (RFC 3501 §9)"),
        (b'a LOGIN "unterminated', "unterminated quoted string"),
        (b"a SELECT &-&", "unterminated modified UTF-7 sequence in a mailbox name"),
        (b"a SELECT &AGE-", "non-canonical modified UTF-7 in a mailbox name"),
        (b"a FETCH 1 BINARY[1]", "BINARY is not supported by this server"),
        (b"a UID NOOP", "UID NOOP is not a command"),
        (b"+ LOGIN", "missing tag"),
        (
            b'a APPEND INBOX "1-Foo-2020 00:00:00 +0000" {1+}\r\nx',
            'bad date-time (expected "dd-Mon-yyyy hh:mm:ss +zzzz")',
        ),
    ],
)
def test_syntax_errors_are_protocol_errors(line: bytes, message: str) -> None:
    got = events(line + b"\r\n", bytewise=False)
    assert len(got) == 1 and isinstance(got[0], CommandRejected)
    assert got[0].error.text == message


def test_oversized_synchronising_literal_is_refused_before_it_is_sent() -> None:
    got = events(b"a1 APPEND INBOX {4294967295}\r\na2 NOOP\r\n", bytewise=False, limits=Limits(max_literal=1000))
    assert isinstance(got[0], CommandRejected) and got[0].tag == b"a1" and got[0].error.code == "TOOBIG"
    assert not got[0].error.disconnect
    assert isinstance(got[1], CommandReady) and got[1].command == c.Noop(b"a2")


def test_oversized_non_synchronising_literal_closes_the_connection() -> None:
    got = events(b"a1 LOGIN {99999999+}\r\nxxxx", bytewise=False)
    assert len(got) == 1 and isinstance(got[0], CommandRejected)
    assert got[0].error.disconnect and got[0].error.code == "TOOBIG"


def test_line_length_limit() -> None:
    got = events(b"a1 NOOP " + b"x" * 2000, bytewise=True, limits=Limits(max_line=1000))
    assert len(got) == 1 and isinstance(got[0], CommandRejected) and got[0].error.disconnect
    assert got[0].tag == b"a1" and got[0].error.code == "TOOBIG"


def test_nesting_depth_and_range_count_limits() -> None:
    deep = b"a SEARCH " + b"(" * 10_000 + b"ALL" + b")" * 10_000 + b"\r\n"
    got = events(deep, bytewise=False, limits=Limits(max_line=100_000))
    assert isinstance(got[0], CommandRejected) and isinstance(got[0].error, LimitExceeded)
    nots = b"a SEARCH " + b"NOT " * 5_000 + b"ALL\r\n"
    got = events(nots, bytewise=False, limits=Limits(max_line=100_000))
    assert isinstance(got[0], CommandRejected) and isinstance(got[0].error, LimitExceeded)
    ranges = b"a FETCH " + b",".join(b"%d" % (2 * i + 1) for i in range(100_000)) + b" FLAGS\r\n"
    got = events(ranges, bytewise=False, limits=Limits(max_line=1_000_000))
    assert isinstance(got[0], CommandRejected) and got[0].error.text == "a sequence set may have at most 10000 ranges"


def test_sequence_sets() -> None:
    s = SequenceSet.parse("5:3,9,12:*")
    assert list(s.spans(20)) == [(3, 5), (9, 9), (12, 20)]
    assert s.select([1, 3, 4, 9, 10, 15, 30]) == [3, 4, 9, 15, 30]
    assert SequenceSet.parse("*:4").select([1, 2], 2) == [2]  # RFC 3501 §6.4.8: "*" is the largest UID
    assert SequenceSet.parse("1:*").indexes(0) == []
    with pytest.raises(ProtocolError):
        SequenceSet.parse("4").indexes(3)
    assert str(SequenceSet.of([1, 2, 3, 5, 7, 8])) == "1:3,5,7:8"


@given(
    st.lists(
        st.tuples(st.integers(1, 2**32 - 1) | st.none(), st.integers(1, 2**32 - 1) | st.none()), min_size=1, max_size=50
    )
)
def test_sequence_set_round_trip(ranges: list[tuple[int | None, int | None]]) -> None:
    original = SequenceSet(tuple(ranges))
    assert SequenceSet.parse(str(original)) == original


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40))
def test_utf7_round_trip(name: str) -> None:
    assert utf7.decode(utf7.encode(name)) == name


def test_utf7_known_values() -> None:
    # RFC 3501 §5.1.3 example.
    assert utf7.encode("~peter/mail/台北/日本語") == b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert utf7.encode("A&B") == b"A&-B"


@given(st.binary(max_size=300))
def test_string_round_trip(value: bytes) -> None:
    for encoded in (string(value), astring(value) if value else string(value)):
        assert Reader(encoded).astring() == value


DATES = st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31))
LEAF = st.one_of(
    st.sampled_from(["ALL", "SEEN", "UNSEEN", "DELETED", "FLAGGED", "ANSWERED", "DRAFT", "NEW", "OLD"]).map(search.Key),
    st.tuples(st.sampled_from(sorted(search.STRING_KEYS)), st.text(min_size=1, max_size=20)).map(
        lambda t: search.Key(t[0], t[1])
    ),
    st.tuples(st.sampled_from(sorted(search.DATE_KEYS)), DATES).map(lambda t: search.Key(t[0], t[1])),
    st.tuples(st.sampled_from(["LARGER", "SMALLER", "MODSEQ"]), st.integers(0, 2**40)).map(
        lambda t: search.Key(t[0], t[1])
    ),
    st.tuples(st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z"), st.text(max_size=10)).map(
        lambda t: search.Key("HEADER", t[1], t[0].lower())
    ),
)
KEYS = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        inner.map(search.Not),
        st.tuples(inner, inner).map(lambda t: search.Or(*t)),
        st.lists(inner, min_size=2, max_size=4).map(lambda ks: search.And(tuple(ks))),
    ),
    max_leaves=12,
)


@given(KEYS)
@settings(max_examples=200)
def test_search_key_round_trip(key: search.SearchKey) -> None:
    text = search.render(key)
    parsed = search.parse_program(Reader(text), "UTF-8")
    assert search.render(parsed) == text


@given(st.binary(max_size=400))
@settings(max_examples=400)
def test_arbitrary_bytes_only_make_protocol_events(data: bytes) -> None:
    reader = CommandReader(Limits(max_line=200, max_small_literal=50))
    for chunk in (data[: len(data) // 2], data[len(data) // 2 :], b"\r\n"):
        reader.receive_data(chunk)
        while (event := reader.next_event()) is not NEED_DATA:
            assert isinstance(event, CommandReady | CommandRejected | LiteralRequested)
            if isinstance(event, CommandRejected):
                assert isinstance(event.error, ImapError)


COMMAND_WORDS = [
    b"FETCH 1:* ",
    b"SEARCH ",
    b"UID ",
    b"STORE 1 ",
    b"LIST ",
    b"APPEND ",
    b"(",
    b")",
    b"[",
    b"]",
    b"BODY",
    b"HEADER.FIELDS",
    b"{3}\r\n",
    b"{2+}\r\n",
    b'"',
    b"\\",
    b"*",
    b"<1.2>",
    b" ",
    b"NOT ",
    b"OR ",
    b"&",
    b"-",
    b"\xe9",
    b"\x00",
    b"SELECT ",
    b"INBOX",
    b"1",
    b":",
    b",",
]


@given(st.lists(st.sampled_from(COMMAND_WORDS), max_size=30))
@settings(max_examples=400)
def test_command_shaped_noise_only_makes_protocol_events(words: list[bytes]) -> None:
    reader = CommandReader()
    reader.receive_data(b"t " + b"".join(words) + b"\r\n" + b"x" * 10 + b"\r\n")
    while (event := reader.next_event()) is not NEED_DATA:
        assert isinstance(event, CommandReady | CommandRejected | LiteralRequested)

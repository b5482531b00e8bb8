"""The DATA reader (mail_gateway/smtp/data.py) against a line-by-line model of RFC 5321 and of aiosmtpd.

The model reads CRLF-terminated lines up to the lone ``.`` line, as aiosmtpd does; the reader under test reads
large pieces. Both must agree on where the section ends (what follows stays in the stream: pipelined commands),
on the content, and on refusals, whatever the chunking of the bytes on the wire and the reader's limit.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mail_gateway.smtp.data import Data, read_data

MAX_LINE = 1001
AFTER = b"QUIT\r\n"


def model(stream: bytes, max_size: int | None, max_line: int) -> tuple[Data, bytes]:
    """Line-by-line reference: the section read and what is left of the stream after it."""
    lines: list[bytes] = []
    position = 0
    while True:
        end = stream.index(b"\r\n", position) + 2
        line = stream[position:end]
        position = end
        if line == b".\r\n":
            break
        lines.append(line)
    size = 0
    for line in lines:
        size += len(line)
        if len(line) > max_line:
            return Data(b"", "too_long"), stream[position:]
        if max_size and size > max_size:
            return Data(b"", "too_much"), stream[position:]
    content = b"".join(line[1:] if line.startswith(b".") else line for line in lines)
    return Data(content, None), stream[position:]


async def run_reader(chunks: list[bytes], *, limit: int, max_size: int | None, max_line: int) -> tuple[Data, bytes]:
    reader = asyncio.StreamReader(limit=limit)

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    data = await read_data(reader, max_size=max_size, max_line=max_line)
    await feeder
    return data, await reader.read()


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True) if stream[a:b]]


async def check(stream: bytes, *, limit: int = 2**18, max_size: int | None = None, max_line: int = MAX_LINE,
                cuts: tuple[int, ...] = ()) -> Data:
    expected, rest = model(stream, max_size, max_line)
    got, left = await run_reader(split(stream, list(cuts)), limit=limit, max_size=max_size, max_line=max_line)
    assert left == rest  # the section ends where the model says: pipelined commands survive
    if expected.problem is None or got.problem is None:
        assert got == expected
    return got


@pytest.mark.parametrize(
    ("body", "content"),
    [
        (b".\r\n", b""),  # empty message
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"\r\n.\r\n", b"\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),  # a stuffed lone dot is content
        (b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend.\r\n.\r\n", b"Subject: x\r\n\r\nhidden\r\n.two\r\nend.\r\n"),
        (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n"),  # a dot after a bare LF does not end the message
        (b"a\r.\r\nb\r\n.\r\n", b"a\r.\r\nb\r\n"),  # nor after a bare CR
        (b"a\r\n.\n.\r\n.\r\n", b"a\r\n\n.\r\n"),  # ".\n" starts a stuffed line with a bare LF, not the end
        (b"\r\r\n.\r\n", b"\r\r\n"),  # CRs before the CRLF of a line
        (b"\r\r\r\n\r\n.\r\n", b"\r\r\r\n\r\n"),
    ],
)
async def test_sections(body: bytes, content: bytes) -> None:
    for limit in (8, 64, 2**18):
        got = await check(body + AFTER, limit=limit)
        assert got == Data(content, None)
        for cut in range(len(body)):
            assert await check(body + AFTER, limit=limit, cuts=(cut,)) == Data(content, None)


async def test_large_message_in_many_pieces() -> None:
    body = b"".join(b"line %d of the report with some text.\r\n" % i for i in range(20_000))
    got = await check(body + b".\r\n" + AFTER, limit=4096, cuts=tuple(range(0, len(body), 1447)))
    assert got.content == body


async def test_line_too_long_and_size() -> None:
    long_line = b"x" * 1000 + b"\r\n"  # 1,002 octets with its CRLF
    assert (await check(long_line + b".\r\n" + AFTER)).problem == "too_long"
    assert (await check(long_line[1:] + b".\r\n" + AFTER)).problem is None
    assert (await check(b"a" * 5000 + b"\r\n.\r\n" + AFTER, limit=64)).problem == "too_long"
    body = b"0123456789\r\n" * 100
    assert (await check(body + b".\r\n" + AFTER, max_size=len(body))).problem is None
    assert (await check(body + b".\r\n" + AFTER, max_size=len(body) - 1)).problem == "too_much"
    # whichever problem comes first in the stream
    assert (await check(long_line + body + b".\r\n" + AFTER, max_size=1500)).problem == "too_long"
    assert (await check(body + long_line + b".\r\n" + AFTER, max_size=1500)).problem == "too_much"


async def test_client_leaving_mid_data() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"Subject: cut\r\n\r\nno end")
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await read_data(reader, max_size=None, max_line=MAX_LINE)


_PIECES = st.sampled_from([b"a", b"b", b".", b"\r", b"\n", b"\r\n", b"\r\n.", b".\r\n", b"\r\n.\r\n", b"x" * 40])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(_PIECES, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
    limit=st.sampled_from([4, 16, 100, 2**18]),
    max_size=st.sampled_from([None, 30, 200]),
    max_line=st.sampled_from([12, 60, MAX_LINE]),
)
def test_fuzz_against_the_model(
    parts: list[bytes], cuts: list[int], limit: int, max_size: int | None, max_line: int
) -> None:
    stream = b"".join(parts) + b"\r\n.\r\n" + AFTER  # always terminated; maybe earlier
    asyncio.run(check(stream, limit=limit, max_size=max_size, max_line=max_line, cuts=tuple(cuts)))

"""PostgreSQL's postings (``directory.postings``): the gathering process's columnar way (polars) gives exactly the
postings and vocabulary of the line-by-line way that a small import's thread keeps."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory import postings

# a small vocabulary, so that words come back on many lines; "" stands for a doubled or trailing space
WORDS = st.sampled_from(["", "martin", "jean", "p10", "p10:c69003", "c69003", "d69", "vlyon", "saint", "a", "z9"])


def _export(path: Path, lines: list[list[str]]) -> Path:
    """The copy's export as ``postings.start`` writes it: ``pos<TAB>doc facets`` in ascending ``pos``."""
    path.write_text("".join(f"{pos}\t{' '.join(words)}\n" for pos, words in enumerate(lines, start=1)),
                    encoding="ascii")
    return path


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.lists(WORDS, min_size=1, max_size=12), min_size=1, max_size=80),
       size=st.integers(min_value=1, max_value=400))
def test_columnar_gathering_gives_the_line_by_line_positions(tmp_path_factory: pytest.TempPathFactory,
                                                            lines: list[list[str]], size: int) -> None:
    """Any lines (a word twice on a line, empty words), read in pieces of any size (a piece ends within a line:
    the line is finished first)."""
    folder = tmp_path_factory.mktemp("postings")
    source = _export(folder / "words.txt", lines)
    by_line: dict[str, array[int]] = {}
    with source.open(encoding="ascii") as stream:
        postings.collect(stream, by_line)
    columnar: dict[str, array[int]] = {}
    postings.collect_columnar(source, columnar, size)
    assert columnar == by_line
    expected = {word: array(postings.INT4, sorted({pos for pos, words in enumerate(lines, start=1) if word in words}))
                for word in {word for words in lines for word in words if word}}
    assert by_line == expected


def test_the_child_writes_the_same_files_as_the_thread(tmp_path: Path) -> None:
    lines = [[f"w{(pos * 7 + k) % 50}" for k in range(pos % 9 + 1)] + ["p10", "p10:c69003" if pos % 3 else ""]
             for pos in range(1, 3_000)]
    written = {}
    for columnar in (False, True):
        source, target = _export(tmp_path / f"words{columnar}.txt", lines), tmp_path / f"postings{columnar}.bin"
        postings.build(source, target, 4, columnar=columnar)
        assert not source.exists()
        written[columnar] = (target.read_bytes(), postings.vocabulary_path(target).read_text())
    assert written[True] == written[False]
    assert written[True][1].startswith("p10\t2999\np10:c69003\t2000\nw0\t")


@pytest.mark.parametrize("columnar", [False, True])
@pytest.mark.parametrize("order", [[1, 2, 4, 3, 5], [1, 2, 2, 3], [3, 4, 5, 1, 2]])
def test_an_export_out_of_display_order_is_refused(tmp_path: Path, columnar: bool, order: list[int]) -> None:
    """Positions out of order (or twice) would make wrong chunks: the gathering stops, whichever way, whether the
    disorder is within a piece or between two pieces (the columnar way reads 12 bytes at a time here)."""
    source = tmp_path / "words.txt"
    source.write_text("".join(f"{pos}\tmartin p10\n" for pos in order), encoding="ascii")
    positions: dict[str, array[int]] = {}
    with pytest.raises(postings.Unordered, match="not in display order"):
        if columnar:
            postings.collect_columnar(source, positions, 12)
        else:
            with source.open(encoding="ascii") as stream:
                postings.collect(stream, positions)

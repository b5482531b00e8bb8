"""The one text normaliser behind search, on every engine.

Free text is matched case- and accent-insensitively on word prefixes. Both SQLite FTS5 and PostgreSQL
``tsvector`` tokenise the same way only if they are fed the same words, so names are folded here, in Python,
at import time and at query time: NFKD, combining marks dropped, ligatures expanded, lower case, and every
character that is not ``a-z``/``0-9`` becomes a word break (``Jean-Pierre`` → ``jean pierre``,
``D'ALMEIDA`` → ``d almeida``).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o", "ł": "l"})
_NON_WORD = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=131_072)
def fold(value: str) -> str:
    """Lower-case ASCII words separated by single spaces; the empty string for no word at all."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD.sub(" ", stripped.lower()).strip()


def words(value: str) -> list[str]:
    folded = fold(value)
    return folded.split(" ") if folded else []


def squash(value: str) -> str:
    """The folded value without spaces: one token for a multi-word value (a city in the facets)."""
    return fold(value).replace(" ", "")

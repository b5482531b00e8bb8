"""Errors raised by the directory package.

Every error a caller can act on derives from :class:`DirectoryError`, so the CLI and the web routes turn them
into one clear message (RFC 9457 problem, FHIR ``OperationOutcome``) instead of a traceback.

DirectoryError
├── ExtractionError         a file cannot be imported at all (unknown header, unreadable, bad zip); the
│                           previous directory stays untouched
├── ImportRefused           the file is readable but importing it would be wrong (an older extraction)
├── ImportFailed            a step of the import failed (a helper process died); nothing was changed
├── InvalidQuery            a search parameter, cursor or identifier is malformed
└── NotFound                an exact lookup found nothing
"""

from __future__ import annotations


class DirectoryError(Exception):
    """Base of every directory error; ``str(error)`` is a sentence for a person."""


class ExtractionError(DirectoryError):
    """The file cannot be read as a directory extraction; nothing was changed."""


class ImportRefused(DirectoryError):
    """The file could be read but importing it would damage the directory; nothing was changed."""


class ImportFailed(DirectoryError):
    """A step of the import could not be completed (a parsing or gathering process failed); nothing was
    changed."""


class InvalidQuery(DirectoryError):
    """A search parameter is malformed; ``parameter`` names it for the problem response."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class NotFound(DirectoryError):
    pass

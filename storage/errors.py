"""Errors raised by the storage package.

StorageError
├── BlobNotFound        a blob name was asked for that the store does not hold
├── BlobCorrupted       the bytes on disk no longer hash to their name
└── MigrationError      the schema could not be brought to the current revision
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every storage error."""


class BlobNotFound(StorageError):
    pass


class BlobCorrupted(StorageError):
    pass


class MigrationError(StorageError):
    pass

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.blobs import BlobStore, blob_name
from storage.errors import BlobCorrupted, BlobNotFound


def test_put_get_roundtrip_and_dedup(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    name = store.put(b"hello")
    assert name == hashlib.sha256(b"hello").hexdigest()
    assert store.get(name) == b"hello"
    assert store.put(b"hello") == name
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o077 == 0


def test_missing_and_bad_names(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        store.get("0" * 64)
    with pytest.raises(BlobNotFound):
        store.get("../../etc/passwd")


def test_corruption_is_detected(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    name = store.put(b"original")
    store.path(name).write_bytes(b"tampered")
    with pytest.raises(BlobCorrupted):
        store.get(name, verify=True)


def test_temporaries_left_by_a_crash_are_removed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    name = store.put(b"x")
    (store.path(name).parent / ".tmp-deadbeef-00").write_bytes(b"partial")
    assert store.remove_temporaries() == 1
    assert store.get(name) == b"x"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=2000), max_size=8))
def test_put_many_roundtrips(tmp_path_factory: pytest.TempPathFactory, items: list[bytes]) -> None:
    store = BlobStore(tmp_path_factory.mktemp("blobs"))
    names = store.put_many(items)
    assert names == [blob_name(item) for item in items]
    for item, name in zip(items, names, strict=True):
        assert store.read_range(name, 0, len(item) + 10) == item


def test_unsynced_writes_then_barrier(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    names = [store.write_unsynced(bytes([n]) * 100) for n in range(5)]
    store.barrier(names)
    assert [store.get(name, verify=True) for name in names] == [bytes([n]) * 100 for n in range(5)]


def test_debris_of_a_wrong_size_is_rewritten(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    name = store.put(b"complete content")
    store.path(name).write_bytes(b"")  # what a power loss can leave of an unsynced file
    assert store.put(b"complete content") == name
    assert store.get(name, verify=True) == b"complete content"

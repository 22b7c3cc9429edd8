"""The media store: streamed to disk, content-addressed, deduplicated, size-limited."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import os
import threading
import time
import tracemalloc

import psutil
import pytest

from dictation.errors import InvalidInput, TooLarge
from dictation.storage import MediaStore, StoredFile

MB = 1024 * 1024


def run_in_own_loop(coroutine):
    """asyncio.run on a thread of its own: the browser tests' sync Playwright leaves an event
    loop running on the main thread, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def chunks(total: int, size: int = MB, seed: bytes = b"memo"):
    """Distinct bytes objects (a counter up front), as a request body would arrive."""
    block = hashlib.sha256(seed).digest() * (size // 32)
    sent = 0
    n = 0
    while sent < total:
        piece = (n.to_bytes(8, "big") + block)[: min(size, total - sent)]
        yield piece
        sent += len(piece)
        n += 1


def sha_of(total: int, **kw) -> str:
    h = hashlib.sha256()
    for c in chunks(total, **kw):
        h.update(c)
    return h.hexdigest()


def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path) -> MediaStore:
    return MediaStore(tmp_path / "media")


def test_save_stream_stores_bytes_under_their_hash(store):
    data = b"RIFF....WAVEfmt " * 1000
    stored = store.save_stream([data[:5000], data[5000:]])
    sha = hashlib.sha256(data).hexdigest()
    assert stored == StoredFile(sha256=sha, size=len(data), path=store.root / sha[:2] / sha)
    assert stored.path.read_bytes() == data
    assert store.exists(sha) and store.path(sha) == stored.path
    assert files_under(store.root) == [f"{sha[:2]}/{sha}"]


def test_save_stream_reads_file_object(store):
    data = os.urandom(3 * MB + 17)  # not a multiple of the read size
    stored = store.save_stream(io.BytesIO(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    with store.open(stored.sha256) as f:
        assert f.read() == data


def test_save_stream_200mb_upload_keeps_memory_flat(store):
    total = 200 * MB
    rss = psutil.Process()
    rss_before = rss.memory_info().rss
    rss_peak = rss_before

    def watched():
        nonlocal rss_peak
        for i, piece in enumerate(chunks(total)):
            if i % 20 == 0:
                rss_peak = max(rss_peak, rss.memory_info().rss)
            yield piece

    tracemalloc.start()
    try:
        stored = store.save_stream(watched())
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_peak = max(rss_peak, rss.memory_info().rss)

    assert stored.size == total == stored.path.stat().st_size
    assert stored.sha256 == sha_of(total)
    # A few chunks in flight at most; holding the upload would cost 200 MB.
    assert traced_peak < 8 * MB, f"Python allocations peaked at {traced_peak / MB:.1f} MB"
    assert rss_peak - rss_before < 40 * MB, f"RSS grew by {(rss_peak - rss_before) / MB:.1f} MB"


def test_save_stream_same_bytes_stored_once(store):
    first = store.save_stream(chunks(2 * MB))
    mtime = first.path.stat().st_mtime_ns
    second = store.save_stream(io.BytesIO(b"".join(chunks(2 * MB))))
    assert second == first
    assert first.path.stat().st_mtime_ns == mtime  # not rewritten
    assert files_under(store.root) == [f"{first.sha256[:2]}/{first.sha256}"]


def test_save_stream_different_bytes_stored_apart(store):
    a = store.save_stream(chunks(MB, seed=b"a"))
    b = store.save_stream(chunks(MB, seed=b"b"))
    assert a.sha256 != b.sha256
    assert len(files_under(store.root)) == 2


def test_save_stream_too_large_deletes_temp_file(store):
    seen_partials = []

    def body():
        for i, piece in enumerate(chunks(10 * MB)):
            if i == 3:
                # Proves the bytes go to a temp file in the store while they arrive.
                seen_partials.extend(p.name for p in store.root.glob(".upload-*.part"))
            yield piece

    with pytest.raises(TooLarge) as refused:
        store.save_stream(body(), max_bytes=5 * MB)
    assert refused.value.status == 413
    assert "5 MB" in refused.value.message
    assert len(seen_partials) == 1
    assert files_under(store.root) == []


def test_save_stream_accepts_exactly_max_bytes(store):
    stored = store.save_stream(chunks(2 * MB), max_bytes=2 * MB)
    assert stored.size == 2 * MB
    with pytest.raises(TooLarge):
        store.save_stream(chunks(2 * MB + 1), max_bytes=2 * MB)


def test_save_stream_failing_source_leaves_nothing(store):
    def broken():
        yield b"x" * MB
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.save_stream(broken())
    assert files_under(store.root) == []


def test_save_stream_concurrent_same_bytes_one_file(store):
    payload = b"".join(chunks(4 * MB, size=64 * 1024))
    barrier = threading.Barrier(6)
    results: list[StoredFile] = []
    errors: list[BaseException] = []

    def upload():
        try:
            barrier.wait()
            results.append(store.save_stream(chunks(4 * MB, size=64 * 1024)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)  # a lost lock shows as a failure here, not as a hung run
    assert not any(t.is_alive() for t in threads), "a concurrent call never returned"
    assert errors == []
    assert len({r.sha256 for r in results}) == 1 and len(results) == 6
    sha = results[0].sha256
    assert files_under(store.root) == [f"{sha[:2]}/{sha}"]
    assert store.path(sha).read_bytes() == payload


def test_asave_stream_streams_async_source(store):
    async def body():
        for piece in chunks(3 * MB, size=256 * 1024):
            await asyncio.sleep(0)
            yield piece

    stored = run_in_own_loop(store.asave_stream(body(), max_bytes=10 * MB))
    assert stored.sha256 == sha_of(3 * MB, size=256 * 1024)
    assert stored.path.stat().st_size == 3 * MB


def test_asave_stream_too_large_deletes_temp_file(store):
    async def body():
        for piece in chunks(4 * MB):
            yield piece

    with pytest.raises(TooLarge):
        run_in_own_loop(store.asave_stream(body(), max_bytes=MB))
    assert files_under(store.root) == []


def test_path_rejects_names_that_are_not_hashes(store):
    for bad in ("../../etc/passwd", "ab", "A" * 64, "g" * 64, "0" * 63 + "/"):
        with pytest.raises(InvalidInput):
            store.path(bad)


def test_delete_file_removes_it_once(store):
    stored = store.save_stream([b"hello memo"])
    assert store.delete(stored.sha256) is True
    assert not store.exists(stored.sha256)
    assert store.delete(stored.sha256) is False
    assert files_under(store.root) == []


def test_remove_partials_leaves_fresh_uploads(store):
    store.root.mkdir(parents=True)
    old = store.root / ".upload-old.part"
    fresh = store.root / ".upload-fresh.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert store.remove_partials(older_than_s=3600) == 1
    assert not old.exists() and fresh.exists()


def test_from_settings_uses_media_dir(data_dir):
    from dictation.settings import get_settings

    store = MediaStore.from_settings(get_settings())
    stored = store.save_stream([b"abc"])
    assert stored.path.is_relative_to(data_dir / "media")

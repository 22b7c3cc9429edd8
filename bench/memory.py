"""Worker memory on long memos: the processing job streams, so peak RSS must not grow with length.

    python bench/memory.py [--minutes 60] [--model base] [--skip-job]

1. A 1-hour memo is built by joining the speech in ../shared/audio (m4a, AAC 32 kbit/s), then
   the real processing job (`dictation.jobs.run_job`: playback copy, peaks, transcription,
   draft) runs on it in a fresh process with `--model` (default: base, the default model).
   Baseline in the same run, each in its own process on the same file: the old prepare stage
   (the whole memo decoded into one array, then peaks), and the new streamed prepare stage.
2. A 10-hour FLAC of a minute of speech then silence (a few MB): the upload check on its
   header, and the worker's check on its decoded length (DICTATION_MAX_MEMO_MINUTES, 180).

Peak RSS is the process's own ru_maxrss (model load included). MB = 2^20 bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
AUDIO = ROOT.parent / "shared" / "audio"
sys.path.insert(0, str(ROOT))

SOURCES = ["memos/en_mb-us1.m4a", "memos/fr_mb-fr1.m4a", "real/pv_test.wav", "real/jfk.flac",
           "real/pv_diarization_test.wav", "real/pv_test_fr.wav"]


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_long_memo(dest: Path, minutes: float) -> Path:
    """Speech from ../shared/audio joined until `minutes`, encoded piece by piece (flat memory)."""
    import av

    from dictation import audio

    clips = [audio.decode(AUDIO / s) for s in SOURCES if (AUDIO / s).exists()]
    target = int(minutes * 60 * audio.SAMPLE_RATE)
    with av.open(str(dest), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=audio.SAMPLE_RATE, layout="mono")
        stream.bit_rate = 32_000
        resampler = av.AudioResampler("fltp", "mono", audio.SAMPLE_RATE)
        written, i = 0, 0
        while written < target:
            clip = clips[i % len(clips)][: target - written]
            i += 1
            frame = av.AudioFrame.from_ndarray(clip.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = audio.SAMPLE_RATE
            for piece in resampler.resample(frame):
                out.mux(stream.encode(piece))
            written += len(clip)
        for piece in resampler.resample(None):
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))
    return dest


def build_silent_flac(dest: Path, hours: float) -> Path:
    """A minute of speech, then silence to `hours`: FLAC packs the silence into almost nothing."""
    import av

    from dictation import audio

    speech = audio.decode(AUDIO / "memos" / "en_mb-us1.m4a")[: 60 * audio.SAMPLE_RATE]
    block = np.zeros(60 * audio.SAMPLE_RATE, dtype=np.float32)
    with av.open(str(dest), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=audio.SAMPLE_RATE, layout="mono")
        resampler = av.AudioResampler("s16", "mono", audio.SAMPLE_RATE)
        for index in range(int(hours * 60)):
            frame = av.AudioFrame.from_ndarray((speech if index == 0 else block).reshape(1, -1),
                                               format="flt", layout="mono")
            frame.sample_rate = audio.SAMPLE_RATE
            for piece in resampler.resample(frame):
                out.mux(stream.encode(piece))
        out.mux(stream.encode(None))
    return dest


# --- child processes: each measures itself -------------------------------------------------


def child_old_prepare(path: str) -> dict:
    """What the worker did before: the whole memo as one array, then peaks from it."""
    from dictation import audio

    started = time.perf_counter()
    samples = audio.decode(path)
    audio.peaks(samples)
    return {"seconds": time.perf_counter() - started, "audio_s": len(samples) / audio.SAMPLE_RATE}


def child_new_prepare(path: str) -> dict:
    from dictation import audio

    started = time.perf_counter()
    prepared = audio.prepare(path, None)
    return {"seconds": time.perf_counter() - started, "audio_s": prepared.duration}


def child_job(path: str, model: str) -> dict:
    """The real processing job, as a worker process runs it, on a fresh data dir."""
    from dictation import jobs
    from dictation.db import Database
    from dictation.memos import processing
    from dictation.models import Memo, User
    from dictation.schema import metadata
    from dictation.settings import Settings
    from dictation.startup import register_job_kinds
    from dictation.storage import MediaStore

    register_job_kinds()
    data = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    settings = Settings(data_dir=data, model=model, workers=0)
    database = Database(settings)
    metadata.create_all(database.engine)
    with open(path, "rb") as fh:
        stored = MediaStore(settings.media_dir).save_stream(fh)
    queue = jobs.make_queue(settings)
    with database.session() as session:
        author = User(email="bench@example.test", name="Bench", role="author")
        session.add(author)
        session.flush()
        memo = Memo(author_id=author.id, status="received", media_sha256=stored.sha256, size_bytes=stored.size)
        session.add(memo)
        session.flush()
        job_id = processing.enqueue_processing(session, memo, queue).id
    started = time.perf_counter()
    outcome = jobs.run_job(job_id, settings, queue)
    seconds = time.perf_counter() - started
    with database.session() as session:
        memo = session.get(Memo, memo.id)
        return {"outcome": outcome, "seconds": seconds, "audio_s": memo.duration_s, "error": memo.error,
                "words": len((memo.draft.body_markdown if memo.draft else "").split())}


def child_silent(path: str) -> dict:
    from dictation import audio
    from dictation.errors import TooLarge
    from dictation.settings import Settings

    limit = Settings().max_memo_minutes * 60
    found = {"stated_h": audio.probe(path).duration / 3600}
    try:
        audio.check_stated_length(path, limit)
        found["upload"] = "accepted"
    except TooLarge as exc:
        found["upload"] = f"413: {exc.message}"
    started = time.perf_counter()
    try:
        audio.prepare(path, None, max_seconds=limit)
        found["worker"] = "processed"
    except TooLarge as exc:
        found["worker"] = f"refused after decoding {limit / 60:g} min: {exc.message}"
    found["seconds"] = time.perf_counter() - started
    return found


def in_child(name: str, *args: str) -> dict:
    command = [sys.executable, __file__, "--child", name, *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--hours-silent", type=float, default=10.0)
    parser.add_argument("--model", default="base")
    parser.add_argument("--skip-job", action="store_true", help="only the prepare stages and the silent file")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        result = globals()[f"child_{name}"](*rest)
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        long_memo = build_long_memo(Path(tmp) / "long.m4a", args.minutes)
        print(f"memo: {args.minutes:g} min of joined speech, {long_memo.stat().st_size / 2**20:.1f} MB m4a")
        old = in_child("old_prepare", str(long_memo))
        new = in_child("new_prepare", str(long_memo))
        print("| stage | audio s | s | peak RSS MB |\n|---|---|---|---|")
        print(f"| old prepare: whole-memo array + peaks (baseline) | {old['audio_s']:.0f} | {old['seconds']:.1f} "
              f"| {old['peak_mb']:.0f} |")
        print(f"| new prepare: streamed (peaks, length, gaps) | {new['audio_s']:.0f} | {new['seconds']:.1f} "
              f"| {new['peak_mb']:.0f} |")
        print(f"ratio old/new peak RSS: {old['peak_mb'] / new['peak_mb']:.2f}x")
        if not args.skip_job:
            job = in_child("job", str(long_memo), args.model)
            print(f"| whole processing job ({args.model}): playback copy, peaks, transcription, draft | "
                  f"{job['audio_s']:.0f} | {job['seconds']:.0f} | {job['peak_mb']:.0f} |")
            print(f"job outcome: {job['outcome']}, {job['words']} words in the draft, error: {job['error']}")

        silent = build_silent_flac(Path(tmp) / "silent.flac", args.hours_silent)
        print(f"\nsilent file: {args.hours_silent:g} h FLAC, {silent.stat().st_size / 2**20:.1f} MB")
        found = in_child("silent", str(silent))
        print(f"header says {found['stated_h']:.2f} h; upload: {found['upload']}")
        print(f"worker: {found['worker']} ({found['seconds']:.0f} s, peak RSS {found['peak_mb']:.0f} MB)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()

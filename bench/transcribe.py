"""Transcription benchmark: speed, accuracy and memory of each engine × model × memo.

    python bench/transcribe.py [--quick] [--threads N]

Each run happens in its own process so that its peak RSS is its own (model load
included); the real-time factor counts decoding and transcription, not the model load.
"openai ×" is how many times faster than openai-whisper on the same weights in this run
(tiny.en: the shared checkpoint ../shared/models/openai-whisper-tiny.en.pt).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
AUDIO = SHARED / "audio"
OPENAI_TINY = SHARED / "models" / "openai-whisper-tiny.en.pt"
sys.path.insert(0, str(ROOT))

# (engine, model as the user names it, model argument, English only)
CONFIGS = [
    ("faster-whisper", "base", "base", False),
    ("faster-whisper", "tiny.en", "tiny.en", True),
    ("openai-whisper", "tiny.en", str(OPENAI_TINY), True),
]


ENGLISH = ("en_", "jfk", "pv_test.", "pv_diarization")


def reference_for(memo: Path) -> Path:
    return memo.parent / (memo.stem.split("_noisy")[0] + ".txt")


def memos(quick: bool) -> list[Path]:
    found = [
        p for p in sorted(AUDIO.glob("*/*"))
        if p.suffix != ".txt" and reference_for(p).exists()
    ]
    if quick:
        found = [p for p in found if (p.suffix == ".m4a" and "noisy" not in p.name) or p.name == "jfk.flac"]
    return found


def run_one(engine: str, model: str, memo: str, threads: int, cache: str) -> dict:
    """Child process: load, transcribe one memo, print one JSON line."""
    from dictation.audio import decode
    from dictation.transcribe import TranscribeOptions, load_engine, transcribe_audio
    from tests.support.wer import word_error_rate

    options = TranscribeOptions(engine=engine, model=model, cpu_threads=threads, model_cache_dir=Path(cache))
    loaded = load_engine(options)
    started = time.perf_counter()
    audio = decode(memo)
    transcript = transcribe_audio(audio, loaded, options)
    elapsed = time.perf_counter() - started
    reference = reference_for(Path(memo)).read_text(encoding="utf-8")
    return {
        "seconds": len(audio) / 16_000,
        "elapsed": elapsed,
        "wer": word_error_rate(reference, transcript.text),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sparse": len(transcript.sparse_spans),
    }


def measure(engine: str, model: str, memo: Path, threads: int, cache: Path) -> dict | str:
    command = [sys.executable, __file__, "--one", engine, model, str(memo), str(threads), str(cache)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m4a memos and jfk only")
    parser.add_argument("--threads", type=int, default=0, help="cpu threads per run (0 = all)")
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        engine, model, memo, threads, cache = args.one
        print(json.dumps(run_one(engine, model, memo, int(threads), cache)))
        return 0
    if not AUDIO.is_dir():
        print(f"{AUDIO} is absent: lay ../shared beside the checkout.", file=sys.stderr)
        return 2
    from dictation.settings import get_settings

    cache = get_settings().model_cache_dir
    header = (f"{'engine':15} {'model':8} {'memo':26} {'audio s':>7} {'× RT':>6} {'WER %':>6} {'peak MB':>8} "
              f"{'openai ×':>8}")
    print(header)
    print("-" * len(header), flush=True)
    # openai-whisper first, so each faster-whisper row can show its ratio as it is printed.
    order = sorted(CONFIGS, key=lambda config: config[0] != "openai-whisper")
    for memo in memos(args.quick):
        baseline: dict[str, dict] = {}
        for engine, name, model, english_only in order:
            if english_only and not memo.name.startswith(ENGLISH):
                continue
            if engine == "openai-whisper" and not OPENAI_TINY.exists():
                continue
            row = measure(engine, model, memo, args.threads, cache)
            if isinstance(row, str):
                print(f"{engine:15} {name:8} {memo.name:26} failed: {row}", flush=True)
                continue
            if engine == "openai-whisper":
                baseline[name] = row
            rtf = row["seconds"] / row["elapsed"]
            ratio = f"{baseline[name]['elapsed'] / row['elapsed']:.1f}" if name in baseline else "n/a"
            flag = f"  ({row['sparse']} sparse)" if row["sparse"] else ""
            print(
                f"{engine:15} {name:8} {memo.name:26} {row['seconds']:7.1f} {rtf:6.1f} "
                f"{row['wer'] * 100:6.1f} {row['peak_mb']:8.0f} {ratio:>8}{flag}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Transcription on a GPU machine: what each DICTATION_DEVICE setting really does there, and
how fast and how accurate it is against the CPU in the same run.

    python bench/gpu.py [--model tiny.en | PATH] [AUDIO ...]
    python bench/gpu.py --save-npy DIR [AUDIO ...]   # decode here, for a machine without PyAV

For each setting (auto, cuda, cpu), in a fresh process (a GPU found unusable is remembered per
process): the engine load (seconds; the device and compute type it ended on, or the refusal's
sentence), then each recording transcribed twice (the second is timed: the first pays CUDA's
and the kernels' start-up), with its speed (× real time) and its WER against the reference
transcript beside it (`name.txt`). The `cpu` row is the baseline: GPU speed is given as a ratio
to it. Default audio: ../shared/audio's jfk.flac and the 2-minute English memo.

A `.npy` recording (16 kHz mono 16-bit PCM, as `--save-npy` writes it) needs no decoder, so the
check runs where PyAV is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIO = ROOT.parent / "shared" / "audio"
DEFAULT_AUDIO = [AUDIO / "real" / "jfk.flac", AUDIO / "memos" / "en_mb-us1.m4a"]
SETTINGS = ("auto", "cuda", "cpu")
sys.path.insert(0, str(ROOT))


def load_audio(path: Path):
    import numpy as np

    if path.suffix == ".npy":  # 16-bit PCM: half the bytes of float32, all that a recording holds
        return np.load(path).astype(np.float32) / 32768
    from dictation.audio import decode

    return decode(path)


def reference_of(path: Path) -> str:
    stem = path.stem.split("_noisy")[0]
    return (path.parent / f"{stem}.txt").read_text(encoding="utf-8")


def one_setting(setting: str, model: str, audio: list[Path]) -> dict:
    """In this process: load the engine for `setting`, transcribe each recording, report."""
    from dictation.errors import DictationError
    from dictation.transcribe import TranscribeOptions, load_engine, transcribe_audio
    from dictation.transcribe import device as gpu
    from tests.support.wer import word_error_rate

    options = TranscribeOptions(model=model, device=setting, compute_type="auto", language="en",
                                model_cache_dir=Path(os.environ.get("TMPDIR", "/tmp")) / "dictation-models")
    found: dict = {"setting": setting, "gpus": gpu.cuda_device_count()}
    started = time.perf_counter()
    try:
        engine = load_engine(options)
    except DictationError as exc:
        found.update(refused=exc.message, load_s=time.perf_counter() - started)
        return found
    found.update(load_s=time.perf_counter() - started, device=engine.device,  # type: ignore[attr-defined]
                 compute_type=engine.compute_type, fell_back=gpu.gpu_unusable())  # type: ignore[attr-defined]
    found["recordings"] = []
    for path in audio:
        samples = load_audio(path)
        transcribe_audio(samples, engine, options)  # warm-up: CUDA context, kernels, allocator
        started = time.perf_counter()
        text = transcribe_audio(samples, engine, options).text
        took = time.perf_counter() - started
        seconds = len(samples) / 16_000
        found["recordings"].append({"name": path.name, "seconds": seconds, "took_s": took,
                                    "x_real_time": seconds / took, "wer": word_error_rate(reference_of(path), text)})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", nargs="*", type=Path, help="recordings with a reference .txt beside each")
    parser.add_argument("--model", default="tiny.en", help="a model name or a CTranslate2 folder")
    parser.add_argument("--save-npy", type=Path, help="decode the recordings into this folder and stop")
    parser.add_argument("--one", choices=SETTINGS, help=argparse.SUPPRESS)  # the per-setting child
    args = parser.parse_args()
    audio = args.audio or DEFAULT_AUDIO
    if args.save_npy:
        import numpy as np

        args.save_npy.mkdir(parents=True, exist_ok=True)
        for path in audio:
            pcm = np.clip(np.round(load_audio(path) * 32768), -32768, 32767).astype(np.int16)
            np.save(args.save_npy / f"{path.stem}.npy", pcm)
            (args.save_npy / f"{path.stem.split('_noisy')[0]}.txt").write_text(reference_of(path), encoding="utf-8")
        print(f"saved {len(audio)} recording(s) in {args.save_npy}")
        return 0
    if args.one:
        print(json.dumps(one_setting(args.one, args.model, audio)))
        return 0

    import ctranslate2

    print(f"CTranslate2 {ctranslate2.__version__}; CUDA GPUs it counts: {ctranslate2.get_cuda_device_count()}")
    try:
        print(f"compute types on cuda: {sorted(ctranslate2.get_supported_compute_types('cuda'))}")
    except Exception as exc:  # noqa: BLE001 - no GPU: say so and go on to the settings
        print(f"compute types on cuda: none ({type(exc).__name__}: {exc})")
    rows = {}
    for setting in SETTINGS:
        child = subprocess.run([sys.executable, __file__, "--one", setting, "--model", args.model,
                                *map(str, audio)], capture_output=True, text=True, cwd=ROOT)
        lines = child.stdout.strip().splitlines()
        if child.returncode != 0 or not lines:
            print(f"\nDICTATION_DEVICE={setting}: the child failed (exit {child.returncode})\n{child.stderr[-2000:]}")
            continue
        rows[setting] = found = json.loads(lines[-1])
        print(f"\nDICTATION_DEVICE={setting} ({found['gpus']} GPU(s) counted): ", end="")
        if "refused" in found:
            print(f"refused after {found['load_s']:.1f} s: {found['refused']}")
            continue
        print(f"{found['device']} ({found['compute_type']}), loaded in {found['load_s']:.1f} s"
              + (f"; fell back to the CPU: {found['fell_back']}" if found["fell_back"] else ""))
        for rec in found["recordings"]:
            print(f"  {rec['name']:<24} {rec['seconds']:6.1f} s of audio in {rec['took_s']:6.2f} s: "
                  f"{rec['x_real_time']:6.1f} × real time, WER {rec['wer']:.3f}")
    baseline = {r["name"]: r for r in rows.get("cpu", {}).get("recordings", [])}
    for setting in ("auto", "cuda"):
        for rec in rows.get(setting, {}).get("recordings", []):
            if (cpu := baseline.get(rec["name"])) is not None:
                print(f"{setting} against cpu, {rec['name']}: {rec['x_real_time'] / cpu['x_real_time']:.2f} × "
                      f"the speed, WER {rec['wer']:.3f} against {cpu['wer']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

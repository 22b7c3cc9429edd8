"""The `dictation` command. Heavy imports happen inside each command so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from dictation.errors import DictationError


def _progress_bar(label: str) -> Callable[[float], None]:
    """A one-line bar on stderr, redrawn only when the whole percentage changes."""
    last = [-1]

    def report(fraction: float) -> None:
        percent = int(max(0.0, min(1.0, fraction)) * 100)
        if percent == last[0]:
            return
        last[0] = percent
        filled = percent // 4
        sys.stderr.write(f"\r{label} {percent:3d} % [{'#' * filled}{' ' * (25 - filled)}]")
        if percent == 100:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def cmd_transcribe(args: argparse.Namespace) -> int:
    import dataclasses

    from dictation.audio import DecodeReport
    from dictation.compose import compose
    from dictation.settings import get_settings
    from dictation.transcribe import transcribe
    from dictation.transcribe.coverage import with_decode_gaps
    from dictation.transcribe.options import TranscribeOptions

    options = TranscribeOptions.from_settings(get_settings())
    overrides = {k: v for k, v in (("engine", args.engine), ("model", args.model), ("language", args.language)) if v}
    options = dataclasses.replace(options, **overrides)
    path = Path(args.file)
    if not path.is_file():
        raise _UsageError(f"{path}: no such file.")
    progress = _progress_bar("Transcribing") if not args.quiet and _is_long(path) else None
    lost = DecodeReport()
    transcript = with_decode_gaps(transcribe(path, options, progress=progress, decode_report=lost), lost.gaps)
    for start, end in lost.gaps:
        sys.stderr.write(f"warning: the audio between {start:.1f} s and {end:.1f} s could not be decoded "
                         "(damaged or cut short); nothing was transcribed there.\n")
    if args.format == "json":
        json.dump(transcript.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif args.format == "txt":
        sys.stdout.write(transcript.text + "\n")
    else:
        draft = compose(transcript)
        sys.stdout.write(f"# {draft.title}\n\n{draft.body_markdown}\n" if draft.title else draft.body_markdown + "\n")
    for start, end in transcript.sparse_spans:
        sys.stderr.write(
            f"warning: few words were recognised between {start:.1f} s and {end:.1f} s; listen to that part.\n"
        )
    return 0


def _is_long(path: Path) -> bool:
    """Worth a progress bar: more than half a minute of audio (bad files fail later, clearly)."""
    from dictation import audio
    from dictation.errors import BadAudio

    try:
        return audio.probe(path).duration >= 30
    except BadAudio:
        return False


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dictation", description="Dictation Desk: spoken memos to blog posts.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("transcribe", help="transcribe an audio file and print the draft")
    p.add_argument("file")
    p.add_argument("--engine", choices=["faster-whisper", "openai-whisper"])
    p.add_argument("--model", help="model name (base, tiny.en) or a path to a directory or .pt file")
    p.add_argument("--language", choices=["auto", "en", "fr"])
    p.add_argument("--format", choices=["md", "json", "txt"], default="md")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_transcribe)

    from dictation.cli import accounts, mailin, ops, publishing, server

    for group in (ops, server, accounts, mailin, publishing):  # one module per command group
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (DictationError, _UsageError) as exc:
        sys.stderr.write(f"\ndictation: {getattr(exc, 'message', str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        return 130

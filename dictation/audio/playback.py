"""The playback copy the browser plays (Opus), and stream-copy remuxing (a MediaRecorder webm
gets its duration). Files appear only when complete."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dictation.audio.decode import (
    AV_ERRORS,
    OPUS_FRAME,
    OPUS_RATE,
    OUTPUT_FORMATS,
    DecodeReport,
    Source,
    frames,
    open_audio,
    packets,
)
from dictation.errors import BadAudio


def _write_atomically(container, dest: Path, fill, refusal: str) -> Path:
    """Run `fill(out_container)` on a temporary file and move it into place only when complete.

    What FFmpeg refuses becomes BadAudio(`refusal`); a disk or permission problem stays an
    OSError (a plain one: PyAV's own classes do not leave this module)."""
    part = dest.with_name(dest.name + ".part")
    try:
        with container:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with av.open(str(part), mode="w", format=OUTPUT_FORMATS.get(dest.suffix.lower(), "webm")) as out:
                fill(out)
        os.replace(part, dest)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, OSError) and isinstance(exc, av.error.FFmpegError):
            raise OSError(exc.errno, exc.strerror, str(part)) from exc
        if isinstance(exc, AV_ERRORS) and not isinstance(exc, OSError):
            raise BadAudio(refusal) from exc
        raise
    return dest


def make_playback_copy(
    source: Source, dest_path: str | os.PathLike, bit_rate: int = 40_000,
    report: DecodeReport | None = None, listen: Callable[[np.ndarray], None] | None = None,
) -> Path:
    """Re-encode any memo (3gp/AMR included) as mono Opus that Chromium plays.

    WebM unless `dest_path` ends in .ogg/.opus. The container is written to a seekable file,
    so its header carries the duration and the player can seek. ~40 kbit/s is transparent for
    speech. Streams frame by frame: memory stays flat. `report` collects what could not be
    decoded; `listen` gets each block of mono float samples at OPUS_RATE (for peaks).
    """
    container, stream, _ = open_audio(source)

    def fill(out) -> None:
        # "voip" tunes libopus for intelligible speech rather than music.
        opus = out.add_stream("libopus", rate=OPUS_RATE, layout="mono", options={"application": "voip"})
        opus.bit_rate = bit_rate
        pts = 0
        for frame in frames(container, stream, OPUS_RATE, OPUS_FRAME, report=report):
            if listen is not None:
                listen(frame.to_ndarray().reshape(-1))
            frame.pts, frame.time_base = pts, Fraction(1, OPUS_RATE)
            pts += frame.samples
            out.mux(opus.encode(frame))
        out.mux(opus.encode(None))

    refusal = "We could not make a playable copy of this recording."
    return _write_atomically(container, Path(dest_path), fill, refusal)


def remux(source: Source, dest_path: str | os.PathLike) -> Path:
    """Copy the audio packets, untouched, into a new container whose header has the duration.

    For a MediaRecorder webm (which the browser would show as lasting "Infinity"); takes
    milliseconds. The codec must fit the destination (Opus/Vorbis for .webm/.ogg): other
    recordings need `make_playback_copy`, and raise BadAudio here.
    """
    container, stream, _ = open_audio(source)

    def fill(out) -> None:
        copy = out.add_stream_from_template(stream)
        for packet in packets(container, stream):
            if packet.dts is None:
                continue  # the flush packet demux ends with
            packet.stream = copy
            out.mux(packet)

    dest = Path(dest_path)
    refusal = f"This recording ({stream.codec_context.name}) cannot be copied as it is into a {dest.suffix} file."
    return _write_atomically(container, dest, fill, refusal)

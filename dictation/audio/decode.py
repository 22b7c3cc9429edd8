"""Audio in and out: phone formats to 16 kHz mono float32, a playback copy, loudness, peaks.

Everything goes through PyAV (no system ffmpeg; a plain WAV's stated length is read from its
chunks, which is quicker than asking FFmpeg); pydub only ever sees PCM that PyAV decoded,
because its `from_file` calls an ffprobe that is not installed. PyAV's exceptions never leave
this module: input that cannot be read raises `BadAudio` with a sentence a person understands.

A truncated file is decoded up to where it breaks (a memo whose upload was cut short is worth
transcribing in part, and `probe` still reports the header's duration); only a file from which
no sound at all decodes raises `BadAudio`: an m4a or 3gp cut short does, its index being at the end.
Telling audio from other files by their first bytes is `dictation.audio.sniff`'s job.
"""

from __future__ import annotations

import io
import logging
import math
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from dictation.audio.amr import AmrDecoder
from dictation.audio.amr import handles as amr_codec
from dictation.audio.sniff import looks_like, sniff
from dictation.errors import BadAudio, TooLarge

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
Source = str | os.PathLike[str] | BinaryIO | bytes

# Enough for every signature in `sniff` and for the "it looks like" guesses.
_HEAD_BYTES = 4096
# Errors PyAV raises for bad input; all become BadAudio.
AV_ERRORS = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)
# A decode may end this much before the header's length without it being called a gap
# (headers round, encoders pad); 1 % of the length counts too for long memos.
_END_TOLERANCE_S = 0.5
# Raw streams whose "duration" FFmpeg estimates from the bitrate (a DTX note's is far off).
_ESTIMATED_FORMATS = frozenset({"amr", "aac", "mp3"})
OPUS_RATE = 48_000
OPUS_FRAME = 960  # 20 ms, libopus's default frame
OUTPUT_FORMATS = {".ogg": "ogg", ".opus": "ogg", ".oga": "ogg", ".mka": "matroska", ".mkv": "matroska"}


@dataclass(frozen=True)
class AudioInfo:
    duration: float  # seconds; from the header, or measured by demuxing when the header has none
    sample_rate: int  # of the stored audio, before any resampling
    channels: int
    codec: str  # canonical codec name: aac, opus, amr_nb, mp3, flac, pcm_s16le, ...
    container: str  # short name as `sniff` gives it (m4a, webm, 3gp, ...), else FFmpeg's


def _read_head(source: Source) -> tuple[object, bytes | None]:
    """The thing to hand av.open and the file's first bytes, leaving a file object where it was."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            # Not the uploader's fault: a missing media file is ours, so no BadAudio here.
            raise FileNotFoundError(f"There is no audio file at {path}.")
        with path.open("rb") as fh:
            return str(path), fh.read(_HEAD_BYTES)
    try:
        start = source.tell()
        head = source.read(_HEAD_BYTES)
        source.seek(start)
    except (OSError, AttributeError, ValueError):
        head = None  # not seekable: let PyAV try, and name no reason if it fails
    return source, head


def open_audio(
    source: Source, *, probe_bytes: Mapping[str, int] | None = None
) -> tuple[av.container.InputContainer, av.audio.stream.AudioStream, str | None]:
    """Open `source` for reading; raise BadAudio with the most telling reason we can find.
    `probe_bytes`: by sniffed kind, how much FFmpeg may read to learn the streams (its default: 5 MB)."""
    target, head = _read_head(source)
    if head is not None and not head:
        raise BadAudio("This file is empty.")
    kind = sniff(head) if head else None
    other = looks_like(head) if head and not kind else None
    if other:
        raise BadAudio(f"This file is not audio we can read: it looks like {other}.", looks_like=other)
    limit = (probe_bytes or {}).get(kind or "")
    options = {"probesize": str(limit)} if limit else None
    try:
        container = av.open(target, mode="r", metadata_errors="ignore", options=options)
    except AV_ERRORS as exc:
        if kind:
            label = {"ogg": "Ogg", "webm": "WebM", "matroska": "Matroska"}.get(kind, kind.upper())
            raise BadAudio(
                f"This file looks like {label} audio, but it is cut short or damaged, so we cannot read it.",
                format=kind,
            ) from exc
        raise BadAudio("This file is not audio we can read.") from exc
    if not container.streams.audio:
        container.close()
        raise BadAudio("This file has no sound in it: there is no audio track.", format=kind)
    return container, container.streams.audio[0], kind


def packets(container, stream) -> Iterator[av.Packet]:
    """The stream's packets, ending quietly where a truncated file breaks."""
    try:
        yield from container.demux(stream)
    except AV_ERRORS as exc:
        log.warning("audio ends early, reading stopped: %s", exc)


def _resampler(rate: int, frame_size: int | None = None) -> av.AudioResampler:
    # FFmpeg downmixes stereo as (L+R)*0.71, which is 3 dB too loud and clips a loud
    # recording; capping the mix at 1 averages the channels instead.
    return av.AudioResampler("flt", "mono", rate, frame_size=frame_size, options={"rematrix_maxval": "1.0"})


@dataclass
class DecodeReport:
    """What a decode could not hear, filled in by `frames` as it goes: nothing is dropped silently.

    Lost packets become silence of their length (so later words stay where the playback copy
    has them) and a gap here; a decode ending before the container's stated length records the
    rest as a gap too."""

    stated: float | None = None  # seconds the container's header promises; None where it has no real one
    decoded: float = 0.0  # seconds decoded, silence put in for lost packets included
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (start, end) seconds, merged
    max_seconds: float | None = None  # decoding stops with TooLarge past this length (None: no limit)

    def check_length(self) -> None:
        if self.max_seconds is not None and self.decoded > self.max_seconds:
            raise too_long(self.max_seconds)

    def lost(self, start: float, end: float) -> None:
        if end - start <= 0:
            return
        if self.gaps and start <= self.gaps[-1][1] + 0.001:
            self.gaps[-1] = (self.gaps[-1][0], max(self.gaps[-1][1], end))
        else:
            self.gaps.append((start, end))

    def finish(self) -> None:
        """Call once decoding stopped: a missing end becomes the last gap."""
        if self.stated is not None and self.stated - self.decoded > max(_END_TOLERANCE_S, 0.01 * self.stated):
            self.lost(self.decoded, self.stated)

    @property
    def lost_seconds(self) -> float:
        return sum(b - a for a, b in self.gaps)

    def rounded_gaps(self) -> list[list[float]]:
        return [[round(a, 3), round(b, 3)] for a, b in self.gaps]


def too_long(max_seconds: float) -> TooLarge:
    return TooLarge(
        f"This memo lasts longer than the limit of {max_seconds / 60:g} minutes; record it as shorter memos.",
        max_minutes=round(max_seconds / 60, 2),
    )


# A WAV's length is its header's data size over its byte rate, known before any packet is read;
# FFmpeg's default probe still read ~0.5 MB of samples first: 2.7 ms of every WAV upload, 0.15
# with this limit (tests/test_audio.py checks the lengths agree).
_HEADER_PROBE = {"wav": 32 * 1024}


def check_stated_length(source: Source, max_seconds: float | None) -> None:
    """Refuse a memo whose header already says it is too long, before anything decodes it."""
    if max_seconds is None:
        return
    stated = wav_stated_seconds(Path(source)) if isinstance(source, (str, os.PathLike)) else None
    if stated is None:
        stated = probe(source, probe_bytes=_HEADER_PROBE).duration
    if stated > max_seconds:
        raise too_long(max_seconds)


# Sample formats whose byte rate is exact: PCM, float, A-law, mu-law, and the extensible header.
_PLAIN_WAV_TAGS = frozenset({1, 3, 6, 7, 0xFFFE})
_WAV_HEAD_BYTES = 64 * 1024


def wav_stated_seconds(path: Path) -> float | None:
    """A plain WAV's length from its chunks (the data's bytes over the byte rate, no further
    than the file goes), or None for anything else, which FFmpeg then probes. Every WAV upload
    is checked, and FFmpeg's probe of such a header took 3.5 ms of CPU (an m4a's 1.7)."""
    with path.open("rb") as fh:
        head = fh.read(_WAV_HEAD_BYTES)
        size = os.fstat(fh.fileno()).st_size
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None  # RF64, or not a WAV at all
    at, byte_rate = 12, 0
    while at + 8 <= len(head):
        kind, length = head[at:at + 4], struct.unpack_from("<I", head, at + 4)[0]
        body = at + 8
        if kind == b"fmt ":
            if length < 16 or body + 16 > len(head):
                return None
            tag, _channels, _rate, byte_rate = struct.unpack_from("<HHII", head, body)
            if tag not in _PLAIN_WAV_TAGS or not byte_rate:
                return None  # compressed: its byte rate is an average
        elif kind == b"data":
            if not byte_rate or length == 0:
                return None  # no format before the data, or a size left for FFmpeg to work out
            return min(length, size - body) / byte_rate  # 0xFFFFFFFF: "until the end"
        at = body + length + (length & 1)
    return None


def stated_duration(container, stream) -> float | None:
    """The length the header states, or None where FFmpeg only guessed it from the bitrate."""
    if container.format.name.split(",")[0] in _ESTIMATED_FORMATS:
        return None
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _silence(like: av.AudioFrame | None, stream, seconds: float) -> av.AudioFrame | None:
    """Zeros shaped like the frames around them, so the resampler takes them in its stride."""
    rate = like.sample_rate if like is not None else (stream.codec_context.sample_rate or SAMPLE_RATE)
    samples = int(round(seconds * rate))
    if samples <= 0:
        return None
    fmt, layout = (like.format.name, like.layout.name) if like is not None else ("fltp", "mono")
    frame = av.AudioFrame(format=fmt, layout=layout, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = rate
    return frame


def _decoded(packet, stream, amr: AmrDecoder | None) -> list[av.AudioFrame]:
    if amr is None:
        return packet.decode()
    pcm = amr.decode(bytes(packet))
    if not pcm.size:
        return []
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = amr.rate
    return [frame]


def frames(container, stream, rate: int, frame_size: int | None = None,
           report: DecodeReport | None = None) -> Iterator[av.AudioFrame]:
    """Mono float frames at `rate`, up to where the file breaks; a packet that cannot be decoded
    becomes silence of its duration. `report` collects what was lost."""
    report = report if report is not None else DecodeReport()
    if report.stated is None:
        report.stated = stated_duration(container, stream)
    codec = stream.codec_context.codec.canonical_name
    amr = AmrDecoder(codec) if amr_codec(codec) else None
    resampler, produced, bad, last = _resampler(rate, frame_size), 0, 0, None

    def resampled(frame: av.AudioFrame) -> list[av.AudioFrame]:
        nonlocal resampler
        frame.pts = None  # gaps in broken timestamps must not stall the filter graph
        try:
            return resampler.resample(frame)
        except ValueError:  # the stream changed rate or layout midway
            out = resampler.resample(None)
            resampler = _resampler(rate, frame_size)
            return out + resampler.resample(frame)

    try:
        for packet in packets(container, stream):
            try:
                decoded = _decoded(packet, stream, amr)
            except AV_ERRORS:
                bad += 1  # one corrupt packet need not lose the rest of the memo, nor shift it
                seconds = float(packet.duration * stream.time_base) if packet.duration and stream.time_base else 0.0
                decoded = [f for f in [_silence(last, stream, seconds)] if f is not None]
                report.lost(report.decoded, report.decoded + seconds)
            else:
                last = decoded[-1] if decoded else last
            for frame in decoded:
                report.decoded += frame.samples / frame.sample_rate
                report.check_length()
                for o in resampled(frame):
                    produced += o.samples
                    yield o
    except AV_ERRORS as exc:
        log.warning("audio decoding stopped early: %s", exc)
    finally:
        if amr is not None:
            amr.close()
    try:
        for o in resampler.resample(None):
            produced += o.samples
            yield o
    except AV_ERRORS:
        pass
    if bad:
        log.warning("%d audio packets could not be decoded and became silence", bad)
    if not produced or report.decoded <= report.lost_seconds:  # nothing but silence we put in
        raise BadAudio("This file holds no sound we can decode: it may be damaged.")
    report.finish()


def iter_decode(
    source: Source, chunk_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE,
    report: DecodeReport | None = None,
) -> Iterator[np.ndarray]:
    """Mono float32 chunks of `chunk_seconds` (the last one shorter), for piecewise transcription.

    The file is opened (and BadAudio raised) at once; memory stays flat however long the memo.
    `report` (when given) says, once the chunks are used up, what could not be decoded.
    """
    container, stream, _ = open_audio(source)
    size = max(1, int(round(chunk_seconds * sample_rate)))

    def chunks() -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        count = 0
        with container:
            for frame in frames(container, stream, sample_rate, report=report):
                pending.append(frame.to_ndarray().reshape(-1))
                count += pending[-1].size
                while count >= size:
                    joined = np.concatenate(pending)
                    yield joined[:size]
                    pending, count = [joined[size:]], joined.size - size
        if count:
            yield np.concatenate(pending)

    return chunks()


def decode(source: Source, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any supported file (path, file object or bytes) to mono float32 PCM at `sample_rate`."""
    return np.concatenate(list(iter_decode(source, chunk_seconds=600.0, sample_rate=sample_rate)))


def probe(source: Source, *, probe_bytes: Mapping[str, int] | None = None) -> AudioInfo:
    """Duration, rate, channels, codec and container of a file, without decoding it.

    A MediaRecorder webm has no duration in its header; it is then measured by demuxing
    (reading packet timestamps, no decoding), which takes milliseconds.
    """
    container, stream, kind = open_audio(source, probe_bytes=probe_bytes)
    with container:
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = _demuxed_duration(container, stream)
        ctx = stream.codec_context
        container_name = kind or container.format.name.split(",")[0]
        codec = ctx.codec.canonical_name
        return AudioInfo(round(duration, 3), ctx.sample_rate, ctx.channels, codec, container_name)


def _demuxed_duration(container, stream) -> float:
    first = end = last = None
    step = 0
    for packet in packets(container, stream):  # a recording cut short lasts as long as what is there
        if packet.pts is None:
            continue
        if end is not None and last is not None and not packet.duration:
            step = packet.pts - last  # MediaRecorder leaves block durations out
        last = packet.pts
        first = packet.pts if first is None else min(first, packet.pts)
        end = max(end or packet.pts, packet.pts + (packet.duration or step))
    if first is None or end is None:  # both are set by the first packet with a time
        raise BadAudio("This file has no sound in it: its audio track is empty.")
    return float((end - first) * stream.time_base)


def loudness_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS, the same measure as pydub's `AudioSegment.dBFS`.

    0 dBFS is a full-scale square wave, so a full-scale sine is -3 dBFS. This is not LUFS:
    no K-weighting and no gating, so long pauses pull it down. Silence gives -inf.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


"""Audio in and out: phone formats to 16 kHz mono float32, a playback copy, loudness, peaks.

Everything goes through PyAV (no system ffmpeg); pydub only ever sees PCM that PyAV decoded,
because its `from_file` calls an ffprobe that is not installed. PyAV's exceptions never leave
this module: input that cannot be read raises `BadAudio` with a sentence a person understands.

A truncated file is decoded up to where it breaks (a memo whose upload was cut short is worth
transcribing in part, and `probe` still reports the header's duration); only a file from which
no sound at all decodes raises `BadAudio`: an m4a or 3gp cut short does, its index being at the end.
Telling audio from other files by their first bytes is `dictation.sniff`'s job.
"""

from __future__ import annotations

import io
import logging
import math
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Union

import av
import numpy as np

from dictation.errors import BadAudio
# Re-exported: callers read `audio.sniff` and `audio.looks_like`.
from dictation.sniff import looks_like, sniff

with warnings.catch_warnings():
    # pydub warns at import that ffmpeg is missing (we never let it call ffmpeg) and, on
    # Python 3.11-3.12, that audioop is deprecated.
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
Source = Union[str, os.PathLike, BinaryIO, bytes]

# Enough for every signature in `sniff` and for the "it looks like" guesses.
_HEAD_BYTES = 4096
# Errors PyAV raises for bad input; all become BadAudio.
_AV_ERRORS = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)
# A few corrupt packets are skipped; past this many the file is garbage from there on.
_MAX_BAD_PACKETS = 50
_OPUS_RATE = 48_000
_OPUS_FRAME = 960  # 20 ms, libopus's default frame
_OUTPUT_FORMATS = {".ogg": "ogg", ".opus": "ogg", ".oga": "ogg", ".mka": "matroska", ".mkv": "matroska"}


@dataclass(frozen=True)
class AudioInfo:
    duration: float  # seconds; from the header, or measured by demuxing when the header has none
    sample_rate: int  # of the stored audio, before any resampling
    channels: int
    codec: str  # canonical codec name: aac, opus, amr_nb, mp3, flac, pcm_s16le, ...
    container: str  # short name as `sniff` gives it (m4a, webm, 3gp, ...), else FFmpeg's


def _read_head(source: Source) -> tuple[object, bytes]:
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


def _open(source: Source) -> tuple[av.container.InputContainer, av.audio.stream.AudioStream, str | None]:
    """Open `source` for reading; raise BadAudio with the most telling reason we can find."""
    target, head = _read_head(source)
    if head is not None and not head:
        raise BadAudio("This file is empty.")
    kind = sniff(head) if head else None
    other = looks_like(head) if head and not kind else None
    if other:
        raise BadAudio(f"This file is not audio we can read: it looks like {other}.", looks_like=other)
    try:
        container = av.open(target, mode="r", metadata_errors="ignore")
    except _AV_ERRORS as exc:
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


def _packets(container, stream) -> Iterator[av.Packet]:
    """The stream's packets, ending quietly where a truncated file breaks."""
    try:
        yield from container.demux(stream)
    except _AV_ERRORS as exc:
        log.warning("audio ends early, reading stopped: %s", exc)


def _resampler(rate: int, frame_size: int | None = None) -> av.AudioResampler:
    # FFmpeg downmixes stereo as (L+R)*0.71, which is 3 dB too loud and clips a loud
    # recording; capping the mix at 1 averages the channels instead.
    return av.AudioResampler("flt", "mono", rate, frame_size=frame_size, options={"rematrix_maxval": "1.0"})


def _frames(container, stream, rate: int, frame_size: int | None = None) -> Iterator[av.AudioFrame]:
    """Mono float frames at `rate`, skipping a few corrupt packets, up to where the file breaks."""
    resampler, produced, bad = _resampler(rate, frame_size), 0, 0
    try:
        for packet in _packets(container, stream):
            try:
                frames = packet.decode()
            except _AV_ERRORS:
                bad += 1  # one corrupt packet need not lose the rest of the memo
                if bad > _MAX_BAD_PACKETS:
                    break
                continue
            for frame in frames:
                frame.pts = None  # gaps in broken timestamps must not stall the filter graph
                try:
                    out = resampler.resample(frame)
                except ValueError:  # the stream changed rate or layout midway
                    out = resampler.resample(None)
                    resampler = _resampler(rate, frame_size)
                    out += resampler.resample(frame)
                for o in out:
                    produced += o.samples
                    yield o
    except _AV_ERRORS as exc:
        log.warning("audio decoding stopped early: %s", exc)
    try:
        for o in resampler.resample(None):
            produced += o.samples
            yield o
    except _AV_ERRORS:
        pass
    if bad:
        log.warning("skipped %d corrupt audio packets", bad)
    if not produced:
        raise BadAudio("This file holds no sound we can decode: it may be damaged.")


def iter_decode(
    source: Source, chunk_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE
) -> Iterator[np.ndarray]:
    """Mono float32 chunks of `chunk_seconds` (the last one shorter), for piecewise transcription.

    The file is opened (and BadAudio raised) at once; memory stays flat however long the memo.
    """
    container, stream, _ = _open(source)
    size = max(1, int(round(chunk_seconds * sample_rate)))

    def chunks() -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        count = 0
        with container:
            for frame in _frames(container, stream, sample_rate):
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


def probe(source: Source) -> AudioInfo:
    """Duration, rate, channels, codec and container of a file, without decoding it.

    A MediaRecorder webm has no duration in its header; it is then measured by demuxing
    (reading packet timestamps, no decoding), which takes milliseconds.
    """
    container, stream, kind = _open(source)
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
    for packet in _packets(container, stream):  # a recording cut short lasts as long as what is there
        if packet.pts is None:
            continue
        if end is not None and not packet.duration:
            step = packet.pts - last  # MediaRecorder leaves block durations out
        last = packet.pts
        first = packet.pts if first is None else min(first, packet.pts)
        end = max(end or packet.pts, packet.pts + (packet.duration or step))
    if first is None:
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


def _segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
    return AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)


def _samples(segment: AudioSegment) -> np.ndarray:
    return np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float32) / 32768.0


def normalize(samples: np.ndarray, target_dbfs: float = -20.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples with a gain that brings `loudness_dbfs` to `target_dbfs` (via pydub, 16-bit).

    Peaks the gain pushes past full scale are clipped, as pydub does; at -20 dBFS speech
    rarely gets there. Silence comes back unchanged.
    """
    segment = _segment(samples, sample_rate)
    if segment.rms == 0:
        return np.asarray(samples, dtype=np.float32).copy()
    return _samples(segment.apply_gain(target_dbfs - segment.dBFS))


def join(sources: Iterable[Source], gap_seconds: float = 0.75, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Several memos as one, in order, with `gap_seconds` of silence between them."""
    joined = None
    gap = AudioSegment.silent(duration=gap_seconds * 1000, frame_rate=sample_rate)
    for source in sources:
        segment = _segment(decode(source, sample_rate), sample_rate)
        joined = segment if joined is None else joined + gap + segment
    return np.zeros(0, dtype=np.float32) if joined is None else _samples(joined)


def peaks(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, per_second: int = 50, max_points: int = 30_000
) -> list[float]:
    """The loudest |sample| of each 1/`per_second` s window, for drawing a waveform.

    Values lie in [0, 1], scaled so the memo's loudest window is 1.0 (a quiet memo still draws
    a visible waveform; silence gives zeros). At most `max_points` values: a memo longer than
    max_points / per_second seconds gets wider windows. Rounded to 3 decimals for small JSON.
    """
    x = np.abs(np.asarray(samples, dtype=np.float32).reshape(-1))
    if not x.size:
        return []
    count = min(max(1, math.ceil(x.size * per_second / sample_rate)), max_points, x.size)
    starts = np.linspace(0, x.size, count + 1).astype(np.int64)[:-1]
    values = np.maximum.reduceat(x, starts)
    top = float(values.max())
    if top > 0:
        values = values / top
    return [round(float(v), 3) for v in np.clip(values, 0.0, 1.0)]


def _write_atomically(container, dest: Path, fill, refusal: str) -> Path:
    """Run `fill(out_container)` on a temporary file and move it into place only when complete.

    What FFmpeg refuses becomes BadAudio(`refusal`); a disk or permission problem stays an
    OSError (a plain one: PyAV's own classes do not leave this module)."""
    part = dest.with_name(dest.name + ".part")
    try:
        with container:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with av.open(str(part), mode="w", format=_OUTPUT_FORMATS.get(dest.suffix.lower(), "webm")) as out:
                fill(out)
        os.replace(part, dest)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, OSError) and isinstance(exc, av.error.FFmpegError):
            raise OSError(exc.errno, exc.strerror, str(part)) from exc
        if isinstance(exc, _AV_ERRORS) and not isinstance(exc, OSError):
            raise BadAudio(refusal) from exc
        raise
    return dest


def make_playback_copy(source: Source, dest_path: str | os.PathLike, bit_rate: int = 40_000) -> Path:
    """Re-encode any memo (3gp/AMR included) as mono Opus that Chromium plays.

    WebM unless `dest_path` ends in .ogg/.opus. The container is written to a seekable file,
    so its header carries the duration and the player can seek. ~40 kbit/s is transparent for
    speech. Streams frame by frame: memory stays flat.
    """
    container, stream, _ = _open(source)

    def fill(out) -> None:
        # "voip" tunes libopus for intelligible speech rather than music.
        opus = out.add_stream("libopus", rate=_OPUS_RATE, layout="mono", options={"application": "voip"})
        opus.bit_rate = bit_rate
        pts = 0
        for frame in _frames(container, stream, _OPUS_RATE, _OPUS_FRAME):
            frame.pts, frame.time_base = pts, Fraction(1, _OPUS_RATE)
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
    container, stream, _ = _open(source)

    def fill(out) -> None:
        copy = out.add_stream_from_template(stream)
        for packet in _packets(container, stream):
            if packet.dts is None:
                continue  # the flush packet demux ends with
            packet.stream = copy
            out.mux(packet)

    dest = Path(dest_path)
    refusal = f"This recording ({stream.codec_context.name}) cannot be copied as it is into a {dest.suffix} file."
    return _write_atomically(container, dest, fill, refusal)

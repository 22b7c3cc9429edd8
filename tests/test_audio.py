"""dictation.audio on the real memos in ../shared/audio: every phone format, bad input, the
playback copy, loudness and peaks (joining: tests/test_audio_join.py)."""

from __future__ import annotations

import functools
import io
import math
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest

from dictation import audio
from dictation.audio.decode import wav_stated_seconds
from dictation.errors import BadAudio, TooLarge
from tests.conftest import shared_file

MEMO_SECONDS = {"en_mb-us1": 127.9, "fr_mb-fr1": 115.7}
FORMATS = {"m4a": ("m4a", "aac"), "ogg": ("ogg", "opus"), "webm": ("webm", "opus"),
           "3gp": ("3gp", "amr_nb"), "mp3": ("mp3", "mp3")}
MEMOS = [(memo, ext) for memo in MEMO_SECONDS for ext in FORMATS]


@functools.cache
def decoded(path: Path) -> np.ndarray:
    return audio.decode(path)


def seconds(samples: np.ndarray) -> float:
    return samples.size / audio.SAMPLE_RATE


def write_png(path: Path) -> Path:
    """A genuine 2x2 PNG, built by hand so no imaging library is needed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def write_video_only(path: Path) -> Path:
    """An mp4 with a picture track and no sound, named like audio."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        for _ in range(5):
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
        out.mux(video.encode(None))
    return path


@pytest.fixture
def recorder_webm(tmp_path) -> Path:
    """What a browser's MediaRecorder uploads: stereo Opus in a webm written as a live stream,
    so the header never gets a duration."""
    samples = decoded(shared_file("audio/real/pv_diarization_test.wav"))
    path = tmp_path / "recording.webm"
    with av.open(str(path), "w", format="webm", options={"live": "1"}) as out:
        opus = out.add_stream("libopus", rate=48_000, layout="stereo")
        resampler = av.AudioResampler("flt", "stereo", 48_000, frame_size=960)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = audio.SAMPLE_RATE
        pts = 0
        for chunk in resampler.resample(frame) + resampler.resample(None):
            chunk.pts, pts = pts, pts + chunk.samples
            out.mux(opus.encode(chunk))
        out.mux(opus.encode(None))
    with av.open(str(path)) as check:  # the premise of the tests that use it
        assert check.duration is None and check.streams.audio[0].duration is None
    return path


# --- decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("memo,ext", MEMOS)
def test_decode_memo_each_format(memo, ext):
    samples = decoded(shared_file(f"audio/memos/{memo}.{ext}"))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert seconds(samples) == pytest.approx(MEMO_SECONDS[memo], abs=0.2)
    assert -30 < audio.loudness_dbfs(samples) < -15  # speech, neither silence nor noise
    assert 0.2 < np.abs(samples).max() <= 1.0


def test_decode_stereo_flac_averages_channels():
    path = shared_file("audio/real/jfk.flac")
    with av.open(str(path)) as container:
        frames = [f.to_ndarray() for f in container.decode(audio=0)]
    channel_peak = max(np.abs(f).max() for f in frames) / 2**31  # s32 samples
    samples = decoded(path)
    assert seconds(samples) == pytest.approx(11.0, abs=0.05)
    # FFmpeg's default (L+R)*0.71 downmix would exceed the louder channel by 3 dB here.
    assert np.abs(samples).max() <= channel_peak * 1.05


def test_decode_file_object_and_bytes_match_path():
    path = shared_file("audio/memos/fr_mb-fr1.ogg")
    from_path = decoded(path)
    with path.open("rb") as fh:
        assert np.array_equal(audio.decode(fh), from_path)
    assert np.array_equal(audio.decode(path.read_bytes()), from_path)


def test_decode_other_sample_rate_scales_length():
    path = shared_file("audio/real/pv_test.wav")
    assert audio.decode(path, sample_rate=8000).size == pytest.approx(decoded(path).size / 2, abs=2)


def test_iter_decode_chunks_concatenate_to_decode():
    path = shared_file("audio/memos/en_mb-us1.m4a")
    chunks = list(audio.iter_decode(path, chunk_seconds=30.0))
    assert [c.size for c in chunks[:-1]] == [30 * audio.SAMPLE_RATE] * (len(chunks) - 1)
    assert 0 < chunks[-1].size <= 30 * audio.SAMPLE_RATE
    assert np.allclose(np.concatenate(chunks), decoded(path), atol=1e-6)


def test_iter_decode_bad_file_raises_before_iteration(tmp_path):
    path = tmp_path / "notes.ogg"
    path.write_text("Remember to call the printer on Monday.\n")
    with pytest.raises(BadAudio):
        audio.iter_decode(path)  # not iterated: the upload must fail at once


def test_decode_truncated_ogg_keeps_what_is_there():
    data = shared_file("audio/memos/en_mb-us1.ogg").read_bytes()
    samples = audio.decode(io.BytesIO(data[: len(data) // 2]))
    assert 40 < seconds(samples) < 100
    assert np.array_equal(samples[:16000], decoded(shared_file("audio/memos/en_mb-us1.ogg"))[:16000])


def _adts_tone(rate: int, secs: float) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="adts") as out:
        aac = out.add_stream("aac", rate=rate, layout="mono")
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * secs)) / rate)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler("fltp", "mono", rate, frame_size=1024)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            chunk.pts = None
            out.mux(aac.encode(chunk))
        out.mux(aac.encode(None))
    return buf.getvalue()


def test_decode_rate_change_midway_keeps_both_parts():
    # Two recordings glued byte to byte, as some phone apps "append" to a memo.
    samples = audio.decode(_adts_tone(44100, 2.0) + _adts_tone(22050, 2.0))
    assert seconds(samples) == pytest.approx(4.0, abs=0.2)
    assert audio.loudness_dbfs(samples[-8000:]) == pytest.approx(-13.5, abs=1.0)  # 0.3 sine


def test_decode_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        audio.decode(tmp_path / "gone.m4a")


# --- bad input -----------------------------------------------------------------------------


def _head_of(rel: str, size: int):
    return lambda tmp_path: shared_file(rel).read_bytes()[:size]


BAD_INPUTS = {  # case: (makes the bytes, words the message must hold)
    "text": (lambda tmp_path: b"Minutes of the board meeting\nAttendees: all.\n" * 20, "text file"),
    "png": (lambda tmp_path: write_png(tmp_path / "pic.png").read_bytes(), "PNG image"),
    "empty": (lambda tmp_path: b"", "empty"),
    "truncated_m4a": (_head_of("audio/memos/en_mb-us1.m4a", 100_000), "cut short"),
    "truncated_ogg": (_head_of("audio/memos/fr_mb-fr1.ogg", 300), "cut short"),
    "video_only": (lambda tmp_path: write_video_only(tmp_path / "clip.mp4").read_bytes(), "no sound"),
    "noise": (lambda tmp_path: np.random.default_rng(7).bytes(5000), "not audio"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("how", ["path", "file_object"])
def test_decode_bad_input_raises_bad_audio(tmp_path, case, how):
    make, words = BAD_INPUTS[case]
    data = make(tmp_path)
    path = tmp_path / "memo.m4a"
    path.write_bytes(data)
    for call in (audio.decode, audio.probe):
        source = path if how == "path" else io.BytesIO(data)
        with pytest.raises(BadAudio) as caught:
            call(source)
        assert words in caught.value.message and caught.value.message.endswith(".")
        assert caught.value.status == 415


# --- probe ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", list(FORMATS))
def test_probe_memo_reports_format(ext):
    path = shared_file(f"audio/memos/en_mb-us1.{ext}")
    info = audio.probe(path)
    assert (info.container, info.codec) == FORMATS[ext]
    assert info.channels == 1 and info.sample_rate in (8000, 44100, 48000)
    assert info.duration == pytest.approx(seconds(decoded(path)), abs=0.1)


def _wav(path: Path, codec: str, rate: int, layout: str, secs: float) -> Path:
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        samples = int(rate * secs)
        tone = (0.3 * np.sin(np.arange(samples) * 2 * math.pi * 440 / rate)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.tile(tone, (stream.channels, 1)), format="fltp", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def _streaming_wav(path: Path, secs: float) -> Path:
    """A WAV as some recorders write it while recording: data size 0xFFFFFFFF, 'until the end'."""
    rate, samples = 16000, int(16000 * secs)
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(header + bytes(samples * 2))
    return path


# WAVs whose length a header states plainly: PCM, float and mu-law, and a recorder's "until the end".
PLAIN_WAVS = pytest.mark.parametrize("make", [
    lambda p: _wav(p, "pcm_s16le", 16000, "mono", 12.5),
    lambda p: _wav(p, "pcm_s24le", 44100, "stereo", 7.25),
    lambda p: _wav(p, "pcm_f32le", 48000, "mono", 3.0),
    lambda p: _wav(p, "pcm_mulaw", 8000, "mono", 20.0),
    lambda p: _streaming_wav(p, 9.0),
], ids=["s16-16k-mono", "s24-44k-stereo", "f32-48k", "mulaw-8k", "streaming-size"])


@PLAIN_WAVS
def test_check_stated_length_reads_wav_length_as_full_probe(make, tmp_path):
    path = make(tmp_path / "memo.wav")
    full = audio.probe(path).duration
    assert full == pytest.approx(seconds(decoded(path)), abs=0.05)
    audio.check_stated_length(path, full + 0.01)  # the quick look at the header finds the same length
    with pytest.raises(TooLarge, match="longer than the limit"):
        audio.check_stated_length(path, full - 0.5)


@PLAIN_WAVS
def test_read_plain_wav_length_from_chunks_like_ffmpeg(make, tmp_path):
    path = make(tmp_path / "memo.wav")
    assert wav_stated_seconds(path) == pytest.approx(audio.probe(path).duration, abs=0.01)


def test_read_wav_length_leaves_compressed_and_cut_headers_to_ffmpeg(tmp_path):
    adpcm = _wav(tmp_path / "adpcm.wav", "adpcm_ima_wav", 16000, "mono", 4.0)
    assert wav_stated_seconds(adpcm) is None  # its byte rate is an average
    audio.check_stated_length(adpcm, audio.probe(adpcm).duration + 0.01)  # FFmpeg's answer decides
    plain = _wav(tmp_path / "plain.wav", "pcm_s16le", 16000, "mono", 4.0)
    (tmp_path / "cut.wav").write_bytes(plain.read_bytes()[:30])  # the fmt chunk cut short
    assert wav_stated_seconds(tmp_path / "cut.wav") is None
    (tmp_path / "m4a.wav").write_bytes(shared_file("audio/memos/en_mb-us1.m4a").read_bytes()[:4096])
    assert wav_stated_seconds(tmp_path / "m4a.wav") is None


def test_probe_recorder_webm_without_duration_measures_it(recorder_webm):
    info = audio.probe(recorder_webm)
    assert info.channels == 2 and info.codec == "opus" and info.container == "webm"
    assert info.duration == pytest.approx(seconds(audio.decode(recorder_webm)), abs=0.1)


def test_remux_recorder_webm_sets_duration(recorder_webm, tmp_path):
    fixed = audio.remux(recorder_webm, tmp_path / "fixed.webm")
    with av.open(str(fixed)) as container:
        assert container.duration is not None
        header = container.duration / av.time_base
    assert header == pytest.approx(seconds(audio.decode(recorder_webm)), abs=0.1)
    assert np.array_equal(audio.decode(fixed), audio.decode(recorder_webm))  # packets copied untouched


def test_remux_codec_that_does_not_fit_raises_and_leaves_nothing(tmp_path):
    with pytest.raises(BadAudio, match="cannot be copied"):
        audio.remux(shared_file("audio/memos/fr_mb-fr1.m4a"), tmp_path / "out.webm")
    assert list(tmp_path.iterdir()) == []


# --- playback copy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,suffix,container", [("en_mb-us1.3gp", ".webm", "webm"), ("fr_mb-fr1.m4a", ".ogg", "ogg")]
)
def test_make_playback_copy_is_mono_opus_with_duration(tmp_path, name, suffix, container):
    source = shared_file(f"audio/memos/{name}")
    copy = audio.make_playback_copy(source, tmp_path / f"play{suffix}")
    with av.open(str(copy)) as opened:
        header = opened.duration / av.time_base  # the player reads this; None would show Infinity
    info = audio.probe(copy)
    assert (info.codec, info.container, info.channels) == ("opus", container, 1)
    original = decoded(source)
    assert header == pytest.approx(seconds(original), abs=0.1)
    again = audio.decode(copy)
    assert seconds(again) == pytest.approx(seconds(original), abs=0.1)
    assert audio.loudness_dbfs(again) == pytest.approx(audio.loudness_dbfs(original), abs=1.0)
    assert 24_000 < copy.stat().st_size * 8 / header < 56_000  # bit/s
    assert not list(tmp_path.glob("*.part"))


def test_make_playback_copy_bad_input_raises_and_leaves_nothing(tmp_path):
    source = tmp_path / "memo.3gp"
    source.write_bytes(b"")
    with pytest.raises(BadAudio, match="empty"):
        audio.make_playback_copy(source, tmp_path / "out" / "play.webm")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# --- loudness ------------------------------------------------------------------------------


def test_measure_loudness_known_signals():
    t = np.arange(audio.SAMPLE_RATE) / audio.SAMPLE_RATE
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    assert audio.loudness_dbfs(sine) == pytest.approx(-3.01, abs=0.02)
    assert audio.loudness_dbfs(0.5 * sine) == pytest.approx(-9.03, abs=0.02)
    assert audio.loudness_dbfs(np.sign(sine)) == pytest.approx(0.0, abs=0.02)
    assert audio.loudness_dbfs(np.zeros(100, np.float32)) == -math.inf
    assert audio.loudness_dbfs(np.zeros(0, np.float32)) == -math.inf


# --- peaks ---------------------------------------------------------------------------------


def test_draw_peaks_memo_bounded_and_normalized():
    samples = decoded(shared_file("audio/memos/en_mb-us1.webm"))
    values = audio.peaks(samples, per_second=50)
    assert len(values) == math.ceil(seconds(samples) * 50)
    assert min(values) >= 0.0 and max(values) == 1.0
    long = audio.peaks(np.tile(samples, 4), per_second=50, max_points=10_000)
    assert len(long) == 10_000 and 0.0 <= min(long) and max(long) == 1.0


def test_draw_peaks_follow_loudness():
    rng = np.random.default_rng(3)
    quiet_then_loud = np.concatenate([0.05 * rng.standard_normal(16000), 0.5 * rng.standard_normal(16000)])
    values = audio.peaks(quiet_then_loud.astype(np.float32), per_second=10)
    assert len(values) == 20 and max(values[:10]) < 0.3 < min(values[10:])


def test_draw_peaks_silence_and_empty():
    assert audio.peaks(np.zeros(16000, np.float32)) == [0.0] * 50
    assert audio.peaks(np.zeros(0, np.float32)) == []


# --- sniff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rel,expected",
    [(f"audio/memos/en_mb-us1.{ext}", FORMATS[ext][0]) for ext in FORMATS]
    + [("audio/real/jfk.flac", "flac"), ("audio/real/pv_test.wav", "wav")],
)
def test_sniff_recognises_each_format(rel, expected):
    with shared_file(rel).open("rb") as fh:
        head = fh.read(4096)
    assert audio.sniff(head) == expected
    assert audio.sniff(head[:64]) == expected


def test_sniff_recognises_raw_aac_and_mp3_frames():
    mp3 = shared_file("audio/memos/fr_mb-fr1.mp3").read_bytes()
    assert audio.sniff(mp3[mp3.index(b"\xff\xfb") :][:4096]) == "mp3"  # the same file without its ID3 tag
    assert audio.sniff(_adts_tone(16000, 1.0)[:4096]) == "aac"


def test_sniff_rejects_text_png_and_nothing(tmp_path):
    assert audio.sniff(b"Dear team, the quarterly figures are in.\n") is None
    assert audio.sniff(write_png(tmp_path / "p.png").read_bytes()) is None
    assert audio.sniff(b"") is None
    assert audio.sniff(b"\x00\x00\x00\x18ftypheic") is None  # an iPhone photo is not a memo
    noise = np.random.default_rng(11).integers(0, 256, (300, 4096), dtype=np.uint8)
    assert not any(audio.sniff(row.tobytes()) for row in noise)

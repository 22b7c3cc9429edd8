"""AMR voice notes with DTX (comfort-noise frames) decode completely, through opencore-amr."""

from __future__ import annotations

from dataclasses import replace

import av
import numpy as np
import pytest

from dictation import audio
from dictation.audio import amr
from dictation.errors import DecoderUnavailable
from dictation.transcribe import TranscribeOptions, transcribe
from tests.conftest import need, shared_file
from tests.support.amr_notes import AMR_NB_SID, AMR_WB_SID, dtx_note, dtx_note_wideband, frame_types, into_3gp
from tests.support.wer import word_error_rate

SPEECH = "audio/memos/en_mb-us1.m4a"
REFERENCE = "audio/memos/en_mb-us1.txt"


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> dict:
    need(amr.available("amr_nb"), "libopencore-amrnb0 is not installed (make test installs it)")
    folder = tmp_path_factory.mktemp("dtx")
    speech = shared_file(SPEECH)
    note = dtx_note(speech, folder)
    return {"speech": speech, "amr": note, "3gp": into_3gp(note, folder / "note.3gp"),
            "length": audio.probe(speech).duration}


def _ffmpeg_decoded_seconds(path) -> float:
    """How much FFmpeg's own amrnb decoder gets out of the note before giving up."""
    seconds = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            try:
                seconds += sum(f.samples / f.sample_rate for f in packet.decode())
            except av.error.FFmpegError:
                pass
    return seconds


def test_make_dtx_note_has_comfort_noise_frames(notes):
    # Without SID frames these tests would prove nothing about DTX.
    for kind in ("amr", "3gp"):
        assert frame_types(notes[kind]).count(AMR_NB_SID) > 20
    # FFmpeg's decoder refuses those frames: what it reads falls seconds short of the note.
    assert _ffmpeg_decoded_seconds(notes["3gp"]) < notes["length"] - 5


@pytest.mark.parametrize("kind", ["amr", "3gp"])
def test_decode_dtx_note_full_duration(notes, kind):
    report = audio.DecodeReport()
    samples = np.concatenate(list(audio.iter_decode(notes[kind], report=report)))
    assert len(samples) / audio.SAMPLE_RATE == pytest.approx(notes["length"], abs=0.1)
    assert report.gaps == []
    assert audio.loudness_dbfs(samples[-30 * audio.SAMPLE_RATE:]) > -40  # speech at the end, not silence


def test_transcribe_dtx_note_words_match_reference(notes, data_dir):
    options = TranscribeOptions(model="tiny.en", language="en", model_cache_dir=data_dir / "models")
    transcript = transcribe(notes["3gp"], options)
    reference = shared_file(REFERENCE).read_text()
    assert word_error_rate(reference, transcript.text) < 0.15
    assert transcript.segments[-1].end > notes["length"] - 15


def _envelope(samples: np.ndarray, rate: int = audio.SAMPLE_RATE, per_second: int = 100) -> np.ndarray:
    hop = rate // per_second
    usable = len(samples) // hop * hop
    return np.sqrt((samples[:usable].reshape(-1, hop) ** 2).mean(axis=1))


def _lag_seconds(a: np.ndarray, b: np.ndarray, at: float, window: float = 8.0, per_second: int = 100) -> float:
    """Shift of b against a around `at` seconds, from the cross-correlation of their loudness."""
    lo, hi = int(at * per_second), int((at + window) * per_second)
    x = a[lo:hi] - a[lo:hi].mean()
    search = per_second  # up to 1 s either way
    best, best_score = 0, -np.inf
    for shift in range(-search, search + 1):
        y = b[lo + shift : hi + shift]
        if lo + shift < 0 or len(y) < len(x):
            continue
        score = float(np.dot(x, y - y.mean()))
        if score > best_score:
            best, best_score = shift, score
    return best / per_second


def test_decode_dtx_note_lines_up_with_playback_copy(notes, tmp_path):
    copy = audio.make_playback_copy(notes["3gp"], tmp_path / "play.webm")
    original, played = audio.decode(notes["3gp"]), audio.decode(copy)
    assert len(played) / audio.SAMPLE_RATE == pytest.approx(len(original) / audio.SAMPLE_RATE, abs=0.1)
    a, b = _envelope(original), _envelope(played)
    # Word timings come from the original's timeline: the copy must not drift from it anywhere.
    for at in (5.0, notes["length"] / 2, notes["length"] - 12):
        assert abs(_lag_seconds(a, b, at)) <= 0.03


def test_decode_amr_without_opencore_says_what_to_install(notes, monkeypatch):
    # The library absent, as on a bare machine: AMR-NB looked up under a soname no machine has.
    absent = replace(amr.AMR_NB, library="libopencore-amrnb-absent.so.0")
    for name, flavour in list(amr.FLAVOURS.items()):
        if flavour == amr.AMR_NB:
            monkeypatch.setitem(amr.FLAVOURS, name, absent)
    with pytest.raises(DecoderUnavailable) as caught:
        audio.decode(notes["amr"])
    assert "libopencore-amrnb0" in caught.value.message and caught.value.status == 503


@pytest.fixture(scope="module")
def wideband(notes, tmp_path_factory) -> dict:
    need(amr.available("amr_wb"), "libopencore-amrwb0 is not installed (make test installs it)")
    folder = tmp_path_factory.mktemp("dtx-wb")
    note = dtx_note_wideband(notes["speech"], folder)
    return {"awb": note, "3gp": into_3gp(note, folder / "note-wb.3gp")}


@pytest.mark.parametrize("kind", ["awb", "3gp"])
def test_decode_wideband_dtx_note_full_duration(notes, wideband, kind):
    assert frame_types(wideband[kind]).count(AMR_WB_SID) > 20
    assert _ffmpeg_decoded_seconds(wideband[kind]) < notes["length"] - 1  # FFmpeg drops the SID frames
    report = audio.DecodeReport()
    samples = np.concatenate(list(audio.iter_decode(wideband[kind], report=report)))
    assert len(samples) / audio.SAMPLE_RATE == pytest.approx(notes["length"], abs=0.1)
    assert report.gaps == []
    a, b = _envelope(audio.decode(notes["speech"])), _envelope(samples)
    for at in (5.0, notes["length"] - 12):  # lined up with the speech it was made from
        assert abs(_lag_seconds(a, b, at)) <= 0.03

"""Joining a memo and its addition (dictation.audio.edit.join_into, the append mode's join) keeps
decode gaps where they were: a memo whose end was lost is padded with silence of its length, so
the gap stays a gap at its own place and the addition starts after it. Real recordings, decoded
and written by PyAV, glued by pydub."""

from __future__ import annotations

import pytest

from dictation import audio
from dictation.audio.edit import join_into
from tests.conftest import shared_file
from tests.support.gaps import cut

FOLLOW_UP = "audio/real/pv_test.wav"  # 5.855 s


def test_join_pads_lost_end_so_addition_starts_after_gap(memo_m4a, tmp_path):
    half = cut(memo_m4a, 0.5, tmp_path / "half.m4a")
    (first_at, first), (second_at, second) = join_into([half, shared_file(FOLLOW_UP)], tmp_path / "joined.flac",
                                                       gap_seconds=0.75)
    assert first.stated == pytest.approx(11.0, abs=0.1) and first.gaps  # the lost end, recorded
    lost_from, lost_to = first.gaps[-1]
    assert 3 < lost_from < 8 and lost_to == pytest.approx(first.stated, abs=0.05)
    assert first_at == 0 and first.decoded == pytest.approx(first.stated, abs=0.01)  # padded to its length
    assert second_at == pytest.approx(first.stated + 0.75, abs=0.01) and not second.gaps
    joined = audio.decode(tmp_path / "joined.flac")
    assert joined.size / audio.SAMPLE_RATE == pytest.approx(second_at + 5.855, abs=0.01)
    # The lost end is silence in the joined file; the addition's speech comes after the pause.
    gap = joined[int((lost_from + 0.1) * audio.SAMPLE_RATE):int((lost_to - 0.05) * audio.SAMPLE_RATE)]
    assert float(abs(gap).max()) < 1e-3
    assert audio.loudness_dbfs(joined[int(second_at * audio.SAMPLE_RATE):]) > -40


def test_join_whole_recordings_back_to_back(tmp_path):
    parts = join_into([shared_file("audio/real/jfk.flac"), shared_file(FOLLOW_UP)], tmp_path / "j.flac")
    assert [round(at, 2) for at, _ in parts] == [0.0, 11.75] and not any(r.gaps for _, r in parts)
    assert audio.probe(tmp_path / "j.flac").duration == pytest.approx(11.75 + 5.855, abs=0.01)

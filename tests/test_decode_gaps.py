"""No silent truncation: audio that cannot be decoded is silence of its length plus a recorded
gap, and a memo that lost its end says so in the API, the worklist and the editor."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from dictation import audio
from dictation.models import Job, Memo
from dictation.transcribe import Transcript
from dictation.transcribe.coverage import with_decode_gaps
from tests.support.desk import ALICE, ERIN, desk_app, signed_in
from tests.support.gaps import cut, damaged


def decoded(path: Path) -> tuple[np.ndarray, audio.DecodeReport]:
    report = audio.DecodeReport()
    return np.concatenate(list(audio.iter_decode(path, report=report))), report


# --- decoding ------------------------------------------------------------------------------


def test_decode_damaged_packets_become_silence_of_their_length(memo_m4a, tmp_path):
    whole, _ = decoded(memo_m4a)
    broken, report = decoded(damaged(memo_m4a, tmp_path / "damaged.m4a"))
    assert len(broken) == pytest.approx(len(whole), abs=0.02 * audio.SAMPLE_RATE)  # nothing shortened
    assert len(report.gaps) == 1
    start, end = report.gaps[0]
    assert 3.0 < start < end < 8.0 and end - start < 1.0
    inside = broken[int((start + 0.05) * audio.SAMPLE_RATE) : int((end - 0.05) * audio.SAMPLE_RATE)]
    assert np.abs(inside).max() == 0.0
    # After the gap every sample sits where it sat in the undamaged memo: later words keep their times.
    after = slice(int((end + 0.5) * audio.SAMPLE_RATE), len(whole) - audio.SAMPLE_RATE)
    assert np.abs(broken[after] - whole[after]).max() < 1e-3


def test_decode_cut_memo_records_lost_end(memo_m4a, tmp_path):
    samples, report = decoded(cut(memo_m4a, 0.5, tmp_path / "half.m4a"))
    stated = audio.probe(memo_m4a).duration
    assert report.stated == pytest.approx(stated, abs=0.01)
    assert len(report.gaps) == 1
    start, end = report.gaps[0]
    assert start == pytest.approx(len(samples) / audio.SAMPLE_RATE, abs=0.2) and end == pytest.approx(stated)
    assert Memo(
        decode_gaps=report.rounded_gaps(), stated_duration_s=report.stated, duration_s=report.decoded
    ).audio_short


def test_decode_nearly_whole_memo_records_gap_without_flag(memo_m4a, tmp_path):
    _, report = decoded(cut(memo_m4a, 0.96, tmp_path / "most.m4a"))
    assert len(report.gaps) == 1 and 0 < report.lost_seconds < 1.1
    memo = Memo(decode_gaps=report.rounded_gaps(), stated_duration_s=report.stated, duration_s=report.decoded)
    assert not memo.audio_short  # a gap to look at, but over 90 % was heard


def test_decode_whole_memo_records_no_gap(memo_m4a):
    _, report = decoded(memo_m4a)
    assert report.gaps == []


def test_prepare_playback_copy_keeps_gap_timeline(memo_m4a, tmp_path):
    source = damaged(memo_m4a, tmp_path / "damaged.m4a")
    prepared = audio.prepare(source, tmp_path / "play.webm")
    broken, report = decoded(source)
    assert np.allclose(prepared.report.gaps, report.gaps, atol=0.05)
    played = audio.decode(tmp_path / "play.webm")
    assert len(played) / audio.SAMPLE_RATE == pytest.approx(prepared.duration, abs=0.05)
    assert prepared.duration == pytest.approx(len(broken) / audio.SAMPLE_RATE, abs=0.05)


def test_count_decode_gaps_as_sparse_spans():
    transcript = Transcript(language="en", duration=60.0, segments=[], sparse_spans=[(10.0, 20.0)])
    joined = with_decode_gaps(transcript, [(15.0, 25.0), (40.0, 60.0)])
    assert joined.sparse_spans == [(10.0, 25.0), (40.0, 60.0)]
    assert with_decode_gaps(transcript, []) is transcript


# --- the memo, end to end ------------------------------------------------------------------


@pytest.fixture
def app(data_dir):
    app = desk_app(data_dir, (ERIN, ALICE), model="tiny.en", language="en", beam_size=1)
    yield app
    app.state.database.dispose()


def test_process_cut_memo_shows_gap_everywhere(app, memo_m4a, tmp_path):
    from dictation import jobs

    half = cut(memo_m4a, 0.5, tmp_path / "half.m4a")
    author, csrf = signed_in(app, "erin@example.com")
    sent = author.post("/api/v1/memos", files={"file": ("half.m4a", half.read_bytes(), "audio/mp4")},
                       headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 201, sent.text
    memo_id = sent.json()["id"]
    with app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.memo_id == memo_id))
    assert jobs.run_job(job_id, app.state.settings, app.state.queue) == "done"

    answer = author.get(f"/api/v1/memos/{memo_id}").json()
    assert answer["status"] == "ready" and answer["audio_short"] is True
    (start, end), = answer["decode_gaps"]
    assert 4.0 < start < 7.0 and end == pytest.approx(audio.probe(memo_m4a).duration, abs=0.01)
    with app.state.database.session() as session:
        transcript = session.get(Memo, memo_id).transcript
    assert any(a <= start + 0.01 and b >= end - 0.01 for a, b in transcript["sparse_spans"])

    assistant, _ = signed_in(app, "alice@example.com")
    worklist = assistant.get("/worklist").text
    row = worklist[worklist.index(f'data-memo-id="{memo_id}"'):]
    row = row[: row.index("</tr>")]
    assert 'class="chip decode-gaps state-failed"' in row and 'data-audio-short="true"' in row
    editor = assistant.get(f"/memos/{memo_id}").text
    assert 'id="gap-warning"' in editor and "Less than 90 %" in editor
    assert f'"gaps": [[{start}, {end}]]' in editor


def test_add_twice_to_cut_memo_keeps_its_gap(app, memo_m4a, tmp_path):
    """After an addition the memo's recording is a joined FLAC where the lost end is silence:
    a second addition must carry the recorded gap over, not decode it away."""
    from dictation import jobs
    from tests.conftest import shared_file

    def run_latest(memo_id: int) -> str:
        with app.state.database.session() as session:
            job_id = session.scalar(select(Job.id).where(Job.memo_id == memo_id).order_by(Job.id.desc()))
        return jobs.run_job(job_id, app.state.settings, app.state.queue)

    half = cut(memo_m4a, 0.5, tmp_path / "half.m4a")
    author, csrf = signed_in(app, "erin@example.com")
    memo_id = author.post("/api/v1/memos", files={"file": ("half.m4a", half.read_bytes(), "audio/mp4")},
                          headers={"X-CSRF-Token": csrf}).json()["id"]
    assert run_latest(memo_id) == "done"
    gaps = author.get(f"/api/v1/memos/{memo_id}").json()["decode_gaps"]
    assert len(gaps) == 1
    for name in ("audio/real/pv_test.wav", "audio/real/jfk.flac"):
        added = author.post(f"/api/v1/memos/{memo_id}/additions", headers={"X-CSRF-Token": csrf},
                            files={"file": (Path(name).name, shared_file(name).read_bytes())})
        assert added.status_code == 202, added.text
        assert run_latest(memo_id) == "done"
        answer = author.get(f"/api/v1/memos/{memo_id}").json()
        assert answer["decode_gaps"] == gaps, name  # the additions lost nothing of their own
        assert answer["duration_s"] > gaps[0][1]
    assistant, _ = signed_in(app, "alice@example.com")
    assert 'id="gap-warning"' in assistant.get(f"/memos/{memo_id}").text


@pytest.mark.browser
@pytest.mark.slow
def test_editor_draws_band_over_lost_end(page, live_server, memo_m4a, tmp_path):
    from playwright.sync_api import expect

    half = cut(memo_m4a, 0.5, tmp_path / "cut-for-desk.m4a")
    memo = live_server.upload("dan", half, title="Cut short")
    memo = live_server.wait_for("dan", memo["id"])
    (start, end), = memo["decode_gaps"]
    live_server.sign_in(page, "alice", f"/memos/{memo['id']}")
    page.goto(f"{live_server.url}/memos/{memo['id']}")
    band = page.locator("#wave .gap-band")
    expect(band).to_have_count(1)
    expect(band).to_have_attribute("title", f"Not decoded: 0:{int(start):02d}–0:{int(end):02d}")
    expect(page.locator("#gap-warning")).to_contain_text("Less than 90 %")
    wave, box = page.locator("#wave").bounding_box(), band.bounding_box()
    # The lost end lies past the playable audio: the band sits at the waveform's right edge.
    assert box["width"] >= 3 and box["x"] + box["width"] == pytest.approx(wave["x"] + wave["width"], abs=2)


def test_transcribe_cli_warns_of_lost_end(memo_m4a, tmp_path):
    from tests.support.cli import dictation

    path = cut(memo_m4a, 0.5, tmp_path / "cut.m4a")
    done = dictation("transcribe", str(path), "--model", "tiny.en", "--language", "en", "--format", "json",
                     data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    transcript = json.loads(done.stdout)
    lost = re.search(r"the audio between ([\d.]+) s and ([\d.]+) s could not be decoded", done.stderr)
    assert lost, done.stderr
    start, end = float(lost.group(1)), float(lost.group(2))
    assert 3 < start < 8 and abs(end - 11.0) < 0.5  # the second half of JFK's 11 s
    # Counted among the spans to listen to, like unheard speech.
    assert any(a <= start + 0.1 and b >= end - 0.1 for a, b in transcript["sparse_spans"])

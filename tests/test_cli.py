"""The `dictation` command, run as a user would: a subprocess, real audio, real models."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import shared_file
from tests.support.cli import dictation


def test_transcribe_jfk_prints_draft_json_and_text(tmp_path):
    jfk = str(shared_file("audio/real/jfk.flac"))
    md = dictation("transcribe", jfk, "--model", "tiny.en", data_dir=tmp_path)
    assert md.returncode == 0, md.stderr
    title, _, body = md.stdout.partition("\n\n")
    # Whisper may or may not hear a comma after "And so" (it varies with the CPU's int8 kernels).
    assert title.replace(",", "").startswith("# And so my fellow Americans")
    assert "ask what you can do for your country" in body

    raw = dictation("transcribe", jfk, "--model", "tiny.en", "--format", "json", data_dir=tmp_path)
    data = json.loads(raw.stdout)
    assert data["language"] == "en" and data["segments"] and data["segments"][0]["words"]
    assert all(w["start"] <= w["end"] for s in data["segments"] for w in s["words"])

    txt = dictation("transcribe", jfk, "--model", "tiny.en", "--format", "txt", data_dir=tmp_path)
    assert txt.stdout.strip() == data["text"]


@pytest.mark.slow
def test_transcribe_long_memo_shows_progress_bar(tmp_path):
    memo = str(shared_file("audio/memos/en_mb-us1.ogg"))
    done = dictation("transcribe", memo, "--model", "tiny.en", "--language", "en", "--format", "txt",
                     data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = [int(n) for n in re.findall(r"Transcribing\s+(\d+) %", done.stderr)]
    assert len(set(shown)) >= 5 and shown == sorted(shown) and shown[-1] == 100
    assert "communicate with customers" in done.stdout


@pytest.mark.parametrize("name, content, words", [
    ("notes.m4a", b"This is a shopping list, not a memo.\n", "text file"),
    ("empty.ogg", b"", "empty"),
    ("photo.mp3", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "PNG"),
])
def test_transcribe_bad_input_exits_2_with_message(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    done = dictation("transcribe", str(path), "--model", "tiny.en", data_dir=tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr


def test_transcribe_truncated_file_exits_2(tmp_path):
    data = shared_file("audio/memos/en_mb-us1.m4a").read_bytes()
    path = tmp_path / "cut.m4a"
    path.write_bytes(data[: len(data) // 3])
    done = dictation("transcribe", str(path), "--model", "tiny.en", data_dir=tmp_path)
    assert done.returncode == 2 and "cut short or damaged" in done.stderr


def test_transcribe_missing_file_exits_2(tmp_path):
    done = dictation("transcribe", str(tmp_path / "nowhere.m4a"), data_dir=tmp_path)
    assert done.returncode == 2 and "no such file" in done.stderr


def test_doctor_reports_model_engine_decoder_and_data_dir(tmp_path):
    done = dictation("doctor", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"data dir:   {tmp_path}" in done.stdout
    assert "engine:     faster-whisper (int8)" in done.stdout
    assert "PyAV" in done.stdout and "model check: loaded" in done.stdout
    assert (tmp_path / "models" / "faster-whisper-base" / "model.bin").is_file()


def test_add_user_and_token_then_list_destinations(tmp_path):
    added = dictation("user", "add", "ceo@example.test", "--role", "author", "--password-stdin",
                      data_dir=tmp_path, stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    token = dictation("token", "create", "ceo@example.test", "--name", "phone", data_dir=tmp_path)
    assert token.returncode == 0 and token.stdout.strip().startswith("dd_")
    missing = dictation("token", "create", "nobody@example.test", "--name", "x", data_dir=tmp_path)
    assert missing.returncode == 2 and "no user" in missing.stderr

    hook = dictation("destination", "add", "hook", "--kind", "webhook", "--url", "http://127.0.0.1:9/h",
                     "--secret-stdin", data_dir=tmp_path, stdin="whsec_c2VjcmV0\n")
    assert hook.returncode == 0, hook.stderr
    listed = dictation("destination", "list", data_dir=tmp_path)
    assert "blog" in listed.stdout and "hook" in listed.stdout and "secret set" in listed.stdout
    assert "whsec_c2VjcmV0" not in listed.stdout + hook.stdout + hook.stderr

"""Memos by e-mail over a real SMTP conversation: smtplib talks to the running aiosmtpd
mail_receiver, forwarded voice notes become memos that a real worker transcribes (tiny.en, WER
against the reference), and bad mail is refused during the conversation with the reason."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import smtplib
import time
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from dictation.mailin.senders import new_secret_address
from dictation.mailin.smtp import SmtpReceiver
from dictation.models import Job, User
from tests.conftest import shared_file
from tests.support.api import sine_wav
from tests.support.mailin import DESK, EN, mail, memos, note, person, refusal, send, transcribe
from tests.support.serve import free_port, serve
from tests.support.wer import word_error_rate

# How the apps forward a voice note (decided from their documented behaviour; README "Memos by e-mail").
FORWARDS = {
    "whatsapp-ogg": ("ogg", "audio/ogg", "PTT-20261202-WA0003.opus"),
    "android-m4a-octet-stream": ("m4a", "application/octet-stream", "Recording 12.m4a"),
}


@pytest.mark.slow
@pytest.mark.parametrize("forward", FORWARDS, ids=list(FORWARDS))
def test_receive_forwarded_note_becomes_memo_with_its_words(mail_desk, mail_receiver, forward):
    extension, mime, filename = FORWARDS[forward]
    author = person(mail_desk)
    data = shared_file(f"{EN}.{extension}").read_bytes()
    reply = send(mail_receiver, mail(subject="Fwd: Customer letter", attachments=[(data, mime, filename)]))

    [memo] = memos(mail_desk)
    assert f"memo {memo.id} for ceo@corp.example" in reply
    assert (memo.author.id, memo.title, memo.note) == (author.id, "Customer letter", "Please post this on Friday.")
    assert (memo.original_filename, memo.content_type) == (filename, "audio/ogg" if extension == "ogg" else "audio/mp4")
    body = transcribe(mail_desk, memo.id)
    wer = word_error_rate(shared_file(f"{EN}.txt").read_text(), body)
    print(f"{forward}: WER {wer:.1%}")
    assert wer <= 0.15, f"WER {wer:.1%}"


def test_receive_note_forwarded_as_attached_message(mail_desk, mail_receiver):
    person(mail_desk)
    # Outlook's "forward as attachment" of a Teams voice message: audio/mp4 one level down.
    inner = mail(sender="anna@corp.example", subject="Voice message",
                 attachments=[(shared_file(f"{EN}.m4a").read_bytes(), "audio/mp4", "Voice message.m4a")])
    outer = mail(subject="Fwd: Voice message", text="From Anna, for the blog.")
    outer.add_attachment(inner)

    send(mail_receiver, outer)

    [memo] = memos(mail_desk)
    assert (memo.title, memo.note, memo.original_filename, memo.content_type) == (
        "Voice message", "From Anna, for the blog.", "Voice message.m4a", "audio/mp4")


def test_receive_two_notes_makes_one_memo_per_file(mail_desk, mail_receiver):
    person(mail_desk)
    notes = [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "first.ogg"),
             (shared_file(f"{EN}.m4a").read_bytes(), "audio/x-m4a", "second.m4a")]
    logo = (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", "logo.png")

    reply = send(mail_receiver, mail(subject="Two thoughts", attachments=[*notes, logo]))

    first, second = memos(mail_desk)
    assert f"memo {first.id}, memo {second.id}" in reply
    assert (first.title, second.title) == ("Two thoughts (1/2)", "Two thoughts (2/2)")
    assert (first.original_filename, second.original_filename) == ("first.ogg", "second.m4a")
    # The logo is not what anyone said, but it is not dropped unseen either.
    assert "Also attached, not audio (not kept): logo.png" in second.note
    assert "Recording 2 of 2 in the e-mail: second.m4a" in second.note


def test_receive_same_message_twice_answers_first_memo(mail_desk, mail_receiver):
    person(mail_desk)
    note = [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "note.ogg")]
    message = mail(attachments=note)
    send(mail_receiver, message)
    again = send(mail_receiver, message)  # a mail server retrying after a lost reply
    forwarded_again = send(mail_receiver, mail(subject="Fwd: again", attachments=note))  # same note, new message

    [memo] = memos(mail_desk)
    assert f"memo {memo.id} (already received)" in again
    assert f"memo {memo.id} (already received)" in forwarded_again
    with mail_desk.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_accept_secret_address_from_any_sender(mail_desk, mail_receiver, caplog):
    author = person(mail_desk)
    with mail_desk.database.session() as session:
        address = new_secret_address(session, mail_desk.settings, session.get(User, author.id))
    note = [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "note.ogg")]

    with caplog.at_level(logging.DEBUG):
        send(mail_receiver, mail(sender="me@gmail.example", attachments=note), envelope="bounce-1@relay.example",
             to=address)

    [memo] = memos(mail_desk)
    assert memo.author.id == author.id
    secret = address.partition("+")[2].partition("@")[0]
    assert "mail from bounce-1@relay.example" in caplog.text and secret not in caplog.text  # never logged
    with mail_desk.database.session() as session:
        stored = session.get(User, author.id).mail_token_hash
    assert stored == hashlib.sha256(secret.encode()).hexdigest()  # hashed, never in clear


def test_refuse_unknown_sender_before_message_is_sent(mail_desk, mail_receiver):
    person(mail_desk)
    code, reason, when = refusal(mail_receiver, mail(sender="stranger@else.example", attachments=note()),
                                 envelope="stranger@else.example")
    assert (code, when) == (550, "RCPT")  # a stranger's attachment never travels
    assert "stranger@else.example is not the address of anyone on this desk" in reason
    assert memos(mail_desk) == []


def test_refuse_from_header_that_envelope_does_not_match(mail_desk, mail_receiver):
    person(mail_desk)
    person(mail_desk, email="cfo@corp.example")
    code, reason, when = refusal(mail_receiver, mail(attachments=note()), envelope="cfo@corp.example")
    assert (code, when) == (550, "DATA") and "are not the same person" in reason
    code, reason, when = refusal(mail_receiver, mail(attachments=note()), envelope="spoofer@else.example")
    assert (code, when) == (550, "RCPT") and "spoofer@else.example is not the address of anyone" in reason
    assert memos(mail_desk) == []


def test_refuse_deactivated_sender(mail_desk, mail_receiver):
    person(mail_desk, is_active=False)
    code, reason, _ = refusal(mail_receiver, mail(attachments=note()))
    assert code == 550 and "deactivated" in reason


def test_refuse_unknown_secret_address(mail_desk, mail_receiver):
    person(mail_desk)
    code, reason, _ = refusal(mail_receiver, mail(attachments=note()), to="memo+notarealsecret@desk.example")
    assert code == 550 and "is not (or no longer) anyone's memo address" in reason
    assert "notarealsecret" not in reason  # the secret is not echoed into bounces


@pytest.mark.parametrize("screened", [True, False], ids=["at-rcpt", "at-data"])
def test_refuse_sender_address_in_secret_only_mode(mail_desk, screened):
    person(mail_desk)
    strict_settings = mail_desk.settings.model_copy(update={"mail_in_secret_only": True})
    strict = dataclasses.replace(mail_desk, settings=strict_settings)
    receiver = SmtpReceiver(strict.deliver, "127.0.0.1", 0, max_mb=6, screen=strict.screen if screened else None)
    receiver.start()
    try:
        code, reason, when = refusal(receiver, mail(attachments=note()))
    finally:
        receiver.stop()
    assert (code, when) == (550, "RCPT" if screened else "DATA") and "only at your personal memo address" in reason


def test_refuse_message_without_audio_with_reason(mail_desk, mail_receiver):
    person(mail_desk)
    pdf = (b"%PDF-1.7\n" + b"x" * 200, "application/pdf", "minutes.pdf")
    code, reason, _ = refusal(mail_receiver, mail(attachments=[pdf]))
    assert code == 554 and "no audio attachment (attached: minutes.pdf)" in reason
    code, reason, _ = refusal(mail_receiver, mail(text="I'll send the note later."))
    assert code == 554 and "no audio attachment" in reason
    assert memos(mail_desk) == []


def test_refuse_attachment_named_as_audio_that_is_not(mail_desk, mail_receiver):
    person(mail_desk)
    fake = (b"<html>you need to log in to download</html>", "application/octet-stream", "note.m4a")
    code, reason, _ = refusal(mail_receiver, mail(attachments=[*note(), fake]))
    assert code == 554 and "'note.m4a' is not audio we can read: it looks like a web page" in reason
    assert memos(mail_desk) == []  # the good note is not half-taken either: the sender resends the message


def test_refuse_oversize_message_with_limit(mail_desk, mail_receiver):
    person(mail_desk)
    big = [(b"OggS" + b"\0" * (5 * 1024 * 1024), "audio/ogg", "long.ogg")]
    code, reason, _ = refusal(mail_receiver, mail(attachments=big))
    assert code == 552 and "larger than this desk's limit of 6 MB" in reason
    assert memos(mail_desk) == []


def test_refuse_recording_over_upload_limit(mail_desk, mail_receiver):
    person(mail_desk)
    # Under the mail limit (6 MB) but over one memo's (DICTATION_MAX_UPLOAD_MB=3).
    big = [(b"OggS" + b"\0" * (int(3.2 * 1024 * 1024)), "audio/ogg", "long.ogg")]
    code, reason, _ = refusal(mail_receiver, mail(attachments=big))
    assert code == 552 and "'long.ogg' is larger than the limit of 3 MB for one memo" in reason


def test_refuse_recording_over_memo_length_and_keep_nothing(mail_desk):
    person(mail_desk)
    short_limit = mail_desk.settings.model_copy(update={"max_memo_minutes": 0.1})  # 6 s
    strict = dataclasses.replace(mail_desk, settings=short_limit)
    receiver = SmtpReceiver(strict.deliver, "127.0.0.1", 0, max_mb=6).start()
    # The short one first: it must not become a memo while its sibling is refused.
    notes = [(sine_wav(2.0, 330.0), "audio/wav", "short.wav"), (sine_wav(9.0, 350.0), "audio/wav", "long.wav")]
    try:
        code, reason, _ = refusal(receiver, mail(attachments=notes))
    finally:
        receiver.stop()
    assert code == 552 and "'long.wav'" in reason and "longer than the limit of 0.1 minutes" in reason
    assert "Nothing from this message was kept" in reason
    assert memos(mail_desk) == []
    assert not [p for p in mail_desk.store.root.rglob("*") if p.is_file()]


def test_refuse_malformed_mail_and_keep_listening(mail_desk, mail_receiver):
    person(mail_desk)
    with smtplib.SMTP("127.0.0.1", mail_receiver.port, timeout=30) as client:
        client.ehlo()
        client.mail("ceo@corp.example")
        client.rcpt(DESK)
        code, reason = client.data(b"\x00\x01 this is not an e-mail \xff\xfe\r\n\r\nno headers at all")
    assert code == 554 and b"no From address we can read" in reason
    send(mail_receiver, mail(attachments=note()))  # the mail_receiver still answers
    assert len(memos(mail_desk)) == 1


def test_answer_try_later_when_database_or_disk_fails(mail_desk, mail_receiver, monkeypatch):
    person(mail_desk)

    def broken(*_args, **_kwargs):  # injected faults: the database is gone, the disk fails
        raise OSError("connection refused")

    for target, name, stage in ((mail_desk.database, "session", "RCPT"), (mail_desk.store, "save_stream", "DATA")):
        with monkeypatch.context() as patch:
            patch.setattr(target, name, broken)
            code, reason, when = refusal(mail_receiver, mail(attachments=note()))
        assert (code, when) == (451, stage) and "will try again" in reason
    send(mail_receiver, mail(attachments=note()))  # the sender's retry, once all is well
    assert len(memos(mail_desk)) == 1


@pytest.mark.parametrize("any_db", ["postgresql"], indirect=True)
def test_receive_note_on_postgresql(any_db, mail_desk, mail_receiver):
    person(mail_desk)
    send(mail_receiver, mail(attachments=note()))
    assert [m.title for m in memos(mail_desk)] == ["Voice message"]


def test_show_secret_address_once_and_receive_mail_there(mail_desk, mail_receiver):
    import re

    from fastapi.testclient import TestClient

    from dictation import accounts
    from review_ui.app import create_app

    app = create_app(mail_desk.settings.model_copy(update={"workers": 0}))
    with app.state.database.session() as session:
        accounts.create_user(session, "ceo@corp.example", "author", password="correct horse battery")
    client = TestClient(app)
    csrf = client.post("/api/v1/session", json={"email": "ceo@corp.example", "password": "correct horse battery"}
                       ).json()["csrf_token"]
    assert "Make my memo address" in client.get("/tokens").text
    assert client.post("/tokens/mail-address", data={"csrf_token": "forged"}).status_code == 403

    made = client.post("/tokens/mail-address", data={"csrf_token": csrf})

    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    [address] = re.findall(r"memo\+[a-z0-9]+@desk\.example", made.text)
    later = client.get("/tokens").text
    assert address not in later and "You have a personal memo address" in later  # shown once
    send(mail_receiver, mail(sender="ceo.private@gmail.example", attachments=note()),
         envelope="ceo.private@gmail.example", to=address)
    [memo] = memos(mail_desk)
    assert memo.author.email == "ceo@corp.example"
    # A new address retires the old one.
    client.post("/tokens/mail-address", data={"csrf_token": csrf})
    code, reason, _ = refusal(mail_receiver, mail(sender="ceo.private@gmail.example", attachments=note()),
                           envelope="ceo.private@gmail.example", to=address)
    assert code == 550 and "no longer" in reason
    app.state.database.dispose()


@pytest.mark.slow
def test_serve_with_mail_in_turns_mail_into_draft(tmp_path):
    smtp = free_port()
    jfk = [(shared_file("audio/real/jfk.flac").read_bytes(), "audio/flac", "jfk.flac")]
    with serve(tmp_path, DICTATION_MAIL_IN_SERVE="true", DICTATION_MAIL_IN_PORT=str(smtp),
               DICTATION_MAIL_IN_ADDRESS=DESK) as served:
        listening = SimpleNamespace(port=smtp)  # what send() needs of a receiver
        reply = send(listening, mail(sender=served.email, subject="Fwd: Inaugural", attachments=jfk),
                     envelope=served.email)
        memo_id = int(re.search(r"memo (\d+)", reply).group(1))
        with httpx.Client(base_url=served.base_url, timeout=30) as http:
            signed_in = http.post("/api/v1/session", json={"email": served.email, "password": served.password})
            assert signed_in.status_code == 200
            deadline = time.monotonic() + 180
            memo = http.get(f"/api/v1/memos/{memo_id}").json()
            while memo["status"] != "ready":
                assert memo["status"] in ("received", "transcribing") and time.monotonic() < deadline, memo
                time.sleep(0.5)
                memo = http.get(f"/api/v1/memos/{memo_id}").json()
            draft = http.get(f"/api/v1/drafts/{memo['draft_id']}").json()
    assert memo["title"] == "Inaugural"
    assert "ask not what your country can do for you" in draft["body_markdown"].lower()

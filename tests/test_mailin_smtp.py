"""Memos by e-mail over a real SMTP conversation: smtplib talks to the running aiosmtpd
receiver, forwarded voice notes become memos that a real worker transcribes (tiny.en, WER
against the reference), and bad mail is refused during the conversation with the reason."""

from __future__ import annotations

import dataclasses
import email.policy
import hashlib
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from dictation import jobs
from dictation.mailin.deliver import MailDesk
from dictation.mailin.senders import new_secret_address
from dictation.mailin.smtp import SmtpReceiver
from dictation.models import Job, JobStatus, Memo, User
from dictation.settings import get_settings
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.dbfixtures import any_db, db, make_user, pg_db, pg_url  # noqa: F401  (fixtures)
from tests.support.wer import word_error_rate

DESK = "memo@desk.example"


@pytest.fixture
def desk(request, monkeypatch, data_dir):
    monkeypatch.setenv("DICTATION_MAIL_IN_ADDRESS", DESK)
    monkeypatch.setenv("DICTATION_MODEL", "tiny.en")
    monkeypatch.setenv("DICTATION_LANGUAGE", "en")
    monkeypatch.setenv("DICTATION_BEAM_SIZE", "1")  # greedy: 2 shared cores
    monkeypatch.setenv("DICTATION_MAX_UPLOAD_MB", "3")
    database = request.getfixturevalue("any_db" if "any_db" in request.fixturenames else "db")
    get_settings.cache_clear()
    settings = get_settings()
    queue = jobs.make_queue(settings)
    yield MailDesk(database=database, store=MediaStore.from_settings(settings), queue=queue, settings=settings)
    jobs.dispose_databases()


@pytest.fixture
def receiver(desk):
    smtp = SmtpReceiver(desk.deliver, "127.0.0.1", 0, max_mb=6).start()
    yield smtp
    smtp.stop()


def person(desk, email="ceo@corp.example", **fields) -> User:
    with desk.database.session() as session:
        user = make_user(session, "author", email=email, **fields)
        session.expunge(user)
        return user


def mail(sender="ceo@corp.example", subject="Fwd: Voice message", text="Please post this on Friday.",
         attachments=(), message_id=None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"The CEO <{sender}>"
    message["To"] = DESK
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="corp.example")
    message.set_content(text)
    for data, mime, filename in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send(receiver, message, envelope="ceo@corp.example", to=DESK) -> str:
    """The server's 250 reply text; refusals raise SMTPDataError with the code and sentence."""
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=60) as client:
        client.ehlo()
        client.mail(envelope)
        code, reply = client.rcpt(to)
        assert code == 250, reply
        code, reply = client.data(message.as_bytes(policy=email.policy.SMTP))  # CRLF lines, as on the wire
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return reply.decode()


def memos(desk) -> list[Memo]:
    with desk.database.session() as session:
        found = list(session.scalars(select(Memo).order_by(Memo.id)))
        for memo in found:
            memo.author  # noqa: B018
        return found


def transcribe(desk, memo_id: int) -> str:
    """Run the memo's queued job on this thread, as a worker would; the draft's body."""
    with desk.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.memo_id == memo_id))
    assert jobs.run_job(job_id, desk.settings, desk.queue) == JobStatus.done.value
    with desk.database.session() as session:
        memo = session.get(Memo, memo_id)
        assert memo.status == "ready", memo.error
        return memo.draft.body_markdown


EN = "audio/memos/en_mb-us1"
# How the apps forward a voice note (seen in their mails; see the README's "Memos by e-mail").
FORWARDS = {
    "whatsapp-ogg": ("ogg", "audio/ogg", "PTT-20261202-WA0003.opus"),
    "android-m4a-octet-stream": ("m4a", "application/octet-stream", "Recording 12.m4a"),
}


@pytest.mark.slow
@pytest.mark.parametrize("forward", FORWARDS, ids=list(FORWARDS))
def test_receive_forwarded_note_becomes_memo_with_its_words(desk, receiver, forward):
    extension, mime, filename = FORWARDS[forward]
    author = person(desk)
    data = shared_file(f"{EN}.{extension}").read_bytes()
    reply = send(receiver, mail(subject="Fwd: Customer letter", attachments=[(data, mime, filename)]))

    [memo] = memos(desk)
    assert f"memo {memo.id} for ceo@corp.example" in reply
    assert (memo.author.id, memo.title, memo.note) == (author.id, "Customer letter", "Please post this on Friday.")
    assert (memo.original_filename, memo.content_type) == (filename, "audio/ogg" if extension == "ogg" else "audio/mp4")
    body = transcribe(desk, memo.id)
    wer = word_error_rate(shared_file(f"{EN}.txt").read_text(), body)
    assert wer <= 0.15, f"WER {wer:.1%}"


def test_receive_note_forwarded_as_attached_message(desk, receiver):
    person(desk)
    # Outlook's "forward as attachment" of a Teams voice message: audio/mp4 one level down.
    inner = mail(sender="anna@corp.example", subject="Voice message",
                 attachments=[(shared_file(f"{EN}.m4a").read_bytes(), "audio/mp4", "Voice message.m4a")])
    outer = mail(subject="Fwd: Voice message", text="From Anna, for the blog.")
    outer.add_attachment(inner)

    send(receiver, outer)

    [memo] = memos(desk)
    assert (memo.title, memo.note, memo.original_filename, memo.content_type) == (
        "Voice message", "From Anna, for the blog.", "Voice message.m4a", "audio/mp4")


def test_receive_two_notes_makes_one_memo_per_file(desk, receiver):
    person(desk)
    notes = [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "first.ogg"),
             (shared_file(f"{EN}.m4a").read_bytes(), "audio/x-m4a", "second.m4a")]
    logo = (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", "logo.png")

    reply = send(receiver, mail(subject="Two thoughts", attachments=[*notes, logo]))

    first, second = memos(desk)
    assert f"memo {first.id}, memo {second.id}" in reply
    assert (first.title, second.title) == ("Two thoughts (1/2)", "Two thoughts (2/2)")
    assert (first.original_filename, second.original_filename) == ("first.ogg", "second.m4a")
    # The logo is not what anyone said, but it is not dropped unseen either.
    assert "Also attached, not audio (not kept): logo.png" in second.note
    assert "Recording 2 of 2 in the e-mail: second.m4a" in second.note


def test_receive_same_message_twice_answers_first_memo(desk, receiver):
    person(desk)
    note = [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "note.ogg")]
    message = mail(attachments=note)
    send(receiver, message)
    again = send(receiver, message)  # a mail server retrying after a lost reply
    forwarded_again = send(receiver, mail(subject="Fwd: again", attachments=note))  # same note, new message

    [memo] = memos(desk)
    assert f"memo {memo.id} (already received)" in again
    assert f"memo {memo.id} (already received)" in forwarded_again
    with desk.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_accept_secret_address_from_any_sender(desk, receiver):
    author = person(desk)
    with desk.database.session() as session:
        address = new_secret_address(session, desk.settings, session.get(User, author.id))
    note = [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "note.ogg")]

    send(receiver, mail(sender="me@gmail.example", attachments=note), envelope="bounce-1@relay.example", to=address)

    [memo] = memos(desk)
    assert memo.author.id == author.id
    secret = address.partition("+")[2].partition("@")[0]
    with desk.database.session() as session:
        stored = session.get(User, author.id).mail_token_hash
    assert stored == hashlib.sha256(secret.encode()).hexdigest()  # hashed, never in clear


def refusal(receiver, message, **envelope) -> tuple[int, str]:
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(receiver, message, **envelope)
    return refused.value.smtp_code, refused.value.smtp_error.decode()


def note():
    return [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "note.ogg")]


def test_refuse_unknown_sender_with_reason(desk, receiver):
    person(desk)
    code, reason = refusal(receiver, mail(sender="stranger@else.example", attachments=note()),
                           envelope="stranger@else.example")
    assert code == 550 and "stranger@else.example is not the address of anyone on this desk" in reason
    assert memos(desk) == []


def test_refuse_from_header_that_envelope_does_not_match(desk, receiver):
    person(desk)
    code, reason = refusal(receiver, mail(attachments=note()), envelope="spoofer@else.example")
    assert code == 550 and "are not the same person" in reason
    assert memos(desk) == []


def test_refuse_deactivated_sender(desk, receiver):
    person(desk, is_active=False)
    code, reason = refusal(receiver, mail(attachments=note()))
    assert code == 550 and "deactivated" in reason


def test_refuse_unknown_secret_address(desk, receiver):
    person(desk)
    code, reason = refusal(receiver, mail(attachments=note()), to="memo+notarealsecret@desk.example")
    assert code == 550 and "is not (or no longer) anyone's memo address" in reason
    assert "notarealsecret" not in reason  # the secret is not echoed into bounces


def test_refuse_sender_address_in_secret_only_mode(desk):
    person(desk)
    strict = dataclasses.replace(desk, settings=desk.settings.model_copy(update={"mail_in_secret_only": True}))
    receiver = SmtpReceiver(strict.deliver, "127.0.0.1", 0, max_mb=6).start()
    try:
        code, reason = refusal(receiver, mail(attachments=note()))
    finally:
        receiver.stop()
    assert code == 550 and "only at your personal memo address" in reason


def test_refuse_message_without_audio_with_reason(desk, receiver):
    person(desk)
    pdf = (b"%PDF-1.7\n" + b"x" * 200, "application/pdf", "minutes.pdf")
    code, reason = refusal(receiver, mail(attachments=[pdf]))
    assert code == 554 and "no audio attachment (attached: minutes.pdf)" in reason
    code, reason = refusal(receiver, mail(text="I'll send the note later."))
    assert code == 554 and "no audio attachment" in reason
    assert memos(desk) == []


def test_refuse_attachment_named_as_audio_that_is_not(desk, receiver):
    person(desk)
    fake = (b"<html>you need to log in to download</html>", "application/octet-stream", "note.m4a")
    code, reason = refusal(receiver, mail(attachments=[*note(), fake]))
    assert code == 554 and "'note.m4a' is not audio we can read: it looks like a web page" in reason
    assert memos(desk) == []  # the good note is not half-taken either: the sender resends the message


def test_refuse_oversize_message_with_limit(desk, receiver):
    person(desk)
    big = [(b"OggS" + b"\0" * (5 * 1024 * 1024), "audio/ogg", "long.ogg")]
    code, reason = refusal(receiver, mail(attachments=big))
    assert code == 552 and "larger than this desk's limit of 6 MB" in reason
    assert memos(desk) == []


def test_refuse_recording_over_upload_limit(desk, receiver):
    person(desk)
    # Under the mail limit (6 MB) but over one memo's (DICTATION_MAX_UPLOAD_MB=3).
    big = [(b"OggS" + b"\0" * (int(3.2 * 1024 * 1024)), "audio/ogg", "long.ogg")]
    code, reason = refusal(receiver, mail(attachments=big))
    assert code == 552 and "'long.ogg' is larger than the limit of 3 MB for one memo" in reason


def test_refuse_malformed_mail_and_keep_listening(desk, receiver):
    person(desk)
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        client.ehlo()
        client.mail("ceo@corp.example")
        client.rcpt(DESK)
        code, reason = client.data(b"\x00\x01 this is not an e-mail \xff\xfe\r\n\r\nno headers at all")
    assert code == 554 and b"no From address we can read" in reason
    send(receiver, mail(attachments=note()))  # the receiver still answers
    assert len(memos(desk)) == 1


def test_answer_try_later_when_intake_fails(desk, receiver, monkeypatch):
    person(desk)

    def broken():  # injected fault: the database is gone
        raise OSError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(desk.database, "session", broken)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(receiver, mail(attachments=note()))
    assert refused.value.smtp_code == 451 and b"will try again" in refused.value.smtp_error
    send(receiver, mail(attachments=note()))
    assert len(memos(desk)) == 1


@pytest.mark.parametrize("any_db", ["postgresql"], indirect=True)
def test_receive_note_on_postgresql(any_db, desk, receiver):
    person(desk)
    send(receiver, mail(attachments=note()))
    assert [m.title for m in memos(desk)] == ["Voice message"]


def test_show_secret_address_once_and_receive_mail_there(desk, receiver):
    import re

    from fastapi.testclient import TestClient

    from dictation import accounts
    from review_ui.app import create_app

    app = create_app(desk.settings.model_copy(update={"workers": 0}))
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
    send(receiver, mail(sender="ceo.private@gmail.example", attachments=note()),
         envelope="ceo.private@gmail.example", to=address)
    [memo] = memos(desk)
    assert memo.author.email == "ceo@corp.example"
    # A new address retires the old one.
    client.post("/tokens/mail-address", data={"csrf_token": csrf})
    code, reason = refusal(receiver, mail(sender="ceo.private@gmail.example", attachments=note()),
                           envelope="ceo.private@gmail.example", to=address)
    assert code == 550 and "no longer" in reason
    app.state.database.dispose()

"""Mail-in test helpers: the desk (a real database, media store and queue), a running SMTP
receiver on a free port, messages shaped like forwarded voice notes, and sending them with
smtplib. Registered in tests/conftest.py (pytest_plugins): test modules import the helpers only."""

from __future__ import annotations

import email.policy
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from dictation import jobs
from dictation.mailin.deliver import MailDesk
from dictation.mailin.smtp import SmtpReceiver
from dictation.models import Job, JobStatus, Memo, User
from dictation.settings import get_settings
from dictation.storage import MediaStore
from tests.conftest import shared_file
from tests.support.dbfixtures import make_user

EN = "audio/memos/en_mb-us1"  # the English memo in ../shared, in every format, with its reference text
DESK = "memo@desk.example"


@pytest.fixture
def mail_desk(request, monkeypatch, data_dir):
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
def mail_receiver(mail_desk):
    smtp = SmtpReceiver(mail_desk.deliver, "127.0.0.1", 0, max_mb=6, screen=mail_desk.screen).start()
    yield smtp
    smtp.stop()


def person(mail_desk, email="ceo@corp.example", **fields) -> User:
    with mail_desk.database.session() as session:
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


def send(mail_receiver, message, envelope="ceo@corp.example", to=DESK) -> str:
    """The server's 250 reply text; refusals raise SMTPDataError with the code and sentence."""
    with smtplib.SMTP("127.0.0.1", mail_receiver.port, timeout=60) as client:
        client.ehlo()
        client.mail(envelope)
        code, reply = client.rcpt(to)
        if code != 250:
            raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
        code, reply = client.data(message.as_bytes(policy=email.policy.SMTP))  # CRLF lines, as on the wire
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return reply.decode()


def memos(mail_desk) -> list[Memo]:
    with mail_desk.database.session() as session:
        found = list(session.scalars(select(Memo).order_by(Memo.id)))
        for memo in found:
            memo.author  # noqa: B018
        return found


def transcribe(mail_desk, memo_id: int) -> str:
    """Run the memo's queued job on this thread, as a worker would; the draft's body."""
    with mail_desk.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.memo_id == memo_id))
    assert jobs.run_job(job_id, mail_desk.settings, mail_desk.queue) == JobStatus.done.value
    with mail_desk.database.session() as session:
        memo = session.get(Memo, memo_id)
        assert memo.status == "ready", memo.error
        return memo.draft.body_markdown


def refusal(mail_receiver, message, **envelope) -> tuple[int, str, str]:
    """The code, the sentence and when the receiver refused: "RCPT" (before the message was
    sent) or "DATA" (once it was there)."""
    with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)) as refused:
        send(mail_receiver, message, **envelope)
    if isinstance(refused.value, smtplib.SMTPRecipientsRefused):
        [(code, reply)] = refused.value.recipients.values()
        return code, reply.decode(), "RCPT"
    return refused.value.smtp_code, refused.value.smtp_error.decode(), "DATA"


def note() -> list[tuple[bytes, str, str]]:
    """One forwarded WhatsApp voice note, as `mail(attachments=...)` takes it."""
    return [(shared_file(f"{EN}.ogg").read_bytes(), "audio/ogg", "note.ogg")]

"""Memos by e-mail from a real IMAP mailbox: a private Dovecot (Debian's dovecot-imapd) on a
free port with its own config in a temp dir. Messages are put in the mailbox with IMAP APPEND,
as a mail server would deliver them, then fetched by mail-in."""

from __future__ import annotations

import imaplib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from dictation.mailin.imap import Mailbox, fetch_once, poll
from dictation.models import Memo
from tests.conftest import need, shared_file
from tests.support.mailin import DESK, EN, mail, memos, note, person, transcribe
from tests.support.serve import free_port
from tests.support.wer import word_error_rate

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-pass-7f3k"


def _users() -> tuple[str, str, int, int]:
    """Dovecot's internal and login users, and the uid/gid mail is kept under. As root, the
    package's own users and nobody (Dovecot refuses uid 0 for mail); otherwise, ourselves."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


@pytest.fixture(scope="module")
def imap_server():
    need(Path(DOVECOT).exists(), "dovecot is not installed (Debian: dovecot-imapd; `make test` installs it as root)")
    # Not pytest's tmp_path: its parent is private to us, and Dovecot's own users must reach the mail.
    root = Path(tempfile.mkdtemp(prefix="dictation-imap-"))
    root.chmod(0o755)
    internal, login, uid, gid = _users()
    for sub in ("run", "state", "home"):
        (root / sub).mkdir()
    os.chown(root / "home", uid, gid)
    port = free_port()
    (root / "passwd").write_text(f"mail_desk:{{PLAIN}}{PASSWORD}\n")
    (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = dictation-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
    # -F: in the foreground, so it stays our child and is stopped by its own pid.
    with (root / "stderr.log").open("wb") as errors:
        server = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=errors)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                log = root / "dovecot.log"
                pytest.fail(f"dovecot did not start: {(root / 'stderr.log').read_text()} "
                            f"{log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
    yield Mailbox(host="127.0.0.1", port=port, tls=False, user="mail_desk", password=PASSWORD)
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(imap_server):
    """The mailbox, emptied: each test starts with no messages."""
    with _connect(imap_server) as connection:
        _, count = connection.select("INBOX")
        if int(count[0]):
            connection.store("1:*", "+FLAGS", r"(\Deleted)")
            connection.expunge()
    return imap_server


class _connect:
    def __init__(self, mailbox: Mailbox) -> None:
        self.connection = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=30)
        self.connection.login(mailbox.user, mailbox.password)

    def __enter__(self) -> imaplib.IMAP4:
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.logout()


def deliver_to_mailbox(mailbox: Mailbox, message, return_path: str = "ceo@corp.example") -> None:
    """What a mail server does on delivery: the envelope sender kept as Return-Path, the
    recipient as Delivered-To, then the message in the folder."""
    import email.policy

    raw = (f"Return-Path: <{return_path}>\r\nDelivered-To: {DESK}\r\n").encode() + message.as_bytes(
        policy=email.policy.SMTP)
    with _connect(mailbox) as connection:
        status, _ = connection.append("INBOX", None, None, raw)
        assert status == "OK"


def flags(mailbox: Mailbox) -> list[set[str]]:
    with _connect(mailbox) as connection:
        connection.select("INBOX", readonly=True)
        _, data = connection.fetch("1:*", "(FLAGS)")
    found = []
    for line in data:
        if line:
            inside = line.decode().split("FLAGS (", 1)[1].split(")", 1)[0]
            found.append(set(inside.split()))
    return found


@pytest.mark.slow
def test_fetch_forwarded_m4a_note_becomes_memo_with_its_words(mail_desk, mailbox):
    author = person(mail_desk)
    data = shared_file(f"{EN}.m4a").read_bytes()
    deliver_to_mailbox(mailbox, mail(subject="TR: Customer letter",
                                     attachments=[(data, "application/octet-stream", "Recording 12.m4a")]))

    look = fetch_once(mailbox, mail_desk.deliver)

    assert (look.accepted, look.refused, look.left) == (1, (), 0)
    [memo] = memos(mail_desk)
    assert (memo.author.id, memo.title, memo.content_type) == (author.id, "Customer letter", "audio/mp4")
    assert flags(mailbox) == [{r"\Seen"}]
    wer = word_error_rate(shared_file(f"{EN}.txt").read_text(), transcribe(mail_desk, memo.id))
    print(f"IMAP m4a note: WER {wer:.1%}")
    assert wer <= 0.15, f"WER {wer:.1%}"


def test_fetch_same_message_twice_makes_one_memo(mail_desk, mailbox):
    person(mail_desk)
    message = mail(attachments=note())
    deliver_to_mailbox(mailbox, message)
    deliver_to_mailbox(mailbox, message)  # delivered twice, as happens when a relay retries

    look = fetch_once(mailbox, mail_desk.deliver)

    assert look.accepted == 2 and len(memos(mail_desk)) == 1
    assert fetch_once(mailbox, mail_desk.deliver).accepted == 0  # both are seen now: nothing fetched again


def test_refuse_bad_mail_from_mailbox_with_reason_logged_and_flagged(mail_desk, mailbox, caplog):
    person(mail_desk)
    deliver_to_mailbox(mailbox, mail(sender="stranger@else.example", attachments=note()),
                       return_path="stranger@else.example")
    deliver_to_mailbox(mailbox, mail(text="no recording, sorry"))
    deliver_to_mailbox(mailbox, mail(attachments=note()))

    with caplog.at_level(logging.WARNING, logger="dictation.mailin"):
        look = fetch_once(mailbox, mail_desk.deliver)

    assert look.accepted == 1 and len(look.refused) == 2
    assert "stranger@else.example is not the address of anyone on this desk" in look.refused[0]
    assert "no audio attachment" in look.refused[1]
    assert "not the address of anyone" in caplog.text and "no audio attachment" in caplog.text
    assert flags(mailbox) == [{r"\Seen", r"\Flagged"}, {r"\Seen", r"\Flagged"}, {r"\Seen"}]
    assert len(memos(mail_desk)) == 1


def test_fetch_leaves_message_unseen_after_fault_and_takes_it_next_time(mail_desk, mailbox):
    person(mail_desk)
    deliver_to_mailbox(mailbox, mail(attachments=note()))

    def broken(*_):  # injected fault: the database is down
        raise OSError("connection refused")

    assert fetch_once(mailbox, broken).left == 1
    assert flags(mailbox) == [set()]
    assert fetch_once(mailbox, mail_desk.deliver).accepted == 1
    assert len(memos(mail_desk)) == 1


def test_poll_survives_refused_login_without_logging_password(mail_desk, imap_server, caplog):
    wrong = Mailbox(host=imap_server.host, port=imap_server.port, tls=False, user="mail_desk", password="wrong-pw-91x")
    stop = threading.Event()
    with caplog.at_level(logging.WARNING, logger="dictation.mailin"):
        poller = threading.Thread(target=poll, args=(wrong, mail_desk.deliver, 0.2, stop), daemon=True)
        poller.start()
        deadline = time.monotonic() + 20
        while caplog.text.count("could not be read") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        poller.join(10)
    assert caplog.text.count("could not be read") >= 2  # still looking after a failed look
    assert not poller.is_alive()
    assert "wrong-pw-91x" not in caplog.text and "wrong-pw-91x" not in repr(wrong)


def test_read_imap_url():
    box = Mailbox.from_url("imaps://memo%40corp.example:p%40ss@mail.corp.example/Memos")
    assert (box.host, box.port, box.tls, box.user, box.password, box.folder) == (
        "mail.corp.example", 993, True, "memo@corp.example", "p@ss", "Memos")
    assert "p@ss" not in box.shown()
    with pytest.raises(Exception, match="imaps://user:password@host/INBOX"):
        Mailbox.from_url("http://mail.corp.example")


def test_mail_in_command_fetches_mailbox_once(mailbox, data_dir, monkeypatch):
    monkeypatch.delenv("DICTATION_DATABASE_URL", raising=False)
    env = {**os.environ, "DICTATION_DATA_DIR": str(data_dir), "DICTATION_MAIL_IN_ADDRESS": DESK,
           "DICTATION_IMAP_URL": f"imap://mail_desk:{PASSWORD}@127.0.0.1:{mailbox.port}/INBOX"}

    def dictation(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dictation", *args], env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    assert dictation("user", "add", "ceo@corp.example", "--role", "author").returncode == 0
    deliver_to_mailbox(mailbox, mail(attachments=note()))
    deliver_to_mailbox(mailbox, mail(sender="stranger@else.example", attachments=note()),
                       return_path="stranger@else.example")

    done = dictation("mail-in", "--once")

    assert done.returncode == 0, done.stderr
    assert "1 taken, 1 refused, 0 left" in done.stdout
    assert "refused: stranger@else.example is not the address of anyone" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    from dictation.db import Database
    from dictation.settings import get_settings

    database = Database(get_settings())
    with database.session() as session:
        assert [m.original_filename for m in session.scalars(select(Memo))] == ["note.ogg"]
    database.dispose()

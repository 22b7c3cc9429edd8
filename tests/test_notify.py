"""E-mail notifications against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import logging

from dictation.notify import Mailer
from dictation.settings import Settings
from tests.support.mail import SMTP_PASSWORD as PASSWORD
from tests.support.mail import SMTP_USER
from tests.support.servers import free_port


def _mailer(tmp_path, port, **changes) -> Mailer:
    values = dict(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_user=SMTP_USER, smtp_password=PASSWORD,
                  smtp_starttls=False, smtp_from="desk@example.com", public_url="https://desk.example")  # fmt: skip
    values.update(changes)
    return Mailer(Settings(**values), timeout_s=10)


def test_send_draft_ready_to_assistants(smtp_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    delivery = _mailer(tmp_path, smtp_server.port).draft_ready(
        ["ann@example.com", "bob@example.com"], "Q3 plans", "Claire", "/desk/memos/42"
    )

    assert delivery.sent and not delivery.error
    (rcpts, message), = smtp_server.messages
    assert sorted(rcpts) == ["ann@example.com", "bob@example.com"]
    assert message["Subject"] == "New draft ready: Q3 plans" and message["From"] == "desk@example.com"
    assert "https://desk.example/desk/memos/42" in message.get_content()
    assert PASSWORD not in caplog.text


def test_send_signoff_and_published_to_author(smtp_server, tmp_path):
    mailer = _mailer(tmp_path, smtp_server.port)
    assert mailer.signoff_requested("ceo@example.com", "Q3 plans", "Ann", "/desk/memos/42").sent
    assert mailer.published("ceo@example.com", "Q3 plans", "https://blog.example/q3/", "the company blog").sent

    subjects = [m["Subject"] for _, m in smtp_server.messages]
    assert subjects == ["Sign-off requested: Q3 plans", "Published: Q3 plans"]
    assert all(r == ["ceo@example.com"] for r, _ in smtp_server.messages)
    assert "https://blog.example/q3/" in smtp_server.messages[1][1].get_content()


def test_report_wrong_password_without_revealing_it(smtp_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-77"
    delivery = _mailer(tmp_path, smtp_server.port, smtp_password=wrong).published("a@example.com", "T", "https://x/")

    assert not delivery.sent and "Authentication" in delivery.error
    assert wrong not in delivery.error and wrong not in caplog.text and PASSWORD not in caplog.text
    assert smtp_server.messages == []


def test_report_missing_starttls(smtp_server, tmp_path):
    delivery = _mailer(tmp_path, smtp_server.port, smtp_starttls=True).published("a@example.com", "T", "https://x/")
    assert not delivery.sent and "STARTTLS" in delivery.error


def test_skip_mail_when_no_smtp_host(tmp_path):
    delivery = Mailer(Settings(data_dir=tmp_path)).draft_ready(["a@example.com"], "T", "A", "/x")
    assert not delivery.sent and delivery.error == ""


def test_report_unreachable_server(tmp_path):
    delivery = _mailer(tmp_path, free_port()).published("a@example.com", "T", "https://x/")
    assert not delivery.sent and "Connection" in delivery.error  # reported, not raised

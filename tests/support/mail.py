"""A real SMTP server (aiosmtpd) on a free loopback port, for the e-mail tests: the
`smtp_server` fixture is an inbox whose `.messages` are (recipients, message) pairs and
whose `.port` the mailer is pointed at. It accepts the user `desk` with SMTP_PASSWORD."""

from __future__ import annotations

import email
from email import policy

import pytest

from tests.support.servers import free_port

SMTP_USER = "desk"
SMTP_PASSWORD = "smtp-pass-Zq81!"


class Inbox:
    def __init__(self):
        self.messages = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())  # fmt: skip
    return AuthResult(success=ok, handled=False)  # unhandled: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=_authenticator, auth_require_tls=False)  # fmt: skip
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()

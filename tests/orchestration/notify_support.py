"""Receivers of the run alerts in tests: a real SMTP server (aiosmtpd) and a real HTTP webhook receiver
(http.server), each on a free loopback port in a thread of the test process, and the ELT_NOTIFY_URLS that
point Apprise at them.

Both record what they received before answering, so once the process that sent an alert has ended (or the
call returned) everything it sent is there: tests count after the sender is done, they never wait on time.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

MAIL_FROM = "elt-alerts@example.com"
MAIL_TO = "data-team@example.com"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailReceiver:
    """An SMTP server on 127.0.0.1 (no TLS, no authentication) keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        """aiosmtpd's hook: one message received; kept before the server answers `250`."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        """The Apprise URL of this server: plain SMTP (`mailto://`, not `mailtos://`), from and to given."""
        return f"mailto://127.0.0.1:{self.controller.port}?from={MAIL_FROM}&to={MAIL_TO}"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's hook
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        with receiver.lock:
            receiver.posts.append((self.path, self.headers.get("content-type", ""), json.loads(body)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: the test reads `posts`."""


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping every POST: (path, content type, the JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        self.server.receiver = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The Apprise URL of this receiver: Apprise's JSON webhook, POST to /elt-alerts."""
        return f"json://127.0.0.1:{self.server.server_address[1]}/elt-alerts"


@dataclass
class AlertReceivers:
    """Both receivers, and the ELT_NOTIFY_URLS naming them."""

    mail: MailReceiver
    webhook: WebhookReceiver

    @property
    def urls(self) -> str:
        """ELT_NOTIFY_URLS for both (whitespace-separated)."""
        return f"{self.mail.url} {self.webhook.url}"

    def received(self) -> tuple[list[EmailMessage], list[dict]]:
        """The e-mails and the webhooks' JSON bodies received so far."""
        return list(self.mail.messages), [body for _, _, body in self.webhook.posts]


@pytest.fixture
def alert_receivers() -> Iterator[AlertReceivers]:
    """A local SMTP server and a local webhook receiver, running for the test."""
    mail, webhook = MailReceiver(), WebhookReceiver()
    mail.controller.start()
    webhook.thread.start()
    try:
        yield AlertReceivers(mail, webhook)
    finally:
        webhook.server.shutdown()
        webhook.server.server_close()
        mail.controller.stop()


def mail_text(message: EmailMessage) -> str:
    """The plain-text body of an alert e-mail, line ends as `\\n`."""
    return message.get_content().replace("\r\n", "\n").rstrip("\n")

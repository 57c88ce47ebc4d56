"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port): it keeps every
message it receives, parsed, and can refuse chosen recipients or be stopped and started
again on the same port (the "server down" stories).

Use the fixtures ``smtp_server`` and ``stopped_smtp_server`` by importing them into a test
module: ``from tests.notify.smtp import smtp_server_fixture  # noqa: F401``.
"""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller

from lms.notify.outbox import MailSettings


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    def part(self, content_type: str) -> str:
        """The decoded body of the text/plain or text/html part."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise AssertionError(f"no {content_type} part in {self.message['Subject']!r}")


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.owner.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.owner.lock:
            self.owner.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                                message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """One aiosmtpd server on 127.0.0.1:``port``; ``start()``/``stop()`` at will."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.refuse: dict[str, str] = {}      # address -> SMTP reply, e.g. "550 5.1.1 No such user"
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def settings(self, **changes) -> MailSettings:
        values = dict(host="127.0.0.1", port=self.port, timeout=5,
                      sender="Bình dân học vụ số <no-reply@hoc.mofa.example>", max_tries=8)
        values.update(changes)
        return MailSettings(**values)


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A running SMTP server that keeps what it receives."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="stopped_smtp_server")
def stopped_smtp_server_fixture() -> Iterator[SmtpServer]:
    """An SMTP server's port with nothing listening yet (``.start()`` brings it up)."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()

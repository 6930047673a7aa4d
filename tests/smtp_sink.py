"""A real SMTP server for the tests: aiosmtpd's Controller in this process, on a free port.

It keeps every message it accepts (``sink.messages``, parsed, with its envelope) and
can be told to answer some recipients with an error (``sink.refuse(address, "451 ...")``),
to stop (the server is down: connections are refused) and to start again on the same port.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    def part(self, content_type: str) -> str:
        """The body of the ``text/plain`` or ``text/html`` alternative."""
        return self.message.get_body((content_type.split("/")[1],)).get_content()


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.sink.refusals.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow server: kept only once it answers
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=default_policy)
        with self.sink.lock:
            number = len(self.sink.messages) + 1
            self.sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return f"250 Accepted as message {number}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __init__(self, port: int | None = None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.refusals: dict[str, str] = {}
        self.delay = 0.0  # seconds each message takes to be accepted
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpSink:
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def refuse(self, address: str, answer: str) -> None:
        """Answer RCPT TO ``address`` with ``answer`` (e.g. ``"550 5.1.1 No such user"``)."""
        self.refusals[address.lower()] = answer

    def to(self, address: str) -> list[Received]:
        """The messages accepted for ``address``."""
        return [m for m in self.messages if address in m.rcpt_tos]

    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages]

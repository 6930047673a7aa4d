"""The development mail server: an SMTP server (aiosmtpd) that keeps every message as a file.

``flask --app app mail-server`` (started by ``make run`` unless MAIL_SERVER is set)
listens on 127.0.0.1:8025 and writes each message it accepts to ``instance/mail/`` as
a ``.eml`` file, which any mail program opens. Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import threading

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
PORT = 8025


class FolderHandler:
    """An aiosmtpd handler writing each message to ``folder`` as ``<time>-<n>.eml``."""

    def __init__(self, folder: str):
        self.folder = folder
        self._numbers = itertools.count(1)
        os.makedirs(folder, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        name = f"{stamp}-{next(self._numbers)}.eml"
        partial = os.path.join(self.folder, "." + name)
        with open(partial, "wb") as file:
            file.write(f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode())
            file.write(envelope.original_content or envelope.content)
        os.replace(partial, os.path.join(self.folder, name))  # whole files only
        return "250 Message accepted for delivery"


def serve(folder: str, host: str = HOST, port: int = PORT) -> None:
    """Serve until SIGINT or SIGTERM."""
    controller = Controller(FolderHandler(folder), hostname=host, port=port)
    controller.start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()

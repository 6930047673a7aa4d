"""Mail delivery at scale: a sending to the large studio delivered by real worker processes.

The large studio's send-to-all writes one outbox row per client reached (about 48,000
of its 100,000 clients); ``flask --app app worker`` processes (one thread each) deliver
them to an aiosmtpd server in this process, first one worker, then two on the same rows
made due again. The figure is messages per second, from the first message the server
receives to the moment every row is marked sent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller

import consent
import models
from bench.data import ROOT, SECRET, Backend, make_app, sql


class CountingServer:
    """An SMTP server that only counts what it accepts, and notes when the first came."""

    def __init__(self):
        self.count = 0
        self.first_at: float | None = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            if self.first_at is None:
                self.first_at = time.perf_counter()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sent_count() -> int:
    return models.OutboxMessage.select().where(models.OutboxMessage.status == "sent").count()


def measure_delivery(backend: Backend, studio: dict, worker_counts=(1, 2),
                     timeout_s: float = 1800) -> dict:
    """Deliver one sending to all with 1, then 2, worker processes; messages per second."""
    url = backend.copy(studio["url"], f"mail{studio['size']}") or studio["url"]
    make_app(url)
    server = CountingServer()
    smtp = Controller(server, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    env = {**os.environ, "PORTAL_ENV": "development", "SECRET_KEY": SECRET,
           "DATABASE_URL": url, "QUEUE_URL": f"sqlite:///{backend.tmpdir}/queue-{uuid.uuid4().hex}.db",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port)}
    flask = [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "app", "worker",
             "--threads", "1"]
    result = {"runs": {}}
    try:
        with models.db.connection_context():
            models.OutboxMessage.delete().execute()
            admin = models.User.get_by_id(studio["admin_id"])
            confirmed = consent.count_recipients(studio["studio_id"], admin, "all").will_receive
            consent.send_confirmed(studio["studio_id"], admin, "all", uuid.uuid4().hex, confirmed)
            total = models.OutboxMessage.select().count()
        result["messages"] = total
        for count in worker_counts:
            with models.db.connection_context(), models.write_transaction():
                models.db.execute_sql(sql(
                    "UPDATE outbox_message SET status = 'queued', sent_at = NULL, reply = NULL, "
                    "attempts = 0, claimed_until = NULL, next_attempt_at = created_at"))
            server.count, server.first_at = 0, None
            workers = [subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for _ in range(count)]
            try:
                deadline = time.perf_counter() + timeout_s
                with models.db.connection_context():
                    while _sent_count() < total and time.perf_counter() < deadline:
                        time.sleep(0.25)
                    delivered = _sent_count()
                ended = time.perf_counter()
            finally:
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(timeout=30)
            seconds = ended - (server.first_at or ended)
            result["runs"][str(count)] = {
                "workers": count, "delivered": delivered, "seconds": round(seconds, 1),
                "per_second": round(delivered / seconds, 1) if seconds else None,
                "complete": delivered == total, "received": server.count}
            print(f"    {count} worker: {delivered:,} messaggi in {seconds:.1f} s", flush=True)
    finally:
        smtp.stop()
        models.db.close_all()
    return result

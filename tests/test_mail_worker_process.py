"""The real worker (`flask --app app worker`, a separate process) delivering a sending to a real
SMTP server: at all; killed with SIGKILL mid-batch and started again (every recipient gets the
request, none more than once beyond the batch in flight, with the same Message-ID); and two
workers at once (no message delivered twice)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import owner_url, use_smtp_server

import consent
import demo
import mail
import models
import tasks
from models import OutboxMessage, Studio, User

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLASK = os.path.join(os.path.dirname(sys.executable), "flask")


@pytest.fixture
def queue_url(app, tmp_path):
    """A queue file shared by this test's app (which wakes) and the worker processes."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    app.config["QUEUE_URL"] = url
    tasks.init_app(app)
    yield url
    app.config["QUEUE_URL"] = "memory://"
    tasks.init_app(app)


class Workers:
    def __init__(self, app, database_url, queue_url, sink, tmp_path):
        self.env = {
            **os.environ,
            "PORTAL_ENV": "development",
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "MIGRATE_DATABASE_URL": owner_url(database_url),
            "QUEUE_URL": queue_url,
            "MAIL_SERVER": sink.host,
            "MAIL_PORT": str(sink.port),
        }
        self.tmp_path = tmp_path
        self.processes = []

    def start(self, threads=1, **settings):
        env = {**self.env, **{name: str(value) for name, value in settings.items()}}
        log = open(self.tmp_path / f"worker-{len(self.processes)}.log", "wb")
        process = subprocess.Popen([FLASK, "--app", "app", "worker", "--threads", str(threads)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(app, database_url, queue_url, smtp_server, tmp_path):
    use_smtp_server(app, smtp_server)
    running = Workers(app, database_url, queue_url, smtp_server, tmp_path)
    yield running
    running.stop_all()


def send_to_many(app, synthetic: int) -> int:
    """A sending to the demo studio with ``synthetic`` more clients; return how many mails it wrote."""
    with app.app_context(), models.db.connection_context():
        studio = Studio.get(Studio.code == "BPF103")
        with models.write_transaction():
            demo.add_synthetic_clients(studio, synthetic, demo.ensure_catalogue())
        admin = User.get(User.username == "admin")
        consent.send_requests(studio.id, admin, batch="grande")
        mail.wake()
        return OutboxMessage.select().count()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def queued_count() -> int:
    with models.db.connection_context():
        return OutboxMessage.select().where(OutboxMessage.status != "sent").count()


def test_a_worker_process_delivers_a_sending(app, workers, smtp_server):
    total = send_to_many(app, 20)
    workers.start()
    wait_for(lambda: queued_count() == 0, 60, "every message sent")
    assert len(smtp_server.messages) == total
    assert len(set(smtp_server.message_ids())) == total


def test_a_worker_killed_mid_batch_then_restarted_loses_nothing(app, workers, smtp_server):
    batch = 10
    smtp_server.delay = 0.05
    total = send_to_many(app, 60)
    first = workers.start(MAIL_BATCH_SIZE=batch, MAIL_LEASE_SECONDS=3)
    wait_for(lambda: len(smtp_server.messages) >= batch + 5, 60, "the worker to be mid-batch")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    received_before = len(smtp_server.messages)
    assert 0 < received_before < total
    workers.start(MAIL_BATCH_SIZE=batch, MAIL_LEASE_SECONDS=3)
    time.sleep(4)  # the dead worker's lease ends...
    with app.app_context():
        mail.wake()  # ...and the next wake (or the minute's sweep) takes its rows again
    wait_for(lambda: queued_count() == 0, 90, "every message sent")
    time.sleep(0.5)  # a message accepted after the kill reaches the sink's list
    counts = collections.Counter(smtp_server.message_ids())
    with models.db.connection_context():
        expected = {f"<outbox-{row_id}@127.0.0.1>" for (row_id,) in
                    OutboxMessage.select(OutboxMessage.id).tuples()}
    assert set(counts) == expected  # every recipient got it
    twice = [message_id for message_id, n in counts.items() if n > 1]
    assert max(counts.values()) <= 2
    assert len(twice) <= batch  # only the batch in flight, each with its same Message-ID


def test_two_workers_deliver_each_message_exactly_once(app, workers, smtp_server):
    total = send_to_many(app, 150)
    workers.start(threads=2, MAIL_BATCH_SIZE=10)
    workers.start(threads=2, MAIL_BATCH_SIZE=10)
    with app.app_context():
        for _ in range(4):
            mail.wake()  # several deliveries racing for the same rows
    wait_for(lambda: queued_count() == 0, 90, "every message sent")
    time.sleep(0.5)
    counts = collections.Counter(smtp_server.message_ids())
    assert len(counts) == total
    assert set(counts.values()) == {1}

"""Faults: a sending to 100,000 clients killed mid-way, and the database going away."""

import os
import signal
import socket
import subprocess
import sys
import threading
from urllib.parse import urlparse

import pytest
from conftest import TEST_DATABASE_URL, htmx_headers, login_as, make_test_app, parse, visible_text
from peewee import fn

import demo
import models
from models import Client, ConsentEvent

SEND_ALL = os.path.join(os.path.dirname(__file__), "faults", "send_all.py")
SYNTHETIC = 100_000


def sending_state():
    """What a sending changes: the requests sent and the clients waiting for an answer."""
    sent = ConsentEvent.select().where(ConsentEvent.kind == "sent").count()
    pending = Client.select().where(Client.consent_answer == "pending").count()
    return sent, pending


def run_send_all(database_url, *args):
    return subprocess.Popen([sys.executable, SEND_ALL, database_url, *args],
                            stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(SEND_ALL))


@pytest.mark.slow
def test_send_to_all_killed_mid_way_leaves_all_or_nothing(database_url):
    make_test_app(database_url)
    with models.db.connection_context():
        demo.seed(password="demo", synthetic_clients=SYNTHETIC)
        before = sending_state()
        smart_clients = Client.select().where(
            Client.code.startswith("S") & fn.EXISTS(
                models.ClientService.select().where(models.ClientService.client == Client.id))
        ).count()
    models.db.close_all()
    assert smart_clients > 70_000

    # killed inside the transaction: the clients' UPDATE done, the events not yet written
    worker = run_send_all(database_url, "--pause-mid-transaction")
    assert worker.stdout.readline().strip() == "STARTED"
    assert worker.stdout.readline().strip() == "MIDWAY"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    with models.db.connection_context():
        assert sending_state() == before, "a killed sending left part of its work"

    # killed at whatever point it had reached after a moment
    worker = run_send_all(database_url)
    assert worker.stdout.readline().strip() == "STARTED"
    threading.Event().wait(0.3)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    with models.db.connection_context():
        after_kill = sending_state()
    assert after_kill == before or after_kill[0] - before[0] >= smart_clients, after_kill

    # sent again: every synthetic SMART client has exactly one request
    if after_kill == before:
        worker = run_send_all(database_url)
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output
    with models.db.connection_context():
        per_client = (
            ConsentEvent.select(ConsentEvent.client, fn.COUNT(ConsentEvent.id).alias("n"))
            .join(Client, on=ConsentEvent.client == Client.id)
            .where(Client.code.startswith("S") & (ConsentEvent.kind == "sent"))
            .group_by(ConsentEvent.client)
        )
        counts = [row.n for row in per_client]
        assert len(counts) == smart_clients
        assert set(counts) == {1}
        assert Client.select().where(Client.code.startswith("S")
                                     & (Client.consent_answer == "pending")).count() == smart_clients
    models.db.close_all()


# --- the database going away --------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; stop() cuts every connection, start() reopens."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sockets, self.listener, self.running = [], None, False

    def start(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        listener = self.listener
        while self.running:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return
            if not self.running:
                downstream.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.running = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
        self.sockets = []


@pytest.fixture
def outage(database_url, tmp_path):
    """An app whose database can be taken away and given back."""
    if TEST_DATABASE_URL:
        seed_app = make_test_app(database_url)
        with models.db.connection_context():
            demo.seed(password="demo")
        models.db.close_all()
        parsed = urlparse(database_url)
        proxy = TcpProxy(parsed.hostname, parsed.port or 5432)
        proxy.start()
        proxied = database_url.replace(f"{parsed.hostname}:{parsed.port or 5432}",
                                       f"127.0.0.1:{proxy.port}", 1)
        app = make_test_app(proxied)
        app.go_away, app.come_back = proxy.stop, proxy.start
        assert seed_app is not None
    else:
        folder = tmp_path / "db"
        folder.mkdir()
        app = make_test_app(f"sqlite:///{folder}/portal.db")
        with models.db.connection_context():
            demo.seed(password="demo")

        def go_away():
            folder.rename(tmp_path / "gone")
            models.db.close_all()

        def come_back():
            (tmp_path / "gone").rename(folder)

        app.go_away, app.come_back = go_away, come_back
    yield app
    models.db.close_all()


def test_database_outage_gives_a_clear_page_503_healthz_and_recovery(outage):
    admin = login_as(outage, "admin")
    anonymous = outage.test_client()
    assert admin.get("/").status_code == 200
    assert anonymous.get("/healthz").status_code == 200

    outage.go_away()
    for _ in range(2):  # a broken pooled connection first, then a refused new one
        response = admin.get("/")
        assert response.status_code == 503
        page = parse(response)
        assert visible_text(page.find("h1")) == "Servizio non disponibile"
        assert "Riprova tra poco" in visible_text(page)
        response = admin.get("/area-personale/cambio-password", headers=htmx_headers("password-form"))
        assert response.status_code == 503 and response.headers["HX-Retarget"] == "#messages"
        assert "Riprova tra poco" in visible_text(parse(response))
        assert anonymous.get("/healthz").status_code == 503
        response = anonymous.post("/login", data={"username": "admin", "password": "demo"})
        assert response.status_code == 503

    outage.come_back()
    assert anonymous.get("/healthz").status_code == 200
    assert admin.get("/").status_code == 200  # the session survived the outage
    assert login_as(outage, "operatore1").get("/").status_code == 200

"""Deployment check (.ci/run): two web processes and two workers sharing PostgreSQL and Redis.

A fresh schema of PG_TEST_URL, migrated by its owner and used by the runtime role; the
queue in Redis (DEPLOY_REDIS_URL, a database of its own, emptied first); an aiosmtpd sink in
this process. The admin logs in on one web process and confirms "Invia a tutti" on the
other; the check passes when every recipient received the request exactly once.

    .venv/bin/python ci/deployment_check.py [--clients N]
"""

from __future__ import annotations

import argparse
import collections
import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from html.parser import HTMLParser

import psycopg2
import redis
from aiosmtpd.controller import Controller

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


class Sink:
    def __init__(self):
        self.message_ids = collections.Counter()

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.message_ids[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 OK"


class HiddenInputs(HTMLParser):
    """The hidden inputs of the form whose action ends with ``action``."""

    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = (attrs.get("action") or "").split("?")[0].endswith(self.action)
        elif tag == "input" and self.inside and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str, action: str) -> dict:
    parser = HiddenInputs(action)
    parser.feed(html)
    return parser.fields


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"FALLITO: scaduto il tempo per {what}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=2000)
    args = parser.parse_args()
    owner = os.environ.get("PG_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test")
    runtime_role = os.environ.get("PG_RUNTIME_ROLE", "portal_runtime")
    queue_url = os.environ.get("DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/13")
    schema = f"deploy_{uuid.uuid4().hex[:10]}"
    with psycopg2.connect(owner) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    redis.Redis.from_url(queue_url).flushdb()
    options = "options=" + urllib.parse.quote(f"-c search_path={schema}")
    owner_url = f"{owner}{'&' if '?' in owner else '?'}{options}"
    parts = urllib.parse.urlsplit(owner_url)
    runtime_url = urllib.parse.urlunsplit(parts._replace(
        netloc=f"{runtime_role}@{parts.netloc.rpartition('@')[2]}"))
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {**os.environ, "PORTAL_ENV": "development", "SECRET_KEY": uuid.uuid4().hex,
           "DATABASE_URL": runtime_url, "QUEUE_URL": queue_url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port)}
    flask = [os.path.join(BIN, "flask"), "--app", "app"]
    processes = []
    try:
        subprocess.run([*flask, "migrate"], cwd=ROOT, check=True,
                       env={**env, "MIGRATE_DATABASE_URL": owner_url})
        subprocess.run([*flask, "seed-demo", "--clients", str(args.clients)], cwd=ROOT,
                       check=True, env=env, stdout=subprocess.DEVNULL)
        ports = [free_port(), free_port()]
        for port in ports:
            processes.append(subprocess.Popen(
                [os.path.join(BIN, "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                 "app:create_app()"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL))
        for _ in range(2):
            processes.append(subprocess.Popen([*flask, "worker"], cwd=ROOT, env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        web = [f"http://127.0.0.1:{port}" for port in ports]
        wait_until(lambda: all(_answers(url + "/healthz") for url in web), 60, "i processi web")

        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login = form_fields(browser.open(web[0] + "/login").read().decode(), "/login")
        browser.open(web[0] + "/login", urllib.parse.urlencode(
            {**login, "username": "admin", "password": "demo"}).encode())
        page = browser.open(web[1] + "/area-personale/consensi/invio?modo=tutti").read().decode()
        confirm = form_fields(page, "/area-personale/consensi/invio")
        assert confirm.get("token"), "nessuna conferma d'invio nella pagina"
        browser.open(web[1] + "/area-personale/consensi/invio",
                     urllib.parse.urlencode(confirm).encode())

        with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM outbox_message")
            expected = {f"<outbox-{row_id}@127.0.0.1>" for (row_id,) in cur.fetchall()}
        assert len(expected) > args.clients // 2, f"solo {len(expected)} messaggi in coda"
        wait_until(lambda: set(sink.message_ids) >= expected, 300, "la consegna")
        time.sleep(2)  # anything sent twice would arrive now
        twice = [m for m, n in sink.message_ids.items() if n > 1]
        if set(sink.message_ids) != expected or twice:
            raise SystemExit(f"FALLITO: {len(twice)} messaggi consegnati due volte, "
                             f"{len(set(sink.message_ids) - expected)} inattesi")
        print(f"Distribuzione: 2 processi web, 2 worker, PostgreSQL e Redis: "
              f"{len(expected)} richieste consegnate una volta ciascuna.")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        smtp.stop()
        with psycopg2.connect(owner) as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()

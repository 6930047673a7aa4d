"""HTTP load under gunicorn: a reported figure, held to no budget.

gunicorn serves the large studio's database with 2 workers on 127.0.0.1; a bounded
Python load generator (``connections`` threads, one request at a time each) asks
``/healthz`` and the grid's fragment with a browser's headers (the session cookie,
``Accept-Encoding: gzip``). On a machine with few cores the generator competes with
the server for them, so the figures show the portal serving under real HTTP, not a
ceiling.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time

from bench import NA
from bench.data import ROOT, SECRET
from bench.measure import GRID_HEADERS, GRID_URL, login, summarize

WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(port: int, path: str, headers: dict, seconds: float, connections: int) -> dict:
    """Requests per second, median and p95 of ``path`` under ``connections`` threads for ``seconds``."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    summary = summarize(latencies)
    return {"status": "ok", "rps": round(len(latencies) / elapsed, 1),
            "median_ms": summary["median_ms"], "p95_ms": summary["p95_ms"],
            "requests": len(latencies), "errors": errors[0], "tool": "python"}


def wait_until_up(port: int, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def measure_http(studio: dict, seconds: float, connections: int = 8) -> dict:
    """``/healthz`` and the grid's fragment under load, each for ``seconds``, on the studio's database."""
    app = studio["app"]
    port = free_port()
    env = dict(os.environ, PORTAL_ENV="development", DATABASE_URL=studio["url"], SECRET_KEY=SECRET)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "app:create_app()"], cwd=ROOT, env=env)
    try:
        wait_until_up(port, server)
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        cookie = login(app, "admin").get_cookie(cookie_name)
        browser = {"Cookie": f"{cookie_name}={cookie.value}", "Accept-Encoding": "gzip"}
        results = {}
        for key, path, headers in (("healthz", "/healthz", {"Accept-Encoding": "gzip"}),
                                   ("grid_fragment", GRID_URL, {**browser, **GRID_HEADERS})):
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            probe.request("GET", path, headers=headers)
            status = probe.getresponse().status
            probe.close()
            results[key] = (load(port, path, headers, seconds, connections) if status == 200
                            else {"status": NA, "note": f"HTTP {status}"})
        return {"connections": connections, "workers": WORKERS, "seconds": seconds, **results}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

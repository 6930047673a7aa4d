"""Fixtures in the style of Flask's tutorial: an app on a fresh database per test,
a client, a login helper, an htmx helper, an HTML parser, and a live server
for the browser tests.

The suite runs on SQLite by default; with ``TEST_DATABASE_URL=postgresql://...``
each test gets its own schema in that database, dropped afterwards. With also
``TEST_RUNTIME_ROLE=portal_runtime`` (a LOGIN role of that server) it runs as in
production: the URL's user owns the schema and migrates it, the app runs as the runtime
role (see db_roles.py); a test marked ``database_owner`` runs the app as the owner.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import pytest
from bs4 import BeautifulSoup
from smtp_sink import SmtpSink
from werkzeug.serving import make_server

import accounts
import db_roles
import demo
import models
import tasks
from app import create_app
from bench.statements import StatementCounter, counting_statements  # noqa: F401 (shared with the bench; tests import it from here)

DEMO_PASSWORD = "demo"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_RUNTIME_ROLE = os.environ.get("TEST_RUNTIME_ROLE", "") if TEST_DATABASE_URL else ""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "database_owner: the app runs as the role owning the schema (tests of what "
        "the triggers refuse even to the owner); only differs with TEST_RUNTIME_ROLE")


def with_user(url: str, userinfo: str) -> str:
    """``url`` with its ``user[:password]`` replaced by ``userinfo``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host))


def owner_url(database_url: str) -> str:
    """The URL that migrates ``database_url``'s schema: the same one, but as its owner."""
    if not TEST_RUNTIME_ROLE or database_url.startswith("sqlite"):
        return database_url
    return with_user(database_url, urlsplit(TEST_DATABASE_URL).netloc.rpartition("@")[0])


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Hash each distinct password once per run: seeding stays fast, verification stays real."""
    original = accounts.hash_password
    accounts.hash_password = functools.lru_cache(maxsize=None)(original)
    yield
    accounts.hash_password = original


@pytest.fixture
def database_url(tmp_path, request):
    """A fresh, empty database for one test (with TEST_RUNTIME_ROLE: as the runtime role)."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg2.connect(TEST_DATABASE_URL) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    url = f"{TEST_DATABASE_URL}{separator}options={quote(f'-c search_path={schema}')}"
    if TEST_RUNTIME_ROLE and not request.node.get_closest_marker("database_owner"):
        url = with_user(url, quote(TEST_RUNTIME_ROLE, safe=""))
    yield url
    conn = psycopg2.connect(TEST_DATABASE_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def make_test_app(database_url, **overrides):
    config = {
        "PORTAL_ENV": "development",  # the generated secrets, the stand-in service, demo data
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "MIGRATE_DATABASE_URL": owner_url(database_url),
        "WTF_CSRF_ENABLED": False,
        # Tasks stay in this process and run only when a test asks (tasks.py); a test
        # that delivers mail uses the smtp_server fixture.
        "QUEUE_URL": "memory://",
    }
    config.update(overrides)
    app = create_app(config)
    db_roles.migrate(app.config["MIGRATE_DATABASE_URL"], app.config["DATABASE_URL"])  # as `migrate`
    return app


@pytest.fixture
def app(database_url):
    """The portal on a fresh database holding the demo data."""
    app = make_test_app(database_url)
    with models.db.connection_context():
        demo.seed(password=DEMO_PASSWORD)
    yield app
    models.db.close_all()


@pytest.fixture
def empty_app(database_url):
    """The portal on a fresh, migrated database with no data."""
    app = make_test_app(database_url)
    yield app
    models.db.close_all()


@pytest.fixture
def db(app):
    """A database connection for the test body (queries outside a request)."""
    with models.db.connection_context():
        yield models.db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="admin", password=DEMO_PASSWORD, follow_redirects=False):
        return self._client.post(
            "/login",
            data={"username": username, "password": password},
            follow_redirects=follow_redirects,
        )

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


def htmx_headers(target_id: str | None = None, source: str | None = None) -> dict:
    """Headers htmx 4 sends for a request swapping into ``#target_id``."""
    headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}
    if target_id:
        headers["HX-Target"] = f"div#{target_id}"
        headers["HX-Request-Type"] = "partial"
    if source:
        headers["HX-Source"] = source
    return headers


@pytest.fixture
def hx():
    return htmx_headers


def parse(response) -> BeautifulSoup:
    """Parse an HTML response with a real parser."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def visible_text(node) -> str:
    """The text a person reads in ``node``, with white space folded."""
    return " ".join(node.get_text(" ").split())


def login_as(app, username):
    """A new test client logged in as ``username``."""
    test_client = app.test_client()
    response = AuthActions(test_client).login(username)
    assert response.status_code == 302, f"login of {username} failed"
    return test_client


# --- mail --------------------------------------------------------------------


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port; ``.messages`` holds what it accepted.

    Point an app at it with ``use_smtp_server(app, smtp_server)`` (the ``mail_app``
    fixture does, for the demo app).
    """
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def use_smtp_server(app, sink) -> None:
    """Make ``app`` deliver its mail to ``sink``."""
    app.config.update(MAIL_SERVER=sink.host, MAIL_PORT=sink.port, MAIL_TIMEOUT=10)


@pytest.fixture
def mail_app(app, smtp_server):
    """The demo app delivering to ``smtp_server``."""
    use_smtp_server(app, smtp_server)
    return app


@pytest.fixture
def immediate_queue():
    """Huey in immediate mode: a task runs as soon as it is enqueued (``mail.wake()`` delivers)."""
    tasks.huey.immediate = True
    yield tasks.huey
    tasks.huey.immediate = False


# --- browser tests -----------------------------------------------------------


@pytest.fixture
def live_server(database_url):
    """The portal served by a real HTTP server on 127.0.0.1, CSRF on, with demo data."""
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    with models.db.connection_context():
        demo.seed(password=DEMO_PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    server.app = app
    yield server
    server.shutdown()
    thread.join(timeout=5)
    models.db.close_all()


def chromium_executable() -> str | None:
    """CHROMIUM_PATH, else Debian's chromium, else None (Playwright's own build)."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = dict(browser_type_launch_args)
    executable = chromium_executable()
    if executable:
        args["executable_path"] = executable
    args["args"] = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "it-IT", "timezone_id": "Europe/Rome"}


@pytest.fixture
def browser_login(page, live_server):
    """Log ``page`` in as a user through the real login form; return the page."""

    def login(username, password=DEMO_PASSWORD):
        page.goto(live_server.url + "/login")
        page.get_by_label("Nome utente").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Accedi").click()
        page.wait_for_url(live_server.url + "/")
        return page

    return login


"""The throw-away databases and the studios the bench builds in them."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from urllib.parse import quote

import accounts
import consent
import demo
import models
from app import create_app
from migrations import run_migrations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "bench-secret-" + uuid.uuid4().hex
PASSWORD = "demo"


class Backend:
    """Where the throw-away databases live: SQLite files, or schemas of one PostgreSQL database."""

    def __init__(self, pg_url: str | None):
        self.pg_url = pg_url
        self.name = "postgresql" if pg_url else "sqlite"
        self.tmpdir = tempfile.mkdtemp(prefix="bench-")
        self.schemas: list[str] = []

    def new_url(self, label: str) -> str:
        if not self.pg_url:
            return f"sqlite:///{os.path.join(self.tmpdir, label + '.db')}"
        import psycopg2

        schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg2.connect(self.pg_url) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        separator = "&" if "?" in self.pg_url else "?"
        return f"{self.pg_url}{separator}options={quote(f'-c search_path={schema}')}"

    def copy(self, url: str, label: str) -> str | None:
        """A copy of the database at ``url`` (SQLite only; None on PostgreSQL)."""
        if self.pg_url:
            return None
        target = self.new_url(label)
        source = sqlite3.connect(url[len("sqlite:///"):])
        dest = sqlite3.connect(target[len("sqlite:///"):])
        source.backup(dest)
        source.close()
        dest.close()
        return target

    def cleanup(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self.pg_url and self.schemas:
            import psycopg2

            conn = psycopg2.connect(self.pg_url)
            conn.autocommit = True
            with conn.cursor() as cur:
                for schema in self.schemas:
                    cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.close()


def make_app(url: str):
    """The portal on the database at ``url``, migrated (the bench logs in without CSRF tokens)."""
    app = create_app({"PORTAL_ENV": "development", "TESTING": True, "SECRET_KEY": SECRET,
                      "DATABASE_URL": url, "QUEUE_URL": "memory://",
                      "WTF_CSRF_ENABLED": False})
    with models.db.connection_context():
        run_migrations()
    return app


def sql(text: str) -> str:
    """Hand-written SQL with ``?`` placeholders, in the bound driver's parameter style."""
    return text if models.is_sqlite() else text.replace("%", "%%").replace("?", "%s")


def insert_with_defaults(model, select_sql: str, columns: list[str], params=()):
    """INSERT ... SELECT into ``model`` filling every other column that has a default.

    Keeps this builder working when other features add columns with defaults.
    """
    extra_columns, extra_values = [], []
    for field in model._meta.sorted_fields:
        if field.column_name in columns or field.primary_key and field.column_name == "id":
            continue
        if field.default is None:
            continue
        value = field.default() if callable(field.default) else field.default
        extra_columns.append(field.column_name)
        extra_values.append(field.db_value(value))
    holes = ", ".join("?" for _ in extra_values)
    select_sql = select_sql.replace("SELECT ", "SELECT " + (holes + ", " if holes else ""), 1)
    table = model._meta.table_name
    all_columns = ", ".join(f'"{c}"' for c in extra_columns + columns)
    models.db.execute_sql(sql(f'INSERT INTO "{table}" ({all_columns}) {select_sql}'),
                          tuple(extra_values) + tuple(params))


def build_studio(backend: Backend, size: int) -> dict:
    """A fresh database holding the demo data plus ``size`` synthetic clients in a realistic mix.

    Of the synthetic clients four in five have SMART services (demo.py); of those
    7 in 10 were sent a request (4 aderito, 1 non aderito, 2 in attesa), each with
    its events; every client has its user; operatore1 manages one client in 7 and
    has SMART access, and the studio's option 7 is on. The studio keeps consents for 36
    months (issue 15: the consent page also counts those past it), and about one consent
    given in thirty-six leaves out SMART Hub ("parziale").
    """
    started = time.perf_counter()
    url = backend.new_url(f"c{size}")
    app = make_app(url)
    database = models.db.obj
    with models.db.connection_context():
        demo.seed(password=PASSWORD, synthetic_clients=size)
        studio = models.Studio.get(models.Studio.code == demo.DEMO_STUDIO[0])
        admin = models.User.get(models.User.username == "admin")
        operator = models.User.get(models.User.username == "operatore1")
        text = consent.wording("modal")
        answer_text = text.id
        if models.is_sqlite():
            sent_at = "datetime('2025-01-01', '+' || (id % 50000) || ' minutes')"
            answered_at = ("datetime(consent_requested_at, '+' || (1 + id % 4000) || ' minutes')")
        else:
            sent_at = "timestamp '2025-01-01' + (id % 50000) * interval '1 minute'"
            answered_at = "consent_requested_at + (1 + id % 4000) * interval '1 minute'"
        synthetic = ("studio_id = ? AND code LIKE 'S%' AND consent_requested_at IS NULL "
                     "AND EXISTS (SELECT 1 FROM client_service s WHERE s.client_id = client.id)")
        with models.write_transaction():
            db = models.db
            db.execute_sql(sql(
                f"UPDATE client SET consent_requested_at = {sent_at}, consent_answer = 'pending' "
                f"WHERE {synthetic} AND id % 10 < 7"), (studio.id,))
            db.execute_sql(sql(
                "INSERT INTO consent_event (studio_id, client_id, kind, actor_id, channel, "
                "consent_text_id, created_at) SELECT studio_id, id, 'sent', ?, 'admin_sending', ?, "
                "consent_requested_at FROM client WHERE studio_id = ? AND code LIKE 'S%' "
                "AND consent_requested_at IS NOT NULL ORDER BY id"),
                (admin.id, text.id, studio.id))
            insert_with_defaults(
                models.User,
                "SELECT studio_id, lower(code), name, ?, 'client', id FROM client "
                "WHERE studio_id = ? AND code LIKE 'S%' ORDER BY id",
                ["studio_id", "username", "display_name", "password_hash", "role", "client_id"],
                (accounts.hash_password(PASSWORD), studio.id))
            db.execute_sql(sql(
                f"UPDATE client SET consent_answer = CASE WHEN id % 10 < 4 THEN 'granted' "
                f"ELSE 'declined' END, consent_answered_at = {answered_at} "
                f"WHERE studio_id = ? AND code LIKE 'S%' AND consent_answer = 'pending' "
                f"AND id % 10 < 5"), (studio.id,))
            # A consent covers the services active when it was given (issue 15).
            db.execute_sql(sql(
                "UPDATE client_service SET consented_at = (SELECT c.consent_answered_at FROM "
                "client c WHERE c.id = client_service.client_id) WHERE client_id IN (SELECT id "
                "FROM client WHERE studio_id = ? AND code LIKE 'S%' AND consent_answer = 'granted')"),
                (studio.id,))
            db.execute_sql(sql(
                "UPDATE client_service SET consented_at = NULL WHERE service_id = (SELECT id FROM "
                "smart_service WHERE code = 'smart_hub') AND client_id IN (SELECT id FROM client "
                "WHERE studio_id = ? AND code LIKE 'S%' AND consent_answer = 'granted' "
                "AND id % 40 = 3)"), (studio.id,))
            db.execute_sql(sql(
                "INSERT INTO consent_event (studio_id, client_id, kind, actor_id, channel, "
                "consent_text_id, created_at) SELECT c.studio_id, c.id, c.consent_answer, u.id, "
                "'modal', ?, c.consent_answered_at FROM client c JOIN \"user\" u ON u.client_id = c.id "
                "WHERE c.studio_id = ? AND c.code LIKE 'S%' AND c.consent_answered_at IS NOT NULL "
                "ORDER BY c.id"), (answer_text, studio.id))
            db.execute_sql(sql(
                "INSERT INTO operator_client (operator_id, client_id) SELECT ?, id FROM client "
                "WHERE studio_id = ? AND code LIKE 'S%' AND id % 7 = 1"), (operator.id, studio.id))
            models.StudioSettings.update(smart_access=True, consent_months=36).where(
                models.StudioSettings.studio == studio.id).execute()
            models.User.update(smart_access=True).where(models.User.id == operator.id).execute()
        db.execute_sql("ANALYZE")  # statistics for the planner, as after any bulk load
        pending = (models.Client.select(models.Client.code)
                   .where((models.Client.studio == studio.id) & models.Client.code.startswith("S")
                          & (models.Client.consent_answer == models.CONSENT_PENDING))
                   .order_by(models.Client.id).first())
        counts = {
            "clients": models.Client.select().where(models.Client.studio == studio.id).count(),
            "smart_clients": models.Client.select().where(
                (models.Client.studio == studio.id) & consent.with_smart_service()).count(),
            "consent_events": models.ConsentEvent.select().count(),
        }
    models.db.close_all()
    return {"size": size, "url": url, "app": app, "database": database, "studio_id": studio.id,
            "admin_id": admin.id, "pending_client_user": pending.code.lower(),
            "counts": counts, "build_s": round(time.perf_counter() - started, 1)}


def use(studio: dict) -> None:
    """Point the models at this studio's database (the studios live side by side)."""
    models.db.initialize(studio["database"])

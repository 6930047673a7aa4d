"""The database keeps what SPEC 3.8 promises: the stored consent wordings refuse to be
rewritten (every database), and on PostgreSQL the portal runs as a role that can read and
append to the append-only tables but not rewrite them, nor alter them or their triggers."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import psycopg2
import pytest
from conftest import DEMO_PASSWORD, TEST_DATABASE_URL, login_as, with_user
from psycopg2 import errorcodes

import consent
import db_roles
import demo
import models
from app import create_app
from models import Client, ConsentEvent, ConsentText, User, is_sqlite

# --- consent_text is append-only, on SQLite and PostgreSQL ------------------------------


def refused(sql):
    """Run ``sql`` in a savepoint; return the error the database raised (None if it ran)."""
    try:
        with models.db.atomic():
            models.db.execute_sql(sql)
    except Exception as error:  # noqa: BLE001 - each driver has its own class
        return error
    return None


def text_row(text_id):
    return models.db.execute_sql(
        f"SELECT version, title, body, sha256, created_at FROM consent_text WHERE id = {text_id}"
    ).fetchone()


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_a_stored_consent_wording_cannot_be_changed_or_deleted(app, db):
    text = consent.wording("modal")
    before = text_row(text.id)
    columns = "id, version, title, body, sha256, created_at"
    attempts = [
        f"UPDATE consent_text SET body = 'Testo diverso' WHERE id = {text.id}",
        "UPDATE consent_text SET created_at = created_at",
        f"DELETE FROM consent_text WHERE id = {text.id}",
        "DELETE FROM consent_text",
    ]
    if is_sqlite():
        attempts += [
            f"INSERT OR REPLACE INTO consent_text ({columns}) VALUES ({text.id}, 99, 'T', 'B', "
            "'x', '2030-01-01 00:00:00')",
        ]
    else:
        attempts += ["TRUNCATE consent_text CASCADE"]
    for sql in attempts:
        error = refused(sql)
        assert error is not None and "consent_text is append-only" in str(error), sql
    assert text_row(text.id) == before
    assert consent.wording("modal").id == text.id


def test_a_new_wording_is_still_appended(app, db):
    before = ConsentText.select().count()
    ConsentText.insert(version=99, title="Nuovo testo", body="Nuovo corpo", sha256="f" * 64).execute()
    assert ConsentText.select().count() == before + 1


def test_the_append_only_tables_are_those_whose_triggers_refuse_rewriting(empty_app):
    """A table made append-only by a later migration must be listed for the runtime grants."""
    with models.db.connection_context():
        if is_sqlite():
            rows = models.db.execute_sql(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE '%no_update'").fetchall()
        else:
            rows = models.db.execute_sql(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace "
                "AND t.tgname LIKE %s", ("%append_only",)).fetchall()
    assert {name for (name,) in rows} == set(db_roles.APPEND_ONLY_TABLES)


# --- PostgreSQL: the runtime role ---------------------------------------------------------


@dataclass
class TwoRoles:
    role: str
    schema: str
    owner_url: str
    runtime_url: str


@pytest.fixture
def two_roles():
    """A fresh schema owned by the suite's role, and a new runtime role that owns nothing."""
    if not TEST_DATABASE_URL:
        pytest.skip("database roles exist on PostgreSQL only (SQLite is one file, no roles)")
    role, schema = f"portal_rt_{uuid.uuid4().hex[:10]}", f"t_{uuid.uuid4().hex[:12]}"
    run_as_owner(f"CREATE ROLE {role} LOGIN", f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    owner_url = f"{TEST_DATABASE_URL}{separator}options={quote(f'-c search_path={schema}')}"
    yield TwoRoles(role, schema, owner_url, with_user(owner_url, role))
    models.db.close_all()
    run_as_owner(f"DROP SCHEMA {schema} CASCADE", f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def run_as_owner(*statements, url=TEST_DATABASE_URL):
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        conn.autocommit = True
        for statement in statements:
            cur.execute(statement)


def migrate(app):
    """``flask --app app migrate``, given DATABASE_URL and MIGRATE_DATABASE_URL."""
    return app.test_cli_runner().invoke(args=["migrate"])


@pytest.fixture
def runtime_app(two_roles, tmp_path):
    """The portal running as the runtime role, migrated by ``migrate`` as the owner, seeded."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "DATABASE_URL": two_roles.runtime_url,
        "MIGRATE_DATABASE_URL": two_roles.owner_url,
        # what production needs for mail (mail.settings_problems)
        "MAIL_SERVER": "smtp.studio.example",
        "MAIL_DEFAULT_SENDER": "portale@studio.example",
        "PORTAL_URL": "https://portale.studio.example",
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
    })
    result = migrate(app)
    assert result.exit_code == 0, result.output
    assert f"Permessi aggiornati per il ruolo {two_roles.role}" in result.output
    with models.db.connection_context():
        demo.seed(password=DEMO_PASSWORD)  # seeding only inserts and updates: as the runtime role
    app.roles = two_roles
    yield app
    models.db.close_all()


def as_runtime(app, sql):
    """Run ``sql`` as the runtime role in a transaction rolled back; the error, or None."""
    with contextlib.closing(psycopg2.connect(app.roles.runtime_url)) as conn, conn.cursor() as cur:
        try:
            cur.execute(sql)
        except psycopg2.Error as error:
            return error
        finally:
            conn.rollback()
    return None


def forbidden_statements(table):
    return [
        f"UPDATE {table} SET id = id",
        f"DELETE FROM {table}",
        f"TRUNCATE {table} CASCADE",
        f"ALTER TABLE {table} DISABLE TRIGGER ALL",
        f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only",
        f"ALTER TABLE {table} ADD COLUMN note text",
        f"DROP TRIGGER {table}_append_only ON {table}",
        f"DROP TABLE {table} CASCADE",
        # Replacing the trigger's function with one that lets the change through.
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN COALESCE(NEW, OLD); END $$",
    ]


ALSO_FORBIDDEN = [
    "SET session_replication_role = replica",  # would silence every trigger
    "TRUNCATE client CASCADE",
    "ALTER TABLE client DISABLE TRIGGER ALL",
    "ALTER TABLE client ADD COLUMN note text",
    "DROP TABLE client_tally",
    "CREATE TABLE intruder (id integer)",
]


def test_the_runtime_role_cannot_rewrite_or_unprotect_the_append_only_tables(runtime_app):
    with models.db.connection_context():
        consent.wording("modal")  # consent_text has a row to protect
        counts = {t: models.db.execute_sql(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in db_roles.APPEND_ONLY_TABLES}
    assert counts["consent_event"] and counts["consent_text"], counts
    statements = [s for t in db_roles.APPEND_ONLY_TABLES for s in forbidden_statements(t)]
    for sql in statements + ALSO_FORBIDDEN:
        error = as_runtime(runtime_app, sql)
        assert error is not None, f"the runtime role ran: {sql}"
        assert error.pgcode == errorcodes.INSUFFICIENT_PRIVILEGE, (sql, error.pgerror)
    with models.db.connection_context():
        assert counts == {t: models.db.execute_sql(f"SELECT count(*) FROM {t}").fetchone()[0]
                          for t in db_roles.APPEND_ONLY_TABLES}
        enabled = models.db.execute_sql(
            "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND tgname LIKE %s "
            "AND tgenabled = 'O'",
            ("%append_only",)).fetchall()
        assert len(enabled) == len(db_roles.APPEND_ONLY_TABLES)


def test_the_runtime_role_does_the_portals_work(runtime_app):
    for sql in (
        "INSERT INTO consent_event (studio_id, client_id, kind, actor_id, channel, created_at) "
        "SELECT studio_id, client_id, 'revoked', id, 'altri_dati', now() FROM \"user\" "
        "WHERE username = 'pink'",
        "UPDATE client SET name = name || ' S.r.l.' WHERE code = 'PINK'",
        "INSERT INTO consent_text (version, title, body, sha256, created_at) "
        "VALUES (99, 'T', 'B', 'abc', now())",
        "DELETE FROM consent_selection",
        "SELECT count(*) FROM consent_event JOIN consent_text ON consent_text.id = consent_text_id",
    ):
        assert as_runtime(runtime_app, sql) is None, sql
    # And through the portal itself: a login (session, audit event), a revocation (event,
    # client, tally kept by triggers), a sending (events, clients).
    admin = login_as(runtime_app, "admin")
    assert admin.get("/").status_code == 200
    with models.db.connection_context():
        pink = Client.get(Client.code == "PINK")
        before = ConsentEvent.select().count()
        assert consent.set_authorization(pink, User.get(User.client == pink), False)
        assert consent.send_requests(pink.studio_id, User.get(User.username == "admin")).sent
        assert ConsentEvent.select().count() > before + 1


def has_right(app, table, privilege):
    with contextlib.closing(psycopg2.connect(app.roles.owner_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT has_table_privilege(%s, %s, %s)", (app.roles.role, table, privilege))
        return cur.fetchone()[0]


def test_migrate_again_takes_back_rights_given_by_hand_and_covers_new_tables(runtime_app):
    roles = runtime_app.roles
    run_as_owner(
        f"GRANT UPDATE, DELETE, TRUNCATE ON consent_event, consent_text TO {roles.role}",
        f"GRANT TRUNCATE ON client TO {roles.role}",
        # What a later migration might add: a table the runtime role must be able to use.
        "CREATE TABLE later_table (id SERIAL PRIMARY KEY, note TEXT)",
        url=roles.owner_url,
    )
    given = [("consent_event", "UPDATE"), ("consent_event", "DELETE"),
             ("consent_event", "TRUNCATE"), ("consent_text", "UPDATE"), ("client", "TRUNCATE")]
    assert all(has_right(runtime_app, *right) for right in given)

    result = migrate(runtime_app)
    assert result.exit_code == 0, result.output
    assert "Migrazioni applicate: nessuna" in result.output

    assert not any(has_right(runtime_app, *right) for right in given)
    for sql in ("UPDATE consent_text SET id = id", "DELETE FROM consent_event",
                "TRUNCATE consent_event CASCADE", "TRUNCATE client CASCADE"):
        error = as_runtime(runtime_app, sql)
        assert error is not None and error.pgcode == errorcodes.INSUFFICIENT_PRIVILEGE, sql
    assert as_runtime(runtime_app, "INSERT INTO later_table (note) VALUES ('x'); "
                      "UPDATE later_table SET note = 'y'; DELETE FROM later_table") is None


def test_migrate_refuses_a_runtime_role_that_owns_a_table(runtime_app):
    roles = runtime_app.roles
    run_as_owner(f"ALTER TABLE client_tally OWNER TO {roles.role}", url=roles.owner_url)
    result = migrate(runtime_app)
    assert result.exit_code != 0
    assert f"Il ruolo {roles.role} possiede" in result.output and "client_tally" in result.output
    assert "REASSIGN OWNED BY" in result.output

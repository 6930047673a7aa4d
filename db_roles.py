"""The two database roles on PostgreSQL: the owner migrates, the portal runs as the runtime role.

The owner (``MIGRATE_DATABASE_URL``) owns the schema, its tables, triggers and functions.
The runtime role (the user of ``DATABASE_URL``) owns nothing: it may read and append to
the append-only tables, read and write the others, and draw ids from the sequences; it
cannot UPDATE, DELETE or TRUNCATE the append-only tables, nor ALTER, DROP or DISABLE
TRIGGER anything, nor replace a trigger's function (only an owner can). So a flaw in
the portal cannot rewrite what SPEC 3.8 says must stay as it was written, even though
the triggers alone would yield to anyone who can alter the table.

``migrate`` grants after every migration run, from the catalog, so a table added by a
later migration is covered; it is not a migration itself (the grants name a role that
differs from one installation to the next). On SQLite there is one file and nothing to
grant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import models
from migrations import run_migrations

# What SPEC 3.8 keeps as written: the runtime role may read and append, never rewrite.
# Their triggers (migrations/) refuse UPDATE and DELETE to every role, the owner too.
APPEND_ONLY_TABLES = ("consent_text", "consent_event", "access_event", "audit_event")

APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
READ_WRITE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"


class GrantRefused(Exception):
    """The runtime role cannot be confined (it owns something, or is a superuser)."""


@dataclass
class MigrationRun:
    applied: list[str] = field(default_factory=list)
    granted_to: str | None = None  # the runtime role, when it differs from the owner


def migrate(owner_url: str, runtime_url: str) -> MigrationRun:
    """Apply the pending migrations as the owner, then grant the runtime role what it needs.

    ``models.db`` is bound to ``runtime_url`` (create_app binds it) and stays bound to it.
    """
    runtime = models.db.obj
    if owner_url == runtime_url:
        with runtime.connection_context():
            return MigrationRun(applied=run_migrations())
    run = MigrationRun()
    owner = models.make_database(owner_url)
    models.db.initialize(owner)
    try:
        with owner.connection_context():
            run.applied = run_migrations()
            if models.is_sqlite():
                return run
            owner_user, schema = _scalar_row("SELECT current_user, current_schema()")
            runtime_user = _identity(runtime)[0]
            if runtime_user != owner_user:
                grant_runtime_role(runtime_user)
                run.granted_to = runtime_user
    finally:
        owner.close_all()
        models.db.initialize(runtime)
    # Asked once the role may use the schema: a schema it may not use is left out of its
    # search_path, so before the grant this could not tell.
    runtime_schema = _identity(runtime)[1]
    if runtime_schema != schema:
        raise GrantRefused(
            f"DATABASE_URL raggiunge lo schema {runtime_schema!r}, le migrazioni sono state "
            f"applicate a {schema!r}: indicate lo stesso database e lo stesso search_path."
        )
    return run


def grant_runtime_role(role: str) -> None:
    """Give ``role`` exactly the portal's rights in the current schema, revoking any other."""
    superuser = _scalar_row("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,))[0]
    if superuser:
        raise GrantRefused(f"Il ruolo {role} è superutente: i suoi permessi non si possono "
                           "limitare. Usate un ruolo senza SUPERUSER per DATABASE_URL.")
    owned = _owned_by(role)
    if owned:
        shown = ", ".join(owned[:5]) + (f" (e altri {len(owned) - 5})" if len(owned) > 5 else "")
        raise GrantRefused(
            f"Il ruolo {role} possiede, o può agire come chi possiede, {shown}: chi possiede una "
            f"tabella può modificarla e disattivarne i trigger. Eseguite REASSIGN OWNED BY "
            f"{role} TO il ruolo delle migrazioni (o revocategli l'appartenenza a quel ruolo), "
            "poi di nuovo migrate."
        )
    tables = [name for (name,) in models.db.execute_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relkind IN ('r', 'p') ORDER BY relname").fetchall()]
    missing = set(APPEND_ONLY_TABLES) - set(tables)
    if missing:
        raise GrantRefused(f"Tabelle append-only assenti: {', '.join(sorted(missing))}.")
    schema = _quote(_scalar_row("SELECT current_schema()")[0])
    grantee = _quote(role)
    with models.write_transaction():
        # Revoked first, so a right given earlier (by hand, or before a table became
        # append-only, as consent_text did) does not survive.
        for statement in (
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {grantee}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {grantee}",
            f"REVOKE ALL ON SCHEMA {schema} FROM {grantee}",
            f"GRANT USAGE ON SCHEMA {schema} TO {grantee}",
            f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}",
        ):
            models.db.execute_sql(statement)
        for table in tables:
            privileges = (APPEND_ONLY_PRIVILEGES if table in APPEND_ONLY_TABLES
                          else READ_WRITE_PRIVILEGES)
            models.db.execute_sql(
                f"GRANT {privileges} ON TABLE {schema}.{_quote(table)} TO {grantee}")


def _owned_by(role: str) -> list[str]:
    """The schema and the objects in it that ``role`` owns, or may act as the owner of."""
    return [name for (name,) in models.db.execute_sql(
        "SELECT 'schema ' || nspname FROM pg_namespace "
        "WHERE oid = current_schema()::regnamespace AND pg_has_role(%s, nspowner, 'MEMBER') "
        "UNION ALL SELECT relname FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'S') "
        "AND pg_has_role(%s, relowner, 'MEMBER') "
        "UNION ALL SELECT proname || '()' FROM pg_proc "
        "WHERE pronamespace = current_schema()::regnamespace "
        "AND pg_has_role(%s, proowner, 'MEMBER') ORDER BY 1",
        (role, role, role)).fetchall()]


def _identity(database) -> tuple[str, str | None]:
    """Who ``database`` connects as, and which schema it reaches."""
    with database.connection_context():
        return database.execute_sql("SELECT current_user, current_schema()").fetchone()


def _scalar_row(sql: str, params: tuple = ()) -> tuple:
    return models.db.execute_sql(sql, params).fetchone()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'

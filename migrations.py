"""Schema migrations, applied in order by ``flask --app app migrate``.

Each migration has a name, runs once, and is recorded in ``migration_history``.
Every step is also written to be harmless if its effect is already there
(``create_tables(safe=True)``, ``add_column_if_missing``, ``IF NOT EXISTS``), so a
fresh database built from the current models and an old one brought forward end
with the same schema. To change the schema: add a function at the end of
``MIGRATIONS``; never edit one that has been released.
"""

from __future__ import annotations

from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

import models
from models import db, is_sqlite

APPEND_ONLY_TABLES = ("consent_event",)


def _migrator():
    return SqliteMigrator(db) if is_sqlite() else PostgresqlMigrator(db)


def add_column_if_missing(model, field_name: str) -> None:
    """Add ``model.field_name`` to its table unless the column is already there."""
    field = model._meta.fields[field_name]
    table = model._meta.table_name
    existing = {column.name for column in db.get_columns(table)}
    if field.column_name not in existing:
        migrate(_migrator().add_column(table, field.column_name, field))


def forbid_update_and_delete(table: str) -> None:
    """Make the database itself refuse UPDATE and DELETE on ``table``."""
    message = f"{table} is append-only"
    if is_sqlite():
        for action in ("UPDATE", "DELETE"):
            db.execute_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} "
                f"BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        # INSERT OR REPLACE deletes the row it collides with without firing DELETE
        # triggers (unless recursive_triggers is on): refuse any insert onto an existing id.
        db.execute_sql(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace "
            f"BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
    else:
        db.execute_sql(
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        db.execute_sql(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        db.execute_sql(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )


def m0001_initial() -> None:
    db.create_tables(models.ALL_MODELS, safe=True)
    for table in APPEND_ONLY_TABLES:
        forbid_update_and_delete(table)


def m0002_smart_tokens() -> None:
    """Hand-off tokens of the SMART services; access events become append-only."""
    db.create_tables([models.SmartToken], safe=True)
    forbid_update_and_delete("access_event")


def m0003_consent_tally() -> None:
    import consent_tally

    consent_tally.install()


def m0004_client_code_search() -> None:
    import client_search

    client_search.install()


def m0005_answer_date_index() -> None:
    """The grid's default reading of answers: newest first, unanswered last, then by code."""
    nulls_last = "" if is_sqlite() else " NULLS LAST"  # SQLite puts NULLs last in DESC anyway
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS client_studio_answered_desc_code ON client "
        f"(studio_id, consent_answered_at DESC{nulls_last}, code)"
    )


def m0006_audit() -> None:
    db.create_tables([models.AuditEvent], safe=True)
    forbid_update_and_delete("audit_event")


def m0007_append_only_refuses_replace() -> None:
    # forbid_update_and_delete learnt to refuse SQLite's INSERT OR REPLACE.
    for table in ("consent_event", "access_event", "audit_event"):
        forbid_update_and_delete(table)


def m0008_consent_grid() -> None:
    """The consent grid: server-side selections, one-time sendings, indexes for its filters and sorts."""
    db.create_tables([models.ConsentSelection, models.ConsentSending], safe=True)
    # "Uguale a" compares codes without regard to case; "Ragione sociale" sorts by name, then code.
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS client_studio_lower_code ON client (studio_id, lower(code))"
    )
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS client_studio_name_code ON client (studio_id, name, code)"
    )


def m0009_smart_reachable_index() -> None:
    """The clients the SMART rule can reach (consent granted, a service active), by code.

    The tile counts them and /servizi-smart pages through them: a partial index holds
    exactly those rows, in the order the list shows them.
    """
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS client_smart_reachable ON client (studio_id, code) "
        "WHERE consent_answer = 'granted' AND smart_services > 0"
    )


MIGRATIONS = [
    ("0001_initial", m0001_initial),
    ("0002_smart_tokens", m0002_smart_tokens),
    ("0003_consent_tally", m0003_consent_tally),
    ("0004_client_code_search", m0004_client_code_search),
    ("0005_answer_date_index", m0005_answer_date_index),
    ("0006_audit", m0006_audit),
    ("0007_append_only_refuses_replace", m0007_append_only_refuses_replace),
    ("0008_consent_grid", m0008_consent_grid),
    ("0009_smart_reachable_index", m0009_smart_reachable_index),
]


def run_migrations() -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now."""
    db.create_tables([models.MigrationHistory], safe=True)
    done = {row.name for row in models.MigrationHistory.select()}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with models.write_transaction():
            step()
            models.MigrationHistory.insert(name=name).on_conflict_ignore().execute()
        applied.append(name)
    return applied

"""Schema migrations, applied in order by ``flask --app app migrate``.

Each migration is a module of this package that holds its own SQL, for both dialects:
``SQLITE`` and ``POSTGRESQL``, lists of statements run in order; or, for a step that
must look at the database first, ``apply(db, dialect)``. It runs once, in one
transaction, and its name is then recorded in ``migration_history``.

A released migration is frozen: it never imports the models or any code that may change,
so it does today exactly what it did when it was released. To change the schema, a
trigger or an index, add a module at the end of ``MIGRATIONS`` (dropping and creating
again what it changes) and make ``models.py`` agree; tests/test_migrations.py compares
the migrated schema with the models'.
"""

from __future__ import annotations

import models

from . import (
    m0001_initial,
    m0002_smart_tokens,
    m0003_consent_tally,
    m0004_client_code_search,
    m0005_answer_date_index,
    m0006_audit,
    m0007_append_only_refuses_replace,
    m0008_consent_grid,
    m0009_smart_reachable_index,
    m0010_audit_tally,
    m0011_consent_text_append_only,
    m0012_mail_outbox,
    m0013_client_change,
    m0014_mail_round,
    m0015_consent_scope,
    m0016_client_search,
    m0017_consent_week_tally,
    m0018_access_outcome,
    m0019_smart_catalogue,
    m0020_partial_tally,
)

# (name recorded in migration_history, module). A name never changes once released:
# a database that has it recorded will not run that step again.
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
    ("0010_audit_tally", m0010_audit_tally),
    ("0011_consent_text_append_only", m0011_consent_text_append_only),
    ("0012_mail_outbox", m0012_mail_outbox),
    ("0013_client_change", m0013_client_change),
    ("0014_mail_round", m0014_mail_round),
    ("0015_consent_scope", m0015_consent_scope),
    ("0016_client_search", m0016_client_search),
    ("0017_consent_week_tally", m0017_consent_week_tally),
    ("0018_access_outcome", m0018_access_outcome),
    ("0019_smart_catalogue", m0019_smart_catalogue),
    ("0020_partial_tally", m0020_partial_tally),
]

CREATE_MIGRATION_HISTORY = {
    "sqlite": 'CREATE TABLE IF NOT EXISTS "migration_history" '
    '("name" VARCHAR(100) NOT NULL PRIMARY KEY, "applied_at" DATETIME NOT NULL)',
    "postgresql": 'CREATE TABLE IF NOT EXISTS "migration_history" '
    '("name" VARCHAR(100) NOT NULL PRIMARY KEY, "applied_at" TIMESTAMP NOT NULL)',
}

MIGRATION_HISTORY_EXISTS = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
    "AND name = 'migration_history'",
    "postgresql": "SELECT to_regclass('migration_history') IS NOT NULL",
}


def run_migrations(until: str | None = None) -> list[str]:
    """Apply the pending migrations in order (up to ``until``); return the names applied now."""
    names = [name for name, _ in MIGRATIONS]
    if until is not None and until not in names:
        raise ValueError(f"unknown migration: {until!r}")
    dialect = "sqlite" if models.is_sqlite() else "postgresql"
    # Created only when missing: the runtime role (db_roles.py) may not create tables,
    # even IF NOT EXISTS, yet may check that nothing is pending (seed-demo does).
    if not models.db.execute_sql(MIGRATION_HISTORY_EXISTS[dialect]).fetchone()[0]:
        models.db.execute_sql(CREATE_MIGRATION_HISTORY[dialect])
    done = {row.name for row in models.MigrationHistory.select()}
    applied = []
    for name, migration in MIGRATIONS[: names.index(until) + 1 if until else None]:
        if name in done:
            continue
        with models.write_transaction():
            _apply(migration, dialect)
            models.MigrationHistory.insert(name=name).on_conflict_ignore().execute()
        applied.append(name)
    return applied


def _apply(migration, dialect: str) -> None:
    if hasattr(migration, "apply"):
        migration.apply(models.db, dialect)
        return
    for statement in getattr(migration, dialect.upper()):
        models.db.execute_sql(statement)

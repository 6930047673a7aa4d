"""Consent per SMART service and for a limited time (issue 15).

- ``client_service.consented_at``: when the client consented to this active service
  (null: not consented). Services of clients who have consented today are marked as
  consented from their answer date: the consent they gave covered every active service.
- ``studio_settings.consent_months``: "Durata del consenso" (null: "Senza scadenza").
- ``consent_event.services`` (the services the event concerns, as named then) and
  ``consent_event.expires_at`` (when the consent it set expires; null: never / not a grant).
- ``consent_event.actor_id`` may be null: an expiry is recorded by the system.
- New values: ``client.consent_answer`` 'expired'; ``consent_event.kind`` 'expired' (the
  daily task) and 'scope' (the client changed which services are covered);
  ``consent_event.channel`` 'system'.

The CHECK constraints only grow (every row valid before stays valid), and the only other
change is dropping a NOT NULL. On PostgreSQL the constraints are dropped and added again.
SQLite cannot alter a constraint; a table rebuild is not possible for ``client`` inside a
transaction (every table refers to it), so this migration uses SQLite's documented
procedure for loosening constraints (https://sqlite.org/lang_altertable.html, section
"Making Other Kinds Of Table Schema Changes"): it rewrites the two tables' stored
definitions with ``writable_schema`` and bumps ``schema_version``, in the migration's
transaction. Each text it replaces must be found exactly once, or nothing changes.
"""

ADD_COLUMNS = {
    "sqlite": [
        'ALTER TABLE "client_service" ADD COLUMN "consented_at" DATETIME',
        'ALTER TABLE "studio_settings" ADD COLUMN "consent_months" INTEGER '
        "CHECK (consent_months IS NULL OR consent_months IN (12, 24, 36, 48))",
        'ALTER TABLE "consent_event" ADD COLUMN "services" TEXT',
        'ALTER TABLE "consent_event" ADD COLUMN "expires_at" DATETIME',
    ],
    "postgresql": [
        'ALTER TABLE "client_service" ADD COLUMN "consented_at" TIMESTAMP',
        'ALTER TABLE "studio_settings" ADD COLUMN "consent_months" INTEGER '
        "CHECK (consent_months IS NULL OR consent_months IN (12, 24, 36, 48))",
        'ALTER TABLE "consent_event" ADD COLUMN "services" TEXT',
        'ALTER TABLE "consent_event" ADD COLUMN "expires_at" TIMESTAMP',
    ],
}

# Today's consents covered every active service: so do they now, from their answer date.
BACKFILL = (
    'UPDATE "client_service" SET "consented_at" = (SELECT c."consent_answered_at" FROM "client" c '
    'WHERE c."id" = "client_service"."client_id") WHERE "client_id" IN (SELECT "id" FROM '
    "\"client\" WHERE \"consent_answer\" = 'granted')"
)

# (table, old text, new text) in the stored CREATE TABLE of SQLite.
SQLITE_REWRITES = [
    ("client",
     "CHECK (consent_answer IN ('pending', 'granted', 'declined'))",
     "CHECK (consent_answer IN ('pending', 'granted', 'declined', 'expired'))"),
    ("consent_event",
     "CHECK (kind IN ('sent', 'granted', 'declined', 'revoked'))",
     "CHECK (kind IN ('sent', 'granted', 'declined', 'revoked', 'expired', 'scope'))"),
    ("consent_event",
     '"actor_id" INTEGER NOT NULL,',
     '"actor_id" INTEGER,'),
    ("consent_event",
     "CHECK (channel IN ('admin_sending', 'modal', 'altri_dati'))",
     "CHECK (channel IN ('admin_sending', 'modal', 'altri_dati', 'system'))"),
]

POSTGRESQL = [
    'ALTER TABLE "client" DROP CONSTRAINT IF EXISTS "client_consent_answer_check"',
    'ALTER TABLE "client" ADD CONSTRAINT "client_consent_answer_check" '
    "CHECK (consent_answer IN ('pending', 'granted', 'declined', 'expired'))",
    'ALTER TABLE "consent_event" DROP CONSTRAINT IF EXISTS "consent_event_kind_check"',
    'ALTER TABLE "consent_event" ADD CONSTRAINT "consent_event_kind_check" '
    "CHECK (kind IN ('sent', 'granted', 'declined', 'revoked', 'expired', 'scope'))",
    'ALTER TABLE "consent_event" DROP CONSTRAINT IF EXISTS "consent_event_channel_check"',
    'ALTER TABLE "consent_event" ADD CONSTRAINT "consent_event_channel_check" '
    "CHECK (channel IN ('admin_sending', 'modal', 'altri_dati', 'system'))",
    'ALTER TABLE "consent_event" ALTER COLUMN "actor_id" DROP NOT NULL',
]


def apply(db, dialect: str) -> None:
    for statement in ADD_COLUMNS[dialect]:
        db.execute_sql(statement)
    db.execute_sql(BACKFILL)
    if dialect == "postgresql":
        for statement in POSTGRESQL:
            db.execute_sql(statement)
        return
    _rewrite_sqlite_definitions(db)


def _rewrite_sqlite_definitions(db) -> None:
    definitions = {}
    for table, old, new in SQLITE_REWRITES:
        if table not in definitions:
            definitions[table] = db.execute_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()[0]
        if definitions[table].count(old) != 1:
            raise RuntimeError(f"0015: {table} does not read as expected ({old!r})")
        definitions[table] = definitions[table].replace(old, new)
    version = db.execute_sql("PRAGMA schema_version").fetchone()[0]
    db.execute_sql("PRAGMA writable_schema = ON")
    try:
        for table, sql in definitions.items():
            db.execute_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
            )
        db.execute_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        db.execute_sql("PRAGMA writable_schema = OFF")

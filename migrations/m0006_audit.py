"""The audit log (audit_event), append-only like the consent events."""

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "audit_event" ("id" INTEGER NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER, "actor_id" INTEGER, "username" VARCHAR(80), "kind" VARCHAR(40) NOT NULL, '
        '"details" TEXT NOT NULL, "ip" VARCHAR(64), "user_agent" VARCHAR(300), "created_at" '
        'DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE '
        'RESTRICT, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE RESTRICT)'
    ),
    'CREATE INDEX IF NOT EXISTS "audit_event_studio_id" ON "audit_event" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "audit_event_actor_id" ON "audit_event" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS "audit_event_studio_id_id" ON "audit_event" ("studio_id", "id")',
    (
        'CREATE INDEX IF NOT EXISTS "audit_event_studio_id_kind_id" ON "audit_event" ("studio_id", '
        '"kind", "id")'
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_replace BEFORE INSERT ON audit_event "
        "WHEN EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ),
]

POSTGRESQL = [
    (
        'CREATE TABLE IF NOT EXISTS "audit_event" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER, "actor_id" INTEGER, "username" VARCHAR(80), "kind" VARCHAR(40) NOT NULL, '
        '"details" TEXT NOT NULL, "ip" VARCHAR(64), "user_agent" VARCHAR(300), "created_at" '
        'TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE '
        'RESTRICT, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE RESTRICT)'
    ),
    'CREATE INDEX IF NOT EXISTS "audit_event_studio_id" ON "audit_event" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "audit_event_actor_id" ON "audit_event" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS "audit_event_studio_id_id" ON "audit_event" ("studio_id", "id")',
    (
        'CREATE INDEX IF NOT EXISTS "audit_event_studio_id_kind_id" ON "audit_event" ("studio_id", '
        '"kind", "id")'
    ),
    (
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$"
    ),
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    (
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    ),
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    (
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    ),
]

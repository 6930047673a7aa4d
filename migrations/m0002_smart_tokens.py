"""Hand-off tokens of the SMART services (smart_token); access events become append-only."""

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "smart_token" ("token_hash" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"studio_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "service_id" INTEGER NOT '
        'NULL, "user_id" INTEGER NOT NULL, "issued_at" DATETIME NOT NULL, "expires_at" DATETIME '
        'NOT NULL, "used_at" DATETIME, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON '
        'DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("service_id") REFERENCES "smart_service" ("id") ON DELETE CASCADE, FOREIGN '
        'KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "smart_token_studio_id" ON "smart_token" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_client_id" ON "smart_token" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_service_id" ON "smart_token" ("service_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_user_id" ON "smart_token" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_expires_at" ON "smart_token" ("expires_at")',
    (
        "CREATE TRIGGER IF NOT EXISTS access_event_no_update BEFORE UPDATE ON access_event "
        "BEGIN SELECT RAISE(ABORT, 'access_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS access_event_no_delete BEFORE DELETE ON access_event "
        "BEGIN SELECT RAISE(ABORT, 'access_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS access_event_no_replace BEFORE INSERT ON access_event "
        "WHEN EXISTS (SELECT 1 FROM access_event WHERE id = NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'access_event is append-only'); END"
    ),
]

POSTGRESQL = [
    (
        'CREATE TABLE IF NOT EXISTS "smart_token" ("token_hash" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"studio_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "service_id" INTEGER NOT '
        'NULL, "user_id" INTEGER NOT NULL, "issued_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP '
        'NOT NULL, "used_at" TIMESTAMP, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON '
        'DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("service_id") REFERENCES "smart_service" ("id") ON DELETE CASCADE, FOREIGN '
        'KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "smart_token_studio_id" ON "smart_token" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_client_id" ON "smart_token" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_service_id" ON "smart_token" ("service_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_user_id" ON "smart_token" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "smart_token_expires_at" ON "smart_token" ("expires_at")',
    (
        "CREATE OR REPLACE FUNCTION access_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'access_event is append-only'; END $$"
    ),
    "DROP TRIGGER IF EXISTS access_event_append_only ON access_event",
    (
        "CREATE TRIGGER access_event_append_only BEFORE UPDATE OR DELETE ON access_event "
        "FOR EACH ROW EXECUTE FUNCTION access_event_append_only()"
    ),
    "DROP TRIGGER IF EXISTS access_event_no_truncate ON access_event",
    (
        "CREATE TRIGGER access_event_no_truncate BEFORE TRUNCATE ON access_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION access_event_append_only()"
    ),
]

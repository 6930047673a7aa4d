"""The first schema: studios and their settings, clients, users and their sessions, the
SMART service catalogue and each client's active services, operators' clients, consent
texts, consent events and access events.

Consent events are append-only: the database itself refuses UPDATE and DELETE on them
(and TRUNCATE on PostgreSQL).
"""

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "studio" ("id" INTEGER NOT NULL PRIMARY KEY, "code" '
        'VARCHAR(20) NOT NULL, "name" VARCHAR(200) NOT NULL, "created_at" DATETIME NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "studio_code" ON "studio" ("code")',
    (
        'CREATE TABLE IF NOT EXISTS "client" ("id" INTEGER NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER NOT NULL, "code" VARCHAR(40) NOT NULL, "name" VARCHAR(200) NOT NULL, "tax_code" '
        'VARCHAR(16), "consent_requested_at" DATETIME, "consent_answer" VARCHAR(10) CHECK '
        '(consent_answer IN (\'pending\', \'granted\', \'declined\')), "consent_answered_at" '
        'DATETIME, "created_at" DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" '
        '("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "client_studio_id" ON "client" ("studio_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "client_studio_id_code" ON "client" ("studio_id", "code")',
    'CREATE INDEX IF NOT EXISTS "client_studio_id_name" ON "client" ("studio_id", "name")',
    (
        'CREATE INDEX IF NOT EXISTS "client_studio_id_consent_requested_at" ON "client" '
        '("studio_id", "consent_requested_at")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "client_studio_id_consent_answer_consent_answered_at" ON '
        '"client" ("studio_id", "consent_answer", "consent_answered_at")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "client_studio_id_consent_answered_at" ON "client" '
        '("studio_id", "consent_answered_at")'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "user" ("id" INTEGER NOT NULL PRIMARY KEY, "studio_id" INTEGER '
        'NOT NULL, "username" VARCHAR(80) NOT NULL, "display_name" VARCHAR(200) NOT NULL, '
        '"password_hash" VARCHAR(255) NOT NULL, "role" VARCHAR(10) NOT NULL CHECK (role IN '
        '(\'admin\', \'operator\', \'client\')), "active" INTEGER NOT NULL, "client_id" INTEGER, '
        '"smart_access" INTEGER NOT NULL, "smart_banner_dismissed" INTEGER NOT NULL, "created_at" '
        'DATETIME NOT NULL, "last_login_at" DATETIME, FOREIGN KEY ("studio_id") REFERENCES '
        '"studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") '
        'ON DELETE CASCADE, CHECK ((role = \'client\') = (client_id IS NOT NULL)))'
    ),
    'CREATE INDEX IF NOT EXISTS "user_studio_id" ON "user" ("studio_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "user_username" ON "user" ("username")',
    'CREATE INDEX IF NOT EXISTS "user_client_id" ON "user" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "user_studio_id_role" ON "user" ("studio_id", "role")',
    (
        'CREATE TABLE IF NOT EXISTS "smart_service" ("id" INTEGER NOT NULL PRIMARY KEY, "code" '
        'VARCHAR(40) NOT NULL, "name" VARCHAR(100) NOT NULL, "position" INTEGER NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "smart_service_code" ON "smart_service" ("code")',
    (
        'CREATE TABLE IF NOT EXISTS "access_event" ("id" INTEGER NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER NOT NULL, "user_id" INTEGER NOT NULL, "client_id" INTEGER, "service_id" INTEGER, '
        '"granted" INTEGER NOT NULL, "reason" VARCHAR(40), "ip" VARCHAR(64), "created_at" DATETIME '
        'NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE RESTRICT, '
        'FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE RESTRICT, FOREIGN KEY '
        '("client_id") REFERENCES "client" ("id") ON DELETE RESTRICT, FOREIGN KEY ("service_id") '
        'REFERENCES "smart_service" ("id") ON DELETE RESTRICT)'
    ),
    'CREATE INDEX IF NOT EXISTS "access_event_studio_id" ON "access_event" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_user_id" ON "access_event" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_client_id" ON "access_event" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_service_id" ON "access_event" ("service_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_studio_id_id" ON "access_event" ("studio_id", "id")',
    'CREATE INDEX IF NOT EXISTS "access_event_client_id_id" ON "access_event" ("client_id", "id")',
    (
        'CREATE TABLE IF NOT EXISTS "client_service" ("client_id" INTEGER NOT NULL, "service_id" '
        'INTEGER NOT NULL, "activated_at" DATETIME NOT NULL, PRIMARY KEY ("client_id", '
        '"service_id"), FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("service_id") REFERENCES "smart_service" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "client_service_client_id" ON "client_service" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "client_service_service_id" ON "client_service" ("service_id")',
    (
        'CREATE TABLE IF NOT EXISTS "consent_text" ("id" INTEGER NOT NULL PRIMARY KEY, "version" '
        'INTEGER NOT NULL, "title" TEXT NOT NULL, "body" TEXT NOT NULL, "sha256" VARCHAR(64) NOT '
        'NULL, "created_at" DATETIME NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "consent_text_version" ON "consent_text" ("version")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "consent_text_sha256" ON "consent_text" ("sha256")',
    (
        'CREATE TABLE IF NOT EXISTS "consent_event" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"studio_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "kind" VARCHAR(10) NOT NULL '
        'CHECK (kind IN (\'sent\', \'granted\', \'declined\', \'revoked\')), "actor_id" INTEGER '
        'NOT NULL, "channel" VARCHAR(20) NOT NULL CHECK (channel IN (\'admin_sending\', \'modal\', '
        '\'altri_dati\')), "consent_text_id" INTEGER, "ip" VARCHAR(64), "user_agent" VARCHAR(300), '
        '"created_at" DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON '
        'DELETE RESTRICT, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE RESTRICT, '
        'FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE RESTRICT, FOREIGN KEY '
        '("consent_text_id") REFERENCES "consent_text" ("id") ON DELETE RESTRICT)'
    ),
    'CREATE INDEX IF NOT EXISTS "consent_event_studio_id" ON "consent_event" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "consent_event_client_id" ON "consent_event" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "consent_event_actor_id" ON "consent_event" ("actor_id")',
    (
        'CREATE INDEX IF NOT EXISTS "consent_event_consent_text_id" ON "consent_event" '
        '("consent_text_id")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "consent_event_client_id_id" ON "consent_event" ("client_id", '
        '"id")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "consent_event_studio_id_id" ON "consent_event" ("studio_id", '
        '"id")'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "operator_client" ("operator_id" INTEGER NOT NULL, "client_id" '
        'INTEGER NOT NULL, PRIMARY KEY ("operator_id", "client_id"), FOREIGN KEY ("operator_id") '
        'REFERENCES "user" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" '
        '("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "operator_client_operator_id" ON "operator_client" ("operator_id")',
    'CREATE INDEX IF NOT EXISTS "operator_client_client_id" ON "operator_client" ("client_id")',
    (
        'CREATE TABLE IF NOT EXISTS "studio_settings" ("studio_id" INTEGER NOT NULL PRIMARY KEY, '
        '"read_receipts" INTEGER NOT NULL, "templates_enabled" INTEGER NOT NULL, '
        '"payroll_following_months_check" INTEGER NOT NULL, "notify_admin_operators" INTEGER NOT '
        'NULL, "notify_invoice_delivery" INTEGER NOT NULL, "custom_publication_link" INTEGER NOT '
        'NULL, "publication_link_url" VARCHAR(2000), "smart_access" INTEGER NOT NULL, "updated_at" '
        'DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE)'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "user_session" ("token_hash" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"user_id" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "last_seen_at" DATETIME NOT '
        'NULL, "ip" VARCHAR(64), "user_agent" VARCHAR(300), FOREIGN KEY ("user_id") REFERENCES '
        '"user" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "user_session_user_id" ON "user_session" ("user_id")',
    (
        "CREATE TRIGGER IF NOT EXISTS consent_event_no_update BEFORE UPDATE ON consent_event "
        "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS consent_event_no_delete BEFORE DELETE ON consent_event "
        "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END"
    ),
]

POSTGRESQL = [
    (
        'CREATE TABLE IF NOT EXISTS "studio" ("id" SERIAL NOT NULL PRIMARY KEY, "code" VARCHAR(20) '
        'NOT NULL, "name" VARCHAR(200) NOT NULL, "created_at" TIMESTAMP NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "studio_code" ON "studio" ("code")',
    (
        'CREATE TABLE IF NOT EXISTS "client" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER NOT NULL, "code" VARCHAR(40) NOT NULL, "name" VARCHAR(200) NOT NULL, "tax_code" '
        'VARCHAR(16), "consent_requested_at" TIMESTAMP, "consent_answer" VARCHAR(10) CHECK '
        '(consent_answer IN (\'pending\', \'granted\', \'declined\')), "consent_answered_at" '
        'TIMESTAMP, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" '
        '("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "client_studio_id" ON "client" ("studio_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "client_studio_id_code" ON "client" ("studio_id", "code")',
    'CREATE INDEX IF NOT EXISTS "client_studio_id_name" ON "client" ("studio_id", "name")',
    (
        'CREATE INDEX IF NOT EXISTS "client_studio_id_consent_requested_at" ON "client" '
        '("studio_id", "consent_requested_at")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "client_studio_id_consent_answer_consent_answered_at" ON '
        '"client" ("studio_id", "consent_answer", "consent_answered_at")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "client_studio_id_consent_answered_at" ON "client" '
        '("studio_id", "consent_answered_at")'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "user" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" INTEGER '
        'NOT NULL, "username" VARCHAR(80) NOT NULL, "display_name" VARCHAR(200) NOT NULL, '
        '"password_hash" VARCHAR(255) NOT NULL, "role" VARCHAR(10) NOT NULL CHECK (role IN '
        '(\'admin\', \'operator\', \'client\')), "active" BOOLEAN NOT NULL, "client_id" INTEGER, '
        '"smart_access" BOOLEAN NOT NULL, "smart_banner_dismissed" BOOLEAN NOT NULL, "created_at" '
        'TIMESTAMP NOT NULL, "last_login_at" TIMESTAMP, FOREIGN KEY ("studio_id") REFERENCES '
        '"studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") '
        'ON DELETE CASCADE, CHECK ((role = \'client\') = (client_id IS NOT NULL)))'
    ),
    'CREATE INDEX IF NOT EXISTS "user_studio_id" ON "user" ("studio_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "user_username" ON "user" ("username")',
    'CREATE INDEX IF NOT EXISTS "user_client_id" ON "user" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "user_studio_id_role" ON "user" ("studio_id", "role")',
    (
        'CREATE TABLE IF NOT EXISTS "smart_service" ("id" SERIAL NOT NULL PRIMARY KEY, "code" '
        'VARCHAR(40) NOT NULL, "name" VARCHAR(100) NOT NULL, "position" INTEGER NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "smart_service_code" ON "smart_service" ("code")',
    (
        'CREATE TABLE IF NOT EXISTS "access_event" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER NOT NULL, "user_id" INTEGER NOT NULL, "client_id" INTEGER, "service_id" INTEGER, '
        '"granted" BOOLEAN NOT NULL, "reason" VARCHAR(40), "ip" VARCHAR(64), "created_at" '
        'TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE '
        'RESTRICT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE RESTRICT, FOREIGN '
        'KEY ("client_id") REFERENCES "client" ("id") ON DELETE RESTRICT, FOREIGN KEY '
        '("service_id") REFERENCES "smart_service" ("id") ON DELETE RESTRICT)'
    ),
    'CREATE INDEX IF NOT EXISTS "access_event_studio_id" ON "access_event" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_user_id" ON "access_event" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_client_id" ON "access_event" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_service_id" ON "access_event" ("service_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_studio_id_id" ON "access_event" ("studio_id", "id")',
    'CREATE INDEX IF NOT EXISTS "access_event_client_id_id" ON "access_event" ("client_id", "id")',
    (
        'CREATE TABLE IF NOT EXISTS "client_service" ("client_id" INTEGER NOT NULL, "service_id" '
        'INTEGER NOT NULL, "activated_at" TIMESTAMP NOT NULL, PRIMARY KEY ("client_id", '
        '"service_id"), FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, '
        'FOREIGN KEY ("service_id") REFERENCES "smart_service" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "client_service_client_id" ON "client_service" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "client_service_service_id" ON "client_service" ("service_id")',
    (
        'CREATE TABLE IF NOT EXISTS "consent_text" ("id" SERIAL NOT NULL PRIMARY KEY, "version" '
        'INTEGER NOT NULL, "title" TEXT NOT NULL, "body" TEXT NOT NULL, "sha256" VARCHAR(64) NOT '
        'NULL, "created_at" TIMESTAMP NOT NULL)'
    ),
    'CREATE UNIQUE INDEX IF NOT EXISTS "consent_text_version" ON "consent_text" ("version")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "consent_text_sha256" ON "consent_text" ("sha256")',
    (
        'CREATE TABLE IF NOT EXISTS "consent_event" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" '
        'INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "kind" VARCHAR(10) NOT NULL CHECK (kind '
        'IN (\'sent\', \'granted\', \'declined\', \'revoked\')), "actor_id" INTEGER NOT NULL, '
        '"channel" VARCHAR(20) NOT NULL CHECK (channel IN (\'admin_sending\', \'modal\', '
        '\'altri_dati\')), "consent_text_id" INTEGER, "ip" VARCHAR(64), "user_agent" VARCHAR(300), '
        '"created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON '
        'DELETE RESTRICT, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE RESTRICT, '
        'FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE RESTRICT, FOREIGN KEY '
        '("consent_text_id") REFERENCES "consent_text" ("id") ON DELETE RESTRICT)'
    ),
    'CREATE INDEX IF NOT EXISTS "consent_event_studio_id" ON "consent_event" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "consent_event_client_id" ON "consent_event" ("client_id")',
    'CREATE INDEX IF NOT EXISTS "consent_event_actor_id" ON "consent_event" ("actor_id")',
    (
        'CREATE INDEX IF NOT EXISTS "consent_event_consent_text_id" ON "consent_event" '
        '("consent_text_id")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "consent_event_client_id_id" ON "consent_event" ("client_id", '
        '"id")'
    ),
    (
        'CREATE INDEX IF NOT EXISTS "consent_event_studio_id_id" ON "consent_event" ("studio_id", '
        '"id")'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "operator_client" ("operator_id" INTEGER NOT NULL, "client_id" '
        'INTEGER NOT NULL, PRIMARY KEY ("operator_id", "client_id"), FOREIGN KEY ("operator_id") '
        'REFERENCES "user" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" '
        '("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "operator_client_operator_id" ON "operator_client" ("operator_id")',
    'CREATE INDEX IF NOT EXISTS "operator_client_client_id" ON "operator_client" ("client_id")',
    (
        'CREATE TABLE IF NOT EXISTS "studio_settings" ("studio_id" INTEGER NOT NULL PRIMARY KEY, '
        '"read_receipts" BOOLEAN NOT NULL, "templates_enabled" BOOLEAN NOT NULL, '
        '"payroll_following_months_check" BOOLEAN NOT NULL, "notify_admin_operators" BOOLEAN NOT '
        'NULL, "notify_invoice_delivery" BOOLEAN NOT NULL, "custom_publication_link" BOOLEAN NOT '
        'NULL, "publication_link_url" VARCHAR(2000), "smart_access" BOOLEAN NOT NULL, "updated_at" '
        'TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE '
        'CASCADE)'
    ),
    (
        'CREATE TABLE IF NOT EXISTS "user_session" ("token_hash" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"user_id" INTEGER NOT NULL, "created_at" TIMESTAMP NOT NULL, "last_seen_at" TIMESTAMP NOT '
        'NULL, "ip" VARCHAR(64), "user_agent" VARCHAR(300), FOREIGN KEY ("user_id") REFERENCES '
        '"user" ("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "user_session_user_id" ON "user_session" ("user_id")',
    (
        "CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'consent_event is append-only'; END $$"
    ),
    "DROP TRIGGER IF EXISTS consent_event_append_only ON consent_event",
    (
        "CREATE TRIGGER consent_event_append_only BEFORE UPDATE OR DELETE ON consent_event "
        "FOR EACH ROW EXECUTE FUNCTION consent_event_append_only()"
    ),
    "DROP TRIGGER IF EXISTS consent_event_no_truncate ON consent_event",
    (
        "CREATE TRIGGER consent_event_no_truncate BEFORE TRUNCATE ON consent_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION consent_event_append_only()"
    ),
]

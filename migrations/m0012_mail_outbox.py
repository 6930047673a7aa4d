"""E-mail (issue 14) and client records (issue 16): addresses, partita IVA, a client's active
flag, the studio's mail rules, and the outbox of messages to deliver."""

SQLITE = [
    'ALTER TABLE "client" ADD COLUMN "vat_number" VARCHAR(11)',
    'ALTER TABLE "client" ADD COLUMN "email" VARCHAR(254)',
    'ALTER TABLE "client" ADD COLUMN "active" INTEGER NOT NULL DEFAULT TRUE',
    'ALTER TABLE "user" ADD COLUMN "email" VARCHAR(254)',
    'ALTER TABLE "studio_settings" ADD COLUMN "reminder_enabled" INTEGER NOT NULL DEFAULT FALSE',
    'ALTER TABLE "studio_settings" ADD COLUMN "reminder_after_days" INTEGER NOT NULL DEFAULT 7',
    'ALTER TABLE "studio_settings" ADD COLUMN "reminder_max" INTEGER NOT NULL DEFAULT 2',
    'ALTER TABLE "studio_settings" ADD COLUMN "notify_revocation" INTEGER NOT NULL DEFAULT TRUE',
    'ALTER TABLE "studio_settings" ADD COLUMN "daily_summary" INTEGER NOT NULL DEFAULT FALSE',
    'CREATE TABLE IF NOT EXISTS "outbox_message" ("id" INTEGER NOT NULL PRIMARY KEY, "studio_id" INTEGER NOT NULL, "kind" VARCHAR(20) NOT NULL CHECK (kind IN (\'consent_request\', \'reminder\', \'revocation\', \'daily_summary\', \'invitation\', \'password_reset\')), "recipient" VARCHAR(254) NOT NULL, "client_id" INTEGER, "user_id" INTEGER, "batch" VARCHAR(64), "data" TEXT NOT NULL DEFAULT \'{}\', "status" VARCHAR(10) NOT NULL DEFAULT \'queued\' CHECK (status IN (\'queued\', \'sent\', \'failed\')), "attempts" INTEGER NOT NULL DEFAULT 0, "next_attempt_at" DATETIME NOT NULL, "claimed_until" DATETIME, "created_at" DATETIME NOT NULL, "sent_at" DATETIME, "reply" TEXT, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX IF NOT EXISTS "outbox_message_user_id" ON "outbox_message" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_status_next_attempt_at" ON "outbox_message" ("status", "next_attempt_at")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_client_id_id" ON "outbox_message" ("client_id", "id")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_batch_status" ON "outbox_message" ("batch", "status")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_studio_id_kind_created_at" ON "outbox_message" ("studio_id", "kind", "created_at")',
]

POSTGRESQL = [
    'ALTER TABLE "client" ADD COLUMN "vat_number" VARCHAR(11)',
    'ALTER TABLE "client" ADD COLUMN "email" VARCHAR(254)',
    'ALTER TABLE "client" ADD COLUMN "active" BOOLEAN NOT NULL DEFAULT TRUE',
    'ALTER TABLE "user" ADD COLUMN "email" VARCHAR(254)',
    'ALTER TABLE "studio_settings" ADD COLUMN "reminder_enabled" BOOLEAN NOT NULL DEFAULT FALSE',
    'ALTER TABLE "studio_settings" ADD COLUMN "reminder_after_days" INTEGER NOT NULL DEFAULT 7',
    'ALTER TABLE "studio_settings" ADD COLUMN "reminder_max" INTEGER NOT NULL DEFAULT 2',
    'ALTER TABLE "studio_settings" ADD COLUMN "notify_revocation" BOOLEAN NOT NULL DEFAULT TRUE',
    'ALTER TABLE "studio_settings" ADD COLUMN "daily_summary" BOOLEAN NOT NULL DEFAULT FALSE',
    'CREATE TABLE IF NOT EXISTS "outbox_message" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" INTEGER NOT NULL, "kind" VARCHAR(20) NOT NULL CHECK (kind IN (\'consent_request\', \'reminder\', \'revocation\', \'daily_summary\', \'invitation\', \'password_reset\')), "recipient" VARCHAR(254) NOT NULL, "client_id" INTEGER, "user_id" INTEGER, "batch" VARCHAR(64), "data" TEXT NOT NULL DEFAULT \'{}\', "status" VARCHAR(10) NOT NULL DEFAULT \'queued\' CHECK (status IN (\'queued\', \'sent\', \'failed\')), "attempts" INTEGER NOT NULL DEFAULT 0, "next_attempt_at" TIMESTAMP NOT NULL, "claimed_until" TIMESTAMP, "created_at" TIMESTAMP NOT NULL, "sent_at" TIMESTAMP, "reply" TEXT, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX IF NOT EXISTS "outbox_message_user_id" ON "outbox_message" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_status_next_attempt_at" ON "outbox_message" ("status", "next_attempt_at")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_client_id_id" ON "outbox_message" ("client_id", "id")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_batch_status" ON "outbox_message" ("batch", "status")',
    'CREATE INDEX IF NOT EXISTS "outbox_message_studio_id_kind_created_at" ON "outbox_message" ("studio_id", "kind", "created_at")',
]

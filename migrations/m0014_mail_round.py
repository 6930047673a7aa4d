"""Rounds of mail sent at once (a confirmed reminder, the daily automatic reminders, the
daily summary), each claimed by its key so it happens only once."""

SQLITE = [
    'CREATE TABLE IF NOT EXISTS "mail_round" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, "studio_id" INTEGER NOT NULL, "actor_id" INTEGER, "kind" VARCHAR(20) NOT NULL CHECK (kind IN (\'reminder_all\', \'reminder_selection\', \'reminder_auto\', \'daily_summary\')), "sent" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX IF NOT EXISTS "mail_round_actor_id" ON "mail_round" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS "mail_round_studio_id_created_at" ON "mail_round" ("studio_id", "created_at")',
]

POSTGRESQL = [
    'CREATE TABLE IF NOT EXISTS "mail_round" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, "studio_id" INTEGER NOT NULL, "actor_id" INTEGER, "kind" VARCHAR(20) NOT NULL CHECK (kind IN (\'reminder_all\', \'reminder_selection\', \'reminder_auto\', \'daily_summary\')), "sent" INTEGER NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX IF NOT EXISTS "mail_round_actor_id" ON "mail_round" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS "mail_round_studio_id_created_at" ON "mail_round" ("studio_id", "created_at")',
]

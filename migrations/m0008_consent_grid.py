"""The consent grid: server-side selections, one-time sendings, indexes for its filters and sorts.

"Uguale a" compares codes without regard to case; "Ragione sociale" sorts by name, then code.
"""

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "consent_selection" ("user_id" INTEGER NOT NULL, "client_id" '
        'INTEGER NOT NULL, PRIMARY KEY ("user_id", "client_id"), FOREIGN KEY ("user_id") '
        'REFERENCES "user" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" '
        '("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "consent_selection_user_id" ON "consent_selection" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "consent_selection_client_id" ON "consent_selection" ("client_id")',
    (
        'CREATE TABLE IF NOT EXISTS "consent_sending" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"studio_id" INTEGER NOT NULL, "actor_id" INTEGER NOT NULL, "mode" VARCHAR(10) NOT NULL '
        'CHECK (mode IN (\'all\', \'selection\')), "sent" INTEGER NOT NULL, "skipped" INTEGER NOT '
        'NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" '
        '("id") ON DELETE CASCADE, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE '
        'CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "consent_sending_studio_id" ON "consent_sending" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "consent_sending_actor_id" ON "consent_sending" ("actor_id")',
    (
        'CREATE INDEX IF NOT EXISTS "consent_sending_studio_id_created_at" ON "consent_sending" '
        '("studio_id", "created_at")'
    ),
    "CREATE INDEX IF NOT EXISTS client_studio_lower_code ON client (studio_id, lower(code))",
    "CREATE INDEX IF NOT EXISTS client_studio_name_code ON client (studio_id, name, code)",
]

POSTGRESQL = [
    (
        'CREATE TABLE IF NOT EXISTS "consent_selection" ("user_id" INTEGER NOT NULL, "client_id" '
        'INTEGER NOT NULL, PRIMARY KEY ("user_id", "client_id"), FOREIGN KEY ("user_id") '
        'REFERENCES "user" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" '
        '("id") ON DELETE CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "consent_selection_user_id" ON "consent_selection" ("user_id")',
    'CREATE INDEX IF NOT EXISTS "consent_selection_client_id" ON "consent_selection" ("client_id")',
    (
        'CREATE TABLE IF NOT EXISTS "consent_sending" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, '
        '"studio_id" INTEGER NOT NULL, "actor_id" INTEGER NOT NULL, "mode" VARCHAR(10) NOT NULL '
        'CHECK (mode IN (\'all\', \'selection\')), "sent" INTEGER NOT NULL, "skipped" INTEGER NOT '
        'NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" '
        '("id") ON DELETE CASCADE, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE '
        'CASCADE)'
    ),
    'CREATE INDEX IF NOT EXISTS "consent_sending_studio_id" ON "consent_sending" ("studio_id")',
    'CREATE INDEX IF NOT EXISTS "consent_sending_actor_id" ON "consent_sending" ("actor_id")',
    (
        'CREATE INDEX IF NOT EXISTS "consent_sending_studio_id_created_at" ON "consent_sending" '
        '("studio_id", "created_at")'
    ),
    "CREATE INDEX IF NOT EXISTS client_studio_lower_code ON client (studio_id, lower(code))",
    "CREATE INDEX IF NOT EXISTS client_studio_name_code ON client (studio_id, name, code)",
]

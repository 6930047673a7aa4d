"""The record of changes to a client (import and Anagrafica clienti), shown in its Storico."""

SQLITE = [
    'CREATE TABLE IF NOT EXISTS "client_change" ("id" INTEGER NOT NULL PRIMARY KEY, "studio_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "actor_id" INTEGER, "source" VARCHAR(12) NOT NULL CHECK (source IN (\'import\', \'anagrafica\')), "field" VARCHAR(40) NOT NULL, "old_value" TEXT, "new_value" TEXT, "created_at" DATETIME NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX IF NOT EXISTS "client_change_actor_id" ON "client_change" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS "client_change_client_id_id" ON "client_change" ("client_id", "id")',
    'CREATE INDEX IF NOT EXISTS "client_change_studio_id_id" ON "client_change" ("studio_id", "id")',
]

POSTGRESQL = [
    'CREATE TABLE IF NOT EXISTS "client_change" ("id" SERIAL NOT NULL PRIMARY KEY, "studio_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "actor_id" INTEGER, "source" VARCHAR(12) NOT NULL CHECK (source IN (\'import\', \'anagrafica\')), "field" VARCHAR(40) NOT NULL, "old_value" TEXT, "new_value" TEXT, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("studio_id") REFERENCES "studio" ("id") ON DELETE CASCADE, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY ("actor_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX IF NOT EXISTS "client_change_actor_id" ON "client_change" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS "client_change_client_id_id" ON "client_change" ("client_id", "id")',
    'CREATE INDEX IF NOT EXISTS "client_change_studio_id_id" ON "client_change" ("studio_id", "id")',
]

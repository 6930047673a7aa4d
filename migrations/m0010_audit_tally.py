"""Counts of repeated refusals (audit_tally): one audit event per window, and how many it stands for.

audit_event stays append-only; the count beside it is the one thing that changes.
"""

SQLITE = [
    (
        'CREATE TABLE IF NOT EXISTS "audit_tally" ("event_id" INTEGER NOT NULL PRIMARY KEY, '
        '"bucket" VARCHAR(200) NOT NULL, "window_start" DATETIME NOT NULL, "count" INTEGER NOT '
        'NULL, FOREIGN KEY ("event_id") REFERENCES "audit_event" ("id") ON DELETE RESTRICT)'
    ),
    (
        'CREATE UNIQUE INDEX IF NOT EXISTS "audit_tally_bucket_window_start" ON "audit_tally" '
        '("bucket", "window_start")'
    ),
]

POSTGRESQL = [
    (
        'CREATE TABLE IF NOT EXISTS "audit_tally" ("event_id" INTEGER NOT NULL PRIMARY KEY, '
        '"bucket" VARCHAR(200) NOT NULL, "window_start" TIMESTAMP NOT NULL, "count" INTEGER NOT '
        'NULL, FOREIGN KEY ("event_id") REFERENCES "audit_event" ("id") ON DELETE RESTRICT)'
    ),
    (
        'CREATE UNIQUE INDEX IF NOT EXISTS "audit_tally_bucket_window_start" ON "audit_tally" '
        '("bucket", "window_start")'
    ),
]

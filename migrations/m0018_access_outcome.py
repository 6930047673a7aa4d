"""What became of each SMART hand-off: the token a granted hand-off issued, and the
service's answer at the introspection, appended as an event of its own (stage 'service')
that names the same token (access_event stays append-only)."""

SQLITE = [
    'ALTER TABLE "access_event" ADD COLUMN "stage" VARCHAR(12) NOT NULL DEFAULT \'handoff\' CHECK (stage IN (\'handoff\', \'service\'))',
    'ALTER TABLE "access_event" ADD COLUMN "token_ref" VARCHAR(64)',
    'CREATE INDEX IF NOT EXISTS "access_event_token_ref" ON "access_event" ("token_ref")',
]

POSTGRESQL = [
    'ALTER TABLE "access_event" ADD COLUMN "stage" VARCHAR(12) NOT NULL DEFAULT \'handoff\' CHECK (stage IN (\'handoff\', \'service\'))',
    'ALTER TABLE "access_event" ADD COLUMN "token_ref" VARCHAR(64)',
    'CREATE INDEX IF NOT EXISTS "access_event_token_ref" ON "access_event" ("token_ref")',
]

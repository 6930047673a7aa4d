"""Answers per studio, week and kind (consent_week_tally), kept by triggers on consent_event.

The consent page draws the answers of the last twelve months week by week; counting them
from ``consent_event`` would read every event of a large studio at each page. So the
database keeps the counts: each insert of a 'granted', 'declined' or 'revoked' event adds
one to its studio's row for that week (the Monday it starts on, UTC) and kind. Requests
sent ('sent') are not counted, so a sending to 50,000 clients touches no row here.

The rows for the events already there are computed first. On PostgreSQL the trigger runs
once per statement over its transition table, touching the rows in key order.
"""

TABLE = (
    'CREATE TABLE IF NOT EXISTS "consent_week_tally" ("studio_id" INTEGER NOT NULL, "week" DATE '
    'NOT NULL, "kind" VARCHAR(10) NOT NULL, "n" INTEGER NOT NULL, PRIMARY KEY ("studio_id", '
    '"week", "kind"))'
)
ANSWERS = "('granted', 'declined', 'revoked')"

SQLITE = [
    TABLE,
    "DELETE FROM consent_week_tally",
    (
        "INSERT INTO consent_week_tally (studio_id, week, kind, n) SELECT studio_id, "
        "date(created_at, 'weekday 0', '-6 days'), kind, COUNT(*) FROM consent_event "
        f"WHERE kind IN {ANSWERS} GROUP BY 1, 2, 3"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS consent_week_tally_insert AFTER INSERT ON consent_event "
        f"WHEN NEW.kind IN {ANSWERS} BEGIN INSERT INTO consent_week_tally (studio_id, week, "
        "kind, n) VALUES (NEW.studio_id, date(NEW.created_at, 'weekday 0', '-6 days'), NEW.kind, "
        "1) ON CONFLICT (studio_id, week, kind) DO UPDATE SET n = n + excluded.n; END"
    ),
]

POSTGRESQL = [
    TABLE,
    "DELETE FROM consent_week_tally",
    (
        "INSERT INTO consent_week_tally (studio_id, week, kind, n) SELECT studio_id, "
        "date_trunc('week', created_at)::date, kind, COUNT(*) FROM consent_event "
        f"WHERE kind IN {ANSWERS} GROUP BY 1, 2, 3"
    ),
    (
        "CREATE OR REPLACE FUNCTION consent_week_tally_add() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN INSERT INTO consent_week_tally (studio_id, week, kind, n) SELECT studio_id, "
        "date_trunc('week', created_at)::date, kind, COUNT(*) FROM new_rows "
        f"WHERE kind IN {ANSWERS} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
        "ON CONFLICT (studio_id, week, kind) DO UPDATE SET n = consent_week_tally.n + EXCLUDED.n; "
        "RETURN NULL; END $$"
    ),
    "DROP TRIGGER IF EXISTS consent_event_consent_week_tally_insert ON consent_event",
    (
        "CREATE TRIGGER consent_event_consent_week_tally_insert AFTER INSERT ON consent_event "
        "REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION consent_week_tally_add()"
    ),
]

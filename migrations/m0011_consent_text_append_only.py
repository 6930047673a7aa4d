"""The stored consent wordings (consent_text) become append-only, like the events.

Every consent event points to the wording that was on screen (SPEC 3.8): rewriting or
deleting a wording would change what an event proves the client read. As for the events,
the database refuses UPDATE and DELETE (and SQLite's INSERT OR REPLACE onto an existing
id; TRUNCATE on PostgreSQL). A new wording is a new row with the next version.
"""

SQLITE = [
    (
        "CREATE TRIGGER IF NOT EXISTS consent_text_no_update BEFORE UPDATE ON consent_text "
        "BEGIN SELECT RAISE(ABORT, 'consent_text is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS consent_text_no_delete BEFORE DELETE ON consent_text "
        "BEGIN SELECT RAISE(ABORT, 'consent_text is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS consent_text_no_replace BEFORE INSERT ON consent_text "
        "WHEN EXISTS (SELECT 1 FROM consent_text WHERE id = NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'consent_text is append-only'); END"
    ),
]

POSTGRESQL = [
    (
        "CREATE OR REPLACE FUNCTION consent_text_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'consent_text is append-only'; END $$"
    ),
    "DROP TRIGGER IF EXISTS consent_text_append_only ON consent_text",
    (
        "CREATE TRIGGER consent_text_append_only BEFORE UPDATE OR DELETE ON consent_text "
        "FOR EACH ROW EXECUTE FUNCTION consent_text_append_only()"
    ),
    "DROP TRIGGER IF EXISTS consent_text_no_truncate ON consent_text",
    (
        "CREATE TRIGGER consent_text_no_truncate BEFORE TRUNCATE ON consent_text "
        "FOR EACH STATEMENT EXECUTE FUNCTION consent_text_append_only()"
    ),
]

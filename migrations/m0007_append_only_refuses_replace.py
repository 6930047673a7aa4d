"""Append-only tables also refuse SQLite's INSERT OR REPLACE.

INSERT OR REPLACE deletes the row it collides with without firing DELETE triggers
(unless recursive_triggers is on): a new trigger refuses any insert onto an existing id.
The UPDATE and DELETE triggers are left as they were. PostgreSQL has no such statement:
its functions and triggers are created again, unchanged.
"""

SQLITE = [
    (
        "CREATE TRIGGER IF NOT EXISTS consent_event_no_update BEFORE UPDATE ON consent_event "
        "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS consent_event_no_delete BEFORE DELETE ON consent_event "
        "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS consent_event_no_replace BEFORE INSERT ON consent_event "
        "WHEN EXISTS (SELECT 1 FROM consent_event WHERE id = NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END"
    ),
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
    (
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_replace BEFORE INSERT ON audit_event "
        "WHEN EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ),
]

POSTGRESQL = [
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
    (
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$"
    ),
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    (
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    ),
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    (
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    ),
]

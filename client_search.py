"""Finding a studio's clients by a fragment of their code ("Contiene"), through a trigram index.

A substring search ``LIKE '%0042%'`` cannot use an ordinary index: at 100,000
clients it reads them all. A trigram index finds the candidates directly:

- SQLite: ``client_code_fts``, an FTS5 table with the trigram tokenizer over
  ``client.code`` (external content, kept by triggers);
- PostgreSQL: a pg_trgm GIN index on ``client.code``, which ``ILIKE '%…%'`` uses
  by itself (when the extension cannot be installed, the search still works,
  by scanning).

Fragments shorter than three characters have no trigram and fall back to LIKE.
"""

from __future__ import annotations

import logging
import sqlite3

from peewee import SQL, DatabaseError

from models import Client, db, is_sqlite

log = logging.getLogger(__name__)

TRIGRAM = 3
SQLITE_HAS_TRIGRAM = sqlite3.sqlite_version_info >= (3, 34, 0)


def code_contains(fragment: str):
    """Condition: the client's code contains ``fragment``, whatever the case (wildcards literal)."""
    fragment = fragment or ""
    if is_sqlite() and SQLITE_HAS_TRIGRAM and len(fragment) >= TRIGRAM:
        phrase = '"' + fragment.replace('"', '""') + '"'
        return Client.id.in_(
            SQL("(SELECT rowid FROM client_code_fts WHERE client_code_fts MATCH ?)", [phrase])
        )
    return Client.code.contains(fragment)


SQLITE_STATEMENTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS client_code_fts USING fts5("
    "code, content='client', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS client_code_fts_insert AFTER INSERT ON client BEGIN "
    "INSERT INTO client_code_fts (rowid, code) VALUES (NEW.id, NEW.code); END",
    "CREATE TRIGGER IF NOT EXISTS client_code_fts_delete AFTER DELETE ON client BEGIN "
    "INSERT INTO client_code_fts (client_code_fts, rowid, code) VALUES ('delete', OLD.id, OLD.code); "
    "END",
    "CREATE TRIGGER IF NOT EXISTS client_code_fts_update AFTER UPDATE OF code ON client BEGIN "
    "INSERT INTO client_code_fts (client_code_fts, rowid, code) VALUES ('delete', OLD.id, OLD.code); "
    "INSERT INTO client_code_fts (rowid, code) VALUES (NEW.id, NEW.code); END",
    "INSERT INTO client_code_fts (client_code_fts) VALUES ('rebuild')",
]


def _pg_trgm_schema() -> str | None:
    """The schema holding pg_trgm, installing it in ``public`` if it is missing and allowed."""
    query = ("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
             "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")
    row = db.execute_sql(query).fetchone()
    if row:
        return row[0]
    try:
        with db.atomic():  # a savepoint: a refusal must not abort the migration
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except DatabaseError as error:
        log.warning("pg_trgm non disponibile, la ricerca 'Contiene' scorrerà i clienti: %s", error)
        return None
    row = db.execute_sql(query).fetchone()
    return row[0] if row else None


def install() -> None:
    """Create the trigram index over client codes (idempotent)."""
    if is_sqlite():
        if not SQLITE_HAS_TRIGRAM:
            log.warning("SQLite < 3.34: niente indice trigram, 'Contiene' scorrerà i clienti")
            return
        for statement in SQLITE_STATEMENTS:
            db.execute_sql(statement)
        return
    schema = _pg_trgm_schema()
    if schema:
        db.execute_sql(
            f'CREATE INDEX IF NOT EXISTS client_code_trgm ON client USING gin (code "{schema}".gin_trgm_ops)'
        )

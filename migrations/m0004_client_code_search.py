"""'Contiene' on client codes through a trigram index (see client_search.py).

- SQLite (3.34 or later): ``client_code_fts``, an FTS5 table with the trigram tokenizer
  over ``client.code`` (external content, kept by triggers), filled with the clients
  already there. An older SQLite gets nothing: the search scans.
- PostgreSQL: a pg_trgm GIN index on ``client.code``. pg_trgm is installed in ``public``
  if it is missing and the database allows it; if it cannot be, no index is made and the
  search scans.
"""

import logging
import sqlite3

from peewee import DatabaseError

log = logging.getLogger(__name__)

SQLITE = [
    (
        "CREATE VIRTUAL TABLE IF NOT EXISTS client_code_fts USING fts5(code, content='client', "
        "content_rowid='id', tokenize='trigram')"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_code_fts_insert AFTER INSERT ON client "
        "BEGIN INSERT INTO client_code_fts (rowid, code) VALUES (NEW.id, NEW.code); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_code_fts_delete AFTER DELETE ON client BEGIN INSERT "
        "INTO client_code_fts (client_code_fts, rowid, code) VALUES ('delete', OLD.id, OLD.code); "
        "END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_code_fts_update AFTER UPDATE OF code ON client BEGIN "
        "INSERT INTO client_code_fts (client_code_fts, rowid, code) VALUES ('delete', OLD.id, "
        "OLD.code); INSERT INTO client_code_fts (rowid, code) VALUES (NEW.id, NEW.code); END"
    ),
    "INSERT INTO client_code_fts (client_code_fts) VALUES ('rebuild')",
]

FIND_PG_TRGM = (
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
    "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
)
INSTALL_PG_TRGM = "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"
# The operator class is named with the schema pg_trgm lives in, found at run time.
CREATE_PG_INDEX = (
    'CREATE INDEX IF NOT EXISTS client_code_trgm ON client USING gin (code "{schema}".gin_trgm_ops)'
)


def apply(db, dialect: str) -> None:
    """Create the trigram index over client codes, where the database can have one."""
    if dialect == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34, 0):
            log.warning("SQLite < 3.34: niente indice trigram, 'Contiene' scorrerà i clienti")
            return
        for statement in SQLITE:
            db.execute_sql(statement)
        return
    schema = _pg_trgm_schema(db)
    if schema:
        db.execute_sql(CREATE_PG_INDEX.format(schema=schema))


def _pg_trgm_schema(db) -> str | None:
    """The schema holding pg_trgm, installing it in ``public`` if it is missing and allowed."""
    row = db.execute_sql(FIND_PG_TRGM).fetchone()
    if row:
        return row[0]
    try:
        with db.atomic():  # a savepoint: a refusal must not abort the migration
            db.execute_sql(INSTALL_PG_TRGM)
    except DatabaseError as error:
        log.warning("pg_trgm non disponibile, la ricerca 'Contiene' scorrerà i clienti: %s", error)
        return None
    row = db.execute_sql(FIND_PG_TRGM).fetchone()
    return row[0] if row else None

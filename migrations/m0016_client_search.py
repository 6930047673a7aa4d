"""'Cerca cliente': ragione sociale (without accents), codice fiscale and partita IVA
through trigram indexes (see client_search.py; the fold is its FOLD_FROM/FOLD_TO).

- SQLite (3.34 or later): ``client_search_fts``, an FTS5 table with the trigram tokenizer
  holding, for each client (rowid = client id), its ragione sociale folded, its codice
  fiscale and its partita IVA; the view ``client_search_source`` says how a client's row
  is folded (the triggers and the first filling read it; the replace() calls are nested
  in three steps, as SQLite's parser takes about thirty at most). An older SQLite gets nothing:
  the search scans.
- PostgreSQL: ``client_fold(text)``, an immutable function (``lower(translate(…))``), and
  pg_trgm GIN indexes on ``client_fold(name)``, ``tax_code`` and ``vat_number``. pg_trgm
  is installed in ``public`` if it is missing and the database allows it; if it cannot
  be, no index is made and the search scans.
"""

import logging
import sqlite3

from peewee import DatabaseError

log = logging.getLogger(__name__)

SQLITE = [
    "CREATE VIEW IF NOT EXISTS client_search_source AS SELECT id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(name, 'Ù', 'U'), 'Ú', 'U'), 'Û', 'U'), 'Ü', 'U'), 'ù', 'u'), 'ú', 'u'), 'û', 'u'), 'ü', 'u'), 'Ç', 'C'), 'ç', 'c'), 'Ñ', 'N'), 'ñ', 'n'), 'Ý', 'Y'), 'ý', 'y'), 'ÿ', 'y'), '’', ''''), '‘', '''') AS name, tax_code, vat_number FROM (SELECT id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(name, 'ë', 'e'), 'Ì', 'I'), 'Í', 'I'), 'Î', 'I'), 'Ï', 'I'), 'ì', 'i'), 'í', 'i'), 'î', 'i'), 'ï', 'i'), 'Ò', 'O'), 'Ó', 'O'), 'Ô', 'O'), 'Õ', 'O'), 'Ö', 'O'), 'ò', 'o'), 'ó', 'o'), 'ô', 'o'), 'õ', 'o'), 'ö', 'o') AS name, tax_code, vat_number FROM (SELECT id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(name, 'À', 'A'), 'Á', 'A'), 'Â', 'A'), 'Ã', 'A'), 'Ä', 'A'), 'Å', 'A'), 'à', 'a'), 'á', 'a'), 'â', 'a'), 'ã', 'a'), 'ä', 'a'), 'å', 'a'), 'È', 'E'), 'É', 'E'), 'Ê', 'E'), 'Ë', 'E'), 'è', 'e'), 'é', 'e'), 'ê', 'e') AS name, coalesce(tax_code, '') AS tax_code, coalesce(vat_number, '') AS vat_number FROM client))",
    (
        "CREATE VIRTUAL TABLE IF NOT EXISTS client_search_fts USING fts5(name, tax_code, "
        "vat_number, tokenize='trigram')"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_search_fts_insert AFTER INSERT ON client BEGIN "
        "INSERT INTO client_search_fts (rowid, name, tax_code, vat_number) "
        "SELECT id, name, tax_code, vat_number FROM client_search_source WHERE id = NEW.id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_search_fts_delete AFTER DELETE ON client BEGIN "
        "DELETE FROM client_search_fts WHERE rowid = OLD.id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_search_fts_update AFTER UPDATE OF name, tax_code, "
        "vat_number ON client BEGIN DELETE FROM client_search_fts WHERE rowid = OLD.id; "
        "INSERT INTO client_search_fts (rowid, name, tax_code, vat_number) "
        "SELECT id, name, tax_code, vat_number FROM client_search_source WHERE id = NEW.id; END"
    ),
    (
        "INSERT INTO client_search_fts (rowid, name, tax_code, vat_number) "
        "SELECT id, name, tax_code, vat_number FROM client_search_source"
    ),
]

CREATE_PG_FUNCTION = "CREATE OR REPLACE FUNCTION client_fold(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$SELECT lower(translate(value, 'ÀÁÂÃÄÅàáâãäåÈÉÊËèéêëÌÍÎÏìíîïÒÓÔÕÖòóôõöÙÚÛÜùúûüÇçÑñÝýÿ’‘', 'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuCcNnYyy'''''))$$"
FIND_PG_TRGM = (
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
    "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
)
INSTALL_PG_TRGM = "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"
# The operator class is named with the schema pg_trgm lives in, found at run time.
CREATE_PG_INDEXES = [
    'CREATE INDEX IF NOT EXISTS client_name_fold_trgm ON client USING gin '
    '(client_fold(name) "{schema}".gin_trgm_ops)',
    'CREATE INDEX IF NOT EXISTS client_tax_code_trgm ON client USING gin '
    '(tax_code "{schema}".gin_trgm_ops)',
    'CREATE INDEX IF NOT EXISTS client_vat_number_trgm ON client USING gin '
    '(vat_number "{schema}".gin_trgm_ops)',
]


def apply(db, dialect: str) -> None:
    """Create the search's fold and its trigram indexes, where the database can have them."""
    if dialect == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34, 0):
            log.warning("SQLite < 3.34: niente indice trigram, 'Cerca cliente' scorrerà i clienti")
            return
        for statement in SQLITE:
            db.execute_sql(statement)
        return
    db.execute_sql(CREATE_PG_FUNCTION)
    schema = _pg_trgm_schema(db)
    if schema:
        for statement in CREATE_PG_INDEXES:
            db.execute_sql(statement.format(schema=schema))


def _pg_trgm_schema(db) -> str | None:
    """The schema holding pg_trgm, installing it in ``public`` if it is missing and allowed."""
    row = db.execute_sql(FIND_PG_TRGM).fetchone()
    if row:
        return row[0]
    try:
        with db.atomic():  # a savepoint: a refusal must not abort the migration
            db.execute_sql(INSTALL_PG_TRGM)
    except DatabaseError as error:
        log.warning("pg_trgm non disponibile, 'Cerca cliente' scorrerà i clienti: %s", error)
        return None
    row = db.execute_sql(FIND_PG_TRGM).fetchone()
    return row[0] if row else None

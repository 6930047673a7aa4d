"""Finding a studio's clients by a fragment, through trigram indexes.

Two searches:

- ``code_contains``: the code's "Contiene" of the consent grid;
- ``client_contains``: "Cerca cliente", a fragment of the ragione sociale, the codice
  fiscale or the partita IVA, whatever the case and the accents ("caffe" finds
  "Caffè Centrale", "CAFFÈ" too).

A substring search ``LIKE '%0042%'`` cannot use an ordinary index: at 100,000
clients it reads them all. A trigram index finds the candidates directly:

- SQLite: FTS5 tables with the trigram tokenizer (case-insensitive by itself),
  kept by triggers: ``client_code_fts`` over ``client.code`` (migration 0004) and
  ``client_search_fts`` over the folded ragione sociale, the codice fiscale and the
  partita IVA (migration 0016). The trigram tokenizer of this SQLite (3.40) has no
  ``remove_diacritics`` (3.45 and later), so the ragione sociale is indexed folded:
  the triggers write it through ``replace()`` with the table below;
- PostgreSQL: pg_trgm GIN indexes on ``client.code``, ``client_fold(client.name)``
  (an immutable SQL function: ``lower(translate(name, …))`` with the table below),
  ``client.tax_code`` and ``client.vat_number``, which ``ILIKE '%…%'`` uses by
  itself (when the extension cannot be installed, the search still works, by
  scanning).

The fragment searched is folded here with the same table (``fold``), so both sides
agree. Fragments shorter than three characters have no trigram and are compared
with LIKE (a scan: a one- or two-letter search finds too much to be worth an index).
"""

from __future__ import annotations

import sqlite3

from peewee import SQL, fn

from models import Client, is_sqlite

TRIGRAM = 3
SQLITE_HAS_TRIGRAM = sqlite3.sqlite_version_info >= (3, 34, 0)

# The accent folding, character by character (the migration 0016's triggers and
# PostgreSQL function hold the same two strings: tests/test_client_search.py checks it).
FOLD_FROM = "ÀÁÂÃÄÅàáâãäåÈÉÊËèéêëÌÍÎÏìíîïÒÓÔÕÖòóôõöÙÚÛÜùúûüÇçÑñÝýÿ’‘"
FOLD_TO = "AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuCcNnYyy''"
_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    """The text without its accents, as the index holds the ragione sociale ("Caffè" -> "Caffe")."""
    return (text or "").translate(_FOLD_TABLE)


def _phrase(fragment: str) -> str:
    """An FTS5 phrase matching the fragment literally."""
    return '"' + fragment.replace('"', '""') + '"'


def _like_pattern(fragment: str) -> str:
    """A LIKE pattern (ESCAPE '\\') for "contains", its wildcards literal."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


CODE_MATCH = "SELECT rowid FROM client_code_fts WHERE client_code_fts MATCH ?"
CLIENT_MATCH = "SELECT rowid FROM client_search_fts WHERE client_search_fts MATCH ?"


def _sqlite_index_serves(fragment: str) -> bool:
    return is_sqlite() and SQLITE_HAS_TRIGRAM and len(fragment) >= TRIGRAM


def code_contains(fragment: str):
    """Condition: the client's code contains ``fragment``, whatever the case (wildcards literal)."""
    fragment = fragment or ""
    if _sqlite_index_serves(fragment):
        return Client.id.in_(SQL(f"({CODE_MATCH})", [_phrase(fragment)]))
    return Client.code.contains(fragment)


def client_contains(fragment: str):
    """Condition: the client's ragione sociale, codice fiscale or partita IVA contains
    ``fragment``, whatever the case and the accents (wildcards literal)."""
    folded = fold((fragment or "").strip())
    if is_sqlite():
        if not SQLITE_HAS_TRIGRAM:  # no index table at all (migration 0016 made none)
            return (Client.name.contains(folded) | Client.tax_code.contains(folded)
                    | Client.vat_number.contains(folded))
        if len(folded) >= TRIGRAM:
            found = SQL(f"({CLIENT_MATCH})", [_phrase(folded)])
        else:
            pattern = _like_pattern(folded)
            found = SQL(
                "(SELECT rowid FROM client_search_fts WHERE name LIKE ? ESCAPE '\\' "
                "OR tax_code LIKE ? ESCAPE '\\' OR vat_number LIKE ? ESCAPE '\\')",
                [pattern, pattern, pattern])
        return Client.id.in_(found)
    return (fn.client_fold(Client.name).contains(folded) | Client.tax_code.contains(folded)
            | Client.vat_number.contains(folded))


def code_or_client_contains(fragment: str):
    """Condition: ``code_contains`` or ``client_contains`` (the lists whose one box finds codes too)."""
    fragment = (fragment or "").strip()
    if _sqlite_index_serves(fragment):
        # One list of ids from both indexes: SQLite reads the clients from it, where an
        # OR of two IN lists would make it read every client of the studio.
        return Client.id.in_(SQL(f"({CODE_MATCH} UNION {CLIENT_MATCH})",
                                 [_phrase(fragment), _phrase(fold(fragment))]))
    return code_contains(fragment) | client_contains(fragment)

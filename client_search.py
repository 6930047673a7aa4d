"""Finding a studio's clients by a fragment of their code ("Contiene"), through a trigram index.

A substring search ``LIKE '%0042%'`` cannot use an ordinary index: at 100,000
clients it reads them all. A trigram index finds the candidates directly:

- SQLite: ``client_code_fts``, an FTS5 table with the trigram tokenizer over
  ``client.code`` (external content, kept by triggers);
- PostgreSQL: a pg_trgm GIN index on ``client.code``, which ``ILIKE '%…%'`` uses
  by itself (when the extension cannot be installed, the search still works,
  by scanning).

Fragments shorter than three characters have no trigram and fall back to LIKE.
The index and its triggers are created by migration 0004
(migrations/m0004_client_code_search.py).
"""

from __future__ import annotations

import sqlite3

from peewee import SQL

from models import Client, is_sqlite

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

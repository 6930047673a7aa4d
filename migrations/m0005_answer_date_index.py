"""The grid's default reading of answers: newest first, unanswered last, then by code.

SQLite puts NULLs last in a DESC order by itself; PostgreSQL is told to.
"""

SQLITE = [
    (
        "CREATE INDEX IF NOT EXISTS client_studio_answered_desc_code ON client (studio_id, "
        "consent_answered_at DESC, code)"
    ),
]

POSTGRESQL = [
    (
        "CREATE INDEX IF NOT EXISTS client_studio_answered_desc_code ON client (studio_id, "
        "consent_answered_at DESC NULLS LAST, code)"
    ),
]

"""The consent counts also tell a partial consent apart (issue 17: the page's cost stays flat).

The consent page counts the clients whose consent is "parziale" (some active service is
not covered by it, issue 15). Counting them among the consents given read every consenting
client of the studio at each page. So the database keeps one more count:

- ``client.uncovered_services``: how many of the client's active services its consent does
  not cover (``client_service.consented_at`` is null), kept, like ``smart_services``, by
  the triggers on ``client_service``, which now also follow a change of ``consented_at``;
- ``client_tally`` gets ``partial`` in its key: 1 when ``uncovered_services > 0``. A granted
  consent in a group with ``partial = 1`` is "parziale", with ``partial = 0`` "aderito".

``client_tally`` is counted again from the clients (its key changed), and the triggers of
migration 0003 are replaced by ones that keep the new column. On PostgreSQL they still run
once per statement over the transition tables.

A grant now moves its client's count in two statements (the answer, then the services it
covers: granted and partial, then granted and whole), while unticking a service moves
another client's count the other way in one. Touching the groups in key order within each
statement no longer keeps two writers from each holding a group the other needs. So on
PostgreSQL the first change to a studio's counts in a transaction takes the studio's
counts whole (an advisory lock, TALLY_LOCK_SPACE and the studio's id, held to the end of the
transaction): writers of one studio's counts queue instead of deadlocking. They queued
already on the few rows they share; SQLite has one writer at a time.
"""

# PostgreSQL advisory locks on a studio's counts are (TALLY_LOCK_SPACE, studio id); the
# client import's are (16, studio id), client_import.IMPORT_LOCK_SPACE.
TALLY_LOCK_SPACE = 20

TALLY = (
    'CREATE TABLE IF NOT EXISTS "client_tally" ("studio_id" INTEGER NOT NULL, "smart" INTEGER '
    'NOT NULL, "requested" INTEGER NOT NULL, "answer" VARCHAR(10) NOT NULL, "partial" INTEGER '
    'NOT NULL, "n" INTEGER NOT NULL, PRIMARY KEY ("studio_id", "smart", "requested", "answer", '
    '"partial"))'
)
UNCOVERED = (  # only the clients with such a service: the others are 0 already
    "UPDATE client SET uncovered_services = (SELECT COUNT(*) FROM client_service s WHERE "
    "s.client_id = client.id AND s.consented_at IS NULL) WHERE EXISTS (SELECT 1 FROM "
    "client_service s WHERE s.client_id = client.id AND s.consented_at IS NULL)"
)
KEY = "(studio_id, smart, requested, answer, partial)"

# SQLite: a client's group, from NEW or OLD.
def _group(row: str) -> str:
    return (f"{row}.studio_id, ({row}.smart_services > 0), ({row}.consent_requested_at IS NOT "
            f"NULL), coalesce({row}.consent_answer, ''), ({row}.uncovered_services > 0)")


def _add(row: str, n: int) -> str:
    return (f"INSERT INTO client_tally {KEY.replace('partial', 'partial, n')} VALUES "
            f"({_group(row)}, {n}) ON CONFLICT {KEY} DO UPDATE SET n = n + excluded.n;")


SQLITE = [
    "ALTER TABLE client ADD COLUMN uncovered_services INTEGER NOT NULL DEFAULT 0",
    UNCOVERED,
    "DROP TRIGGER IF EXISTS client_tally_insert",
    "DROP TRIGGER IF EXISTS client_tally_delete",
    "DROP TRIGGER IF EXISTS client_tally_update",
    "DROP TRIGGER IF EXISTS client_service_count_insert",
    "DROP TRIGGER IF EXISTS client_service_count_delete",
    "DROP TRIGGER IF EXISTS client_service_count_update",
    "DROP TABLE client_tally",
    TALLY,
    (
        "INSERT INTO client_tally (studio_id, smart, requested, answer, partial, n) SELECT "
        "studio_id, (smart_services > 0), (consent_requested_at IS NOT NULL), "
        "coalesce(consent_answer, ''), (uncovered_services > 0), COUNT(*) FROM client "
        "GROUP BY 1, 2, 3, 4, 5"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_service_count_insert AFTER INSERT ON client_service "
        "BEGIN UPDATE client SET smart_services = smart_services + 1, uncovered_services = "
        "uncovered_services + (NEW.consented_at IS NULL) WHERE id = NEW.client_id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_service_count_delete AFTER DELETE ON client_service "
        "BEGIN UPDATE client SET smart_services = smart_services - 1, uncovered_services = "
        "uncovered_services - (OLD.consented_at IS NULL) WHERE id = OLD.client_id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_service_count_update AFTER UPDATE OF client_id, "
        "consented_at ON client_service WHEN OLD.client_id <> NEW.client_id OR "
        "(OLD.consented_at IS NULL) <> (NEW.consented_at IS NULL) BEGIN UPDATE client SET "
        "smart_services = smart_services - 1, uncovered_services = uncovered_services - "
        "(OLD.consented_at IS NULL) WHERE id = OLD.client_id; UPDATE client SET smart_services = "
        "smart_services + 1, uncovered_services = uncovered_services + (NEW.consented_at IS NULL) "
        "WHERE id = NEW.client_id; END"
    ),
    f"CREATE TRIGGER IF NOT EXISTS client_tally_insert AFTER INSERT ON client BEGIN {_add('NEW', 1)} END",
    f"CREATE TRIGGER IF NOT EXISTS client_tally_delete AFTER DELETE ON client BEGIN {_add('OLD', -1)} END",
    (
        "CREATE TRIGGER IF NOT EXISTS client_tally_update AFTER UPDATE OF studio_id, "
        "smart_services, consent_requested_at, consent_answer, uncovered_services ON client WHEN "
        f"({_group('OLD')}) IS NOT ({_group('NEW')}) BEGIN {_add('OLD', -1)} {_add('NEW', 1)} END"
    ),
]

# PostgreSQL: the groups of a statement's rows, each with how many it adds (+1 new, -1 old).
_PG_GROUP = ("studio_id, (smart_services > 0)::int, (consent_requested_at IS NOT NULL)::int, "
             "coalesce(consent_answer, ''), (uncovered_services > 0)::int")


def _pg_tally(rows: str, studios: str) -> str:
    return (
        f"PERFORM pg_advisory_xact_lock({TALLY_LOCK_SPACE}, studio_id) FROM (SELECT DISTINCT "
        f"studio_id FROM ({studios}) AS t ORDER BY studio_id) AS s; "
        f"INSERT INTO client_tally {KEY.replace('partial', 'partial, n')} SELECT studio_id, smart, "
        f"requested, answer, partial, sum(delta) FROM ({rows}) AS c (studio_id, smart, requested, "
        "answer, partial, delta) GROUP BY studio_id, smart, requested, answer, partial HAVING "
        "sum(delta) <> 0 ORDER BY studio_id, smart, requested, answer, partial "
        f"ON CONFLICT {KEY} DO UPDATE SET n = client_tally.n + EXCLUDED.n;"
    )


def _pg_count(rows: str) -> str:
    return (
        "UPDATE client SET smart_services = client.smart_services + d.smart, uncovered_services = "
        "client.uncovered_services + d.uncovered FROM (SELECT client_id, sum(smart) AS smart, "
        f"sum(uncovered) AS uncovered FROM ({rows}) AS c (client_id, smart, uncovered) GROUP BY "
        "client_id HAVING sum(smart) <> 0 OR sum(uncovered) <> 0) AS d WHERE client.id = "
        "d.client_id;"
    )


_NEW_SERVICES = "SELECT client_id, 1, (consented_at IS NULL)::int FROM new_rows"
_OLD_SERVICES = "SELECT client_id, -1, -(consented_at IS NULL)::int FROM old_rows"
_NEW_CLIENTS = f"SELECT {_PG_GROUP}, 1 FROM new_rows"
_OLD_CLIENTS = f"SELECT {_PG_GROUP}, -1 FROM old_rows"
_NEW_STUDIOS = "SELECT studio_id FROM new_rows"
_OLD_STUDIOS = "SELECT studio_id FROM old_rows"

POSTGRESQL = [
    "ALTER TABLE client ADD COLUMN uncovered_services INTEGER NOT NULL DEFAULT 0",
    UNCOVERED,
    # The table stays (and with it the runtime role's rights): a column and a key changed.
    "ALTER TABLE client_tally ADD COLUMN partial INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE client_tally ALTER COLUMN partial DROP DEFAULT",
    "ALTER TABLE client_tally DROP CONSTRAINT client_tally_pkey",
    "DELETE FROM client_tally",
    (
        "INSERT INTO client_tally (studio_id, smart, requested, answer, partial, n) SELECT "
        f"{_PG_GROUP}, COUNT(*) FROM client GROUP BY 1, 2, 3, 4, 5"
    ),
    'ALTER TABLE client_tally ADD PRIMARY KEY ("studio_id", "smart", "requested", "answer", "partial")',
    (
        "CREATE OR REPLACE FUNCTION client_service_count() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'INSERT' THEN {_pg_count(_NEW_SERVICES)} "
        f"ELSIF TG_OP = 'DELETE' THEN {_pg_count(_OLD_SERVICES)} "
        f"ELSE {_pg_count(_NEW_SERVICES + ' UNION ALL ' + _OLD_SERVICES)} "
        "END IF; RETURN NULL; END $$"
    ),
    (
        "CREATE OR REPLACE FUNCTION client_tally_adjust() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'INSERT' THEN {_pg_tally(_NEW_CLIENTS, _NEW_STUDIOS)} "
        f"ELSIF TG_OP = 'DELETE' THEN {_pg_tally(_OLD_CLIENTS, _OLD_STUDIOS)} "
        f"ELSE {_pg_tally(_NEW_CLIENTS + ' UNION ALL ' + _OLD_CLIENTS, _NEW_STUDIOS + ' UNION ' + _OLD_STUDIOS)} "
        "END IF; RETURN NULL; END $$"
    ),
]

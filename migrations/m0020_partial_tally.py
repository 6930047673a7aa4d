"""The consent counts also tell a partial consent apart (issue 17: the page's cost stays flat).

The consent page counts the clients whose consent is "parziale" (some active service is
not covered by it, issue 15). Counting them among the consents given read every consenting
client of the studio at each page. So the database keeps one more count:

- ``client.uncovered_services``: how many of the client's active services its consent does
  not cover (``client_service.consented_at`` is null), kept, like ``smart_services``, by
  the triggers on ``client_service``, which now also follow a change of ``consented_at``;
- ``client_tally`` gets ``partial`` in its key: 1 when ``uncovered_services > 0``. A granted
  consent in a group with ``partial = 1`` is "parziale", with ``partial = 0`` "aderito".

``client_tally`` is built again from the clients (its key changed), and the triggers of
migration 0003 are replaced by ones that keep the new column. On PostgreSQL they still run
once per statement over the transition tables, touching the groups in key order.
"""

TALLY = (
    'CREATE TABLE IF NOT EXISTS "client_tally" ("studio_id" INTEGER NOT NULL, "smart" INTEGER '
    'NOT NULL, "requested" INTEGER NOT NULL, "answer" VARCHAR(10) NOT NULL, "partial" INTEGER '
    'NOT NULL, "n" INTEGER NOT NULL, PRIMARY KEY ("studio_id", "smart", "requested", "answer", '
    '"partial"))'
)
UNCOVERED = (
    "UPDATE client SET uncovered_services = (SELECT COUNT(*) FROM client_service s WHERE "
    "s.client_id = client.id AND s.consented_at IS NULL)"
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


def _pg_tally(rows: str) -> str:
    return (
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

POSTGRESQL = [
    "ALTER TABLE client ADD COLUMN uncovered_services INTEGER NOT NULL DEFAULT 0",
    UNCOVERED,
    "DROP TABLE client_tally",
    TALLY,
    (
        "INSERT INTO client_tally (studio_id, smart, requested, answer, partial, n) SELECT "
        f"{_PG_GROUP}, COUNT(*) FROM client GROUP BY 1, 2, 3, 4, 5"
    ),
    (
        "CREATE OR REPLACE FUNCTION client_service_count() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'INSERT' THEN {_pg_count(_NEW_SERVICES)} "
        f"ELSIF TG_OP = 'DELETE' THEN {_pg_count(_OLD_SERVICES)} "
        f"ELSE {_pg_count(_NEW_SERVICES + ' UNION ALL ' + _OLD_SERVICES)} "
        "END IF; RETURN NULL; END $$"
    ),
    (
        "CREATE OR REPLACE FUNCTION client_tally_adjust() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'INSERT' THEN {_pg_tally(_NEW_CLIENTS)} "
        f"ELSIF TG_OP = 'DELETE' THEN {_pg_tally(_OLD_CLIENTS)} "
        f"ELSE {_pg_tally(_NEW_CLIENTS + ' UNION ALL ' + _OLD_CLIENTS)} "
        "END IF; RETURN NULL; END $$"
    ),
]

"""How many clients a studio has in each consent state, kept by the database itself.

The consent grid says "Elementi 1 - 25 di N": counting N by scanning 100,000
clients costs more than everything else on the page. So the database keeps the
counts, with triggers, in ``client_tally``: one row per studio and group
(has a SMART service, was sent a request, answer), holding how many clients are
in it. Whatever writes clients or their services, through this code or not,
keeps the counts right, in the same transaction.

- ``client.smart_services`` (a column the ORM does not know of) is the number of
  the client's active services, kept by triggers on ``client_service``;
- ``client_tally`` is kept by triggers on ``client``: a client that changes
  group moves one unit from its old group to the new one.

On PostgreSQL the triggers are per statement with transition tables, so a
sending to 50,000 clients adjusts the counts with one aggregate, touching the
groups in key order (concurrent writers cannot deadlock on them).
"""

from __future__ import annotations

from peewee import fn

from models import CONSENT_DECLINED, CONSENT_GRANTED, CONSENT_PENDING, ClientTally, db, is_sqlite

ANSWERS = {
    "in_attesa": CONSENT_PENDING,
    "aderito": CONSENT_GRANTED,
    "non_aderito": CONSENT_DECLINED,
}


def count_smart_clients(studio_id: int, requested: bool | None = None,
                        answer: str | None = None) -> int:
    """Count the studio's clients with a SMART service, optionally by request sent and answer.

    ``answer`` is a stored answer ('pending', 'granted', 'declined'); one statement,
    reading a handful of rows whatever the number of clients.
    """
    return int(smart_clients_query(studio_id, requested, answer).scalar() or 0)


def smart_clients_query(studio_id: int, requested: bool | None = None,
                        answer: str | None = None):
    """The query selecting that count (to add columns to it, and still run one statement)."""
    query = ClientTally.select(fn.COALESCE(fn.SUM(ClientTally.n), 0)).where(
        (ClientTally.studio_id == studio_id) & (ClientTally.smart == 1)
    )
    if requested is not None:
        query = query.where(ClientTally.requested == int(requested))
    if answer is not None:
        query = query.where(ClientTally.answer == answer)
    return query


# --- installation (migrations.py) --------------------------------------------------

_SQLITE_GROUP = {
    "old": ("OLD.studio_id, (OLD.smart_services > 0), (OLD.consent_requested_at IS NOT NULL), "
            "coalesce(OLD.consent_answer, '')"),
    "new": ("NEW.studio_id, (NEW.smart_services > 0), (NEW.consent_requested_at IS NOT NULL), "
            "coalesce(NEW.consent_answer, '')"),
}
_KEY = "studio_id, smart, requested, answer"


def _sqlite_add(row: str, delta: str) -> str:
    return (f"INSERT INTO client_tally ({_KEY}, n) VALUES ({_SQLITE_GROUP[row]}, {delta}) "
            f"ON CONFLICT ({_KEY}) DO UPDATE SET n = n + excluded.n;")


SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS client_service_count_insert AFTER INSERT ON client_service "
    "BEGIN UPDATE client SET smart_services = smart_services + 1 WHERE id = NEW.client_id; END",
    "CREATE TRIGGER IF NOT EXISTS client_service_count_delete AFTER DELETE ON client_service "
    "BEGIN UPDATE client SET smart_services = smart_services - 1 WHERE id = OLD.client_id; END",
    "CREATE TRIGGER IF NOT EXISTS client_service_count_update AFTER UPDATE OF client_id "
    "ON client_service WHEN OLD.client_id <> NEW.client_id BEGIN "
    "UPDATE client SET smart_services = smart_services - 1 WHERE id = OLD.client_id; "
    "UPDATE client SET smart_services = smart_services + 1 WHERE id = NEW.client_id; END",
    f"CREATE TRIGGER IF NOT EXISTS client_tally_insert AFTER INSERT ON client "
    f"BEGIN {_sqlite_add('new', '1')} END",
    f"CREATE TRIGGER IF NOT EXISTS client_tally_delete AFTER DELETE ON client "
    f"BEGIN {_sqlite_add('old', '-1')} END",
    f"CREATE TRIGGER IF NOT EXISTS client_tally_update AFTER UPDATE OF studio_id, smart_services, "
    f"consent_requested_at, consent_answer ON client "
    f"WHEN ({_SQLITE_GROUP['old']}) IS NOT ({_SQLITE_GROUP['new']}) "
    f"BEGIN {_sqlite_add('old', '-1')} {_sqlite_add('new', '1')} END",
]

_PG_GROUP = ("studio_id, (smart_services > 0)::int, (consent_requested_at IS NOT NULL)::int, "
             "coalesce(consent_answer, '')")

def _pg_delta_sql(rows: str, key: str) -> str:
    """The changes of a statement as (key..., delta) rows, from its transition tables."""
    parts = []
    if rows in ("new", "both"):
        parts.append(f"SELECT {key}, 1 AS delta FROM new_rows")
    if rows in ("old", "both"):
        parts.append(f"SELECT {key}, -1 AS delta FROM old_rows")
    return " UNION ALL ".join(parts)


def _pg_function(name: str, body) -> str:
    """A trigger function whose statement reads only the transition tables its event has."""
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'INSERT' THEN {body('new')}; "
        f"ELSIF TG_OP = 'DELETE' THEN {body('old')}; "
        f"ELSE {body('both')}; END IF; RETURN NULL; END $$"
    )


PG_FUNCTIONS = [
    # Services -> client.smart_services, one UPDATE per statement.
    _pg_function("client_service_count", lambda rows: (
        "UPDATE client SET smart_services = client.smart_services + d.delta FROM ("
        f"SELECT client_id, sum(delta) AS delta FROM ({_pg_delta_sql(rows, 'client_id')}) AS c "
        "GROUP BY client_id HAVING sum(delta) <> 0) AS d WHERE client.id = d.client_id"
    )),
    # Clients -> client_tally, one aggregate per statement, groups touched in key order.
    _pg_function("client_tally_adjust", lambda rows: (
        f"INSERT INTO client_tally ({_KEY}, n) "
        f"SELECT studio_id, smart, requested, answer, sum(delta) FROM "
        f"({_pg_delta_sql(rows, _PG_GROUP)}) AS c (studio_id, smart, requested, answer, delta) "
        f"GROUP BY studio_id, smart, requested, answer HAVING sum(delta) <> 0 "
        f"ORDER BY studio_id, smart, requested, answer "
        f"ON CONFLICT ({_KEY}) DO UPDATE SET n = client_tally.n + EXCLUDED.n"
    )),
]


def _pg_triggers(table: str, function: str) -> list[str]:
    statements = []
    for action, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        name = f"{table}_{function}_{action.lower()}"
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        statements.append(
            f"CREATE TRIGGER {name} AFTER {action} ON {table} REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return statements


def install() -> None:
    """Add ``client.smart_services``, recompute every count, and create the triggers (idempotent)."""
    columns = {column.name for column in db.get_columns("client")}
    if "smart_services" not in columns:
        db.execute_sql("ALTER TABLE client ADD COLUMN smart_services INTEGER NOT NULL DEFAULT 0")
    db.create_tables([ClientTally], safe=True)
    db.execute_sql(
        "UPDATE client SET smart_services = (SELECT COUNT(*) FROM client_service s "
        "WHERE s.client_id = client.id)"
    )
    db.execute_sql("DELETE FROM client_tally")
    group = _PG_GROUP if not is_sqlite() else (
        "studio_id, (smart_services > 0), (consent_requested_at IS NOT NULL), "
        "coalesce(consent_answer, '')")
    db.execute_sql(
        f"INSERT INTO client_tally ({_KEY}, n) SELECT {group}, COUNT(*) FROM client "
        f"GROUP BY 1, 2, 3, 4"
    )
    if is_sqlite():
        for statement in SQLITE_TRIGGERS:
            db.execute_sql(statement)
    else:
        for statement in PG_FUNCTIONS:
            db.execute_sql(statement)
        for statement in _pg_triggers("client_service", "client_service_count"):
            db.execute_sql(statement)
        for statement in _pg_triggers("client", "client_tally_adjust"):
            db.execute_sql(statement)

"""Consent counts kept by the database (see consent_tally.py for why).

- ``client.smart_services``: how many SMART services the client has active, kept by
  triggers on ``client_service``;
- ``client_tally``: how many clients of a studio are in each group (has a service, was
  sent a request, answer), kept by triggers on ``client``.

Both are first computed for the rows already there. On PostgreSQL the triggers run once
per statement, over its transition tables.
"""

SQLITE = [
    "ALTER TABLE client ADD COLUMN smart_services INTEGER NOT NULL DEFAULT 0",
    (
        'CREATE TABLE IF NOT EXISTS "client_tally" ("studio_id" INTEGER NOT NULL, "smart" INTEGER '
        'NOT NULL, "requested" INTEGER NOT NULL, "answer" VARCHAR(10) NOT NULL, "n" INTEGER NOT '
        'NULL, PRIMARY KEY ("studio_id", "smart", "requested", "answer"))'
    ),
    (
        "UPDATE client SET smart_services = (SELECT COUNT(*) FROM client_service s WHERE "
        "s.client_id = client.id)"
    ),
    "DELETE FROM client_tally",
    (
        "INSERT INTO client_tally (studio_id, smart, requested, answer, n) SELECT studio_id, "
        "(smart_services > 0), (consent_requested_at IS NOT NULL), coalesce(consent_answer, ''), "
        "COUNT(*) FROM client GROUP BY 1, 2, 3, 4"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_service_count_insert AFTER INSERT ON client_service "
        "BEGIN UPDATE client SET smart_services = smart_services + 1 WHERE id = NEW.client_id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_service_count_delete AFTER DELETE ON client_service "
        "BEGIN UPDATE client SET smart_services = smart_services - 1 WHERE id = OLD.client_id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_service_count_update AFTER UPDATE OF client_id ON "
        "client_service WHEN OLD.client_id <> NEW.client_id BEGIN UPDATE client SET smart_services "
        "= smart_services - 1 WHERE id = OLD.client_id; UPDATE client SET smart_services = "
        "smart_services + 1 WHERE id = NEW.client_id; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_tally_insert AFTER INSERT ON client BEGIN INSERT INTO "
        "client_tally (studio_id, smart, requested, answer, n) VALUES (NEW.studio_id, "
        "(NEW.smart_services > 0), (NEW.consent_requested_at IS NOT NULL), "
        "coalesce(NEW.consent_answer, ''), 1) "
        "ON CONFLICT (studio_id, smart, requested, answer) DO UPDATE SET n = n + excluded.n; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_tally_delete AFTER DELETE ON client BEGIN INSERT INTO "
        "client_tally (studio_id, smart, requested, answer, n) VALUES (OLD.studio_id, "
        "(OLD.smart_services > 0), (OLD.consent_requested_at IS NOT NULL), "
        "coalesce(OLD.consent_answer, ''), -1) "
        "ON CONFLICT (studio_id, smart, requested, answer) DO UPDATE SET n = n + excluded.n; END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS client_tally_update AFTER UPDATE OF studio_id, "
        "smart_services, consent_requested_at, consent_answer ON client WHEN (OLD.studio_id, "
        "(OLD.smart_services > 0), (OLD.consent_requested_at IS NOT NULL), "
        "coalesce(OLD.consent_answer, '')) IS NOT (NEW.studio_id, (NEW.smart_services > 0), "
        "(NEW.consent_requested_at IS NOT NULL), coalesce(NEW.consent_answer, '')) BEGIN INSERT "
        "INTO client_tally (studio_id, smart, requested, answer, n) VALUES (OLD.studio_id, "
        "(OLD.smart_services > 0), (OLD.consent_requested_at IS NOT NULL), "
        "coalesce(OLD.consent_answer, ''), -1) ON CONFLICT (studio_id, smart, requested, answer) "
        "DO UPDATE SET n = n + excluded.n; INSERT INTO client_tally (studio_id, smart, requested, "
        "answer, n) VALUES (NEW.studio_id, (NEW.smart_services > 0), (NEW.consent_requested_at IS "
        "NOT NULL), coalesce(NEW.consent_answer, ''), 1) "
        "ON CONFLICT (studio_id, smart, requested, answer) DO UPDATE SET n = n + excluded.n; END"
    ),
]

POSTGRESQL = [
    "ALTER TABLE client ADD COLUMN smart_services INTEGER NOT NULL DEFAULT 0",
    (
        'CREATE TABLE IF NOT EXISTS "client_tally" ("studio_id" INTEGER NOT NULL, "smart" INTEGER '
        'NOT NULL, "requested" INTEGER NOT NULL, "answer" VARCHAR(10) NOT NULL, "n" INTEGER NOT '
        'NULL, PRIMARY KEY ("studio_id", "smart", "requested", "answer"))'
    ),
    (
        "UPDATE client SET smart_services = (SELECT COUNT(*) FROM client_service s WHERE "
        "s.client_id = client.id)"
    ),
    "DELETE FROM client_tally",
    (
        "INSERT INTO client_tally (studio_id, smart, requested, answer, n) SELECT studio_id, "
        "(smart_services > 0)::int, (consent_requested_at IS NOT NULL)::int, "
        "coalesce(consent_answer, ''), COUNT(*) FROM client GROUP BY 1, 2, 3, 4"
    ),
    (
        "CREATE OR REPLACE FUNCTION client_service_count() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF TG_OP = 'INSERT' THEN UPDATE client SET smart_services = client.smart_services "
        "+ d.delta FROM (SELECT client_id, sum(delta) AS delta FROM (SELECT client_id, 1 AS delta "
        "FROM new_rows) AS c "
        "GROUP BY client_id HAVING sum(delta) <> 0) AS d WHERE client.id = d.client_id; "
        "ELSIF TG_OP = 'DELETE' THEN UPDATE client SET smart_services = client.smart_services + "
        "d.delta FROM (SELECT client_id, sum(delta) AS delta FROM (SELECT client_id, -1 AS delta "
        "FROM old_rows) AS c "
        "GROUP BY client_id HAVING sum(delta) <> 0) AS d WHERE client.id = d.client_id; "
        "ELSE UPDATE client SET smart_services = client.smart_services + d.delta FROM (SELECT "
        "client_id, sum(delta) AS delta FROM (SELECT client_id, 1 AS delta FROM new_rows "
        "UNION ALL SELECT client_id, -1 AS delta FROM old_rows) AS c "
        "GROUP BY client_id HAVING sum(delta) <> 0) AS d WHERE client.id = d.client_id; "
        "END IF; RETURN NULL; END $$"
    ),
    (
        "CREATE OR REPLACE FUNCTION client_tally_adjust() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF TG_OP = 'INSERT' THEN INSERT INTO client_tally (studio_id, smart, requested, "
        "answer, n) SELECT studio_id, smart, requested, answer, sum(delta) FROM (SELECT studio_id, "
        "(smart_services > 0)::int, (consent_requested_at IS NOT NULL)::int, "
        "coalesce(consent_answer, ''), 1 AS delta FROM new_rows) AS c (studio_id, smart, "
        "requested, answer, delta) GROUP BY studio_id, smart, requested, answer HAVING sum(delta) "
        "<> 0 ORDER BY studio_id, smart, requested, answer ON CONFLICT (studio_id, smart, "
        "requested, answer) DO UPDATE SET n = client_tally.n + EXCLUDED.n; "
        "ELSIF TG_OP = 'DELETE' THEN INSERT INTO client_tally (studio_id, smart, requested, "
        "answer, n) SELECT studio_id, smart, requested, answer, sum(delta) FROM (SELECT studio_id, "
        "(smart_services > 0)::int, (consent_requested_at IS NOT NULL)::int, "
        "coalesce(consent_answer, ''), -1 AS delta FROM old_rows) AS c (studio_id, smart, "
        "requested, answer, delta) GROUP BY studio_id, smart, requested, answer HAVING sum(delta) "
        "<> 0 ORDER BY studio_id, smart, requested, answer ON CONFLICT (studio_id, smart, "
        "requested, answer) DO UPDATE SET n = client_tally.n + EXCLUDED.n; "
        "ELSE INSERT INTO client_tally (studio_id, smart, requested, answer, n) SELECT studio_id, "
        "smart, requested, answer, sum(delta) FROM (SELECT studio_id, (smart_services > 0)::int, "
        "(consent_requested_at IS NOT NULL)::int, coalesce(consent_answer, ''), 1 AS delta FROM "
        "new_rows UNION ALL SELECT studio_id, (smart_services > 0)::int, (consent_requested_at IS "
        "NOT NULL)::int, coalesce(consent_answer, ''), -1 AS delta FROM old_rows) AS c (studio_id, "
        "smart, requested, answer, delta) GROUP BY studio_id, smart, requested, answer HAVING "
        "sum(delta) <> 0 ORDER BY studio_id, smart, requested, answer ON CONFLICT (studio_id, "
        "smart, requested, answer) DO UPDATE SET n = client_tally.n + EXCLUDED.n; "
        "END IF; RETURN NULL; END $$"
    ),
    "DROP TRIGGER IF EXISTS client_service_client_service_count_insert ON client_service",
    (
        "CREATE TRIGGER client_service_client_service_count_insert AFTER INSERT ON client_service "
        "REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_service_count()"
    ),
    "DROP TRIGGER IF EXISTS client_service_client_service_count_update ON client_service",
    (
        "CREATE TRIGGER client_service_client_service_count_update AFTER UPDATE ON client_service "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_service_count()"
    ),
    "DROP TRIGGER IF EXISTS client_service_client_service_count_delete ON client_service",
    (
        "CREATE TRIGGER client_service_client_service_count_delete AFTER DELETE ON client_service "
        "REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_service_count()"
    ),
    "DROP TRIGGER IF EXISTS client_client_tally_adjust_insert ON client",
    (
        "CREATE TRIGGER client_client_tally_adjust_insert AFTER INSERT ON client REFERENCING NEW "
        "TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_tally_adjust()"
    ),
    "DROP TRIGGER IF EXISTS client_client_tally_adjust_update ON client",
    (
        "CREATE TRIGGER client_client_tally_adjust_update AFTER UPDATE ON client REFERENCING OLD "
        "TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_tally_adjust()"
    ),
    "DROP TRIGGER IF EXISTS client_client_tally_adjust_delete ON client",
    (
        "CREATE TRIGGER client_client_tally_adjust_delete AFTER DELETE ON client REFERENCING OLD "
        "TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_tally_adjust()"
    ),
]

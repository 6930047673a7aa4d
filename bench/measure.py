"""In-process measurements: page times, their floors, SQL statements, send-to-all, bytes.

Requests go through Flask's test client (WSGI, no server), logged in as a real user.
A floor is what a page could not cost less than: the bare route plus hand-written SQL
returning the same rows and count. A page that does not answer 200 is reported as
"non disponibile", never estimated.
"""

from __future__ import annotations

import gzip
import re
import statistics
import time
import uuid
from urllib.parse import urlparse

import consent
import models
from bench import NA
from bench.data import PASSWORD, Backend, make_app, sql, use
from bench.statements import counting_statements

GRID_URL = "/area-personale/consensi"
GRID_HEADERS = {"HX-Request": "true", "HX-Target": "div#consent-grid", "HX-Request-Type": "partial"}
CODE_FRAGMENT = "004"  # a page and more at 1,000 clients (89 matches), 1,039 at 100,000
SEARCH_FRAGMENT = "caffe"  # "Cerca cliente": finds the demo's "Caffè Centrale" at both sizes
PAGE_SIZE = 10  # the grid's default "Elem. pag."

# The grid cases: (key, label, query string, how the floor SQL filters and sorts)
GRID_CASES = [
    ("grid_first", "griglia, prima pagina", "?per_pagina=10", {}),
    ("grid_contains", f"griglia, Contiene «{CODE_FRAGMENT}»",
     f"?codice={CODE_FRAGMENT}&op=contiene&per_pagina=10", {"contains": CODE_FRAGMENT}),
    ("grid_search", f"griglia, Cerca cliente «{SEARCH_FRAGMENT}»",
     f"?cerca={SEARCH_FRAGMENT}&per_pagina=10", {"search": SEARCH_FRAGMENT}),
    ("grid_sorted", "griglia, ordina=-data_risposta", "?ordina=-data_risposta&per_pagina=10",
     {"order": "answered_desc"}),
    ("grid_last", "griglia, ultima pagina", "?pagina=1000000&per_pagina=10", {"last": True}),
]


# --- timing ---------------------------------------------------------------------------


def summarize(samples: list[float]) -> dict:
    """Median and p95 of samples in seconds, reported in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, int(round(0.95 * len(ordered))) - 1))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(p95 * 1000, 3), "n": len(ordered)}


def timed(action, reps: int, warmup: int = 3) -> dict:
    """Median and p95 of ``reps`` calls of ``action``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return summarize(samples)


# --- pages and floors --------------------------------------------------------------------


def login(app, username: str):
    """A test client of ``app`` logged in as ``username``."""
    test_client = app.test_client()
    response = test_client.post("/login", data={"username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"login of {username} failed ({response.status_code})")
    return test_client


def page_cases() -> list[dict]:
    """The in-process cases: key, label, user (None: anonymous or the studio's pending client), url, headers."""
    cases = [{"key": "healthz", "label": "route nuda /healthz", "user": None, "url": "/healthz",
              "headers": {}}]
    for key, label, query, _ in GRID_CASES:
        cases.append({"key": key, "label": label, "user": "admin", "url": GRID_URL + query,
                      "headers": GRID_HEADERS})
    cases += [
        {"key": "consent_page", "label": "pagina dei consensi (griglia, conteggi, grafico)",
         "user": "admin", "url": GRID_URL, "headers": {}},
        {"key": "client_home", "label": "home cliente (controllo modale)", "user": None,
         "url": "/", "headers": {}},
        {"key": "admin_home", "label": "home admin (banner e tile)", "user": "admin", "url": "/",
         "headers": {}},
        {"key": "smart_operator", "label": "/servizi-smart (operatore)", "user": "operatore1",
         "url": "/servizi-smart", "headers": {}},
        {"key": "smart_operator_waiting", "label": "/servizi-smart, «Non ha ancora risposto»",
         "user": "operatore1", "url": "/servizi-smart?stato=senza_risposta", "headers": {}},
        {"key": "smart_admin", "label": "/servizi-smart (admin), «Raggiungibili»", "user": "admin",
         "url": "/servizi-smart?stato=raggiungibili", "headers": {}},
    ]
    return cases


def measure_pages(studios: list[dict], reps: int) -> dict:
    """Time every page case on every studio, the studios' requests interleaved.

    Rep after rep, each case is asked of the small studio then of the large one,
    so a burst of load on a shared machine slows both alike and the ratios hold.
    """
    results = {studio["size"]: {} for studio in studios}
    clients = {studio["size"]: {} for studio in studios}
    for case in page_cases():
        actions = {}
        for studio in studios:
            use(studio)
            app, mine = studio["app"], results[studio["size"]]
            user = studio["pending_client_user"] if case["key"] == "client_home" else case["user"]
            known = clients[studio["size"]]
            if user and user not in known:
                known[user] = login(app, user)
            test_client = known.get(user) or app.test_client()
            first = test_client.get(case["url"], headers=case["headers"])
            if first.status_code != 200:
                mine[case["key"]] = {"label": case["label"], "status": NA,
                                     "note": f"HTTP {first.status_code}"}
                continue
            if case["headers"] is GRID_HEADERS and b"<html" in first.get_data():
                # The grid answered its fragment's request with the whole page (a renamed
                # target?): timing it as the fragment would mislead every grid budget.
                mine[case["key"]] = {"label": case["label"], "status": NA,
                                     "note": "pagina intera invece del frammento"}
                continue

            def request(test_client=test_client, case=case):
                response = test_client.get(case["url"], headers=case["headers"])
                assert response.status_code == 200, response.status_code

            with counting_statements(sql_only=True) as counter:
                request()
            for _ in range(3):  # warm-up
                request()
            actions[studio["size"]] = request
            mine[case["key"]] = {"label": case["label"], "status": "ok", "url": case["url"],
                                 "statements": counter.count}
        samples = {size: [] for size in actions}
        for _ in range(reps):
            for studio in studios:
                if studio["size"] not in actions:
                    continue
                use(studio)
                start = time.perf_counter()
                actions[studio["size"]]()
                samples[studio["size"]].append(time.perf_counter() - start)
        for size, taken in samples.items():
            results[size][case["key"]].update(summarize(taken))
    return results


def floor_queries(studio_id: int, spec: dict) -> tuple[str, str, list, list]:
    """Hand-written SQL returning the grid's rows and count for one case, a page of PAGE_SIZE rows."""
    where = ("c.studio_id = ? AND EXISTS (SELECT 1 FROM client_service s "
             "WHERE s.client_id = c.id)")
    params: list = [studio_id]
    if "contains" in spec:
        where += " AND lower(c.code) LIKE ?"
        params.append(f"%{spec['contains'].lower()}%")
    if "search" in spec:
        # By hand: every client's ragione sociale folded (the fold of migration 0016), scanned.
        pattern = f"%{spec['search'].lower()}%"
        if models.is_sqlite():
            where += (" AND c.id IN (SELECT id FROM client_search_source WHERE lower(name) LIKE ? "
                      "OR lower(tax_code) LIKE ? OR lower(vat_number) LIKE ?)")
        else:
            where += (" AND (client_fold(c.name) LIKE ? OR lower(c.tax_code) LIKE ? "
                      "OR lower(c.vat_number) LIKE ?)")
        params += [pattern] * 3
    order = "c.code, c.id"
    if spec.get("order") == "answered_desc":
        order = "c.consent_answered_at DESC NULLS LAST, c.code"
    count_sql = f"SELECT COUNT(*) FROM client c WHERE {where}"
    rows_sql = (f"SELECT c.id, c.code, c.name, c.consent_requested_at, c.consent_answer, "
                f"c.consent_answered_at FROM client c WHERE {where} ORDER BY {order} "
                f"LIMIT {PAGE_SIZE} OFFSET ?")
    return sql(count_sql), sql(rows_sql), params, params


def indexed_sql(studio_id: int, spec: dict):
    """The same rows and count by the portal's strategy, in raw SQL: the kept counts
    (client_tally), the trigram indexes for "Contiene" and "Cerca cliente", the last page read from the end.
    For information: it shows what is left once the SQL no longer scans."""
    where = "c.studio_id = ? AND c.active AND c.smart_services > 0"  # the services, counted
    params: list = [studio_id]
    order, reverse = "c.code, c.id", "c.code DESC, c.id DESC"
    if spec.get("order") == "answered_desc":
        order = "c.consent_answered_at DESC NULLS LAST, c.code"
    count_sql = "SELECT COALESCE(SUM(n), 0) FROM client_tally WHERE studio_id = ? AND smart = 1"
    count_params: list = [studio_id]
    if "contains" in spec:
        if models.is_sqlite():
            where += (" AND c.id IN (SELECT rowid FROM client_code_fts "
                      "WHERE client_code_fts MATCH ?)")
            params.append('"' + spec["contains"] + '"')
        else:
            where += " AND c.code ILIKE ?"
            params.append(f"%{spec['contains']}%")
        count_sql, count_params = f"SELECT COUNT(*) FROM client c WHERE {where}", params
    if "search" in spec:
        if models.is_sqlite():
            where += (" AND c.id IN (SELECT rowid FROM client_search_fts "
                      "WHERE client_search_fts MATCH ?)")
            params.append('"' + spec["search"] + '"')
        else:
            where += (" AND (client_fold(c.name) ILIKE ? OR c.tax_code ILIKE ? "
                      "OR c.vat_number ILIKE ?)")
            params += [f"%{spec['search']}%"] * 3
        count_sql, count_params = f"SELECT COUNT(*) FROM client c WHERE {where}", params
    columns = ("c.id, c.code, c.name, c.consent_requested_at, c.consent_answer, "
               "c.consent_answered_at")
    rows_sql = f"SELECT {columns} FROM client c WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
    last_sql = f"SELECT {columns} FROM client c WHERE {where} ORDER BY {reverse} LIMIT ?"
    return sql(count_sql), count_params, sql(rows_sql), sql(last_sql), params


def measure_floors(studio: dict, reps: int, bare_ms: float) -> dict:
    """Each grid case's floor at this studio: the bare route plus its hand-written SQL.

    Beside it, for information, the same rows and count by the portal's strategy
    (``indexed_sql``), and whether both return the same result.
    """
    floors = {}
    with models.db.connection_context():
        for key, _label, _query, spec in GRID_CASES:
            count_sql, rows_sql, count_params, rows_params = floor_queries(studio["studio_id"], spec)
            rows_seen = {}

            def run(count_sql=count_sql, rows_sql=rows_sql, count_params=count_params,
                    rows_params=rows_params, spec=spec, rows_seen=rows_seen):
                total = models.db.execute_sql(count_sql, count_params).fetchone()[0]
                offset = 0
                if spec.get("last"):
                    offset = max(0, (total - 1) // PAGE_SIZE) * PAGE_SIZE
                rows = models.db.execute_sql(rows_sql, (*rows_params, offset)).fetchall()
                rows_seen.update(total=total, rows=len(rows), first=rows[0][1] if rows else None)

            sql_time = timed(run, reps)
            floors[key] = {"sql_median_ms": sql_time["median_ms"], "sql_p95_ms": sql_time["p95_ms"],
                           "floor_ms": round(bare_ms + sql_time["median_ms"], 3), **rows_seen}
            c_sql, c_params, r_sql, l_sql, r_params = indexed_sql(studio["studio_id"], spec)
            seen = {}

            def run_indexed(c_sql=c_sql, c_params=c_params, r_sql=r_sql, l_sql=l_sql,
                            r_params=r_params, spec=spec, seen=seen):
                total = models.db.execute_sql(c_sql, c_params).fetchone()[0]
                if spec.get("last"):
                    remaining = total - max(0, (total - 1) // PAGE_SIZE) * PAGE_SIZE
                    rows = models.db.execute_sql(l_sql, (*r_params, remaining)).fetchall()
                    rows.reverse()
                else:
                    rows = models.db.execute_sql(r_sql, (*r_params, PAGE_SIZE, 0)).fetchall()
                seen.update(total=total, rows=len(rows), first=rows[0][1] if rows else None)

            indexed_time = timed(run_indexed, reps)
            floors[key]["indexed_sql_median_ms"] = indexed_time["median_ms"]
            floors[key]["indexed_same_result"] = seen == rows_seen
    models.db.close_all()
    return floors


# --- send to all ------------------------------------------------------------------------


def measure_send(backend: Backend, studio: dict, reps: int) -> dict:
    """Send-to-all (``consent.send_confirmed``) against its set-based floor, on a copy of the database.

    Each sending re-sends to the same clients (all who have not consented), so
    the app and the floor alternate on one copy and do the same work each time.
    """
    url = backend.copy(studio["url"], f"send{studio['size']}") or studio["url"]
    make_app(url)
    app_times, floor_times, confirm_times, sent = [], [], [], None
    with models.db.connection_context():
        admin = models.User.get_by_id(studio["admin_id"])
        text = consent.wording("modal")
        studio_id = studio["studio_id"]
        scope = ("studio_id = ? AND EXISTS (SELECT 1 FROM client_service s "
                 "WHERE s.client_id = client.id)")
        for _ in range(reps):
            # What "Invia a tutti" runs once the admin confirms the number shown
            # (the confirmation's count is its own request, timed apart).
            start = time.perf_counter()
            confirmed = consent.count_recipients(studio_id, admin, "all").will_receive
            confirm_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = consent.send_confirmed(studio_id, admin, "all", uuid.uuid4().hex, confirmed)
            app_times.append(time.perf_counter() - start)
            sent = result.sent
            at = models.utcnow()
            start = time.perf_counter()
            with models.write_transaction():
                models.db.execute_sql(sql(
                    f"UPDATE client SET consent_requested_at = ?, consent_answer = 'pending', "
                    f"consent_answered_at = NULL WHERE {scope} AND (consent_answer IS NULL OR "
                    f"consent_answer <> 'granted')"), (at, studio_id))
                models.db.execute_sql(sql(
                    "INSERT INTO consent_event (studio_id, client_id, kind, actor_id, channel, "
                    "consent_text_id, created_at) SELECT studio_id, id, 'sent', ?, "
                    f"'admin_sending', ?, consent_requested_at FROM client WHERE {scope} AND "
                    "consent_requested_at = ? AND consent_answer = 'pending' ORDER BY id"),
                    (admin.id, text.id, studio_id, at))
                # the outbox: one consent request per client reached who has an address
                models.db.execute_sql(sql(
                    "INSERT INTO outbox_message (studio_id, kind, recipient, client_id, batch, "
                    "data, next_attempt_at, created_at) SELECT studio_id, 'consent_request', "
                    f"email, id, ?, '{{}}', ?, ? FROM client WHERE {scope} AND "
                    "consent_requested_at = ? AND consent_answer = 'pending' AND active "
                    "AND email IS NOT NULL AND email <> '' ORDER BY id"),
                    (uuid.uuid4().hex, at, at, studio_id, at))
            floor_times.append(time.perf_counter() - start)
    models.db.close_all()
    app_summary, floor_summary = summarize(app_times), summarize(floor_times)
    return {"sent": sent, "app": app_summary, "floor": floor_summary,
            "ratio": round(app_summary["median_ms"] / floor_summary["median_ms"], 2),
            "function": "consent.send_confirmed", "confirm": summarize(confirm_times),
            "on_copy": url != studio["url"]}


# --- bytes ----------------------------------------------------------------------------


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def measure_bytes(studio: dict) -> dict:
    """The grid's full page and fragment, and what a browser loads with the page, gzipped.

    The page's own gzip size is what the portal sends when the browser accepts gzip
    (or, if it does not compress, what gzip would make of it); the assets are those
    the page links (scripts and stylesheets).
    """
    use(studio)
    admin = login(studio["app"], "admin")
    page = admin.get(GRID_URL)
    fragment = admin.get(GRID_URL, headers=GRID_HEADERS)
    if page.status_code != 200 or fragment.status_code != 200:
        return {"status": NA, "note": f"HTTP {page.status_code}/{fragment.status_code}"}
    page_body, fragment_body = page.get_data(), fragment.get_data()
    served = admin.get(GRID_URL, headers={"Accept-Encoding": "gzip"})
    served_gzip = served.headers.get("Content-Encoding") == "gzip"
    html = page_body.decode()
    assets = re.findall(r'<(?:script[^>]*\ssrc|link[^>]*rel="stylesheet"[^>]*\shref)="([^"]+)"', html)
    asset_sizes = {}
    for asset in assets:
        path = urlparse(asset).path
        body = admin.get(path).get_data()
        asset_sizes[path] = {"bytes": len(body), "gzip": gz(body)}
    page_gzip = len(served.get_data()) if served_gzip else gz(page_body)
    total_gzip = page_gzip + sum(a["gzip"] for a in asset_sizes.values())
    models.db.close_all()
    return {
        "status": "ok",
        "page": {"bytes": len(page_body), "gzip": gz(page_body)},
        "fragment": {"bytes": len(fragment_body), "gzip": gz(fragment_body)},
        "served_gzip": served_gzip,
        "assets": asset_sizes,
        "page_total_gzip_kb": round(total_gzip / 1024, 1),
    }

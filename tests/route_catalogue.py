"""Every route of the portal, enumerated from the URL map, and what the security tests
need to call it: who may, which object each path argument names, a fingerprint of
the database to prove a request changed nothing.

A route that lands on main is picked up here without anyone remembering; a route
whose path takes an argument must be described in ``PATH_ARGUMENTS`` (the tests
fail loudly until it is), so its isolation is proven too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from conftest import DEMO_PASSWORD, parse

import models

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Accounts of the demo data, one per kind of user the tests act as.
ROLE_USERS = {"admin": "admin", "operator": "operatore1", "client": "pink"}

# The object every isolation test attacks: it belongs to studio BPF103, its client is
# PINK (managed by operatore1, consenting, with Fattura SMART and SMART Hub).
VICTIM_CLIENT_CODE = "PINK"
VICTIM_STUDIO_CODE = "BPF103"

# Path argument -> the kind of object it names. Every argument of every rule must be
# listed here (test_every_path_argument_is_catalogued), so that a new route taking an
# id cannot escape the isolation tests.
PATH_ARGUMENTS = {
    "client_id": "client",
    "operator_id": "operator",
    "user_id": "operator",
    "service_id": "service",
    "service": "service_code",
    "service_code": "service_code",
    "event_id": "event",
    "request_id": "event",
    "field": "setting_field",  # an option of Configurazioni varie (studio-wide, no id)
    "token": "link_token",  # an account link's signed token (account_links.py)
    "upload_token": "import_token",  # an uploaded client file (import_uploads.py)
}

# State-changing routes called by other servers, not browsers: no session cookie rides
# on them, so there is nothing to forge; each authenticates its caller instead.
CSRF_EXEMPT_ENDPOINTS = {
    "smart.introspect": "SMART services, HTTP Basic with the service's secret (test_smart_handoff.py)",
    "smart.simulated_service": "the development stand-in of a SMART service, posted to by the "
                               "hand-off page: it authenticates by the one-time token",
}

# Tables a request may append to without "changing state": logs of who did what.
LOG_TABLES = frozenset({"audit_event", "audit_tally", "access_event", "migration_history"})
# Columns that are bookkeeping of reads (a session's last use).
TOUCH_COLUMNS = {"user_session": {"last_seen_at"}}


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    methods: frozenset
    roles: object  # "public" or a frozenset of roles
    arguments: tuple

    @property
    def is_public(self) -> bool:
        return self.roles == "public"

    def allows(self, role: str) -> bool:
        return self.is_public or role in self.roles

    @property
    def changes_state(self) -> bool:
        return bool(self.methods & STATE_CHANGING_METHODS)


def all_routes(app) -> list[Route]:
    """Every rule of the app except static files, sorted by URL."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        routes.append(
            Route(
                rule=rule.rule,
                endpoint=rule.endpoint,
                methods=frozenset(rule.methods - {"HEAD", "OPTIONS"}),
                roles=getattr(view, "allowed_roles", None),
                arguments=tuple(sorted(rule.arguments)),
            )
        )
    return sorted(routes, key=lambda r: (r.rule, r.endpoint))


def victim_objects() -> dict[str, object]:
    """Values of each kind of object, all belonging to the victim client PINK of BPF103."""
    client = models.Client.get(
        (models.Client.code == VICTIM_CLIENT_CODE)
        & (models.Client.studio == models.Studio.get(models.Studio.code == VICTIM_STUDIO_CODE))
    )
    operator = (
        models.User.select()
        .join(models.OperatorClient, on=models.OperatorClient.operator == models.User.id)
        .where(models.OperatorClient.client == client.id)
        .first()
    )
    service = (
        models.SmartService.select()
        .join(models.ClientService)
        .where(models.ClientService.client == client.id)
        .order_by(models.SmartService.position)
        .first()
    )
    event = (
        models.ConsentEvent.select()
        .where(models.ConsentEvent.client == client.id)
        .order_by(models.ConsentEvent.id.desc())
        .first()
    )
    return {
        "client": client.id,
        "operator": operator.id,
        "service": service.id,
        "service_code": service.code,
        "event": event.id,
        "setting_field": "smart_access",
        # Uploads live in the instance folder, not in the database: a token of nobody's.
        "import_token": "A" * 43,
        # a bearer link names its user by signature: an attacker can only forge one
        "link_token": "WzEsImZvcmdlZCJd.forged-signature",
    }


def url_for_route(app, route: Route, objects: dict) -> str:
    """Build the route's URL with the given objects in its path arguments."""
    values = {name: objects[PATH_ARGUMENTS[name]] for name in route.arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(route.endpoint, **values)


def fingerprint() -> dict[str, str]:
    """A digest of every table's content (logs and read bookkeeping left out)."""
    digests = {}
    for model in models.ALL_MODELS:
        table = model._meta.table_name
        if table in LOG_TABLES:
            continue
        skip = TOUCH_COLUMNS.get(table, set())
        columns = [f for f in model._meta.sorted_fields if f.column_name not in skip]
        rows = sorted(repr(row) for row in model.select(*columns).tuples())
        digests[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))


def csrf_token_of(response) -> str:
    field = parse(response).find("input", {"name": "csrf_token"})
    assert field is not None, "no CSRF token on the page"
    return field["value"]


def login_with_csrf(app, username, password=DEMO_PASSWORD):
    """A test client logged in through the real form, CSRF token included."""
    test_client = app.test_client()
    token = csrf_token_of(test_client.get("/login"))
    response = test_client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, f"login of {username} failed: {response.status_code}"
    return test_client


# --- isolation -------------------------------------------------------------------

# Every route that names an object — by a path argument, or by a form or query field
# carrying an object's id — with what an attack on it sends:
#   "fields": form/query field -> the kind of object whose id it carries;
#   "extra": other fields that make the request otherwise valid, so that a refusal is
#            about whose object it is, never about bad input;
#   "own_studio": True when the path names no object of the victim's (an option of the
#            caller's own studio, a service of the shared catalogue): an attacker may
#            then be answered, but nothing of the victim's studio may change;
#   "no_owner": why no user is the owner to run the control request as.
# test_isolation.py fails until every such route is listed here.
OBJECT_ROUTES = {
    "operators.clients": {},
    "operators.save_clients": {"fields": {"visibili": "client", "gestiti": "client"}},
    "operators.manage_all": {"extra": {"azione": "aggiungi"}},
    "operators.set_smart": {"extra": {"attivo": "1"}},
    "operators.set_state": {"extra": {"attivo": "0"}},
    "settings.save_option": {"extra": {"enabled": "1"}, "own_studio": True},
    "smart.open_service": {},
    "smart.simulated_service": {
        "extra": {"token": "forged"}, "own_studio": True,
        "no_owner": "the stand-in of an external service, answering by token only "
                    "(test_smart_handoff.py)",
    },
    "consents.history": {},
    "operators.invite": {},
    "operators.change_details": {"extra": {"display_name": "Nome Nuovo",
                                           "email": "nuovo@studio.example"}},
    "password.invitation": {
        "own_studio": True,
        "no_owner": "a bearer link: whoever holds it sets the password once; forged, spent and "
                    "expired links are refused (test_account_links.py)",
    },
    "password.reset": {
        "own_studio": True,
        "no_owner": "a bearer link: whoever holds it sets the password once; forged, spent and "
                    "expired links are refused (test_account_links.py)",
    },
    "consents.select": {"fields": {"cliente": "client"}, "extra": {"azione": "aggiungi"}},
    "clients.show": {},
    "clients.update": {"fields": {"operatore": "operator", "servizi": "service"},
                       "extra": {"email": "pink@example.it"}},
    # "1": the owner's control request runs before clients.update, which must still find
    # the client active (an attacker is refused whichever the value)
    "clients.set_state": {"extra": {"attivo": "1"}},
    "clients.invite": {},
    **{f"clients_import.{name}": {
        "no_owner": "an upload is a folder under instance/ made by a test: its owner's access "
                    "and everyone else's refusal are in test_client_import_views.py"}
       for name in ("job", "progress", "run", "confirm", "refused")},
}

# Fields read by views that name no object (a search text, a flag, a page number...).
NOT_OBJECT_FIELDS = {
    "q", "pagina", "per_pagina", "mostra", "attivo", "azione", "next", "username",
    "password", "display_name", "repeat_password", "current_password", "new_password",
    "tipo", "enabled", "url", "token", "codice", "utente", "esito",
    "identificativo", "email",  # "Password dimenticata?", one's own address
    # the consent grid's query string and the client's answers
    "op", "stato_richiesta", "stato_risposta", "ordina", "risposta", "autorizzo", "modo",
    # the client import: the uploaded file, "Invia l'invito ai nuovi clienti"
    "file", "invita",
    # the access logs' period
    "dal", "al",
    # issue 15: "Durata del consenso", the grid's "Scadenza", the /servizi-smart filter and
    # its keyset cursors (codes), Altri Dati's services (ids of the SMART catalogue, shared
    # by every studio; only the client's own active services are ever changed)
    "durata", "scadenza", "stato", "dopo", "prima", "servizio", "servizi_mostrati",
}


def _studio_condition(model, studio_id):
    """A condition selecting the rows of ``model`` that belong to the studio, or None."""
    if model is models.Studio:
        return model.id == studio_id
    fields = model._meta.fields.values()
    for target, rows_of_studio in (
        (models.Studio, None),
        (models.Client, models.Client.select(models.Client.id).where(models.Client.studio == studio_id)),
        (models.User, models.User.select(models.User.id).where(models.User.studio == studio_id)),
    ):
        for field in fields:
            if getattr(field, "rel_model", None) is target:
                return field == studio_id if rows_of_studio is None else field.in_(rows_of_studio)
    return None


def studio_fingerprint(studio_code: str) -> dict[str, str]:
    """A digest of every row that belongs to one studio (plus shared tables), logs left out."""
    studio_id = models.Studio.get(models.Studio.code == studio_code).id
    digests = {}
    for model in models.ALL_MODELS:
        table = model._meta.table_name
        if table in LOG_TABLES:
            continue
        skip = TOUCH_COLUMNS.get(table, set())
        columns = [f for f in model._meta.sorted_fields if f.column_name not in skip]
        query = model.select(*columns)
        condition = _studio_condition(model, studio_id)
        if condition is not None:
            query = query.where(condition)
        rows = sorted(repr(row) for row in query.tuples())
        digests[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests

"""Isolation proven route by route: nobody reaches an object that is not his to reach.

Every route that names an object (route_catalogue.OBJECT_ROUTES) is attacked with
the objects of client PINK of studio BPF103 by another studio's admin, an operator
who does not manage PINK, and a different client: each is refused and nothing
changes. The catalogue is checked against the URL map, so a route added later
cannot escape.
"""

import inspect
import re

import pytest
from conftest import htmx_headers, login_as
from route_catalogue import (
    NOT_OBJECT_FIELDS,
    OBJECT_ROUTES,
    PATH_ARGUMENTS,
    all_routes,
    changed_tables,
    fingerprint,
    studio_fingerprint,
    url_for_route,
    victim_objects,
)

import accounts
import models
from models import Client, OperatorClient, Studio, User

ATTACKERS = {
    "admin.alt": "another studio's admin",
    "operatore2": "an operator who does not manage the client",
    "000088": "a different client",
    "alt-0001": "a client of another studio",
}
VICTIM_NAMES = ("Pink S.r.l.", "Marco Operatore")
OWNER_BY_ROLE = (("admin", "admin"), ("operator", "operatore1"), ("client", "pink"))


@pytest.fixture
def isolated_app(app):
    """The demo data plus an operator of ALT001 managing its client, as the attacker's own;
    SMART access on for both studios and both operators of BPF103, so that the only
    thing keeping an attacker out is whose object it is."""
    with models.db.connection_context(), models.write_transaction():
        models.StudioSettings.update(smart_access=True).execute()
        User.update(smart_access=True).where(User.role == "operator").execute()
        studio = Studio.get(Studio.code == "ALT001")
        operator = accounts.create_user(studio, "operatore.alt", "Operatore Alternativo",
                                        "demo", "operator", smart_access=True)
        own_client = Client.get((Client.studio == studio) & (Client.code == "ALT-0001"))
        OperatorClient.create(operator=operator, client=own_client)
    return app


def attacker_objects():
    """The attacker's own objects (studio ALT001), for attacks that name the victim in a field."""
    studio = Studio.get(Studio.code == "ALT001")
    client = Client.get((Client.studio == studio) & (Client.code == "ALT-0001"))
    operator = User.get(User.username == "operatore.alt")
    objects = victim_objects()
    return {**objects, "client": client.id, "operator": operator.id}


def routes_by_endpoint(app):
    return {route.endpoint: route for route in all_routes(app)}


def request_data(entry, objects):
    data = dict(entry.get("extra", {}))
    for field, kind in entry.get("fields", {}).items():
        data[field] = str(objects[kind])
    return data


def send(client, route, url, method, data, headers):
    if method == "GET":
        response = client.get(url, query_string=data, headers=headers)
    else:
        response = client.open(url, method=method, data=data, headers=headers)
    response.get_data()  # a streamed body (CSV) ends its request context
    return response


def test_every_route_that_names_an_object_is_catalogued(app):
    routes = routes_by_endpoint(app)
    with_arguments = {endpoint for endpoint, route in routes.items() if route.arguments}
    missing = sorted(with_arguments - OBJECT_ROUTES.keys())
    assert missing == [], (
        f"routes taking an object in their path are missing from OBJECT_ROUTES: {missing}")
    stale = sorted(OBJECT_ROUTES.keys() - routes.keys())
    assert stale == [], f"OBJECT_ROUTES lists routes that no longer exist: {stale}"
    for endpoint, route in routes.items():
        unknown = [a for a in route.arguments if a not in PATH_ARGUMENTS]
        assert unknown == [], f"{endpoint}: describe path arguments {unknown} in PATH_ARGUMENTS"


FIELD_READ = re.compile(r"request\.(?:form|args|values)\.(?:get|getlist)\(\s*[\"']([^\"']+)[\"']")


def test_every_field_a_view_reads_is_known(app):
    """A view reading a field not known to name no object must list it in OBJECT_ROUTES."""
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        source = inspect.getsource(inspect.unwrap(view))
        for field in FIELD_READ.findall(source):
            listed = OBJECT_ROUTES.get(endpoint, {}).get("fields", {})
            assert field in NOT_OBJECT_FIELDS or field in listed, (
                f"{endpoint} reads the field {field!r}: add it to OBJECT_ROUTES[{endpoint!r}]"
                f"['fields'] (if it carries an object's id) or to NOT_OBJECT_FIELDS")


def test_nobody_reaches_an_object_that_is_not_his(isolated_app):
    app = isolated_app
    routes = routes_by_endpoint(app)
    attackers = {username: login_as(app, username) for username in ATTACKERS}
    with models.db.connection_context():
        victim = victim_objects()
    attacks = 0
    for endpoint, entry in sorted(OBJECT_ROUTES.items()):
        if endpoint not in routes:
            continue  # planned, not landed yet
        route = routes[endpoint]
        url = url_for_route(app, route, victim)
        data = request_data(entry, victim)
        for method in sorted(route.methods):
            for username, who in ATTACKERS.items():
                for headers in ({}, htmx_headers("main")):
                    where = f"{method} {url} {data} by {who} ({username})"
                    with models.db.connection_context():
                        before, before_victim = fingerprint(), studio_fingerprint("BPF103")
                    response = send(attackers[username], route, url, method, data, headers)
                    body = response.get_data(as_text=True)
                    assert not any(name in body for name in VICTIM_NAMES), f"{where}: leaks"
                    with models.db.connection_context():
                        lenient = entry.get("own_studio") or not route.arguments
                        if lenient and response.status_code not in (403, 404):
                            # answered about the attacker's own studio (a foreign id in a
                            # field is ignored): the victim's studio is intact
                            assert response.status_code < 500, where
                            assert changed_tables(
                                before_victim, studio_fingerprint("BPF103")) == [], where
                            continue
                        assert response.status_code in (403, 404), (
                            f"{where}: answered {response.status_code}")
                        assert changed_tables(before, fingerprint()) == [], where
                    attacks += 1
    assert attacks >= 4 * len(OBJECT_ROUTES.keys() & routes.keys())


def test_naming_another_studios_object_in_a_field_changes_nothing_of_it(isolated_app):
    app = isolated_app
    routes = routes_by_endpoint(app)
    attacker = login_as(app, "admin.alt")
    with models.db.connection_context():
        own = attacker_objects()
        victim = victim_objects()
    for endpoint, entry in sorted(OBJECT_ROUTES.items()):
        if not entry.get("fields") or endpoint not in routes:
            continue
        route = routes[endpoint]
        url = url_for_route(app, route, own)  # the attacker's own object in the path...
        data = request_data(entry, victim)  # ...and the victim's in the fields
        for method in sorted(route.methods):
            with models.db.connection_context():
                before = studio_fingerprint("BPF103")
            response = send(attacker, route, url, method, data, {})
            where = f"{method} {url} {data}"
            assert response.status_code < 500, where
            assert not any(name in response.get_data(as_text=True) for name in VICTIM_NAMES)
            with models.db.connection_context():
                assert changed_tables(before, studio_fingerprint("BPF103")) == [], where


def test_the_owner_is_not_refused(isolated_app):
    """The control: the same requests by the object's own user pass, so the refusals above
    come from whose object it is, not from a malformed request."""
    app = isolated_app
    routes = routes_by_endpoint(app)
    with models.db.connection_context():
        victim = victim_objects()
    for endpoint, entry in sorted(OBJECT_ROUTES.items()):
        if entry.get("no_owner") or endpoint not in routes:
            continue
        route = routes[endpoint]
        owner = next(user for role, user in OWNER_BY_ROLE if route.allows(role))
        client = login_as(app, owner)
        url = url_for_route(app, route, victim)
        for method in sorted(route.methods):
            response = send(client, route, url, method, request_data(entry, victim), {})
            assert response.status_code < 400, f"{owner} {method} {url}: {response.status_code}"

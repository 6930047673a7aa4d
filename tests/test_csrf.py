"""CSRF on every state-changing route, htmx requests included; no GET changes state.

Both tests enumerate the URL map, so a route added later is covered as it lands.
"""

import pytest
from conftest import htmx_headers, login_as, make_test_app, parse, visible_text
from route_catalogue import (
    CSRF_EXEMPT_ENDPOINTS,
    ROLE_USERS,
    all_routes,
    changed_tables,
    csrf_token_of,
    fingerprint,
    login_with_csrf,
    url_for_route,
    victim_objects,
)

import demo
import models

CSRF_MESSAGE = "La sessione è scaduta o la pagina non è più valida"


@pytest.fixture
def csrf_app(database_url):
    """The portal as served: CSRF protection on, demo data."""
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    with models.db.connection_context():
        demo.seed(password="demo")
    yield app
    models.db.close_all()


def state_changing_requests(app):
    """(role, method, url) for every state-changing route, as each role allowed to use it."""
    with app.app_context(), models.db.connection_context():
        objects = victim_objects()
    for route in all_routes(app):
        if not route.changes_state or route.endpoint in CSRF_EXEMPT_ENDPOINTS:
            continue
        url = url_for_route(app, route, objects)
        roles = sorted(ROLE_USERS) + ["anonymous"] if route.is_public else sorted(route.roles)
        for role in roles:
            for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE"}):
                yield role, method, url


def test_every_state_changing_route_refuses_a_request_without_a_valid_token(csrf_app):
    clients = {role: login_with_csrf(csrf_app, user) for role, user in ROLE_USERS.items()}
    clients["anonymous"] = csrf_app.test_client()
    clients["anonymous"].get("/login")  # a session exists, so a token could have been had
    other_token = csrf_token_of(login_with_csrf(csrf_app, "operatore2").get("/"))
    checked = []
    for role, method, url in state_changing_requests(csrf_app):
        client = clients[role]
        attempts = {
            "no token": ({}, {}),
            "bogus token": ({"csrf_token": "bogus"}, {}),
            "another session's token": ({"csrf_token": other_token}, {}),
            "htmx, no token": ({}, htmx_headers("main")),
            "htmx, bogus header": ({}, {**htmx_headers("main"), "X-CSRFToken": "x" * 90}),
        }
        for attempt, (data, headers) in attempts.items():
            where = f"{role} {method} {url} ({attempt})"
            with models.db.connection_context():
                before = fingerprint()
            response = client.open(url, method=method, data=data, headers=headers)
            with models.db.connection_context():
                assert changed_tables(before, fingerprint()) == [], where
            assert response.status_code == 400, f"{where}: {response.status_code}"
            if "HX-Request" in headers:
                assert response.headers["HX-Retarget"] == "#messages", where
            assert CSRF_MESSAGE in visible_text(parse(response)), where
        checked.append(url)
    assert "/logout" in checked and "/login" in checked


def test_routes_exempt_from_csrf_authenticate_their_caller_instead(csrf_app):
    """Exempt routes are the listed ones only, and a browser's session opens none of them."""
    from app import csrf

    exempt = {name.rsplit(".", 1)[-1] for name in csrf._exempt_views}
    listed = {endpoint.rsplit(".", 1)[-1] for endpoint in CSRF_EXEMPT_ENDPOINTS}
    assert exempt == listed
    browser = login_with_csrf(csrf_app, "admin")
    with csrf_app.app_context(), models.db.connection_context():
        objects = victim_objects()
    for route in all_routes(csrf_app):
        if route.endpoint not in CSRF_EXEMPT_ENDPOINTS:
            continue
        url = url_for_route(csrf_app, route, objects)
        with models.db.connection_context():
            before = fingerprint()
        response = browser.post(url, data={"token": "x"})
        assert response.status_code == 401, url
        with models.db.connection_context():
            assert changed_tables(before, fingerprint()) == [], url


def test_the_same_request_with_its_token_is_accepted(csrf_app):
    """The control: the refusal above comes from the missing token, nothing else."""
    client = login_with_csrf(csrf_app, "admin")
    token = csrf_token_of(client.get("/"))
    response = client.post("/logout", headers={**htmx_headers(), "X-CSRFToken": token})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/login"


def test_a_page_left_open_after_logging_out_elsewhere_goes_to_the_login_page(csrf_app):
    """Tab A still shows a page (and its token) when tab B logs out: the cookie both share
    lost the session, so A's next action is refused for its token. The user must land on
    the login page, not stay on a page that still greets him with an error inside it."""
    client = login_with_csrf(csrf_app, "admin")
    stale_token = csrf_token_of(client.get("/area-personale/configurazioni-varie"))
    client.post("/logout", data={"csrf_token": stale_token})  # tab B
    with models.db.connection_context():
        before = fingerprint()
    url = "/area-personale/configurazioni-varie/read_receipts"
    as_htmx = client.post(url, data={"enabled": "1"},
                          headers={**htmx_headers(), "X-CSRFToken": stale_token})
    as_form = client.post(url, data={"enabled": "1", "csrf_token": stale_token})
    with models.db.connection_context():
        assert changed_tables(before, fingerprint()) == []
    assert as_htmx.status_code == 204 and as_htmx.headers["HX-Redirect"] == "/login"
    assert as_form.status_code == 302 and as_form.headers["Location"].startswith("/login")
    # A user still logged in who sends a bad token keeps the message of a refused token.
    client = login_with_csrf(csrf_app, "admin")
    refused = client.post(url, data={"enabled": "1", "csrf_token": "bogus"})
    assert refused.status_code == 400 and CSRF_MESSAGE in visible_text(parse(refused))


def test_the_login_form_needs_its_token_too(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "admin", "password": "demo"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("role", sorted(ROLE_USERS) + ["anonymous"])
def test_no_get_changes_the_database(app, role):
    client = app.test_client() if role == "anonymous" else login_as(app, ROLE_USERS[role])
    with app.app_context(), models.db.connection_context():
        objects = victim_objects()
    visited = 0
    for route in all_routes(app):
        if "GET" not in route.methods:
            continue
        url = url_for_route(app, route, objects)
        for headers in ({}, htmx_headers("main")):
            with models.db.connection_context():
                before = fingerprint()
            response = client.get(url, headers=headers)
            response.get_data()  # a streamed body (CSV) ends its request context
            assert response.status_code < 500, f"GET {url}: {response.status_code}"
            with models.db.connection_context():
                assert changed_tables(before, fingerprint()) == [], f"{role} GET {url}"
            visited += 1
    assert visited >= 6

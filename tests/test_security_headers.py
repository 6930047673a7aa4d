"""Security headers on every response of every route, for every role, and over HTTPS."""

import pytest
from conftest import htmx_headers, login_as, make_test_app
from route_catalogue import ROLE_USERS, all_routes, url_for_route, victim_objects

import models

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def assert_security_headers(response, where, authenticated=True):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    for name, value in CSP_DIRECTIVES.items():
        assert directives.get(name) == value, f"{where}: CSP {name} is {directives.get(name)!r}"
    for name, sources in directives.items():
        loose = set(sources.split()) & {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'",
                                         "*", "http:", "https:", "blob:"}
        if name != "img-src":
            loose |= set(sources.split()) & {"data:"}
        assert not loose, f"{where}: CSP {name} allows {loose}"
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), where
    assert "camera=()" in headers.get("Permissions-Policy", ""), where
    assert headers.get("X-Frame-Options") == "DENY", where
    if authenticated:
        assert "no-store" in headers.get("Cache-Control", ""), f"{where}: cacheable"


def get_routes_for(app, role):
    with app.app_context(), models.db.connection_context():
        objects = victim_objects()
    for route in all_routes(app):
        if "GET" in route.methods and route.allows(role):
            yield route, url_for_route(app, route, objects)


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_every_page_of_every_role_carries_the_security_headers(app, role):
    client = login_as(app, ROLE_USERS[role])
    seen = 0
    for _route, url in get_routes_for(app, role):
        for headers in ({}, htmx_headers("main")):
            response = client.get(url, headers=headers)
            response.get_data()  # a streamed body (CSV) ends its request context
            assert response.status_code < 500, f"{url} answered {response.status_code}"
            assert_security_headers(response, f"{role} GET {url}")
            seen += 1
    assert seen >= 4


def test_anonymous_pages_errors_and_static_files_carry_the_headers(client):
    for url in ("/login", "/healthz", "/", "/non-esiste", "/static/app.css"):
        response = client.get(url)
        assert_security_headers(response, url, authenticated=url != "/static/app.css")
    response = client.post("/login", data={"username": "admin", "password": "sbagliata"})
    assert_security_headers(response, "failed login")
    response = client.get("/logout")
    assert response.status_code == 405
    assert_security_headers(response, "405")


def test_static_files_may_be_cached_pages_may_not(app):
    client = login_as(app, "admin")
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_when_the_request_came_over_https(client):
    response = client.get("/login", base_url="https://portale.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_and_host_cookie_when_https_only(database_url):
    app = make_test_app(database_url, HTTPS_ONLY=True)
    try:
        client = app.test_client()
        response = client.get("/login", base_url="https://portale.example")
        assert "max-age=" in response.headers["Strict-Transport-Security"]
        # also on a plain-HTTP request reaching the app (TLS ended before it)
        assert "Strict-Transport-Security" in client.get("/login").headers
    finally:
        models.db.close_all()


def test_forwarded_proto_is_trusted_only_when_configured(database_url):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    untrusting = make_test_app(database_url)
    assert "Strict-Transport-Security" not in untrusting.test_client().get(
        "/login", headers=forwarded).headers
    trusting = make_test_app(database_url, TRUST_PROXY=1)
    try:
        assert "Strict-Transport-Security" in trusting.test_client().get(
            "/login", headers=forwarded).headers
    finally:
        models.db.close_all()

"""Bad input at every field of every route: a clear 4xx or a sane default, never a 500,
and nothing changed when the answer is a refusal.

Hypothesis throws random text, control characters, huge numbers, invalid UTF-8,
repeated fields, JSON and multipart bodies and random ids in the path at every
route of the URL map, with the fields its views read and its templates' forms
send (so a route added later gets the same treatment).
"""

import glob
import inspect
import json
import os
import re
import sys
from urllib.parse import quote, quote_from_bytes

import pytest
from conftest import login_as
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from route_catalogue import (
    PATH_ARGUMENTS,
    all_routes,
    changed_tables,
    fingerprint,
    url_for_route,
    victim_objects,
)

import models

EXAMPLES = int(os.environ.get("BAD_INPUT_EXAMPLES", 25))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The user each role acts as (operatore1 and pink are the victim's: keep them usable).
ACTORS = {"admin": "admin", "operator": "operatore2", "client": "000088", "public": None}
# Routes that take no input, or whose input only ends the caller's own session.
SKIPPED = {"auth.logout"}
# The grid's query string, sent to every route: views must ignore what they don't read.
CONTRACT_FIELDS = {"codice", "op", "stato_richiesta", "stato_risposta", "ordina", "pagina",
                   "per_pagina", "next", "q"}

FIELD_READ = re.compile(r"request\.(?:form|args|values)\.(?:get|getlist)\(\s*[\"']([^\"']+)[\"']")
TEMPLATE_FIELD = re.compile(r"""name=["']([A-Za-z_][A-Za-z0-9_\[\]]*)["']""")


def template_fields() -> set[str]:
    names = set()
    for path in glob.glob(os.path.join(ROOT, "templates", "**", "*.html"), recursive=True) + \
            glob.glob(os.path.join(ROOT, "partials", "**", "*.html"), recursive=True):
        with open(path, encoding="utf-8") as template:
            names.update(TEMPLATE_FIELD.findall(template.read()))
    return names - {"viewport", "csrf_token", "htmx-config"}


def fields_of(app, endpoint) -> list[str]:
    """Fields the route's view module reads, plus every form field of the templates."""
    view = inspect.unwrap(app.view_functions[endpoint])
    module_source = inspect.getsource(sys.modules[view.__module__])
    return sorted(set(FIELD_READ.findall(module_source)) | template_fields() | CONTRACT_FIELDS)


nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),  # control characters
    st.sampled_from([
        "", " ", "0", "-1", "1e308", "NaN", "inf", "99999999999999999999999999", "-0",
        "2147483648", "9223372036854775808", "[]", "{}", "null", "true", "<script>",
        "' OR 1=1 --", "../../etc/passwd", "%00", "\u202e", "\ufeff", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "é" * 300,
        "demo", "1", "aggiungi", "rimuovi", "tutti", "gestiti", "-codice", "codice",
    ]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just("x" * 20_000),
)
invalid_utf8 = st.binary(min_size=1, max_size=12).filter(
    lambda raw: not _decodes(raw)) | st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])


def _decodes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encode_pairs(pairs) -> str:
    """Form-encode (name, value) pairs where a value may be str or raw (invalid UTF-8) bytes."""
    parts = []
    for name, value in pairs:
        encoded = quote_from_bytes(value) if isinstance(value, bytes) else quote(value, safe="")
        parts.append(f"{quote(name, safe='')}={encoded}")
    return "&".join(parts)


@st.composite
def bad_requests(draw, fields):
    """A request's query string, body and headers, all of them hostile."""
    value = st.one_of(nasty_text, invalid_utf8)
    pairs = draw(st.lists(st.tuples(st.sampled_from(fields), value), max_size=6))
    query = draw(st.lists(st.tuples(st.sampled_from(fields), value), max_size=4))
    body_kind = draw(st.sampled_from(["form", "form", "json", "multipart", "garbage"]))
    headers = {}
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
        headers["HX-Target"] = draw(st.sampled_from(["main#main", "div#messages"]) | nasty_text.map(
            lambda text: text.encode("latin-1", "replace").decode("latin-1")
            .replace("\r", " ").replace("\n", " ")))  # a header cannot carry a line break
    if body_kind == "form":
        body, content_type = encode_pairs(pairs), "application/x-www-form-urlencoded"
    elif body_kind == "json":
        body = json.dumps({name: (value.decode("latin-1") if isinstance(value, bytes) else value)
                           for name, value in pairs})
        content_type = "application/json"
    elif body_kind == "multipart":
        body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\r\n" \
               b"\xff\xfe\r\n--b--\r\n"
        content_type = "multipart/form-data; boundary=b"
    else:
        body, content_type = draw(st.binary(max_size=200)), "application/x-www-form-urlencoded"
    path_ids = draw(st.sampled_from([None, 0, -1, 2**31, 10**25, 1, 3]))
    return encode_pairs(query), body, content_type, headers, path_ids


def route_params(app):
    return [pytest.param(route.endpoint, id=route.endpoint) for route in all_routes(app)
            if route.endpoint not in SKIPPED]


def _endpoints():
    # Collected before any fixture exists: build an app on a throwaway database.
    import tempfile

    from conftest import make_test_app

    with tempfile.TemporaryDirectory() as folder:
        app = make_test_app(f"sqlite:///{folder}/routes.db")
        endpoints = [route.endpoint for route in all_routes(app)]
        models.db.close_all()
    return [endpoint for endpoint in endpoints if endpoint not in SKIPPED]


@pytest.mark.parametrize("endpoint", _endpoints())
def test_hostile_input_is_answered_never_crashed_on(app, endpoint):
    route = next(r for r in all_routes(app) if r.endpoint == endpoint)
    role = "public" if route.is_public else sorted(route.roles)[0]
    user = ACTORS[role]
    client = login_as(app, user) if user else app.test_client()
    with models.db.connection_context():
        objects = victim_objects()
    fields = fields_of(app, endpoint)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(request=bad_requests(fields), method=st.sampled_from(sorted(route.methods)))
    def attack(request, method):
        query, body, content_type, headers, path_id = request
        url = url_for_route(app, route, objects)
        if path_id is not None and route.arguments:
            for name in route.arguments:
                value = objects[PATH_ARGUMENTS[name]]
                if isinstance(value, int):  # an id: try ids that exist nowhere, or are huge
                    url = re.sub(rf"/{value}(/|$)", f"/{path_id}\\1", url, count=1)
        with models.db.connection_context():
            before = fingerprint()
        response = client.open(
            url + ("?" + query if query else ""), method=method,
            data=body if method != "GET" else None,
            content_type=content_type if method != "GET" else None,
            headers=headers,
        )
        response.get_data()  # a streamed body (CSV) ends its request context
        where = f"{method} {url}?{query[:200]} body={body[:200]!r} headers={headers}"
        assert response.status_code < 500, f"{where}: answered {response.status_code}"
        if 400 <= response.status_code < 500:
            with models.db.connection_context():
                assert changed_tables(before, fingerprint()) == [], f"{where}: changed state"

    attack()


@pytest.mark.parametrize("value", ["x" * 300, "é" * 3000, "9" * 40, "-1", " ", "A-b.c_1"])
def test_every_field_of_every_route_at_once(app, value):
    """The same odd value in every field at once: matching passwords, over-long names..."""
    clients = {role: (login_as(app, user) if user else app.test_client())
               for role, user in ACTORS.items()}
    with models.db.connection_context():
        objects = victim_objects()
    for route in all_routes(app):
        if route.endpoint in SKIPPED:
            continue
        role = "public" if route.is_public else sorted(route.roles)[0]
        url = url_for_route(app, route, objects)
        data = {field: value for field in fields_of(app, route.endpoint)}
        for method in sorted(route.methods):
            with models.db.connection_context():
                before = fingerprint()
            if method == "GET":
                response = clients[role].get(url, query_string=data)
            else:
                response = clients[role].open(url, method=method, data=data)
            response.get_data()
            where = f"{method} {url} with every field = {value[:20]!r}"
            assert response.status_code < 500, f"{where}: answered {response.status_code}"
            if 400 <= response.status_code < 500:
                with models.db.connection_context():
                    assert changed_tables(before, fingerprint()) == [], where

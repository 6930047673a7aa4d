"""HTML is sent gzipped to clients that accept it, and only to them."""

import gzip

import pytest
from bs4 import BeautifulSoup
from conftest import login_as, parse, visible_text

from compression import accepts_gzip

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def vary(response) -> set[str]:
    return {value.strip().lower() for value in response.headers.get("Vary", "").split(",")}


def test_a_page_is_gzipped_for_a_browser_and_reads_the_same(app):
    admin = login_as(app, "admin")
    plain = admin.get("/")
    zipped = admin.get("/", headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(zipped.get_data())
    assert len(zipped.get_data()) < len(plain.get_data()) / 2
    unzipped = BeautifulSoup(gzip.decompress(zipped.get_data()).decode(), "html.parser")
    assert visible_text(unzipped.main) == visible_text(parse(plain).main)
    assert "accept-encoding" in vary(zipped)
    assert "accept-encoding" in vary(plain)  # caches must keep the two apart


def test_without_accept_encoding_the_page_is_plain(app):
    admin = login_as(app, "admin")
    response = admin.get("/")
    assert "Content-Encoding" not in response.headers
    assert "Home" in visible_text(parse(response).h1)


@pytest.mark.parametrize("header", ["gzip;q=0", "identity", "br", "deflate;q=1, gzip;q=0.0"])
def test_a_client_refusing_gzip_gets_plain_html(app, header):
    admin = login_as(app, "admin")
    response = admin.get("/", headers={"Accept-Encoding": header})
    assert "Content-Encoding" not in response.headers
    assert visible_text(parse(response).h1).endswith("Home")


def test_an_htmx_fragment_is_gzipped_and_keeps_its_vary_headers(app, hx):
    operator = login_as(app, "operatore1")
    plain = operator.get("/servizi-smart", headers=hx("smart-clients"))
    response = operator.get("/servizi-smart", headers={**hx("smart-clients"), **GZIP})
    assert response.status_code == 200
    if len(plain.get_data()) >= 500:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.get_data()) == plain.get_data()
    assert {"hx-request", "hx-target"} <= vary(response)


def test_small_and_non_html_responses_are_left_alone(app, client):
    health = client.get("/healthz", headers=GZIP)
    assert health.get_data() == b"ok"
    assert "Content-Encoding" not in health.headers
    css = client.get("/static/app.css", headers=GZIP)
    assert css.status_code == 200
    assert "Content-Encoding" not in css.headers


def test_an_error_page_is_gzipped_too(app, client):
    response = client.get("/non-esiste", headers=GZIP)
    assert response.status_code == 404
    if response.headers.get("Content-Encoding") == "gzip":
        assert "Pagina non trovata" in gzip.decompress(response.get_data()).decode()


@pytest.mark.parametrize(
    "header, expected",
    [
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=abc", False),
        ("", False),
        ("identity", False),
        ("br, deflate", False),
    ],
)
def test_accept_encoding_is_read_with_its_quality_values(header, expected):
    assert accepts_gzip(header) is expected

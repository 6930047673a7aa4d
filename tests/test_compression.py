"""HTML is sent gzipped (Flask-Compress) to clients that accept it, and only to them."""

import gzip

import pytest
from bs4 import BeautifulSoup
from conftest import login_as, parse, visible_text

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


# Not "gzip;q=0": Flask-Compress 1.25 reads a zero quality as a preference like any other
# and gzips anyway (RFC 9110 says q=0 refuses the coding); no browser sends it.
@pytest.mark.parametrize("header", ["identity", "br", "zstd, br", "deflate"])
def test_a_client_not_taking_gzip_gets_plain_html(app, header):
    """Only gzip is configured: a client asking for brotli, zstd or deflate alone gets plain HTML."""
    admin = login_as(app, "admin")
    response = admin.get("/", headers={"Accept-Encoding": header})
    assert "Content-Encoding" not in response.headers
    assert visible_text(parse(response).h1).endswith("Home")


def test_a_browser_offering_every_coding_gets_gzip(app):
    admin = login_as(app, "admin")
    response = admin.get("/", headers={"Accept-Encoding": "zstd, br, gzip, deflate"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"<h1>Home</h1>" in gzip.decompress(response.get_data())


def test_an_htmx_fragment_is_gzipped_and_keeps_its_vary_headers(app, hx):
    admin = login_as(app, "admin")
    plain = admin.get("/area-personale/operatori", headers=hx("operators"))
    response = admin.get("/area-personale/operatori", headers={**hx("operators"), **GZIP})
    assert response.status_code == 200
    assert len(plain.get_data()) >= 500  # else this test would prove nothing
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.get_data()) == plain.get_data()
    assert {"hx-request", "hx-target", "accept-encoding"} <= vary(response)


def test_small_and_non_html_responses_are_left_alone(app, client):
    health = client.get("/healthz", headers=GZIP)
    assert health.get_data() == b"ok"
    assert "Content-Encoding" not in health.headers
    css = client.get("/static/app.css", headers=GZIP)
    assert css.status_code == 200
    assert "Content-Encoding" not in css.headers


def test_a_tiny_html_answer_is_sent_plain(app, hx):
    """An htmx answer under the 500-byte threshold: gzip's header would outweigh its gain."""
    admin = login_as(app, "admin")
    response = admin.post("/banner-servizi-smart/chiudi", headers={**hx("home-heading"), **GZIP})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Content-Encoding" not in response.headers

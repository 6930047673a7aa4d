"""The SMART tile on the homes and the list /servizi-smart."""

import pytest
from conftest import counting_statements, login_as, parse, visible_text
from smart_helpers import set_option7, set_switch

import demo
import models
from models import Client, Studio


def tile(page):
    return page.select_one("a.smart-tile")


def test_operator_without_switch_has_no_tile_but_the_message(app, db):
    set_option7(on=True)
    page = parse(login_as(app, "operatore1").get("/"))
    assert tile(page) is None
    text = visible_text(page.find("main"))
    assert "inviate solo dall'amministratore dello studio" in text


def test_operator_with_switch_sees_the_tile_with_his_count(app, db):
    set_option7(on=True)
    set_switch("operatore1")
    page = parse(login_as(app, "operatore1").get("/"))
    assert visible_text(tile(page)) == "Servizi SMART 3 clienti raggiungibili"
    assert tile(page)["href"] == "/servizi-smart"
    text = visible_text(page.find("main"))
    assert "Puoi accedere ai Servizi SMART dei clienti che gestisci e che hanno dato il consenso." in text


WAITING_FOR_ACCESS = ("Potrai accedere ai Servizi SMART dei clienti che gestisci e che hanno dato "
                      "il consenso quando l'amministratore dello studio avrà attivato il tuo accesso.")


def test_operator_switch_without_option7_shows_no_tile(app, db):
    set_switch("operatore1")
    page = parse(login_as(app, "operatore1").get("/"))
    assert tile(page) is None
    # His user is enabled already: what he waits for is the studio's option 7, so the
    # message must not send him to ask the administrator to enable his user.
    text = visible_text(page.find("main"))
    assert WAITING_FOR_ACCESS in text and "abilitato il tuo utente" not in text


def test_admin_gets_the_tile_once_option7_is_on(app, db):
    assert tile(parse(login_as(app, "admin").get("/"))) is None
    set_option7(on=True)
    assert visible_text(tile(parse(login_as(app, "admin").get("/")))).startswith("Servizi SMART 7 ")


def test_clients_never_get_the_tile(app, db):
    set_option7(on=True)
    assert tile(parse(login_as(app, "pink").get("/"))) is None


def table_codes(page):
    return [visible_text(row.find("td")) for row in page.select(".smart-table tbody tr")]


def test_list_shows_exactly_the_reachable_clients_and_their_services(app, db):
    set_option7(on=True)
    set_switch("operatore1")
    page = parse(login_as(app, "operatore1").get("/servizi-smart"))
    assert table_codes(page) == ["000006.000010", "002420.002420", "PINK"]
    pink_row = page.select(".smart-table tbody tr")[2]
    assert [visible_text(s) for s in pink_row.select(".smart-service-name")] == ["Fattura SMART", "SMART Hub"]
    assert "Elementi 1 - 3 di 3" in visible_text(page.select_one(".smart-pager"))


def test_list_says_why_a_user_without_access_sees_nothing(app, db):
    set_option7(on=True)
    page = parse(login_as(app, "operatore1").get("/servizi-smart"))
    assert table_codes(page) == []
    assert "non è abilitato" in visible_text(page.select_one("[role=status]"))


@pytest.mark.parametrize("username", ["pink", "admin.alt"])
def test_list_is_closed_to_clients_and_empty_for_other_studios(app, db, username):
    set_option7(on=True)
    set_option7("ALT001", on=True)
    response = login_as(app, username).get("/servizi-smart")
    if username == "pink":
        assert response.status_code == 403
    else:
        assert table_codes(parse(response)) == []


def test_search_treats_wildcards_literally_and_pages_forgive_bad_input(app, db, hx):
    set_option7(on=True)
    admin = login_as(app, "admin")
    assert table_codes(parse(admin.get("/servizi-smart?q=pink"))) == ["PINK"]
    assert table_codes(parse(admin.get("/servizi-smart?q=%25"))) == []
    assert table_codes(parse(admin.get("/servizi-smart?q=_"))) == []
    assert table_codes(parse(admin.get("/servizi-smart?q=SMART"))) == []
    page = parse(admin.get("/servizi-smart?pagina=abc&per_pagina=7"))
    assert len(table_codes(page)) == 7
    page = parse(admin.get("/servizi-smart?pagina=99&per_pagina=10"))
    assert "Pagina 1 di 1" in visible_text(page.select_one(".smart-pager"))
    fragment = admin.get("/servizi-smart?q=000", headers=hx("smart-clients"))
    assert fragment.status_code == 200 and "Vary" in fragment.headers
    root = parse(fragment)
    assert root.find("html") is None and root.select_one("div#smart-clients")
    assert table_codes(root) == ["000004", "000006.000010", "000011", "000088"]


def grant_synthetic_clients(count):
    studio = Studio.get(Studio.code == "BPF103")
    demo.add_synthetic_clients(studio, count, demo.ensure_catalogue())
    Client.update(consent_answer="granted").where(Client.code.startswith("S")).execute()


def test_list_and_tile_cost_the_same_statements_for_10_or_2000_clients(app, hx):
    counts = []
    for size in (10, 2000):
        with models.db.connection_context():
            set_option7(on=True)
            grant_synthetic_clients(size)
        admin = login_as(app, "admin")
        with counting_statements() as page_cost:
            response = admin.get("/servizi-smart?per_pagina=100")
        with counting_statements() as home_cost:
            home = admin.get("/")
        assert response.status_code == 200 and home.status_code == 200
        counts.append((page_cost.count, home_cost.count))
        shown = len(table_codes(parse(response)))
        assert shown == (7 + 8 if size == 10 else 100), shown  # 4 in 5 synthetic clients have services
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 8, counts

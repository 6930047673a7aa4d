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


def row_of(page, code):
    (row,) = [r for r in page.select(".smart-table tbody tr") if visible_text(r.find("td")) == code]
    return row


def state_of(page, code):
    return visible_text(row_of(page, code).select_one(".smart-state"))


def accedi_labels(page):
    return [button["aria-label"] for button in page.select(".smart-table button")]


def test_list_shows_every_managed_client_reachable_or_with_the_reason(app, db):
    set_option7(on=True)
    set_switch("operatore1")
    page = parse(login_as(app, "operatore1").get("/servizi-smart"))
    # 000200 is managed too, but has no SMART service: nothing to open, not listed
    assert table_codes(page) == ["000006.000010", "000131", "000145", "002420.002420", "PINK"]
    assert [state_of(page, code) for code in table_codes(page)] == [
        "raggiungibile", "non ha ancora risposto", "non ha aderito", "raggiungibile",
        "raggiungibile"]
    pink_row = row_of(page, "PINK")
    assert [visible_text(s) for s in pink_row.select(".smart-service-name")] == ["Fattura SMART", "SMART Hub"]
    assert accedi_labels(page) == [
        "Accedi a Fattura SMART di 000006.000010", "Accedi a SMART Hub di 000006.000010",
        "Accedi a Fattura SMART di 002420.002420", "Accedi a Corrispettivi SMART di 002420.002420",
        "Accedi a Fattura SMART di PINK", "Accedi a SMART Hub di PINK"]
    assert page.select_one(".smart-pager") is None  # one page: no paging links


@pytest.mark.parametrize(("state", "codes"), [
    ("raggiungibili", ["000006.000010", "002420.002420", "PINK"]),
    ("senza_risposta", ["000131"]),
    ("non_aderito", ["000145"]),
    ("revocato", ["000145"]),  # its name in links saved before it was renamed
    ("tutti", ["000006.000010", "000131", "000145", "002420.002420", "PINK"]),
    ("sconosciuto", ["000006.000010", "000131", "000145", "002420.002420", "PINK"]),
])
def test_list_filters_by_state(app, db, state, codes):
    set_option7(on=True)
    set_switch("operatore1")
    operator = login_as(app, "operatore1")
    page = parse(operator.get(f"/servizi-smart?stato={state}"))
    assert table_codes(page) == codes
    selected = page.select_one("#smart-state option[selected]")
    assert selected["value"] == {"sconosciuto": "tutti", "revocato": "non_aderito"}.get(state, state)


def test_reachable_filter_lists_as_many_clients_as_the_tile_counts(app, db):
    set_option7(on=True)
    set_switch("operatore1")
    operator = login_as(app, "operatore1")
    count = visible_text(tile(parse(operator.get("/"))).select_one(".tile-count"))
    assert len(table_codes(parse(operator.get("/servizi-smart?stato=raggiungibili")))) == int(count) == 3
    Client.update(consent_answer="declined").where(Client.code == "PINK").execute()
    count = visible_text(tile(parse(operator.get("/"))).select_one(".tile-count"))
    page = parse(operator.get("/servizi-smart?stato=raggiungibili"))
    assert len(table_codes(page)) == int(count) == 2


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
        assert not {"PINK", "000131"} & set(table_codes(parse(response)))


def test_search_treats_wildcards_literally_and_bad_input_gets_defaults(app, db, hx):
    set_option7(on=True)
    admin = login_as(app, "admin")
    assert table_codes(parse(admin.get("/servizi-smart?q=pink"))) == ["PINK"]
    assert table_codes(parse(admin.get("/servizi-smart?q=%25"))) == []
    assert table_codes(parse(admin.get("/servizi-smart?q=_"))) == []
    assert table_codes(parse(admin.get("/servizi-smart?q=SMART"))) == []
    page = parse(admin.get("/servizi-smart?pagina=abc&per_pagina=7"))
    assert len(table_codes(page)) == 11  # every client with a service, the default page size
    # a cursor past either end (forged, or the clients after it gone): the first page, not
    # "Nessun cliente con Servizi SMART attivi"
    first = table_codes(parse(admin.get("/servizi-smart")))
    for cursor in ("dopo=" + "Z" * 500, "dopo=xyz", "prima=000000"):
        page = parse(admin.get("/servizi-smart?" + cursor))
        assert table_codes(page) == first, cursor
        assert page.select_one("a[rel=prev]") is None, cursor
    fragment = admin.get("/servizi-smart?q=000", headers=hx("smart-clients"))
    assert fragment.status_code == 200 and "Vary" in fragment.headers
    root = parse(fragment)
    assert root.find("html") is None and root.select_one("div#smart-clients")
    assert table_codes(root) == ["000004", "000006.000010", "000011", "000088", "000120",
                                 "000131", "000145", "000150"]


def test_pages_follow_the_codes_forward_and_back(app, db):
    set_option7(on=True)
    admin = login_as(app, "admin")
    first = parse(admin.get("/servizi-smart?per_pagina=10&stato=tutti"))
    assert len(table_codes(first)) == 10
    assert first.select_one("#smart-clients-pager-prev") is None
    next_url = first.select_one("#smart-clients-pager-next")["href"]
    assert "per_pagina=10" in next_url
    second = parse(admin.get(next_url))
    assert table_codes(second) == ["PINK"]
    assert second.select_one("#smart-clients-pager-next") is None
    back = parse(admin.get(second.select_one("#smart-clients-pager-prev")["href"]))
    assert table_codes(back) == table_codes(first)
    assert back.select_one("#smart-clients-pager-prev") is None
    assert back.select_one("#smart-clients-pager-next")["href"] == next_url


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
        assert shown == (11 + 8 if size == 10 else 100), shown  # 4 in 5 synthetic clients have services
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 8, counts

"""Who opened which client's SMART services: the admin's log, and the client's own."""

import pytest
from conftest import counting_statements, login_as, parse, visible_text
from smart_helpers import client, set_option7, set_switch, user

import models
import smart_access
from models import AccessEvent

LOG = "/area-personale/accessi-smart"


@pytest.fixture
def accesses(app, db):
    """operatore1 opens PINK's Fattura SMART; operatore2 is refused it; admin opens 000088's SMART Hub."""
    set_option7(on=True)
    set_switch("operatore1")
    set_switch("operatore2")
    pink, edil = client("PINK").id, client("000088").id
    assert login_as(app, "operatore1").post(f"/servizi-smart/{pink}/fattura_smart/accedi").status_code == 200  # the hand-off page
    assert login_as(app, "operatore2").post(f"/servizi-smart/{pink}/fattura_smart/accedi").status_code == 403
    assert login_as(app, "admin").post(f"/servizi-smart/{edil}/smart_hub/accedi").status_code == 200


def log_rows(page):
    return [[visible_text(td) for td in tr.find_all("td")] for tr in page.select("#access-log tbody tr")]


def test_admin_sees_every_attempt_newest_first(app, accesses):
    page = parse(login_as(app, "admin").get(LOG))
    rows = log_rows(page)
    assert [(r[1], r[2].split()[0], r[3], r[4].split()[0]) for r in rows] == [
        ("Mario Amministratore (admin)", "000088", "SMART Hub", "Consentito"),
        ("Giulia Operatrice (operatore2)", "PINK", "Fattura SMART", "Negato"),
        ("Marco Operatore (operatore1)", "PINK", "Fattura SMART", "Consentito"),
    ]
    assert "Non gestisci questo cliente." in rows[1][4]
    menu = [visible_text(a) for a in page.select("nav.side-menu ul a[aria-current=page]")]
    assert menu == ["Accessi ai Servizi SMART"]


@pytest.mark.parametrize("query, expected", [
    ("codice=pink", 2), ("codice=000088", 1), ("codice=%25", 0), ("utente=operatore", 2),
    ("utente=Giulia", 1), ("esito=negato", 1), ("esito=consentito", 2), ("esito=boh", 3),
    ("codice=pink&esito=consentito", 1), ("pagina=x&per_pagina=-1", 3),
])
def test_admin_filters_the_log(app, accesses, query, expected):
    assert len(log_rows(parse(login_as(app, "admin").get(f"{LOG}?{query}")))) == expected


def test_the_log_pages_in_place(app, accesses, hx):
    admin = login_as(app, "admin")
    response = admin.get(f"{LOG}?per_pagina=10&pagina=1", headers=hx("access-log"))
    fragment = parse(response)
    assert fragment.find("html") is None and fragment.select_one("div#access-log")
    assert "Elementi 1 - 3 di 3" in visible_text(fragment.select_one(".smart-pager"))


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_the_log_is_for_the_admin_only(app, accesses, username):
    assert login_as(app, username).get(LOG).status_code == 403


def test_another_studios_admin_sees_none_of_it(app, accesses):
    assert log_rows(parse(login_as(app, "admin.alt").get(LOG))) == []


def test_the_log_costs_the_same_for_few_or_many_events(app, accesses):
    admin = login_as(app, "admin")
    costs = []
    for _ in range(2):
        with counting_statements() as cost:
            admin.get(f"{LOG}?per_pagina=100")
        costs.append(cost.count)
        with models.db.connection_context():
            op1 = user("operatore1")
            AccessEvent.insert_many([{"studio": op1.studio_id, "user": op1.id, "client": client("PINK").id,
                                      "service": 1, "granted": True} for _ in range(300)]).execute()
    assert costs[0] == costs[1]


def test_the_client_sees_who_opened_its_services(app, accesses):
    events = smart_access.client_access_log(client("PINK"))
    assert [(e.user.username, e.service.code) for e in events] == [("operatore1", "fattura_smart")]
    assert smart_access.client_access_log(client("000145")) == []
    page = parse(login_as(app, "pink").get("/area-personale/altri-dati"))
    section = page.find("section", class_="client-access-log")
    rows = [[visible_text(td) for td in tr.find_all("td")] for tr in section.select("tbody tr")]
    assert [r[1:] for r in rows] == [["Marco Operatore", "Fattura SMART"]]
    assert "Accessi dello studio ai tuoi Servizi SMART" in visible_text(section.find("h2"))

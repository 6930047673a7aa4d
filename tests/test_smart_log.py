"""Who opened which client's SMART services: the admin's log, and the client's own."""

import datetime as dt

import pytest
from conftest import counting_statements, login_as, parse, visible_text
from smart_helpers import client, set_option7, set_switch, user

import consent
import italian
import models
import smart_access
import smart_handoff
from models import AccessEvent, OperatorClient, User

LOG = "/area-personale/accessi-smart"


def hand_off(app, username, code, service_code, status=200):
    response = login_as(app, username).post(f"/servizi-smart/{client(code).id}/{service_code}/accedi")
    assert response.status_code == status
    return response


def present(app, response, service_code):
    """The service receives the hand-off and asks the introspection (the stand-in page does)."""
    form = parse(response).find("form", attrs={"data-auto-submit": True})
    fields = {field["name"]: field["value"] for field in form.find_all("input")}
    return app.test_client().post(f"/servizio-smart-simulato/{service_code}", data=fields)


@pytest.fixture
def accesses(app, db):
    """operatore1 opens PINK's Fattura SMART; operatore2 is refused it; admin is handed 000088's SMART Hub but never gets there."""
    set_option7(on=True)
    set_switch("operatore1")
    set_switch("operatore2")
    assert present(app, hand_off(app, "operatore1", "PINK", "fattura_smart"), "fattura_smart").status_code == 200
    hand_off(app, "operatore2", "PINK", "fattura_smart", status=403)
    hand_off(app, "admin", "000088", "smart_hub")


def log_rows(page):
    return [[visible_text(td) for td in tr.find_all("td")] for tr in page.select("#access-log tbody tr")]


def test_admin_sees_every_attempt_newest_first_with_what_became_of_it(app, accesses):
    page = parse(login_as(app, "admin").get(LOG))
    rows = log_rows(page)
    assert [(r[1], r[2].split()[0], r[3], r[4].split()[0]) for r in rows] == [
        ("Mario Amministratore (admin)", "000088", "SMART Hub", "Non"),
        ("Giulia Operatrice (operatore2)", "PINK", "Fattura SMART", "Rifiutato"),
        ("Marco Operatore (operatore1)", "PINK", "Fattura SMART", "Aperto"),
    ]
    assert rows[0][4] == "Non usato"
    assert rows[1][4] == "Rifiutato operatore2 non gestisce questo cliente"
    assert rows[2][4].startswith("Aperto il ")
    menu = [visible_text(a) for a in page.select("nav.side-menu ul a[aria-current=page]")]
    assert menu == ["Accessi ai Servizi SMART"]


def test_the_service_event_is_appended_never_an_update(app, accesses):
    handoffs = list(AccessEvent.select().where(AccessEvent.stage == "handoff").order_by(AccessEvent.id))
    answers = list(AccessEvent.select().where(AccessEvent.stage == "service"))
    assert [(e.granted, e.token_ref is not None) for e in handoffs] == [(True, True), (False, False), (True, True)]
    assert [(a.granted, a.token_ref) for a in answers] == [(True, handoffs[0].token_ref)]
    assert answers[0].user_id == handoffs[0].user_id and answers[0].client_id == handoffs[0].client_id


@pytest.mark.parametrize("moment, reason", [
    ("revoked", "Rifiutato il cliente ha ritirato il consenso dopo l'apertura del servizio"),
    ("switch_off", "Rifiutato operatore1 non è abilitato all'accesso ai Servizi SMART"),
    ("unmanaged", "Rifiutato operatore1 non gestisce questo cliente"),
])
def test_a_token_the_service_refuses_later_is_refused_with_the_reason(app, accesses, moment, reason):
    handed = hand_off(app, "operatore1", "PINK", "fattura_smart")
    pink = client("PINK")
    if moment == "revoked":
        consent.set_authorization(pink, User.get(User.client == pink), False)
        consent.set_authorization(client("PINK"), User.get(User.client == pink), True)
    elif moment == "switch_off":
        set_switch("operatore1", on=False)
    else:
        OperatorClient.delete().where(OperatorClient.client == pink.id).execute()
    assert present(app, handed, "fattura_smart").status_code == 401
    assert log_rows(parse(login_as(app, "admin").get(LOG)))[0][4] == reason


def test_a_token_presented_after_it_expired_is_refused_and_said_so(app, accesses, monkeypatch):
    issued = models.utcnow()
    monkeypatch.setattr(smart_handoff, "utcnow", lambda: issued)
    handed = hand_off(app, "operatore1", "PINK", "fattura_smart")
    monkeypatch.setattr(smart_handoff, "utcnow", lambda: issued + dt.timedelta(seconds=61))
    assert present(app, handed, "fattura_smart").status_code == 401
    assert log_rows(parse(login_as(app, "admin").get(LOG)))[0][4] == (
        "Rifiutato il servizio ha presentato il token dopo la scadenza")


@pytest.mark.parametrize("query, expected", [
    ("codice=pink", 2), ("codice=000088", 1), ("codice=%25", 0), ("utente=operatore", 2),
    ("utente=Giulia", 1), ("esito=rifiutato", 1), ("esito=aperto", 1), ("esito=non_usato", 1),
    ("esito=boh", 3), ("codice=pink&esito=aperto", 1), ("pagina=x&per_pagina=-1", 3),
    ("dal=2000-01-01", 3), ("al=2000-01-01", 0), ("dal=2999-01-01", 0), ("dal=boh", 3),
    ("dal=2999-01-01&al=2000-01-01", 3),
])
def test_admin_filters_the_log(app, accesses, query, expected):
    assert len(log_rows(parse(login_as(app, "admin").get(f"{LOG}?{query}")))) == expected


def test_the_log_filters_by_days_in_rome_time(app, accesses):
    today = italian.to_rome(models.utcnow()).date()
    yesterday = today - dt.timedelta(days=1)
    admin = login_as(app, "admin")
    assert len(log_rows(parse(admin.get(f"{LOG}?dal={today}&al={today}")))) == 3
    assert len(log_rows(parse(admin.get(f"{LOG}?al={yesterday}")))) == 0
    assert len(log_rows(parse(admin.get(f"{LOG}?dal={today.strftime('%d/%m/%Y')}")))) == 3


def test_a_bad_date_is_said_and_filters_nothing(app, accesses):
    page = parse(login_as(app, "admin").get(f"{LOG}?dal=31-31-2026"))
    assert "Data non valida" in visible_text(page.select_one("#access-log [role=alert]"))
    assert len(log_rows(page)) == 3


@pytest.mark.parametrize("query", ["dal=0001-01-01", "al=9999-12-31", "dal=01/01/0001&al=31/12/9999"])
def test_a_date_at_the_ends_of_the_calendar_is_said_and_filters_nothing(app, accesses, query):
    admin, pink = login_as(app, "admin"), login_as(app, "pink")
    page = parse(admin.get(f"{LOG}?{query}"))
    # the format is right: the message says which days are accepted, not only the format
    assert "Data non valida: scrivi un giorno dal 01/01/1900 al 31/12/2999, come gg/mm/aaaa." in \
        visible_text(page.select_one("#access-log [role=alert]"))
    assert len(log_rows(page)) == 3
    assert admin.get(f"{LOG}.csv?{query}").status_code == 200
    assert pink.get(f"/area-personale/altri-dati?{query}").status_code == 200
    assert pink.get(f"/area-personale/altri-dati/accessi-smart.csv?{query}").status_code == 200


def test_the_log_exports_as_csv_with_its_filters(app, accesses):
    admin = login_as(app, "admin")
    page = parse(admin.get(f"{LOG}?codice=pink"))
    link = page.select_one("#access-log-csv")["href"]
    assert "codice=pink" in link and "per_pagina" not in link
    response = admin.get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Data (Europe/Rome);Nome utente;Utente;Codice cliente")
    assert [line.split(";")[1] for line in lines[1:]] == ["operatore2", "operatore1"]
    assert lines[1].split(";")[6:8] == ["Rifiutato", "operatore2 non gestisce questo cliente"]
    assert lines[2].split(";")[6] == "Aperto" and lines[2].split(";")[8]
    assert login_as(app, "operatore1").get(f"{LOG}.csv").status_code == 403
    assert login_as(app, "admin.alt").get(f"{LOG}.csv").get_data(as_text=True).count("\n") == 1


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
                                      "service": 1, "granted": True, "token_ref": f"t{i}",
                                      "stage": "handoff" if i % 2 else "service"}
                                     for i in range(300)]).execute()
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


def test_the_client_sees_only_accesses_that_opened(app, accesses):
    hand_off(app, "admin", "PINK", "fattura_smart")  # handed off, never presented
    refused = hand_off(app, "operatore1", "PINK", "fattura_smart")
    set_switch("operatore1", on=False)
    present(app, refused, "fattura_smart")  # refused by the introspection
    assert [e.user.username for e in smart_access.client_access_log(client("PINK"))] == ["operatore1"]


def test_the_client_filters_its_log_by_days_and_exports_it(app, accesses):
    pink = login_as(app, "pink")
    today = italian.to_rome(models.utcnow()).date()
    page = parse(pink.get(f"/area-personale/altri-dati?dal={today}&al={today}"))
    section = page.find("section", class_="client-access-log")
    assert len(section.select("tbody tr")) == 1
    link = section.select_one("#client-access-log-csv")["href"]
    assert f"dal={today}" in link
    lines = pink.get(link).get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Data (Europe/Rome);Utente dello studio;Servizio"
    assert [line.split(";")[1:] for line in lines[1:]] == [["Marco Operatore", "Fattura SMART"]]
    later = parse(pink.get(f"/area-personale/altri-dati?dal={today + dt.timedelta(days=1)}"))
    assert "in questo periodo" in visible_text(later.find("section", class_="client-access-log"))
    assert login_as(app, "admin").get("/area-personale/altri-dati/accessi-smart.csv").status_code == 403

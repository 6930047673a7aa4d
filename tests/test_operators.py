"""Area personale → Operatori di studio: list, create, disable/re-enable, SMART switch, clients."""

import json

import pytest
from conftest import counting_statements, login_as, parse, visible_text
from smart_helpers import client, user

import demo
from models import AuditEvent, OperatorClient, Studio, User

BASE = "/area-personale/operatori"


def rows(page):
    return {visible_text(tr.find("th")): tr for tr in page.select("#operators tbody tr")}


def test_list_shows_the_studios_operators_with_state_clients_and_switch(app):
    page = parse(login_as(app, "admin").get(BASE))
    listed = rows(page)
    assert list(listed) == ["Marco Operatore (operatore1)", "Giulia Operatrice (operatore2)"]
    row = listed["Marco Operatore (operatore1)"]
    assert "Attivo" in visible_text(row)
    assert "6 clienti" in visible_text(row)
    switch = row.select_one("[role=switch]")
    assert switch["aria-checked"] == "false"
    menu = [visible_text(a) for a in page.select("nav.side-menu ul a")]
    assert "Operatori di studio" in menu


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_operators_page_is_for_the_admin_only(app, username):
    assert login_as(app, username).get(BASE).status_code == 403


def test_another_studios_admin_sees_and_changes_none_of_them(app, db):
    alt = login_as(app, "admin.alt")
    assert rows(parse(alt.get(BASE))) == {}
    op1 = user("operatore1")
    assert alt.post(f"{BASE}/{op1.id}/stato", data={"attivo": "0"}).status_code == 404
    assert alt.post(f"{BASE}/{op1.id}/servizi-smart", data={"attivo": "1"}).status_code == 404
    assert alt.get(f"{BASE}/{op1.id}/clienti").status_code == 404
    assert user("operatore1").active and not user("operatore1").smart_access
    admin = user("admin")
    assert login_as(app, "admin").post(f"{BASE}/{admin.id}/stato", data={"attivo": "0"}).status_code == 404


def test_create_operator_in_place(app, db, hx):
    admin = login_as(app, "admin")
    response = admin.post(BASE, headers=hx("operators"), data={
        "username": "Nuovo.Operatore", "display_name": "Nuovo Operatore",
        "email": "nuovo@studio.example"})
    assert response.status_code == 200
    page = parse(response)
    assert page.find("html") is None
    assert "Operatore nuovo.operatore creato" in visible_text(page.select_one("[role=status]"))
    assert "Nuovo Operatore (nuovo.operatore)" in rows(page)
    assert "Password non ancora scelta" in visible_text(rows(page)["Nuovo Operatore (nuovo.operatore)"])
    created = user("nuovo.operatore")
    assert created.role == "operator" and created.active and not created.smart_access
    assert created.studio.code == "BPF103" and created.email == "nuovo@studio.example"
    # no password until he sets one from his invitation (tests/test_account_links.py)
    assert page.select_one("#op-password") is None


@pytest.mark.parametrize("data, field, message", [
    ({"username": ""}, "username", "Inserisci il nome utente."),
    ({"username": "operatore1"}, "username", "Questo nome utente è già in uso: scegline un altro."),
    ({"username": "OPERATORE1"}, "username", "Questo nome utente è già in uso: scegline un altro."),
    ({"username": "a b"}, "username", "Il nome utente deve avere da 3 a 80 caratteri"),
    ({"display_name": "  "}, "display_name", "Inserisci il nome e cognome dell'operatore."),
    ({"email": ""}, "email", "Inserisci l'indirizzo e-mail"),
    ({"email": "nuovo@"}, "email", "«nuovo@» non è un indirizzo e-mail valido."),
])
def test_create_operator_explains_what_is_wrong(app, db, data, field, message):
    form = {"username": "nuovo", "display_name": "Nuovo", "email": "nuovo@studio.example", **data}
    before = User.select().count()
    response = login_as(app, "admin").post(BASE, data=form)
    assert response.status_code == 422
    error = parse(response).select_one(f"#op-{field}-error")
    assert error is not None and visible_text(error).startswith(message)
    assert User.select().count() == before


def test_disabled_operator_is_logged_out_at_his_next_request_and_can_be_re_enabled(app, db, hx):
    operator = login_as(app, "operatore1")
    assert operator.get("/").status_code == 200
    admin = login_as(app, "admin")
    op1 = user("operatore1")
    response = admin.post(f"{BASE}/{op1.id}/stato", data={"attivo": "0"}, headers=hx("operators"))
    assert "Disabilitato" in visible_text(rows(parse(response))["Marco Operatore (operatore1)"])
    next_request = operator.get("/")
    assert next_request.status_code == 302 and next_request.headers["Location"].startswith("/login")
    assert login_as_fails(app, "operatore1")
    admin.post(f"{BASE}/{op1.id}/stato", data={"attivo": "1"})
    assert login_as(app, "operatore1").get("/").status_code == 200


def login_as_fails(app, username):
    response = app.test_client().post("/login", data={"username": username, "password": "demo"})
    return response.status_code == 401


def test_switch_turns_smart_access_on_and_off_without_js(app, db):
    admin = login_as(app, "admin")
    op1 = user("operatore1")
    response = admin.post(f"{BASE}/{op1.id}/servizi-smart", data={"attivo": "1"})
    assert response.status_code == 302 and response.headers["Location"] == BASE
    page = parse(admin.get(BASE))
    assert "Accesso ai Servizi SMART attivato per operatore1." in visible_text(page.select_one("#messages"))
    assert rows(page)["Marco Operatore (operatore1)"].select_one("[role=switch]")["aria-checked"] == "true"
    assert user("operatore1").smart_access
    admin.post(f"{BASE}/{op1.id}/servizi-smart", data={"attivo": "0"})
    assert not user("operatore1").smart_access


@pytest.mark.parametrize("value", ["", "2", "si", None])
def test_switch_with_a_bad_value_is_a_400_and_changes_nothing(app, db, value):
    op1 = user("operatore1")
    data = {} if value is None else {"attivo": value}
    assert login_as(app, "admin").post(f"{BASE}/{op1.id}/servizi-smart", data=data).status_code == 400
    assert not user("operatore1").smart_access


def managed_codes(username):
    return {row.client.code for row in OperatorClient.select().where(OperatorClient.operator == user(username))}


def listed(page):
    return {visible_text(tr.select("td")[1]): tr.select_one("input[type=checkbox]").has_attr("checked")
            for tr in page.select("#managed-clients tbody tr")}


def test_clients_page_searches_and_saves_the_shown_page(app, db, hx):
    admin = login_as(app, "admin")
    op1 = user("operatore1")
    page = parse(admin.get(f"{BASE}/{op1.id}/clienti?q=0000&per_pagina=10"))
    shown = listed(page)
    assert shown == {"000004": False, "000006.000010": True, "000011": False, "000088": False}
    ids = {code: client(code).id for code in shown}
    response = admin.post(f"{BASE}/{op1.id}/clienti", headers=hx("managed-clients"), data={
        "visibili": list(ids.values()), "gestiti": [ids["000004"], ids["000011"]], "q": "0000"})
    assert listed(parse(response)) == {"000004": True, "000006.000010": False, "000011": True,
                                       "000088": False}
    assert managed_codes("operatore1") == {"PINK", "002420.002420", "000131", "000145", "000200",
                                           "000004", "000011"}


def test_saving_ignores_ids_not_shown_or_of_another_studio(app, db):
    op1 = user("operatore1")
    foreign = client("ALT-0001", "ALT001")
    hidden = client("000088")
    login_as(app, "admin").post(f"{BASE}/{op1.id}/clienti", data={
        "visibili": [foreign.id, "abc", "-3"], "gestiti": [foreign.id, hidden.id, "x"]})
    assert "ALT-0001" not in managed_codes("operatore1") and "000088" not in managed_codes("operatore1")


def test_wildcards_in_the_search_are_literal(app, db):
    admin = login_as(app, "admin")
    op1 = user("operatore1")
    assert listed(parse(admin.get(f"{BASE}/{op1.id}/clienti?q=%25"))) == {}
    assert listed(parse(admin.get(f"{BASE}/{op1.id}/clienti?q=_"))) == {}
    assert listed(parse(admin.get(f"{BASE}/{op1.id}/clienti?mostra=gestiti&per_pagina=100"))).keys() == \
        managed_codes("operatore1")
    assert admin.get(f"{BASE}/{op1.id}/clienti?mostra=boh&pagina=-4&per_pagina=x").status_code == 200


def test_manage_all_matching_thousands_of_clients_is_set_based(app, db):
    studio = Studio.get(Studio.code == "BPF103")
    demo.add_synthetic_clients(studio, 3000, demo.ensure_catalogue())
    admin = login_as(app, "admin")
    op2 = user("operatore2")
    with counting_statements() as cost:
        response = admin.post(f"{BASE}/{op2.id}/clienti/tutti", data={"azione": "aggiungi", "q": "Sintetico"})
    assert response.status_code == 302
    assert len(managed_codes("operatore2")) == 4 + 3000
    assert cost.count < 20
    page = parse(admin.get(response.headers["Location"]))
    assert "3.000 clienti aggiunti" in visible_text(page.select_one("#messages"))
    admin.post(f"{BASE}/{op2.id}/clienti/tutti", data={"azione": "rimuovi", "q": "S000"})  # S000001 ... S000999
    assert len(managed_codes("operatore2")) == 4 + 3000 - 999
    assert admin.post(f"{BASE}/{op2.id}/clienti/tutti", data={"azione": "boh"}).status_code == 400


def test_clients_page_costs_the_same_for_10_or_3000_clients(app, db):
    admin = login_as(app, "admin")
    op1 = user("operatore1")
    costs = []
    for count in (10, 3000):
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), count, demo.ensure_catalogue())
        with counting_statements() as cost:
            assert admin.get(f"{BASE}/{op1.id}/clienti?per_pagina=100").status_code == 200
        costs.append(cost.count)
    assert costs[0] == costs[1]


# --- name and e-mail --------------------------------------------------------------------


def audit_of(kind):
    return [json.loads(e.details) for e in AuditEvent.select().where(AuditEvent.kind == kind)]


def test_admin_renames_an_operator_and_changes_his_email_in_place(app, db, hx):
    op1 = user("operatore1")
    admin = login_as(app, "admin")
    form = parse(admin.get(BASE)).find("form", action=f"{BASE}/{op1.id}/dati")
    assert form.find("input", attrs={"name": "display_name"})["value"] == "Marco Operatore"
    response = admin.post(form["action"], headers=hx("operators"), data={
        "display_name": "  Marco Rossi ", "email": "Marco.Rossi@Studio.Example"})
    assert response.status_code == 200
    page = parse(response)
    assert visible_text(page.select_one("[role=status]")) == (
        "Dati di operatore1 salvati: nome «Marco Rossi», e-mail Marco.Rossi@studio.example.")
    assert "Marco Rossi (operatore1)" in rows(page)
    changed = user("operatore1")
    assert (changed.display_name, changed.email, changed.username) == (
        "Marco Rossi", "Marco.Rossi@studio.example", "operatore1")
    assert audit_of("operator_renamed") == [
        {"operator": "operatore1", "old": "Marco Operatore", "new": "Marco Rossi"}]
    assert audit_of("operator_email_changed")[0]["new"] == "Marco.Rossi@studio.example"


def test_saving_the_same_details_changes_and_audits_nothing(app, db):
    User.update(email="marco@studio.example").where(User.username == "operatore1").execute()
    op1 = user("operatore1")
    response = login_as(app, "admin").post(f"{BASE}/{op1.id}/dati", follow_redirects=True, data={
        "display_name": op1.display_name, "email": op1.email})
    assert "Nessun cambiamento per operatore1." in visible_text(parse(response))
    assert audit_of("operator_renamed") == audit_of("operator_email_changed") == []


@pytest.mark.parametrize("data, field, message", [
    ({"display_name": " ", "email": "a@studio.example"}, "display_name", "Inserisci il nome e cognome"),
    ({"display_name": "Marco", "email": "non-un-indirizzo"}, "email", ""),
    ({"display_name": "Marco", "email": ""}, "email", "Inserisci l'indirizzo e-mail"),
    ({"display_name": "x" * 201, "email": "a@studio.example"}, "display_name", "al massimo 200"),
])
def test_bad_details_are_explained_and_change_nothing(app, db, hx, data, field, message):
    op1 = user("operatore1")
    response = login_as(app, "admin").post(f"{BASE}/{op1.id}/dati", headers=hx("operators"), data=data)
    assert response.status_code == 422
    page = parse(response)
    assert page.select_one(f"details.operator-edit[open] #op-{op1.id}-{field}-error")
    assert message in visible_text(page.select_one(f"#op-{op1.id}-{field}-error"))
    assert page.select_one(f"#op-{op1.id}-{field}")["aria-invalid"] == "true"
    assert (user("operatore1").display_name, user("operatore1").email) == (op1.display_name, op1.email)
    assert audit_of("operator_renamed") == audit_of("operator_email_changed") == []


def test_details_of_another_studios_operator_or_an_admin_are_not_found(app, db):
    op1, admin = user("operatore1"), user("admin")
    data = {"display_name": "Intruso", "email": "i@studio.example"}
    assert login_as(app, "admin.alt").post(f"{BASE}/{op1.id}/dati", data=data).status_code == 404
    assert login_as(app, "admin").post(f"{BASE}/{admin.id}/dati", data=data).status_code == 404
    assert login_as(app, "operatore2").post(f"{BASE}/{op1.id}/dati", data=data).status_code == 403
    assert user("operatore1").display_name == op1.display_name

"""Area personale → Anagrafica clienti: the list and its search, a client's page, deactivation,
and the export of the anagrafica."""

import csv
import io
import json

import openpyxl
import pytest
from conftest import login_as, parse, visible_text
from smart_helpers import client, service, set_option7, set_switch, user

import client_file
import consent
import smart_access
from models import AuditEvent, Client, ClientChange, ClientService, OperatorClient, User

BASE = "/area-personale/clienti"
STATE = {"attivo": "attivo", "disattivato": "disattivato"}


def listed(response):
    """The list's rows as {code: [cell texts]}."""
    rows = {}
    for tr in parse(response).select("#clients tbody tr"):
        cells = [visible_text(td) for td in tr.find_all("td")]
        rows[cells[0]] = cells
    return rows


def changes_of(code):
    return [(c.field, c.old_value, c.new_value, c.source)
            for c in ClientChange.select().where(ClientChange.client == client(code))
            .order_by(ClientChange.id)]


def last_audit(kind):
    event = (AuditEvent.select().where(AuditEvent.kind == kind)
             .order_by(AuditEvent.id.desc()).first())
    return event, json.loads(event.details) if event else None


def services_of(code):
    return {row.service.code for row in ClientService.select().where(
        ClientService.client == client(code))}


def form_for(code, **changes):
    """The client's form as the page would post it, with ``changes``."""
    pink = client(code)
    managers = [row.operator_id for row in
                OperatorClient.select().where(OperatorClient.client == pink)]
    data = {"email": pink.email or "",
            "servizi": [str(service(c).id) for c in sorted(services_of(code))],
            "operatore": str(managers[0]) if managers else ""}
    data.update(changes)
    return data


# --- the list ------------------------------------------------------------------------


def test_the_list_shows_the_studios_clients_with_every_column(app, db):
    page = login_as(app, "admin").get(BASE)
    assert page.status_code == 200
    html = parse(page)
    heads = [visible_text(th) for th in html.select("#clients thead th")]
    assert heads == ["Codice", "Ragione sociale", "Codice fiscale", "Partita IVA", "E-mail",
                     "Servizi SMART", "Operatore", "Stato"]
    rows = listed(page)
    assert rows["PINK"] == ["PINK", "Pink S.r.l.", "01234560157", "", client("PINK").email or "",
                            "Fattura SMART, SMART Hub", "operatore1", "attivo"]
    assert rows["000088"][5:7] == ["Fattura SMART, SMART Hub, Corrispettivi SMART", "operatore2"]
    assert "ALT-0001" not in rows and "Omonimo Alternativo S.r.l." not in visible_text(html)
    menu = [visible_text(a) for a in html.select("nav.side-menu ul a")]
    assert "Anagrafica clienti" in menu
    assert html.select_one("nav.side-menu a[aria-current=page]").get_text() == "Anagrafica clienti"
    link = next(a for a in html.select("#main a") if visible_text(a) == "Importa da file")
    assert link["href"] == "/area-personale/clienti/importa"


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_the_anagrafica_is_for_the_admin_only(app, db, username):
    visitor = login_as(app, username)
    pink = client("PINK")
    assert visitor.get(BASE).status_code == 403
    assert visitor.get(f"{BASE}/{pink.id}").status_code == 403
    assert visitor.post(f"{BASE}/{pink.id}/stato", data={"attivo": "0"}).status_code == 403
    assert visitor.get(f"{BASE}/esporta.csv").status_code == 403
    assert client("PINK").active


@pytest.mark.parametrize("query, expected", [
    ("pink", {"PINK"}),                            # code, any case
    ("66a", {"66A.66A"}),                          # code, short fragment
    ("002420.0024", {"002420.002420"}),            # code through the trigram index
    ("COSTRUZIONI", {"000011"}),                   # ragione sociale, any case
    ("caffè", {"000004"}),
    ("nrelcu70", {"000004"}),                      # codice fiscale, any case
    ("0901234", {"000150"}),                       # codice fiscale of a company
    ("IT998877", set()),
    ("%", set()),                                  # wildcards are literal
    ("_", set()),
])
def test_one_search_box_finds_by_code_name_codice_fiscale(app, db, query, expected):
    page = login_as(app, "admin").get(BASE, query_string={"q": query, "per_pagina": 100})
    assert set(listed(page)) == expected


def test_the_search_finds_by_partita_iva(app, db):
    Client.update(vat_number="00743110157").where(Client.id == client("000210").id).execute()
    page = login_as(app, "admin").get(BASE, query_string={"q": "0074311"})
    assert set(listed(page)) == {"000210"}
    assert listed(page)["000210"][3] == "00743110157"


def test_the_search_never_finds_another_studios_client(app, db):
    page = login_as(app, "admin").get(BASE, query_string={"q": "Omonimo"})
    assert listed(page) == {}
    assert "Nessun cliente corrisponde alla ricerca." in visible_text(parse(page))


def test_a_search_finding_nothing_says_so_once(app, db):
    """No pager repeating "Nessun elemento" under the list's own message, nothing to export."""
    page = parse(login_as(app, "admin").get(f"{BASE}?q=nessuno-si-chiama-cosi"))
    assert "Nessun cliente corrisponde alla ricerca." in visible_text(page.select_one("#clients"))
    assert page.select_one("#clients-pager") is None and page.select_one("#export-csv") is None


def test_the_list_is_paged_like_the_other_lists(app, db, hx):
    admin = login_as(app, "admin")
    first = admin.get(BASE, query_string={"per_pagina": 10})
    assert len(listed(first)) == 10
    assert "Elementi 1 - 10 di 13" in visible_text(parse(first).select_one(".pager"))
    second = admin.get(BASE, query_string={"per_pagina": 10, "pagina": 2}, headers=hx("clients"))
    fragment = parse(second)
    assert fragment.find("html") is None and fragment.select_one("#clients") is not None
    assert "Elementi 11 - 13 di 13" in visible_text(fragment.select_one(".pager"))
    codes = list(listed(first)) + list(listed(second))
    assert codes == sorted(codes) and len(set(codes)) == 13
    # a page past the end shows the last; garbage gets the defaults
    assert listed(admin.get(BASE, query_string={"per_pagina": 10, "pagina": 99})) == listed(second)
    assert admin.get(BASE, query_string={"per_pagina": "x", "pagina": "-1", "q": "x" * 5000}).status_code == 200


def test_the_list_costs_the_same_few_statements_whatever_the_page(app, db):
    from conftest import counting_statements
    admin = login_as(app, "admin")
    admin.get(BASE)
    with counting_statements() as counter:
        admin.get(BASE, query_string={"per_pagina": 100})
    assert counter.count <= 10


# --- a client's page -------------------------------------------------------------------


def test_correcting_the_email_is_recorded_and_audited(app, db, hx):
    admin = login_as(app, "admin")
    pink = client("PINK")
    before = pink.email
    response = admin.post(f"{BASE}/{pink.id}", headers=hx("client-record"),
                          data=form_for("PINK", email="  Amministrazione@Pink.IT "))
    assert response.status_code == 200
    page = parse(response)
    assert page.find("html") is None
    assert visible_text(page.select_one("[role=status]")) == "Modifiche salvate: E-mail."
    assert page.select_one("#client-email")["value"] == "Amministrazione@pink.it"
    assert client("PINK").email == "Amministrazione@pink.it"
    assert changes_of("PINK") == [("email", before, "Amministrazione@pink.it", "anagrafica")]
    event, details = last_audit("client_changed")
    assert event.username == "admin"
    assert details == {"client": "PINK",
                       "changes": f"E-mail: {before or '—'} → Amministrazione@pink.it"}
    registro = parse(admin.get("/area-personale/registro-attivita"))
    assert "Cliente modificato" in visible_text(registro)
    assert "cliente: PINK" in visible_text(registro)


def test_saving_an_unchanged_form_changes_nothing(app, db):
    admin = login_as(app, "admin")
    pink = client("PINK")
    response = admin.post(f"{BASE}/{pink.id}", data=form_for("PINK"), follow_redirects=True)
    assert "Nessuna modifica da salvare." in visible_text(parse(response))
    assert changes_of("PINK") == []
    assert last_audit("client_changed")[0] is None


def test_changing_the_services_keeps_the_grid_and_records_both_lists(app, db):
    admin = login_as(app, "admin")
    target = client("000210")  # no services: not in the consent grid
    data = form_for("000210", servizi=[str(service("smart_hub").id),
                                        str(service("fattura_smart").id)])
    response = admin.post(f"{BASE}/{target.id}", data=data)
    assert response.status_code == 302
    assert services_of("000210") == {"smart_hub", "fattura_smart"}
    assert client("000210").smart_services == 2  # kept by the triggers
    assert changes_of("000210") == [
        ("services", None, "Fattura SMART, SMART Hub", "anagrafica")]
    grid = parse(admin.get("/area-personale/consensi",
                           query_string={"codice": "000210"}))
    assert "000210" in visible_text(grid)
    admin.post(f"{BASE}/{target.id}", data=form_for("000210", servizi=[]))
    assert services_of("000210") == set()
    assert changes_of("000210")[-1] == ("services", "Fattura SMART, SMART Hub", None, "anagrafica")


def test_changing_the_operator(app, db):
    admin = login_as(app, "admin")
    pink = client("PINK")
    operatore2 = user("operatore2")
    admin.post(f"{BASE}/{pink.id}", data=form_for("PINK", operatore=str(operatore2.id)))
    managers = {row.operator.username for row in
                OperatorClient.select().where(OperatorClient.client == pink)}
    assert managers == {"operatore2"}
    assert changes_of("PINK") == [("operator", "operatore1", "operatore2", "anagrafica")]
    admin.post(f"{BASE}/{pink.id}", data=form_for("PINK", operatore=""))
    assert not OperatorClient.select().where(OperatorClient.client == pink).exists()
    assert changes_of("PINK")[-1] == ("operator", "operatore2", None, "anagrafica")


def test_several_managers_stay_as_they_are_unless_one_is_chosen(app, db):
    pink = client("PINK")
    OperatorClient.create(operator=user("operatore2"), client=pink)
    admin = login_as(app, "admin")
    page = parse(admin.get(f"{BASE}/{pink.id}"))
    selected = page.select_one("#client-operator option[selected]")
    assert visible_text(selected) == "operatore1, operatore2 (invariati)"
    admin.post(f"{BASE}/{pink.id}", data=form_for("PINK", operatore=selected["value"],
                                                  email="pink@example.it"))
    assert OperatorClient.select().where(OperatorClient.client == pink).count() == 2
    assert [c[0] for c in changes_of("PINK")] == ["email"]


def bad_form_cases():
    return [
        ({"email": "non-un-indirizzo"}, "email", "«non-un-indirizzo» non è un indirizzo e-mail valido."),
        ({"email": "a@" + "b" * 300 + ".it"}, "email", "L'indirizzo e-mail è troppo lungo"),
        ({"servizi": ["999999"]}, "services", "Servizio SMART sconosciuto"),
        ({"servizi": ["abc"]}, "services", "Servizio SMART sconosciuto"),
        ({"operatore": "999999"}, "operator", "Operatore non valido"),
        ({"operatore": "xyz"}, "operator", "Operatore non valido"),
        ({"operatore": "invariato"}, "operator", "Operatore non valido"),  # only one manager
    ]


@pytest.mark.parametrize("changes, field, message", bad_form_cases())
def test_bad_input_is_explained_and_changes_nothing(app, db, hx, changes, field, message):
    admin = login_as(app, "admin")
    pink = client("PINK")
    before = (services_of("PINK"), client("PINK").email)
    data = form_for("PINK", **{"email": "nuovo@pink.it", **changes})
    response = admin.post(f"{BASE}/{pink.id}", data=data, headers=hx("client-record"))
    assert response.status_code == 422
    page = parse(response)
    assert message in visible_text(page.select_one(f"#client-{field}-error"))
    assert "Nessuna modifica salvata" in visible_text(page.select_one("[role=alert]"))
    assert (services_of("PINK"), client("PINK").email) == before
    assert changes_of("PINK") == [] and last_audit("client_changed")[0] is None


def test_an_operator_of_another_studio_or_a_disabled_one_is_refused(app, db):
    import accounts
    from models import Studio
    alt = accounts.create_user(Studio.get(Studio.code == "ALT001"), "operatore.alt", "Alt",
                               "demo", "operator")
    User.update(active=False).where(User.username == "operatore2").execute()
    admin = login_as(app, "admin")
    pink = client("PINK")
    for operator in (alt, user("admin"), user("pink"), user("operatore2")):
        response = admin.post(f"{BASE}/{pink.id}", data=form_for("PINK", operatore=str(operator.id)))
        assert response.status_code == 422
        assert "Operatore non valido" in visible_text(parse(response))
    assert {r.operator.username for r in OperatorClient.select().where(
        OperatorClient.client == pink)} == {"operatore1"}
    assert changes_of("PINK") == []


def test_another_studios_client_is_not_found(app, db):
    admin = login_as(app, "admin")
    other = client("000088", "ALT001")
    address = other.email
    assert admin.get(f"{BASE}/{other.id}").status_code == 404
    assert admin.post(f"{BASE}/{other.id}", data={"email": "x@example.it"}).status_code == 404
    assert admin.post(f"{BASE}/{other.id}/stato", data={"attivo": "0"}).status_code == 404
    assert client("000088", "ALT001").active and client("000088", "ALT001").email == address
    assert admin.get(f"{BASE}/99999999999999999999").status_code == 404
    assert admin.get(f"{BASE}/abc").status_code == 404
    assert admin.post(f"{BASE}/{client('PINK').id}/stato", data={"attivo": "x"}).status_code == 400


# --- the client's user and his invitation ---------------------------------------------


def invitations():
    from models import OutboxMessage
    return [(m.kind, m.recipient, m.user.username, m.client.code) for m in
            OutboxMessage.select().where(OutboxMessage.kind == "invitation").order_by(OutboxMessage.id)]


def test_the_admin_sends_the_client_the_link_to_set_his_password(app, db, hx):
    admin = login_as(app, "admin")
    pink = client("PINK")
    Client.update(email="amministrazione@pink.it").where(Client.id == pink.id).execute()
    User.update(email=None).where(User.client == pink.id).execute()  # the client's address, then
    page = parse(admin.get(f"{BASE}/{pink.id}"))
    row = [visible_text(td) for td in page.select("#client-record tbody tr")[0].find_all("td")]
    assert row[:3] == ["pink", "impostata", "amministrazione@pink.it"]
    response = admin.post(f"{BASE}/{pink.id}/invito", headers=hx("client-record"))
    assert response.status_code == 200
    assert visible_text(parse(response).select_one("[role=status]")) == (
        "Link per la password inviato a pink (amministrazione@pink.it), valido 7 giorni.")
    assert invitations() == [("invitation", "amministrazione@pink.it", "pink", "PINK")]
    _, details = last_audit("invitation_sent")
    assert details == {"address": "amministrazione@pink.it", "client": "PINK", "user": "pink"}
    admin.post(f"{BASE}/{pink.id}/invito")  # again: a second link
    assert len(invitations()) == 2


@pytest.mark.parametrize("situation, message", [
    ("no address", "Il cliente non ha un indirizzo e-mail"),
    ("deactivated", "Il cliente è disattivato"),
    ("no user", "Il cliente non ha un utente"),
])
def test_no_invitation_goes_where_it_cannot(app, db, situation, message):
    pink = client("PINK")
    if situation == "no address":
        Client.update(email=None).where(Client.id == pink.id).execute()
        User.update(email=None).where(User.client == pink.id).execute()
    elif situation == "deactivated":
        Client.update(active=False).where(Client.id == pink.id).execute()
    else:
        User.update(active=False).where(User.client == pink.id).execute()
    response = login_as(app, "admin").post(f"{BASE}/{pink.id}/invito")
    assert response.status_code == 422
    assert message in visible_text(parse(response).select_one("[role=alert]"))
    assert invitations() == [] and last_audit("invitation_sent")[0] is None


def test_another_studios_client_gets_no_invitation(app, db):
    other = client("000088", "ALT001")
    assert login_as(app, "admin").post(f"{BASE}/{other.id}/invito").status_code == 404
    assert invitations() == []


# --- deactivation ----------------------------------------------------------------------


@pytest.fixture
def smart_on(db):
    set_option7(on=True)
    set_switch("operatore1", on=True)


def deactivate(admin, code):
    return admin.post(f"{BASE}/{client(code).id}/stato", data={"attivo": "0", "conferma": "1"})


def test_deactivating_records_the_state_and_the_services_removed(app, db, hx):
    admin = login_as(app, "admin")
    response = admin.post(f"{BASE}/{client('PINK').id}/stato", data={"attivo": "0", "conferma": "1"},
                          headers=hx("client-record"))
    assert response.status_code == 200
    page = parse(response)
    assert "Cliente PINK disattivato" in visible_text(page.select_one("[role=status]"))
    assert visible_text(page.select_one("#client-state")) == "Riattiva cliente"
    assert all(box.has_attr("disabled") for box in page.select("input[name=servizi]"))
    pink = client("PINK")
    assert not pink.active and pink.smart_services == 0 and services_of("PINK") == set()
    assert changes_of("PINK") == [
        ("active", "attivo", "disattivato", "anagrafica"),
        ("services", "Fattura SMART, SMART Hub", None, "anagrafica"),
    ]
    _, details = last_audit("client_deactivated")
    assert details["client"] == "PINK"
    assert Client.select().where(Client.id == pink.id).exists()  # never deleted
    assert listed(admin.get(BASE, query_string={"q": "PINK"}))["PINK"][7] == "disattivato"
    # services cannot be given to a deactivated client
    response = admin.post(f"{BASE}/{pink.id}", data={"servizi": [str(service("smart_hub").id)]})
    assert response.status_code == 422 and services_of("PINK") == set()


def test_a_deactivated_client_cannot_log_in_and_his_session_ends(app, db):
    session = login_as(app, "pink")
    assert session.get("/").status_code == 200
    deactivate(login_as(app, "admin"), "PINK")
    assert session.get("/").status_code == 302  # back to the login page
    refused = app.test_client().post("/login", data={"username": "pink", "password": "demo"})
    assert refused.status_code == 401
    event, details = last_audit("login_failed")
    assert event.username == "pink"
    login_as(app, "admin").post(f"{BASE}/{client('PINK').id}/stato", data={"attivo": "1"})
    assert client("PINK").active
    assert app.test_client().post("/login", data={"username": "pink",
                                                  "password": "demo"}).status_code == 302


def test_a_session_ends_whoever_deactivated_the_client(app, db):
    """Not only the page: a client made inactive by any writer (an import) loses his session."""
    session = login_as(app, "pink")
    Client.update(active=False).where(Client.id == client("PINK").id).execute()
    assert session.get("/").status_code == 302


def test_a_deactivated_client_is_not_in_a_sending(app, db):
    admin_user = user("admin")
    deactivate(login_as(app, "admin"), "000120")  # never asked, Fattura SMART
    ferramenta = client("000120")
    # even if it got a service back by another way (an import, say)
    ClientService.create(client=ferramenta, service=service("fattura_smart"))
    result = consent.send_requests(ferramenta.studio_id, admin_user)
    assert result.sent > 0
    assert client("000120").consent_requested_at is None
    only = consent.send_requests(ferramenta.studio_id, admin_user, only=[ferramenta.id])
    assert only.sent == 0 and client("000120").consent_requested_at is None


def test_a_deactivated_client_is_reachable_by_nobody(app, db, smart_on):
    operator = login_as(app, "operatore1")
    assert "Accedi a Fattura SMART di PINK" in str(parse(operator.get("/servizi-smart")))
    deactivate(login_as(app, "admin"), "PINK")
    listing_page = parse(operator.get("/servizi-smart"))
    assert "PINK" not in [visible_text(td) for td in listing_page.select("td")]
    pink = client("PINK")
    handoff = operator.post(f"/servizi-smart/{pink.id}/fattura_smart/accedi")
    assert handoff.status_code == 403
    # the rule names the reason, even with a service given back another way
    ClientService.create(client=pink, service=service("fattura_smart"))
    for username in ("admin", "operatore1"):
        decision = smart_access.check(user(username), pink, service("fattura_smart"))
        assert not decision.allowed and decision.reason == "cliente_disattivato"
    ClientService.delete().where(ClientService.client == pink).execute()
    for username in ("admin", "operatore1"):
        acting = user(username)
        reachable = list(smart_access.reachable_clients(acting))
        assert "PINK" not in {c.code for c in reachable}
        assert smart_access.count_reachable(acting) == len(reachable)


def test_reactivating_gives_back_no_service(app, db):
    admin = login_as(app, "admin")
    deactivate(admin, "PINK")
    response = admin.post(f"{BASE}/{client('PINK').id}/stato", data={"attivo": "1"},
                          follow_redirects=True)
    assert "Cliente PINK riattivato" in visible_text(parse(response))
    assert client("PINK").active and services_of("PINK") == set()
    assert changes_of("PINK")[-1] == ("active", "disattivato", "attivo", "anagrafica")
    assert last_audit("client_reactivated")[1]["client"] == "PINK"
    # twice is harmless
    admin.post(f"{BASE}/{client('PINK').id}/stato", data={"attivo": "1"})
    assert len(changes_of("PINK")) == 3


# --- export ------------------------------------------------------------------------------


def test_export_as_xlsx_keeps_codes_as_text(app, db):
    Client.update(vat_number="00743110157", email="info@pink.it").where(
        Client.id == client("PINK").id).execute()
    response = login_as(app, "admin").get(f"{BASE}/esporta.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "anagrafica-clienti-BPF103-" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]] == list(client_file.COLUMNS)
    by_code = {row[0].value: row for row in rows[1:]}
    assert len(by_code) == 13 and "ALT-0001" not in by_code
    pink = by_code["PINK"]
    assert [cell.value for cell in pink] == ["PINK", "Pink S.r.l.", "01234560157", "00743110157",
                                             "info@pink.it", "Fattura SMART, SMART Hub", "operatore1"]
    zeros = by_code["000004"]
    assert zeros[0].value == "000004" and zeros[0].data_type == "s"
    assert zeros[0].number_format == "@"
    assert pink[2].data_type == "s" and pink[3].data_type == "s"
    assert by_code["000011"][6].value is None  # no operator: an empty cell


def test_export_as_csv_for_italian_excel(app, db):
    response = login_as(app, "admin").get(f"{BASE}/esporta.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == list(client_file.COLUMNS)
    by_code = {row[0]: row for row in rows[1:]}
    assert len(by_code) == 13
    assert by_code["000004"] == ["000004", "Caffè Centrale di Neri Luca", "NRELCU70A01H501X",
                                 "09876540585", client("000004").email or "",
                                 "Corrispettivi SMART", "operatore2"]
    assert b"\r\n" in body


def test_export_of_the_search_only(app, db):
    admin = login_as(app, "admin")
    page = parse(admin.get(BASE, query_string={"q": "S.r.l"}))
    link = page.select_one("#export-xlsx")["href"]
    assert "q=S.r.l" in link
    sheet = openpyxl.load_workbook(io.BytesIO(admin.get(link).data)).active
    codes = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert codes == set(listed(admin.get(BASE, query_string={"q": "S.r.l"})))
    csv_rows = admin.get(page.select_one("#export-csv")["href"]).data.decode("utf-8-sig")
    assert {line.split(";")[0] for line in csv_rows.splitlines()[1:]} == codes
    assert last_audit("clients_exported")[1] == {"format": "CSV", "search": "S.r.l"}


def test_a_formula_never_leaves_in_an_export(app, db):
    Client.update(name="=HYPERLINK(\"http://x\")").where(Client.id == client("PINK").id).execute()
    admin = login_as(app, "admin")
    sheet = openpyxl.load_workbook(io.BytesIO(admin.get(f"{BASE}/esporta.xlsx").data)).active
    cell = next(row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == "PINK")
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"http://x\")"
    text = admin.get(f"{BASE}/esporta.csv").data.decode("utf-8-sig")
    assert "PINK;'=HYPERLINK" in text.replace('"', "")


def test_export_reads_in_chunks(app, db, monkeypatch):
    import client_export
    monkeypatch.setattr(client_export, "CHUNK", 4)
    rows = list(client_export.rows(client("PINK").studio_id))
    assert len(rows) == 13 and [r[0] for r in rows] == sorted(r[0] for r in rows)


@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(app, db, extension):
    from stdnum import luhn

    import client_import
    pink = client("PINK")
    for number, row in enumerate(Client.select().where(Client.studio == pink.studio_id), start=1):
        digits = f"{number:07d}001"  # a valid partita IVA with leading zeros (office 001)
        valid = digits + luhn.calc_check_digit(digits)
        Client.update(tax_code=valid, vat_number=valid).where(Client.id == row.id).execute()
    Client.update(email="info@pink.it").where(Client.id == pink.id).execute()
    OperatorClient.create(operator=user("operatore2"), client=pink)  # two managers
    data = login_as(app, "admin").get(f"{BASE}/esporta.{extension}").data
    plan = client_import.check(pink.studio_id, client_import.read_file(data, f"a.{extension}"))
    assert [(r.line, r.code, r.reason) for r in plan.refused] == []
    assert (len(plan.new), len(plan.changed), plan.unchanged) == (0, 0, 13)

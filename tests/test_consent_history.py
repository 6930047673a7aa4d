"""A client's consent history from the grid, and the studio's consent register as CSV (SPEC 3.8)."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import counting_statements, htmx_headers, login_as, parse, visible_text

import consent
import consent_history
import models
from models import Client, ConsentEvent, Studio, User

URL = "/area-personale/consensi"
REGISTER = URL + "/registro.csv"


def client_id(code, studio="BPF103"):
    with models.db.connection_context():
        return Client.select(Client.id).join(Studio).where(
            (Client.code == code) & (Studio.code == studio)).scalar()


def history_url(code, studio="BPF103"):
    return f"{URL}/{client_id(code, studio)}/storia"


def history_rows(page):
    return [[visible_text(td) for td in tr.find_all("td")]
            for tr in page.select("#consent-history tbody tr")]


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


def test_history_lists_events_newest_first_with_who_what_channel(admin):
    page = parse(admin.get(history_url("PINK"), headers=htmx_headers("consent-history")))
    assert history_rows(page) == [
        ["18/06/2020 11:21",
         "Consenso dato (aderito) Servizi: Fattura SMART, SMART Hub · senza scadenza",
         "Finestra di consenso all'accesso", "Pink S.r.l. (pink)", "versione 1"],
        ["18/06/2020 11:20", "Richiesta inviata", "Invio dell'amministratore",
         "Mario Amministratore (admin)", "versione 1"],
    ]


def test_history_follows_every_later_decision(app, admin):
    with models.db.connection_context():
        pink = Client.get(Client.code == "PINK")
        pink_user = User.get(User.client == pink)
        consent.set_authorization(pink, pink_user, False)
        consent.send_requests(pink.studio_id, User.get(User.username == "admin"), only=[pink.id])
        consent.set_authorization(pink, pink_user, True)
    page = parse(admin.get(history_url("PINK"), headers=htmx_headers("consent-history")))
    # The new sending also mailed the request (the demo's old ones wrote no mail).
    assert [visible_text(span) for span in page.select("#consent-history tbody .event")] == [
        "Consenso dato (aderito)", "E-mail della richiesta di consenso", "Richiesta inviata",
        "Consenso revocato (non aderito)", "Consenso dato (aderito)", "Richiesta inviata"]
    assert [row[2] for row in history_rows(page)][:4] == [
        "Area personale › Altri Dati", "E-mail a pink@clienti.example · in coda",
        "Invio dell'amministratore", "Area personale › Altri Dati"]
    assert "aderito il" in visible_text(page.select_one(".history-now"))


def test_history_fragment_for_the_dialog_and_full_page_from_one_url(admin):
    response = admin.get(history_url("000145"), headers=htmx_headers("consent-history"))
    fragment = parse(response)
    top = [node for node in fragment.contents if getattr(node, "name", None)]
    assert [(n.name, n.get("id")) for n in top] == [("div", "consent-history")]
    assert visible_text(fragment.find("h2")) == "Storico del consenso · 000145"
    assert fragment.find("button", string="Chiudi") is not None
    assert {"HX-Request", "HX-Target"} <= set(response.vary)
    page = parse(admin.get(history_url("000145")))
    assert visible_text(page.find("h1")) == "← Storico del consenso · 000145"
    assert page.find("h1").find("a")["href"] == URL
    assert page.find("button", string="Chiudi") is None
    assert [row[1] for row in history_rows(page)] == [
        "Consenso negato (non aderito)", "Richiesta inviata"]


def test_grid_rows_open_the_history_in_place(admin):
    page = parse(admin.get(URL + "?codice=PINK", headers=htmx_headers("consent-grid")))
    link = page.find("a", attrs={"aria-label": "Storico di PINK"})
    # A boosted link (the grid boosts its links) swapping the dialog, the address unchanged.
    assert link["href"] == history_url("PINK") and not link.has_attr("hx-get")
    assert link["hx-target"] == "#consent-history" and link["hx-push-url"] == "false"
    assert page.select_one("#consent-grid")["hx-boost:inherited"] == "true"
    boosted = {**htmx_headers("consent-history"), "HX-Boosted": "true"}
    dialog = parse(admin.get(link["href"], headers=boosted))
    assert dialog.find("h1") is None and dialog.select_one("#consent-history") is not None
    full = parse(admin.get(URL))
    assert full.select_one("dialog#consent-history-dialog #consent-history") is not None


def test_a_client_never_asked_has_an_empty_history(admin):
    page = parse(admin.get(history_url("000120")))
    assert history_rows(page) == []
    assert "Nessun evento" in visible_text(page.select_one("#consent-history"))


def test_history_costs_a_constant_few_statements(admin):
    url = history_url("PINK")
    with counting_statements() as counter:
        admin.get(url, headers=htmx_headers("consent-history"))
    # The session, the client, then its events, its mail and its record's changes.
    assert counter.count <= 6, counter.statements


@pytest.mark.parametrize("path", ["/999999/storia", "/0/storia", "/-1/storia", "/abc/storia"])
def test_unknown_clients_are_not_found(admin, path):
    assert admin.get(URL + path).status_code == 404


def test_another_studio_never_reads_a_bpf103_history(app):
    other = login_as(app, "admin.alt")
    for headers in ({}, htmx_headers("consent-history")):
        response = other.get(history_url("PINK"), headers=headers)
        assert response.status_code == 404
        assert "Pink" not in response.get_data(as_text=True)
    assert other.get(history_url("000088", "ALT001")).status_code == 200


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_operators_and_clients_cannot_read_history_or_register(app, username):
    user = login_as(app, username)
    assert user.get(history_url("PINK")).status_code == 403
    assert user.get(REGISTER).status_code == 403


# --- the register ------------------------------------------------------------------


def read_register(response):
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def test_register_is_a_csv_for_excel_with_every_event_of_the_studio(admin, db):
    response = admin.get(REGISTER)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="registro-consensi-BPF103-')
    rows = read_register(response)
    assert rows[0] == ["Data (Europe/Rome)", "Codice cliente", "Ragione sociale", "Codice fiscale",
                       "E-mail", "Evento", "Canale", "Utente", "Versione testo", "Servizi",
                       "Scadenza"]
    studio = Studio.get(Studio.code == "BPF103")
    assert len(rows) - 1 == ConsentEvent.select().where(ConsentEvent.studio == studio).count()
    assert ["18/06/2020 11:20:00", "PINK", "Pink S.r.l.", "01234560157", "pink@clienti.example",
            "Richiesta inviata", "Invio dell'amministratore", "Mario Amministratore (admin)",
            "1", "", ""] in rows
    assert ["18/06/2020 11:21:00", "PINK", "Pink S.r.l.", "01234560157", "pink@clienti.example",
            "Consenso dato (aderito)", "Finestra di consenso all'accesso", "Pink S.r.l. (pink)",
            "1", "Fattura SMART, SMART Hub", "senza scadenza"] in rows
    assert not any(row[1].startswith("ALT") for row in rows)


def test_register_of_the_other_studio_holds_only_its_events(app, db):
    other = login_as(app, "admin.alt")
    alt = Studio.get(Studio.code == "ALT001")
    consent.send_requests(alt.id, User.get(User.username == "admin.alt"))
    rows = read_register(other.get(REGISTER))
    assert sorted(row[1] for row in rows[1:]) == ["000088", "ALT-0001", "ALT-0002"]
    assert all(row[2] != "Edilnord S.p.A." for row in rows)


def test_register_cells_never_run_as_spreadsheet_formulas(admin, db):
    Client.update(name='=HYPERLINK("http://x","clic")').where(Client.code == "PINK").execute()
    rows = read_register(admin.get(REGISTER))
    assert {row[2] for row in rows if row[1] == "PINK"} == {"'=HYPERLINK(\"http://x\",\"clic\")"}


def test_register_is_read_in_chunks_up_to_the_events_at_the_start(db):
    studio = Studio.get(Studio.code == "BPF103")
    admin = User.get(User.username == "admin")
    for _ in range(5):
        consent.send_requests(studio.id, admin)  # 4 clients not consented each time
    total = ConsentEvent.select().where(ConsentEvent.studio == studio).count()
    with counting_statements() as counter:
        rows = consent_history.register_rows(studio.id, chunk=7)
        first = next(rows)
        consent.send_requests(studio.id, admin)  # events added while downloading
        rest = list(rows)
    assert len(rest) + 1 == total  # a snapshot: the new events are not in this download
    assert first[2] == "sent"
    ids = [first[0]] + [row[0] for row in rest]
    assert ids == sorted(ids)
    reads = [s for s in counter.statements if s.startswith("SELECT") and "LIMIT" in s
             and '"consent_event"' in s]
    assert len(reads) >= total // 7, len(reads)


def test_register_pieces_are_bounded_in_size(db):
    studio = Studio.get(Studio.code == "BPF103")
    admin = User.get(User.username == "admin")
    for _ in range(60):
        consent.send_requests(studio.id, admin)
    pieces = list(consent_history.register_csv(studio.id, flush_bytes=4096))
    assert len(pieces) > 3
    assert max(len(piece.encode()) for piece in pieces) < 4096 + 1024

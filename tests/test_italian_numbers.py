"""Italian numbers everywhere (Babel, locale "it"): the pager, the grid's selection and
confirmations, the messages, the mail progress, the tile, the operators' counts; "Nessun
elemento" when a list is empty."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from conftest import htmx_headers, login_as, parse, visible_text
from peewee import Value
from smart_helpers import set_option7

import audit
import demo
import italian
import listing
import models
from models import Client, OperatorClient, OutboxMessage, Studio, User

URL = "/area-personale/consensi"
GRID = htmx_headers("consent-grid")
SMART_CLIENTS = 11 + 2400  # the demo's, and four in five of 3,000 synthetic clients


@pytest.mark.parametrize("value, shown", [
    (0, "0"), (None, "0"), (7, "7"), (999, "999"), (1000, "1.000"), (2411, "2.411"),
    (80011, "80.011"), (1234567, "1.234.567"),
])
def test_a_number_is_written_the_italian_way(value, shown):
    assert italian.format_number(value) == shown


def test_plural_writes_the_number_and_agrees():
    assert italian.plural(1, "cliente", "clienti") == "1 cliente"
    assert italian.plural(2411, "cliente", "clienti") == "2.411 clienti"
    assert italian.plural(0, "cliente", "clienti") == "0 clienti"


def render_pager(app, page):
    with app.test_request_context():
        macro = app.jinja_env.get_template("_pager.html").module.pager
        return BeautifulSoup(str(macro(page, lambda number: f"?pagina={number}", "p")), "html.parser")


def test_the_pager_writes_its_numbers_the_italian_way(app):
    html = render_pager(app, listing.Page(number=8002, size=10, total=80011))
    assert visible_text(html.select_one(".pager-summary")) == "Elementi 80.011 - 80.011 di 80.011"
    assert visible_text(html.select_one(".page-position")) == "Pagina 8.002 di 8.002"
    current = html.select_one("a[aria-current=page]")
    assert visible_text(current) == "8.002" and current["aria-label"] == "Ultima pagina (8.002)"
    html = render_pager(app, listing.Page(number=1, size=10, total=80011))
    assert visible_text(html.select_one(".pager-summary")) == "Elementi 1 - 10 di 80.011"
    assert html.select_one("#p-8002")["aria-label"] == "Ultima pagina (8.002)"


def test_an_empty_list_says_nessun_elemento(app):
    html = render_pager(app, listing.Page(number=1, size=10, total=0))
    assert visible_text(html.select_one(".pager-summary")) == "Nessun elemento"


@pytest.fixture
def big(db):
    demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 3000, demo.ensure_catalogue())


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


def test_the_grid_counts_the_italian_way(big, admin):
    page = parse(admin.get(URL, headers=GRID))
    assert visible_text(page.select_one(".pager-summary")) == "Elementi 1 - 10 di 2.411"
    assert visible_text(page.select_one("#grid-select-matching")) == \
        "Seleziona tutti i 2.411 clienti dell'elenco"
    assert "2.411 corrispondono ai filtri" in visible_text(page.select_one("caption"))
    assert page.select_one("#grid-pager-242")["aria-label"] == "Ultima pagina (242)"

    page = parse(admin.post(f"{URL}/selezione", data={"azione": "filtrati"}, headers=GRID))
    assert visible_text(page.select_one(".selection-count")) == "2.411 clienti selezionati"
    assert visible_text(page.select_one("#grid-send-selezione")) == "Invia ai selezionati (2.411)"
    assert visible_text(page.select_one("#grid-remind-selezione")) == \
        "Promemoria ai selezionati (2.411)"


def test_the_confirmation_the_message_and_the_mail_progress_count_the_italian_way(big, admin):
    response = admin.get(f"{URL}/invio?modo=tutti", headers=GRID)
    page = parse(response)
    panel = visible_text(page.select_one(".confirm-panel"))
    assert "La richiesta sarà inviata a 2.404 clienti" in panel  # 7 demo clients consented
    assert "7 clienti hanno già acconsentito" in panel
    form = page.select_one(".confirm-panel form")
    assert visible_text(form.find("button")) == "Conferma l'invio a 2.404 clienti"
    data = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    page = parse(admin.post(f"{URL}/invio", data=data, headers=GRID))
    assert ("Richieste di consenso: 2.404 inviate, 7 saltate perché hanno già acconsentito."
            in visible_text(page))
    with models.db.connection_context():
        queued = OutboxMessage.select().count()
    progress = parse(admin.get(f"{URL}/posta", headers=htmx_headers("mail-progress")))
    assert f"E-mail: 0 di {italian.format_number(queued)} consegnate" in visible_text(progress)
    assert queued > 1000


def test_nobody_consenting_twice_is_counted_the_italian_way(big, admin):
    with models.db.connection_context():
        Client.update(consent_answer="granted").execute()
    page = parse(admin.get(f"{URL}/invio?modo=tutti", headers=GRID))
    text = visible_text(page.select_one(".confirm-panel"))
    assert "Nessun cliente riceverà la richiesta: tutti i 2.411 clienti hanno già acconsentito." in text


def test_the_grid_with_no_match_says_nessun_elemento(admin, db):
    page = parse(admin.get(f"{URL}?cerca=nessuno-cosi", headers=GRID))
    assert visible_text(page.select_one(".pager-summary")) == "Nessun elemento"


def test_the_smart_tile_and_the_operators_counts(big, admin):
    with models.db.connection_context():
        set_option7(on=True)
        Client.update(consent_answer="granted").where(Client.code.startswith("S")).execute()
    home = parse(admin.get("/"))
    assert visible_text(home.select_one("a.smart-tile .tile-count")) == "2.407"
    # /servizi-smart pages by code without counting (issue 15: flat at any size): no total.

    with models.db.connection_context():
        operator = User.get(User.username == "operatore1")
        OperatorClient.insert_from(
            Client.select(Value(operator.id), Client.id).where(Client.code.startswith("S")),
            fields=[OperatorClient.operator, OperatorClient.client]).execute()
    operators = parse(admin.get("/area-personale/operatori"))
    link = operators.select_one("a[aria-label^='Clienti gestiti da operatore1']")
    assert visible_text(link) == "3.006 clienti · scegli"
    assert link["aria-label"] == "Clienti gestiti da operatore1: 3.006"


def test_the_activity_log_writes_counts_the_italian_way(db):
    event = models.AuditEvent(kind="operator_clients_changed",
                              details='{"clients": 3000, "operator": "operatore1", "search": "1000"}')
    assert audit.describe(event) == ["clienti: 3.000", "operatore: operatore1", "ricerca: 1000"]

"""The consent grid (SPEC 3.3): page and fragment from one URL, filters, sorting, paging,
forgiving parameters, constant cost, and one studio never seeing another's clients."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import counting_statements, htmx_headers, login_as, parse, visible_text

import demo
import italian
import models
from models import Client, Studio

URL = "/area-personale/consensi"
GRID = htmx_headers("consent-grid")

# The demo studio's clients with at least one active SMART service (000200 and 000210 have none).
SMART_CODES = [
    "000004", "000006.000010", "000011", "000088", "000120", "000131", "000145", "000150",
    "002420.002420", "66A.66A", "PINK",
]


def rows(page):
    """The grid's rows as dicts of column -> text a person reads."""
    found = []
    for tr in page.select("#consent-grid tbody tr:not(.grid-empty)"):
        found.append({
            cell["class"][0].removeprefix("col-"): visible_text(cell)
            for cell in tr.find_all("td") if cell.get("class") and cell["class"][0] not in ("col-check", "col-storico")
        })
    return found


def codes(page):
    return [row["codice"] for row in rows(page)]


def summary(page):
    return visible_text(page.select_one("#consent-grid .pager-summary"))


def grid(admin, query="", **headers):
    response = admin.get(URL + query, headers=headers or GRID)
    assert response.status_code == 200, response.status_code
    return parse(response)


def all_codes(admin, query=""):
    """Every code the grid lists for ``query`` (at most 100), in order."""
    return codes(grid(admin, "?" + "&".join(filter(None, [query, "per_pagina=100"]))))


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


# --- page and fragment -----------------------------------------------------------


def test_full_get_is_the_page_with_title_intro_and_grid(admin):
    response = admin.get(URL)
    assert response.status_code == 200
    page = parse(response)
    assert visible_text(page.find("h1")) == "← Gestione invio richieste di consenso"
    assert page.find("h1").find("a")["href"]  # the back arrow leads somewhere
    assert "La procedura estrarrà solo i clienti per i quali è attivo almeno un Servizio SMART" in (
        visible_text(page.select_one(".consent-intro")))
    assert page.select_one("div#consent-grid") is not None
    assert page.find("html") is not None
    assert {"HX-Request", "HX-Target"} <= set(response.vary)


def test_htmx_request_aimed_at_the_grid_returns_only_the_grid(admin):
    response = admin.get(URL + "?codice=pink", headers=GRID)
    page = parse(response)
    assert page.find("html") is None and page.find("h1") is None
    top = [node for node in page.contents if getattr(node, "name", None)]
    assert [(node.name, node.get("id")) for node in top] == [("div", "consent-grid")]
    assert codes(page) == ["PINK"]
    assert response.headers["HX-Push-Url"] == "/area-personale/consensi?codice=pink"


def test_htmx_request_for_another_target_or_a_history_restore_gets_the_page(admin):
    other = parse(admin.get(URL, headers=htmx_headers("messages")))
    assert other.find("h1") is not None
    restore = parse(admin.get(URL, headers={**GRID, "HX-History-Restore-Request": "true"}))
    assert restore.find("h1") is not None


def test_grid_has_the_columns_filters_and_pager_of_the_spec(admin):
    page = parse(admin.get(URL))
    headers = [visible_text(th) for th in page.select("thead tr.grid-head th:not(.col-check):not(.col-storico)")]
    assert [h.rstrip("▲▼↕ ") for h in headers] == [
        "Codice", "Ragione sociale", "Stato richiesta", "Data richiesta", "Stato risposta",
        "Data risposta", "Scadenza"]  # Scadenza: issue 15
    options = {
        select["name"]: [visible_text(o) for o in select.find_all("option")]
        for select in page.select(".grid-filter-row select")
    }
    assert options == {
        "op": ["Contiene", "Inizia con", "Uguale a"],
        "stato_richiesta": ["Tutti", "Inviato", "Non inviato"],
        "stato_risposta": ["Tutti", "In attesa", "aderito", "parziale", "non aderito", "scaduto"],
        "stato_email": ["E-mail: tutte", "E-mail in errore"],
        "scadenza": ["Tutte", "Entro 30 giorni"],
    }
    code_box = page.select_one("input[name=codice]")
    assert code_box["hx-trigger"] == "input changed delay:300ms, search"
    assert page.find("label", string="Elem. pag.") is not None
    assert [o["value"] for o in page.select("select[name=per_pagina] option")] == [
        "10", "25", "50", "100"]
    assert summary(page) == "Elementi 1 - 10 di 11"


def test_the_address_follows_the_grid_without_repeating_itself(admin):
    """A grid request pushes its URL; asked again from that same address, it replaces it
    (no duplicate history entry); a sending's confirmation does not touch the address."""
    pushed = admin.get(URL + "?codice=pink", headers=GRID)
    assert pushed.headers["HX-Push-Url"] == URL + "?codice=pink"
    here = {**GRID, "HX-Current-URL": "http://localhost" + URL + "?codice=pink"}
    again = admin.get(URL + "?codice=pink", headers=here)
    assert again.headers["HX-Replace-Url"] == URL + "?codice=pink"
    assert "HX-Push-Url" not in again.headers
    # The browser may show a quote encoded: still the same address.
    quoted = admin.get(URL + "?codice=0'0", headers={**GRID, "HX-Current-URL": "http://localhost" + URL + "?codice=0%270"})
    assert quoted.headers["HX-Replace-Url"] == URL + "?codice=0'0"
    confirm = admin.get(URL + "/invio?modo=tutti&codice=pink", headers=here)
    assert confirm.status_code == 200 and parse(confirm).select_one(".confirm-panel")
    assert "HX-Push-Url" not in confirm.headers and "HX-Replace-Url" not in confirm.headers


def test_the_fragment_is_the_region_of_the_page_merged_in_place(admin):
    """One markup: the grid a fragment sends is the grid of the page, filters included,
    and htmx merges it into the page (morph) rather than replacing what the user types in."""
    query = "?codice=pink&stato_risposta=aderito&ordina=-codice"
    page = parse(admin.get(URL + query)).select_one("div#consent-grid")
    fragment = grid(admin, query).select_one("div#consent-grid")
    assert str(fragment) == str(page)
    assert page["hx-swap:inherited"] == "outerMorph"
    assert page.select_one("#grid-codice")["value"] == "pink"
    assert page.select_one("#grid-stato-risposta option[selected]")["value"] == "aderito"
    assert page.select("[hx-preserve]") == []


def test_only_clients_with_an_active_smart_service_are_listed(admin):
    assert sorted(all_codes(admin)) == sorted(SMART_CODES)


def test_rows_show_states_and_dates_in_rome_time(admin):
    pink = rows(grid(admin, "?codice=PINK&op=uguale"))
    assert pink == [{
        "codice": "PINK", "ragione_sociale": "Pink S.r.l.", "stato_richiesta": "Inviato",
        "data_richiesta": "18/06/2020 11:20",
        "stato_risposta": "aderito Autorizzati: Fattura SMART, SMART Hub",
        "data_risposta": "18/06/2020 11:21", "scadenza": "senza scadenza"}]
    never = rows(grid(admin, "?codice=000120&op=uguale"))[0]
    assert (never["stato_richiesta"], never["data_richiesta"], never["stato_risposta"],
            never["data_risposta"]) == ("Non inviato", "", "", "")
    pending = rows(grid(admin, "?codice=000131&op=uguale"))[0]
    assert (pending["stato_risposta"], pending["data_risposta"]) == ("In attesa", "")
    declined = rows(grid(admin, "?codice=000145&op=uguale"))[0]
    assert (declined["stato_risposta"], declined["data_risposta"]) == (
        "non aderito", "03/11/2026 17:42")


def test_summer_and_winter_times_are_shown_in_rome(app, admin):
    with models.db.connection_context():
        Client.update(consent_requested_at=dt.datetime(2026, 7, 1, 22, 30),
                      consent_answer="pending").where(Client.code == "000120").execute()
        Client.update(consent_requested_at=dt.datetime(2026, 1, 1, 22, 30),
                      consent_answer="pending").where(Client.code == "000150").execute()
    assert rows(grid(admin, "?codice=000120"))[0]["data_richiesta"] == "02/07/2026 00:30"
    assert rows(grid(admin, "?codice=000150"))[0]["data_richiesta"] == "01/01/2026 23:30"


# --- filters -----------------------------------------------------------------------


@pytest.mark.parametrize("query, expected", [
    ("?codice=PINK", ["PINK"]),
    ("?codice=pink&op=contiene", ["PINK"]),
    ("?codice=IN", ["PINK"]),
    ("?codice=.00", ["000006.000010", "002420.002420"]),
    ("?codice=0001&op=inizia", ["000120", "000131", "000145", "000150"]),
    ("?codice=66a&op=inizia", ["66A.66A"]),
    ("?codice=A.66&op=inizia", []),
    ("?codice=000088&op=uguale", ["000088"]),
    ("?codice=66a.66a&op=uguale", ["66A.66A"]),
    ("?codice=00008&op=uguale", []),
    ("?codice=%25", []),  # wildcards are literal
    ("?codice=_", []),
    ("?codice=0000_&op=inizia", []),
    ("?codice=%20%20PINK%20", ["PINK"]),  # trimmed
    ("?codice=000200", []),  # a client without SMART services is never listed
    ("?codice=ALT", []),  # another studio's clients are never listed
])
def test_code_filter_with_each_operator(admin, query, expected):
    assert all_codes(admin, query.lstrip("?")) == expected


@pytest.mark.parametrize("query, expected", [
    ("stato_richiesta=tutti", SMART_CODES),
    ("stato_richiesta=inviato", [c for c in SMART_CODES if c not in ("000120", "000150")]),
    ("stato_richiesta=non_inviato", ["000120", "000150"]),
    ("stato_risposta=tutti", SMART_CODES),
    ("stato_risposta=in_attesa", ["000131"]),
    ("stato_risposta=aderito",
     ["000004", "000006.000010", "000011", "000088", "002420.002420", "66A.66A", "PINK"]),
    ("stato_risposta=non_aderito", ["000145"]),
    ("stato_richiesta=non_inviato&stato_risposta=aderito", []),
    ("stato_richiesta=inviato&stato_risposta=non_aderito&codice=14", ["000145"]),
])
def test_state_filters_and_their_combinations(admin, query, expected):
    assert all_codes(admin, query) == expected


def test_filters_are_echoed_in_the_inputs(admin):
    page = parse(admin.get(URL + "?codice=00&op=inizia&stato_richiesta=inviato&stato_risposta=aderito"))
    assert page.select_one("input[name=codice]")["value"] == "00"
    selected = {s["name"]: s.find("option", selected=True)["value"]
                for s in page.select(".grid-filter-row select")}
    assert selected == {"op": "inizia", "stato_richiesta": "inviato", "stato_risposta": "aderito",
                        "stato_email": "tutti", "scadenza": "tutte"}


# --- sorting -----------------------------------------------------------------------


def expected_order(column, descending):
    """The grid's order computed in Python from the database: empty values last, then by code."""
    answer_rank = {"granted": 1, "pending": 2, "declined": 3}
    key = {
        "codice": lambda c: c.code,
        "ragione_sociale": lambda c: c.name,
        "stato_richiesta": lambda c: c.consent_requested_at is None,
        "data_richiesta": lambda c: c.consent_requested_at,
        "stato_risposta": lambda c: answer_rank.get(c.consent_answer),
        "data_risposta": lambda c: c.consent_answered_at,
    }[column]
    clients = [c for c in Client.select().join(Studio).where(Studio.code == "BPF103")
               if c.code in SMART_CODES]
    if column == "codice":
        return sorted((c.code for c in clients), reverse=descending)
    present = [c for c in clients if key(c) is not None]
    empty = sorted((c for c in clients if key(c) is None), key=lambda c: c.code)
    present.sort(key=lambda c: c.code)
    present.sort(key=key, reverse=descending)  # stable: ties stay by code
    return [c.code for c in present + empty]


@pytest.mark.parametrize("column", [
    "codice", "ragione_sociale", "stato_richiesta", "data_richiesta", "stato_risposta",
    "data_risposta"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_by_each_column_both_ways(admin, db, column, descending):
    sort = f"-{column}" if descending else column
    page = grid(admin, f"?ordina={sort}&per_pagina=100")
    assert codes(page) == expected_order(column, descending)
    header = page.select_one(f"th.col-{column}")
    assert header["aria-sort"] == ("descending" if descending else "ascending")
    assert len(page.select("th[aria-sort]")) == 1


def test_sort_header_links_toggle_direction_and_keep_filters(admin):
    page = grid(admin, "?codice=0&stato_richiesta=inviato&pagina=2")
    link = page.select_one("th.col-data_richiesta a")
    assert not link.has_attr("hx-get")  # boosted: the grid's links swap the grid with their href
    assert link["href"] == (
        "/area-personale/consensi?codice=0&stato_richiesta=inviato&ordina=data_richiesta")
    page = grid(admin, "?ordina=data_richiesta")
    assert page.select_one("th.col-data_richiesta a")["href"].endswith("ordina=-data_richiesta")
    page = grid(admin, "?ordina=-data_richiesta")
    assert page.select_one("th.col-data_richiesta a")["href"].endswith("ordina=data_richiesta")


def test_default_sort_is_by_code(admin):
    assert codes(grid(admin)) == SMART_CODES[:10]


# --- paging ------------------------------------------------------------------------


@pytest.fixture
def many(app):
    """The demo studio with 300 synthetic clients (240 of them with SMART services)."""
    with models.db.connection_context():
        studio = Studio.get(Studio.code == "BPF103")
        demo.add_synthetic_clients(studio, 300, demo.ensure_catalogue())
    return 11 + 240


@pytest.mark.parametrize("size", [10, 25, 50, 100])
def test_each_page_size(admin, many, size):
    page = grid(admin, f"?per_pagina={size}")
    assert len(rows(page)) == size
    assert summary(page) == f"Elementi 1 - {size} di {many}"
    assert page.select_one("select[name=per_pagina] option[selected]")["value"] == str(size)


def test_pages_follow_each_other_without_gaps(admin, many):
    seen = []
    for number in range(1, 12):
        seen += codes(grid(admin, f"?per_pagina=25&pagina={number}"))
    assert len(seen) == many and len(set(seen)) == many
    last = grid(admin, "?per_pagina=25&pagina=11")
    assert summary(last) == f"Elementi 251 - {many} di {many}"


def test_pager_links_keep_the_state(admin, many):
    page = grid(admin, "?codice=S&ordina=-codice&per_pagina=25&pagina=3")
    nav = page.select_one("#consent-grid .page-links")
    assert nav.select_one("[aria-current=page]").get_text() == "3"
    following = nav.select_one("a[rel=next]")["href"]
    assert following == "/area-personale/consensi?codice=S&ordina=-codice&pagina=4&per_pagina=25"
    assert nav.select_one("a[rel=prev]")["href"] == (
        "/area-personale/consensi?codice=S&ordina=-codice&pagina=2&per_pagina=25")


@pytest.mark.parametrize("pagina", ["99", "4000", str(10**30), "1000000000"])
def test_a_page_past_the_end_shows_the_last_page(admin, many, pagina):
    response = admin.get(URL + f"?per_pagina=100&pagina={pagina}", headers=GRID)
    page = parse(response)
    assert summary(page) == f"Elementi 201 - {many} di {many}"
    assert response.headers["HX-Push-Url"] == "/area-personale/consensi?pagina=3&per_pagina=100"


# --- bad input: defaults, a message, never a 500 ----------------------------------


@pytest.mark.parametrize("query", [
    "?op=simile&codice=PINK",
    "?stato_richiesta=forse",
    "?stato_risposta=%27%3B--",
    "?ordina=password_hash",
    "?ordina=--codice",
    "?per_pagina=7",
    "?per_pagina=abc",
    "?per_pagina=-10",
    "?per_pagina=" + "9" * 50,
    "?pagina=abc",
    "?pagina=-3",
    "?pagina=0",
    "?pagina=1e3",
    "?pagina=" + "9" * 5000,
    "?codice=" + "x" * 500,
])
def test_bad_values_fall_back_to_defaults_with_a_message(admin, query):
    for headers in (GRID, {}):
        response = admin.get(URL + query, headers=headers)
        assert response.status_code == 200
        message = parse(response).select_one("#consent-grid .message-warning")
        assert message is not None and "non erano validi" in visible_text(message)


def test_unknown_operator_still_filters_by_contains(admin):
    assert codes(grid(admin, "?op=simile&codice=INK")) == ["PINK"]


def test_repeated_and_unknown_parameters_are_harmless(admin):
    assert codes(grid(admin, "?codice=PINK&codice=000088&foo=bar")) == ["PINK"]


def test_nul_characters_are_refused_not_crashed_on(admin):
    assert admin.get(URL + "?codice=%00").status_code == 400


# --- who may see it ----------------------------------------------------------------


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_operators_and_clients_are_refused(app, username):
    user = login_as(app, username)
    assert user.get(URL).status_code == 403
    assert user.get(URL, headers=GRID).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_other_studio_sees_only_its_own_clients(app):
    other = login_as(app, "admin.alt")
    page = grid(other, "?per_pagina=100")
    assert codes(page) == ["000088", "ALT-0001", "ALT-0002"]
    assert rows(page)[0]["ragione_sociale"] == "Omonimo Alternativo S.r.l."
    assert codes(grid(other, "?codice=PINK")) == []


# --- cost --------------------------------------------------------------------------


GRID_QUERIES = [
    "",
    "?codice=1&ordina=-data_risposta",
    "?stato_richiesta=inviato&stato_risposta=aderito&ordina=ragione_sociale&per_pagina=100",
    "?ordina=-stato_risposta&pagina=3",
    "?pagina=999999",
]


def grid_costs(admin):
    costs = []
    for query in GRID_QUERIES:
        with counting_statements() as counter:
            response = admin.get(URL + query, headers=GRID)
        assert response.status_code == 200
        costs.append(counter.count)
    return costs


def test_statements_per_grid_request_do_not_grow_with_the_studio(app, admin):
    small = grid_costs(admin)
    with models.db.connection_context():
        studio = Studio.get(Studio.code == "BPF103")
        demo.add_synthetic_clients(studio, 10_000, demo.ensure_catalogue())
    large = grid_costs(admin)
    # The session and its user, the rows, the services of the page's clients (issue 15:
    # each row's scope), the count (peewee also logs the connection's return to the
    # pool): a page that is not full needs no count.
    assert max(small + large) <= 5, (small, large)
    page = grid(admin, "?per_pagina=100&pagina=2")
    assert summary(page) == "Elementi 101 - 200 di 8.011"


def test_full_page_costs_what_the_grid_costs(admin):
    with counting_statements() as counter:
        assert admin.get(URL).status_code == 200
    # The grid's (with the services of its clients, issue 15), plus the studio's mail rules
    # and the latest delivery's progress, plus where the campaign stands: the counts per
    # state and the answers per week (issue 17), the counts of aderito, parziale and
    # scaduto reading the studio's lifetime and then the consents given (issue 15).
    assert counter.count <= 11, counter.statements


def test_rome_formatting_helper_agrees(db):
    assert italian.format_datetime(dt.datetime(2020, 6, 18, 9, 20)) == "18/06/2020 11:20"


def test_side_menu_marks_configurazioni_varie_and_the_arrow_leads_there(admin):
    page = parse(admin.get(URL))
    current = page.select_one("nav.side-menu a[aria-current=page]")
    assert visible_text(current) == "Configurazioni Varie"
    assert page.find("h1").find("a")["href"] == current["href"] == "/area-personale/configurazioni-varie"


def test_configurazioni_varie_links_to_the_grid(admin):
    page = parse(admin.get("/area-personale/configurazioni-varie"))
    link = page.find("a", string="Clicca qui per gestire l'invio delle richieste di consenso ai tuoi clienti.")
    assert link["href"] == URL


@pytest.mark.parametrize("sort", ["codice", "-data_risposta", "stato_risposta", "-ragione_sociale"])
def test_every_page_is_its_slice_of_the_whole_order(admin, many, sort):
    """Pages read near either end, through SQL written once per shape, tile the whole list."""
    whole = codes(grid(admin, f"?ordina={sort}&per_pagina=100&pagina=1"))
    whole += codes(grid(admin, f"?ordina={sort}&per_pagina=100&pagina=2"))
    whole += codes(grid(admin, f"?ordina={sort}&per_pagina=100&pagina=3"))
    assert len(whole) == many
    for number in range(1, 12):
        page = codes(grid(admin, f"?ordina={sort}&per_pagina=25&pagina={number}"))
        assert page == whole[(number - 1) * 25:number * 25], (sort, number)

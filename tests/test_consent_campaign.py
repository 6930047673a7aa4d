"""Where the campaign stands (issue 17, points 3 and 4): the counts per state, the weekly
chart of the answers kept by the database, and the grid and register exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from conftest import counting_statements, htmx_headers, login_as, parse, visible_text
from test_migrations import NAMES, use_empty_database  # noqa: F401 (a fixture)

import consent
import consent_campaign
import consent_grid
import consent_lifetime
import demo
import models
from migrations import run_migrations
from models import Client, ConsentEvent, ConsentWeekTally, Studio, User

URL = "/area-personale/consensi"
GRID = htmx_headers("consent-grid")
STATES = ("non_inviato", "in_attesa", "aderito", "parziale", "scaduto", "non_aderito")


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


@pytest.fixture
def studio(db):
    return Studio.get(Studio.code == "BPF103")


@pytest.fixture
def many(app):
    """The demo studio with 300 synthetic clients (240 of them with SMART services)."""
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 300, demo.ensure_catalogue())
    return 11 + 240


def counts_on_page(page) -> dict:
    """The counts region: {state class or "tutti": (number, label, href)}."""
    found = {}
    for item in page.select(".campaign-counts li"):
        key = next((c.removeprefix("campaign-") for c in item.get("class", [])), "tutti")
        link = item.find("a")
        found[key] = (visible_text(link.select_one(".campaign-count")),
                      visible_text(link.select_one(".campaign-label")), link["href"])
    return found


def grid_total(admin, href) -> int:
    page = parse(admin.get(href, headers=GRID))
    text = visible_text(page.select_one("#consent-grid .pager-summary"))
    if text == "Nessun elemento":
        return 0
    return int(text.rsplit(" ", 1)[1].replace(".", ""))


# --- the counts ----------------------------------------------------------------------


def with_lifetime_and_scope(studio_id, months=12):
    """``months`` of "Durata del consenso" and, among the consents given, one recorded
    expired by the rule, two past their lifetime not yet recorded (one of them partial),
    one partial, the others in force on every service: each of the six states has clients."""
    granted = [client_id for (client_id,) in Client.select(Client.id).where(
        (Client.studio == studio_id) & (Client.consent_answer == models.CONSENT_GRANTED)
        & (Client.smart_services > 0)).order_by(Client.id).tuples()]
    assert len(granted) >= 5
    now = dt.datetime.utcnow()
    old = now - dt.timedelta(days=800)
    Client.update(consent_answered_at=now).where(Client.id.in_(granted[1:])).execute()
    Client.update(consent_answered_at=old).where(Client.id == granted[0]).execute()
    consent_lifetime.set_studio_months(studio_id, months)  # records granted[0] "scaduto"
    # past its lifetime, not yet recorded: "scaduto" all the same, from the instant it ended;
    # one of them partial too (still "scaduto", not "parziale")
    Client.update(consent_answered_at=old).where(Client.id.in_(granted[1:3])).execute()
    models.ClientService.update(consented_at=None).where(
        models.ClientService.client.in_([granted[2], granted[3]])).execute()
    return granted


@pytest.mark.usefixtures("many")
def test_each_count_is_the_total_of_the_grid_its_link_opens(admin, studio):
    with_lifetime_and_scope(studio.id)
    admin.get(URL)  # nothing cached: the counts are read at each page
    counts = counts_on_page(parse(admin.get(URL)))
    assert set(counts) == {"tutti", *STATES}
    assert [label for _n, label, _h in counts.values()] == [
        "Clienti con Servizi SMART", "Non inviato", "In attesa", "Aderito", "Parziale",
        "Scaduto", "Non aderito"]
    numbers = {}
    for key, (number, _label, href) in counts.items():
        numbers[key] = int(number.replace(".", ""))
        assert numbers[key] == grid_total(admin, href), key
    assert all(numbers[key] for key in STATES), numbers  # each state has clients
    assert sum(numbers[key] for key in STATES) == numbers["tutti"]
    assert counts["tutti"][2] == URL
    assert counts["non_inviato"][2] == URL + "?stato_richiesta=non_inviato"
    assert counts["in_attesa"][2] == URL + "?stato_risposta=in_attesa"
    assert counts["parziale"][2] == URL + "?stato_risposta=parziale"
    assert counts["scaduto"][2] == URL + "?stato_risposta=scaduto"


def test_counts_follow_a_sending_and_an_answer(admin, studio):
    before = consent_campaign.state_counts(studio.id)
    consent.send_requests(studio.id, User.get(User.username == "admin"))
    after = consent_campaign.state_counts(studio.id)
    by_key = {state.key: state.count for state in after.states}
    assert by_key["non_inviato"] == 0 and after.total == before.total
    for state in after.states:
        total, _selected = consent_grid.count_matching(studio.id, 0, state.filters)
        assert state.count == total, state.key
    pending = Client.get((Client.studio == studio) & (Client.code == "000120"))
    consent.answer_request(pending, User.get(User.username == "pink"), accept=True)
    again = {state.key: state.count for state in consent_campaign.state_counts(studio.id).states}
    assert again["aderito"] == by_key["aderito"] + 1
    assert again["in_attesa"] == by_key["in_attesa"] - 1


def test_counts_are_the_studios_own(app, db, studio):
    other = Studio.get(Studio.code != "BPF103")
    mine = consent_campaign.state_counts(studio.id)
    theirs = consent_campaign.state_counts(other.id)
    assert mine.total == 11 and theirs.total != mine.total


def test_counts_use_italian_numbers(db):
    counts = consent_campaign.Counts(80011, [])
    assert counts.total_shown == "80.011"


# --- the weekly tally and the chart ------------------------------------------------------


def add_event(client, kind, at):
    actor = User.get(User.username == "admin")
    ConsentEvent.insert(studio=client.studio_id, client=client.id, kind=kind, actor=actor.id,
                        channel="admin_sending" if kind == "sent" else "modal",
                        created_at=at).execute()


def tally(studio_id) -> dict:
    rows = ConsentWeekTally.select().where(ConsentWeekTally.studio_id == studio_id)
    return {(str(row.week), row.kind): row.n for row in rows}


def test_the_database_counts_each_answer_in_its_week(studio):
    client = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    before = tally(studio.id)
    add_event(client, "granted", dt.datetime(2026, 3, 2, 0, 0, 1))  # a Monday
    add_event(client, "granted", dt.datetime(2026, 3, 8, 23, 59, 59))  # the Sunday after
    add_event(client, "declined", dt.datetime(2026, 3, 9, 8, 0))  # the next Monday
    add_event(client, "revoked", dt.datetime(2026, 3, 4, 12, 30, 15, 123456))
    add_event(client, "sent", dt.datetime(2026, 3, 4, 12, 0))  # requests are not answers
    added = {key: n - before.get(key, 0) for key, n in tally(studio.id).items()
             if n != before.get(key, 0)}
    assert added == {("2026-03-02", "granted"): 2, ("2026-03-09", "declined"): 1,
                     ("2026-03-02", "revoked"): 1}


def test_a_statement_of_many_answers_adds_them_at_once(studio):
    clients = list(Client.select().where(Client.studio == studio).limit(5))
    actor = User.get(User.username == "admin")
    at = dt.datetime(2025, 12, 31, 10, 0)  # a Wednesday; its week starts on 29 December
    ConsentEvent.insert_many([
        {"studio": studio.id, "client": c.id, "kind": "granted", "actor": actor.id,
         "channel": "modal", "created_at": at} for c in clients]).execute()
    assert tally(studio.id)[("2025-12-29", "granted")] == 5


def test_the_chart_shows_the_last_52_weeks_by_the_clock(studio, monkeypatch):
    client = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    now = dt.datetime(2026, 3, 4, 9, 0)  # Wednesday: the current week starts on 2 March
    monkeypatch.setattr(consent_campaign, "utcnow", lambda: now)
    add_event(client, "granted", dt.datetime(2026, 3, 2, 7, 0))
    add_event(client, "declined", dt.datetime(2025, 3, 10, 7, 0))  # the first week shown
    add_event(client, "revoked", dt.datetime(2025, 3, 9, 7, 0))  # a Sunday: one week too old
    weeks = consent_campaign.weekly_answers(studio.id)
    assert len(weeks) == 52
    assert weeks[0].start == dt.date(2025, 3, 10) and weeks[-1].start == dt.date(2026, 3, 2)
    assert all(week.start.weekday() == 0 for week in weeks)
    assert weeks[-1].counts == (1, 0, 0) and weeks[0].counts == (0, 1, 0)
    assert sum(sum(week.counts) for week in weeks) == 2
    assert weeks[-1].label == "2 mar 2026"

    monkeypatch.setattr(consent_campaign, "utcnow", lambda: now + dt.timedelta(days=5))
    moved = consent_campaign.weekly_answers(studio.id)  # Monday 9 March: a new week begins
    assert moved[-1].start == dt.date(2026, 3, 9) and moved[-1].counts == (0, 0, 0)
    assert moved[-2].counts == (1, 0, 0)
    assert sum(sum(week.counts) for week in moved) == 1  # the week of 10 March 2025 left


def test_the_page_draws_the_chart_and_its_table(admin, app, monkeypatch):
    monkeypatch.setattr(consent_campaign, "utcnow", lambda: dt.datetime(2026, 3, 4, 9, 0))
    with models.db.connection_context():
        pink = Client.get(Client.code == "PINK")
        for day in (2, 3):
            add_event(pink, "granted", dt.datetime(2026, 3, day, 7, 0))
        add_event(pink, "declined", dt.datetime(2026, 2, 24, 7, 0))
    page = parse(admin.get(URL))
    svg = page.select_one(".campaign svg.chart")
    assert svg["role"] == "img" and svg["aria-labelledby"] == "chart-title chart-summary"
    assert visible_text(page.select_one("#chart-title")) == "Risposte per settimana, ultimi 12 mesi"
    assert "Aderito: 2; Non aderito: 1; Revocato: 0." in svg.find("desc").get_text()
    lines = svg.select("polyline")
    assert [line["class"] for line in lines] == [["series-granted"], ["series-declined"],
                                                 ["series-revoked"]]
    # The key is the page's text (it reads on a phone too), each with its line's class.
    key = page.select(".campaign .chart-key li")
    assert [(visible_text(li), li["class"]) for li in key] == [
        ("Aderito", ["series-granted"]), ("Non aderito", ["series-declined"]),
        ("Revocato", ["series-revoked"])]
    granted = [tuple(map(int, p.split(","))) for p in lines[0]["points"].split()]
    # From the first week to the last, level where nothing changes, up in the last week.
    assert granted[0][0] == consent_campaign.LEFT and granted[-1][0] == 632
    assert [y for _x, y in granted[:-1]] == [granted[0][1]] * (len(granted) - 1)
    assert granted[-1][1] < granted[-2][1]
    declined = [tuple(map(int, p.split(","))) for p in lines[1]["points"].split()]
    assert len(declined) == 4  # the first, the week before the answer, its week, the last
    assert not page.select(".campaign [style]")  # the CSP allows no inline style
    table = page.select_one(".campaign details table")
    assert [visible_text(th) for th in table.select("thead th")] == [
        "Settimana dal", "Aderito", "Non aderito", "Revocato"]
    body = [[visible_text(cell) for cell in tr.find_all(["th", "td"])]
            for tr in table.select("tbody tr")]
    # The weeks with answers, oldest first: the others are said to have none.
    assert body == [["23 feb 2026", "0", "1", "0"], ["2 mar 2026", "2", "0", "0"]]
    assert "Le settimane non elencate non hanno risposte." in visible_text(
        page.select_one(".campaign details"))


def test_the_chart_without_answers_says_so(app):
    page = parse(login_as(app, "admin.alt").get(URL))  # a studio nobody answered yet
    assert "Nessuna risposta negli ultimi 12 mesi." in visible_text(page.select_one(".campaign"))
    assert page.select_one(".campaign svg polyline") is not None  # the axes and flat lines
    assert page.select_one(".campaign details") is None  # no table of nothing


def test_the_axis_top_is_round_and_never_below_the_highest_week():
    for highest, top in ((0, 2), (1, 2), (3, 5), (7, 10), (11, 20), (45, 50), (51, 100)):
        weeks = [consent_campaign.Week(dt.date(2026, 1, 5), (highest, 0, 0))]
        assert consent_campaign.chart(weeks).levels[-1].label == str(top)


@pytest.mark.usefixtures("many")
@pytest.mark.parametrize("lifetime, statements", [(False, 3), (True, 4)])
def test_the_page_reads_the_counts_and_chart_in_a_few_statements(admin, app, lifetime, statements):
    # the tally, the studio's lifetime, the chart; with a lifetime, also the consents past it
    # that the daily task has not recorded yet
    with models.db.connection_context():
        studio_id = Studio.get(Studio.code == "BPF103").id
        if lifetime:
            with_lifetime_and_scope(studio_id)
    with app.test_request_context(), models.db.connection_context():
        with counting_statements() as counter:
            consent_campaign.campaign(studio_id)
    assert counter.count == statements, counter.statements


def test_the_migration_counts_the_answers_already_there(use_empty_database):  # noqa: F811
    use_empty_database("backfill")
    before = NAMES[NAMES.index("0017_consent_week_tally") - 1]
    run_migrations(until=before)
    at = "'2026-01-01 00:00:00'"
    for statement in [
        f"INSERT INTO studio (id, code, name, created_at) VALUES (1, 'S1', 'Studio', {at})",
        "INSERT INTO \"user\" (id, studio_id, username, display_name, password_hash, role, active, "
        f"smart_access, smart_banner_dismissed, created_at) VALUES (1, 1, 'a', 'A', 'x', 'admin', "
        f"TRUE, FALSE, FALSE, {at})",
        f"INSERT INTO client (id, studio_id, code, name, created_at) VALUES (1, 1, 'C', 'C', {at})",
        "INSERT INTO consent_event (studio_id, client_id, kind, actor_id, channel, created_at) "
        "VALUES (1, 1, 'granted', 1, 'modal', '2026-01-07 10:00:00'), "
        "(1, 1, 'granted', 1, 'modal', '2026-01-05 00:00:00'), "
        "(1, 1, 'revoked', 1, 'modal', '2026-01-04 23:59:00'), "
        "(1, 1, 'sent', 1, 'admin_sending', '2026-01-05 10:00:00')",
    ]:
        models.db.execute_sql(statement)
    run_migrations()
    assert tally(1) == {("2026-01-05", "granted"): 2, ("2025-12-29", "revoked"): 1}
    models.db.execute_sql(
        "INSERT INTO consent_event (studio_id, client_id, kind, actor_id, channel, created_at) "
        "VALUES (1, 1, 'declined', 1, 'modal', '2026-01-06 10:00:00')")
    assert tally(1)[("2026-01-05", "declined")] == 1


# --- the exports ----------------------------------------------------------------------


def workbook_rows(response):
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"  # the studio's clients: never cached
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows())


def grid_codes(admin, query) -> list[str]:
    """Every code the grid shows for ``query``, page after page, in order."""
    found, number = [], 1
    while True:
        page = parse(admin.get(f"{URL}?{query}&per_pagina=100&pagina={number}", headers=GRID))
        codes = [visible_text(td) for td in page.select("#consent-grid tbody td.col-codice")]
        found += codes
        if len(codes) < 100:
            return found
        number += 1


def test_export_links_carry_the_grids_filters(admin):
    page = parse(admin.get(URL + "?stato_risposta=in_attesa&ordina=-ragione_sociale&pagina=1"))
    xlsx = page.select_one("#consent-grid #grid-export-xlsx")
    assert xlsx["href"] == URL + "/esporta.xlsx?stato_risposta=in_attesa&ordina=-ragione_sociale"
    assert xlsx.has_attr("download") and xlsx["hx-boost"] == "false"
    assert page.select_one("#grid-export-csv")["href"].startswith(URL + "/esporta.csv?")
    fragment = parse(admin.get(URL + "?stato_richiesta=non_inviato", headers=GRID))
    assert fragment.select_one("#grid-export-csv")["href"] == (
        URL + "/esporta.csv?stato_richiesta=non_inviato")


@pytest.mark.usefixtures("many")
@pytest.mark.parametrize("query", ["", "stato_richiesta=non_inviato&ordina=-data_richiesta",
                                   "codice=00&op=contiene&ordina=stato_risposta"])
def test_the_xlsx_holds_every_row_of_the_filter_in_the_grids_order(admin, query):
    rows = workbook_rows(admin.get(f"{URL}/esporta.xlsx?{query}"))
    assert [cell.value for cell in rows[0]] == list(
        ("Codice", "Ragione sociale", "Codice fiscale", "Partita IVA", "E-mail", "Stato richiesta",
         "Data richiesta", "Stato risposta", "Data risposta", "Scadenza", "Servizi autorizzati"))
    codes = [row[0].value for row in rows[1:]]
    assert codes == grid_codes(admin, query)
    assert len(codes) == grid_total(admin, f"{URL}?{query}") > 100  # more than one page


def with_partita_iva(code="PINK", vat_number="00743110157"):
    Client.update(vat_number=vat_number).where(Client.code == code).execute()


def test_the_xlsx_keeps_codes_as_text_and_dates_as_dates(admin, db):
    with_partita_iva()
    rows = workbook_rows(admin.get(f"{URL}/esporta.xlsx"))
    by_code = {row[0].value: row for row in rows[1:]}
    assert len(by_code) == 11
    zeros = by_code["000004"]
    assert zeros[0].data_type == "s" and zeros[0].number_format == "@"
    pink = by_code["PINK"]
    assert pink[2].value == "01234560157" and pink[2].data_type == "s"
    assert pink[3].value == "00743110157" and pink[3].data_type == "s"
    assert pink[3].number_format == "@"
    client = Client.get(Client.code == "PINK")
    assert pink[5].value == "Inviato" and pink[7].value == "aderito"
    assert pink[6].is_date and pink[6].number_format == "DD/MM/YYYY HH:MM"
    rome = consent_campaign.italian.to_rome(client.consent_requested_at).replace(tzinfo=None)
    assert abs(pink[6].value - rome) < dt.timedelta(seconds=1)
    unsent = [row for row in rows[1:] if row[5].value == "Non inviato"]
    assert unsent and all(row[6].value is None and row[7].value is None for row in unsent)


def test_the_csv_is_the_same_rows_for_italian_excel(admin, db):
    with_partita_iva()
    response = admin.get(f"{URL}/esporta.csv?stato_risposta=aderito")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "richieste-consenso-BPF103-" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline=""),
                           delimiter=";"))
    assert rows[0][0] == "Codice" and len(rows) - 1 == grid_total(admin, URL + "?stato_risposta=aderito")
    pink = next(row for row in rows if row[0] == "PINK")
    assert pink[2:4] == ["01234560157", "00743110157"] and pink[7] == "aderito"
    client = Client.get(Client.code == "PINK")
    assert pink[6] == consent_campaign.italian.format_datetime(client.consent_requested_at)


def grid_rows_shown(admin, query="") -> dict:
    """{code: (Stato risposta, Scadenza, the "Autorizzati: " services)} as the grid shows them."""
    page = parse(admin.get(f"{URL}?{query}&per_pagina=100", headers=GRID))
    shown = {}
    for row in page.select("#consent-grid tbody tr"):
        cells = {td.get("data-label"): td for td in row.find_all("td")}
        answer = cells["Stato risposta"]
        badge = answer.find(class_="state")
        authorised = next((visible_text(small).removeprefix("Autorizzati: ")
                           for small in answer.find_all("small")
                           if visible_text(small).startswith("Autorizzati: ")), "")
        shown[visible_text(row.select_one("td.col-codice"))] = (
            visible_text(badge) if badge else "", visible_text(cells["Scadenza"]), authorised)
    return shown


def test_the_export_has_the_grids_state_expiry_and_services(admin, studio):
    granted = with_lifetime_and_scope(studio.id)
    rows = workbook_rows(admin.get(f"{URL}/esporta.xlsx"))
    header = [cell.value for cell in rows[0]]
    state, answered, expiry, services = (header.index(name) for name in (
        "Stato risposta", "Data risposta", "Scadenza", "Servizi autorizzati"))
    by_id = {client.code: client for client in Client.select().where(Client.id.in_(granted))}
    by_code = {row[0].value: row for row in rows[1:]}
    recorded, unrecorded, lapsed_partial, partial, whole = (
        by_code[Client.get_by_id(i).code] for i in granted[:5])
    assert recorded[state].value == unrecorded[state].value == lapsed_partial[state].value == "scaduto"
    assert partial[state].value == "parziale" and whole[state].value == "aderito"
    for row in (recorded, unrecorded, lapsed_partial, partial, whole):
        assert row[expiry].is_date and row[expiry].number_format == "DD/MM/YYYY"
        client = by_id[row[0].value]
        answered_day = consent_campaign.italian.to_rome(client.consent_answered_at).date()
        assert row[expiry].value.date() == consent_lifetime.last_valid_day(
            client.consent_answered_at, 12) > answered_day
    assert recorded[services].value is None and unrecorded[services].value is None
    assert whole[services].data_type == "s" and whole[services].value
    assert partial[services].value is None  # every service of its left out (as the grid)
    # what the grid shows, row by row, cell by cell
    shown = grid_rows_shown(admin)
    for code, row in by_code.items():
        answer, until, authorised = shown[code]
        assert (row[state].value or "").lower() == answer.lower(), code
        cell = row[expiry].value
        assert (cell.strftime("%d/%m/%Y") if cell else "") == until, code
        assert (row[services].value or "") == authorised, code
    unanswered = [row for row in rows[1:] if row[state].value in (None, "In attesa", "non aderito")]
    assert unanswered and all(row[expiry].value is None for row in unanswered)
    assert all(row[answered].value is None or row[answered].is_date for row in rows[1:])
    csv_rows = list(csv.reader(io.StringIO(
        admin.get(f"{URL}/esporta.csv").data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert csv_rows[0] == header
    in_csv = {row[0]: row for row in csv_rows[1:]}
    for row in (recorded, unrecorded, partial, whole):
        code = row[0].value
        assert in_csv[code][state] == row[state].value
        assert in_csv[code][expiry] == row[expiry].value.strftime("%d/%m/%Y")
        assert in_csv[code][services] == (row[services].value or "")


def test_the_export_says_senza_scadenza_as_the_grid(admin, studio):
    rows = workbook_rows(admin.get(f"{URL}/esporta.xlsx?stato_risposta=aderito"))
    expiry = [cell.value for cell in rows[0]].index("Scadenza")
    assert len(rows) > 1 and all(row[expiry].value == "senza scadenza" for row in rows[1:])
    shown = grid_rows_shown(admin, "stato_risposta=aderito")
    assert {row[0].value for row in rows[1:]} == set(shown)
    assert all(until == "senza scadenza" for _a, until, _s in shown.values())


def test_bad_filters_export_the_grid_they_fall_back_to(admin):
    response = admin.get(f"{URL}/esporta.xlsx?stato_risposta=boh&pagina=-1&ordina=x")
    assert len(workbook_rows(response)) == 1 + 11


def test_only_the_administrator_exports(app):
    operator = login_as(app, "operatore1")
    for path in ("/esporta.xlsx", "/esporta.csv", "/registro.xlsx"):
        assert operator.get(URL + path).status_code == 403


def test_an_export_is_the_studios_own(app):
    rows = workbook_rows(login_as(app, "admin.alt").get(f"{URL}/esporta.xlsx"))
    codes = {row[0].value for row in rows[1:]}
    assert "PINK" not in codes and "000004" not in codes


def test_the_register_as_xlsx_has_the_csvs_rows(admin, db):
    rows = workbook_rows(admin.get(f"{URL}/registro.xlsx"))
    text = admin.get(f"{URL}/registro.csv").data.decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert [cell.value for cell in rows[0]] == csv_rows[0]
    assert len(rows) == len(csv_rows) > 1
    for cells, line in zip(rows[1:], csv_rows[1:], strict=True):
        assert cells[0].is_date and cells[0].value.strftime("%d/%m/%Y %H:%M:%S") == line[0]
        assert cells[1].value == line[1] and cells[1].data_type == "s"
        assert cells[1].number_format == "@" and cells[3].number_format == "@"
        assert [c.value or "" for c in cells[4:8]] == line[4:8]
        assert (cells[8].value, line[8]) in ((None, ""), (int(line[8] or 0), line[8]))
    assert any(cell.value == "000004" for cell in (row[1] for row in rows[1:]))


def test_the_page_offers_both_register_files(admin):
    page = parse(admin.get(URL))
    links = {visible_text(a): a["href"] for a in page.select(".consent-tools a")}
    assert links == {"Scarica il registro dei consensi (XLSX)": URL + "/registro.xlsx",
                     "Scarica il registro dei consensi (CSV)": URL + "/registro.csv",
                     "Testi del consenso": URL + "/testi"}

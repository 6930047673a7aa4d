"""Selection kept on the server, and the two ways of sending consent requests (SPEC 3.3, 4):
confirmation with the number of clients, one transaction, one event per client, idempotent,
and never across studios."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from conftest import counting_statements, htmx_headers, login_as, parse, visible_text

import consent
import demo
import italian
import models
from models import Client, ConsentEvent, ConsentSelection, ConsentSending, Studio, User

URL = "/area-personale/consensi"
SELECT_URL = URL + "/selezione"
SEND_URL = URL + "/invio"
GRID = htmx_headers("consent-grid")
NOT_CONSENTED = ["000120", "000131", "000145", "000150"]  # never asked, pending, declined


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


def client_id(code, studio="BPF103"):
    with models.db.connection_context():
        return Client.select(Client.id).join(Studio).where(
            (Client.code == code) & (Studio.code == studio)).scalar()


def selected_codes(username="admin"):
    with models.db.connection_context():
        return sorted(
            c.code for c in Client.select(Client.code)
            .join(ConsentSelection, on=ConsentSelection.client == Client.id)
            .join(User, on=ConsentSelection.user == User.id)
            .where(User.username == username))


def events(kind="sent"):
    with models.db.connection_context():
        return list(ConsentEvent.select().where(ConsentEvent.kind == kind).order_by(ConsentEvent.id))


def rows_by_code(page):
    found = {}
    for tr in page.select("#consent-grid tbody tr:not(.grid-empty)"):
        cells = {td["class"][0].removeprefix("col-"): td for td in tr.find_all("td") if td.get("class")}
        found[visible_text(cells["codice"])] = {
            "checked": cells["check"].find("input").has_attr("checked"),
            **{k: visible_text(v) for k, v in cells.items() if k not in ("check", "storico")},
        }
    return found


def selection_text(page):
    return visible_text(page.select_one(".selection-count"))


def post_select(user, action, client=None, **state):
    data = {"azione": action, **state}
    if client is not None:
        data["cliente"] = client
    return user.post(SELECT_URL, data=data, headers=GRID)


def confirm(user, mode, query=""):
    """Open the confirmation of a sending; return the page and the form it would post."""
    response = user.get(f"{SEND_URL}?modo={mode}{query}", headers=GRID)
    assert response.status_code == 200
    page = parse(response)
    form = page.select_one(".confirm-panel form")
    data = {i["name"]: i["value"] for i in form.select("input[type=hidden]")} if form else None
    return page, data


def confirmation_text(page):
    return visible_text(page.select_one(".confirm-panel"))


# --- selection ---------------------------------------------------------------------


def test_ticking_a_row_keeps_it_on_the_server(admin):
    page = parse(post_select(admin, "aggiungi", client_id("PINK"), per_pagina="25"))
    assert rows_by_code(page)["PINK"]["checked"]
    assert selection_text(page) == "1 cliente selezionato"
    assert selected_codes() == ["PINK"]
    page = parse(post_select(admin, "togli", client_id("PINK"), per_pagina="25"))
    assert not rows_by_code(page)["PINK"]["checked"]
    assert selection_text(page) == "Nessun cliente selezionato"
    assert selected_codes() == []


def test_selection_survives_paging_sorting_and_filtering(admin):
    post_select(admin, "aggiungi", client_id("000004"))
    post_select(admin, "aggiungi", client_id("PINK"))
    for query in ("?pagina=2", "?ordina=-ragione_sociale", "?codice=000131", "?stato_risposta=in_attesa"):
        assert selection_text(parse(admin.get(URL + query, headers=GRID))) == "2 clienti selezionati"
    page = parse(admin.get(URL + "?pagina=2", headers=GRID))
    assert rows_by_code(page)["PINK"]["checked"]
    page = parse(admin.get(URL + "?ordina=-codice&per_pagina=25", headers=GRID))
    checked = [code for code, row in rows_by_code(page).items() if row["checked"]]
    assert checked == ["PINK", "000004"]


def test_header_checkbox_ticks_and_unticks_the_page_shown(app, admin):
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 40, demo.ensure_catalogue())
    state = {"ordina": "-codice", "pagina": "2", "per_pagina": "10"}
    page = parse(post_select(admin, "pagina_aggiungi", **state))
    shown = list(rows_by_code(page))
    assert len(shown) == 10 and all(row["checked"] for row in rows_by_code(page).values())
    assert selected_codes() == sorted(shown)
    assert page.select_one("#grid-select-page").has_attr("checked")
    assert selection_text(page) == "10 clienti selezionati"
    other = parse(admin.get(URL + "?ordina=-codice&pagina=3", headers=GRID))
    assert not other.select_one("#grid-select-page").has_attr("checked")
    page = parse(post_select(admin, "pagina_togli", **state))
    assert selected_codes() == []
    assert not page.select_one("#grid-select-page").has_attr("checked")


def test_select_all_filtered_ticks_every_match_on_every_page(admin):
    page = parse(admin.get(URL + "?stato_richiesta=non_inviato", headers=GRID))
    button = page.find("button", string="Seleziona tutti i 2 clienti filtrati")
    assert button is not None
    page = parse(post_select(admin, "filtrati", stato_richiesta="non_inviato"))
    assert selected_codes() == ["000120", "000150"]
    assert selection_text(page) == "2 clienti selezionati"
    page = parse(post_select(admin, "filtrati"))
    assert selection_text(page) == "11 clienti selezionati"
    assert page.find("button", string="Seleziona tutti gli 11 clienti dell'elenco") is not None
    page = parse(post_select(admin, "annulla"))
    assert selected_codes() == []
    assert page.find("button", string="Annulla selezione") is None


def test_select_all_filtered_is_one_statement_whatever_the_number(app, admin):
    import consent_grid

    costs = []
    with models.db.connection_context():
        studio = Studio.get(Studio.code == "BPF103")
        user_id = User.get(User.username == "admin").id
        state = consent_grid.GridState.from_args({"codice": "S", "op": "inizia"})
        for extra in (10, 3000):
            demo.add_synthetic_clients(studio, extra, demo.ensure_catalogue())
            consent_grid.clear_selection(user_id)
            with counting_statements() as counter:
                consent_grid.select_matching(studio.id, user_id, state)
            costs.append([s for s in counter.statements if s.startswith("INSERT")])
    assert len(costs[0]) == len(costs[1]) == 1, costs
    assert len(selected_codes()) == 2400
    with counting_statements() as counter:
        assert post_select(admin, "filtrati", codice="S").status_code == 200
    assert counter.count <= 7, counter.statements


@pytest.mark.parametrize("username, code", [("admin", "ALT-0001"), ("admin", "000200"),
                                            ("admin.alt", "PINK")])
def test_forged_ids_never_enter_a_selection(app, username, code):
    user = login_as(app, username)
    studio = "ALT001" if code.startswith("ALT") else "BPF103"
    response = post_select(user, "aggiungi", client_id(code, studio))
    assert response.status_code == 404
    assert "Cliente non trovato." in visible_text(parse(response).select_one(".message-error"))
    assert selected_codes(username) == []


@pytest.mark.parametrize("data", [
    {"azione": "aggiungi"}, {"azione": "aggiungi", "cliente": "abc"},
    {"azione": "aggiungi", "cliente": "-4"}, {"azione": "aggiungi", "cliente": "9" * 40},
    {"azione": "distruggi"}, {},
])
def test_bad_selection_requests_are_refused_clearly(admin, data):
    response = admin.post(SELECT_URL, data=data, headers=GRID)
    assert response.status_code == 400
    assert parse(response).select_one("#consent-grid .message-error") is not None
    assert selected_codes() == []


# --- confirmation --------------------------------------------------------------------


def test_send_to_all_asks_for_confirmation_with_the_number(admin):
    before = len(events())
    page, form = confirm(admin, "tutti")
    text = confirmation_text(page)
    assert "La richiesta sarà inviata a 4 clienti" in text
    assert "7 clienti hanno già acconsentito e non la riceveranno." in text
    assert page.find("button", string="Conferma l'invio a 4 clienti") is not None
    assert form["modo"] == "tutti" and form["token"]
    assert len(events()) == before  # confirming is not sending
    full = parse(admin.get(SEND_URL + "?modo=tutti"))  # the same URL as a full page
    assert full.find("h1") is not None and full.select_one(".confirm-panel") is not None


def test_confirmation_of_all_says_filters_do_not_limit_it(admin):
    page, _ = confirm(admin, "tutti", "&codice=PINK")
    assert "I filtri della griglia non limitano questo invio" in confirmation_text(page)


def test_send_to_selection_without_selection_explains_what_to_do(admin):
    response = admin.get(SEND_URL + "?modo=selezione", headers=GRID)
    page = parse(response)
    assert page.select_one(".confirm-panel") is None
    assert "Nessun cliente selezionato" in visible_text(page.select_one(".message-warning"))


@pytest.mark.parametrize("query", ["?modo=tutti-gli-studi", "", "?modo="])
def test_an_unknown_mode_shows_the_grid_with_a_word_on_how_to_send(admin, query):
    response = admin.get(SEND_URL + query, headers=GRID)
    assert response.status_code == 200
    page = parse(response)
    assert page.select_one(".confirm-panel") is None
    assert "Scegli come inviare la richiesta" in visible_text(page.select_one(".message-warning"))


# --- sending -------------------------------------------------------------------------


def test_send_to_all_sends_to_those_who_have_not_consented(admin):
    _, form = confirm(admin, "tutti")
    response = admin.post(SEND_URL, data=form, headers=GRID)
    assert response.status_code == 200
    page = parse(response)
    assert visible_text(page.select_one(".message-success")) == (
        "Richieste di consenso: 4 inviate, 7 saltate perché hanno già acconsentito.")
    today = italian.format_datetime(models.utcnow())[:10]
    rows = rows_by_code(parse(admin.get(URL + "?per_pagina=25", headers=GRID)))
    for code, row in rows.items():
        if code in NOT_CONSENTED:
            assert (row["stato_richiesta"], row["stato_risposta"]) == ("Inviato", "In attesa")
            assert row["data_richiesta"].startswith(today) and row["data_risposta"] == ""
        else:
            assert row["stato_risposta"].split()[0] == "aderito"  # then the services it covers
            assert not row["data_richiesta"].startswith(today)
    sent = [e for e in events() if e.channel == "admin_sending" and e.created_at.date() == models.utcnow().date()]
    with models.db.connection_context():
        assert sorted(Client.get_by_id(e.client_id).code for e in sent) == NOT_CONSENTED
        admin_id = User.get(User.username == "admin").id
    assert {(e.actor_id, e.ip, e.consent_text_id is not None) for e in sent} == {
        (admin_id, "127.0.0.1", True)}


def test_send_to_selection_across_pages_sends_exactly_those(app, admin):
    with models.db.connection_context():
        demo.add_synthetic_clients(Studio.get(Studio.code == "BPF103"), 30, demo.ensure_catalogue())
    post_select(admin, "aggiungi", client_id("000120"))  # page 1, never asked
    with models.db.connection_context():
        far = (Client.select(Client.code).where(Client.code.startswith("S") & consent.with_smart_service())
               .order_by(Client.code.desc()).scalar())  # on the last page, never asked
    post_select(admin, "aggiungi", client_id(far), pagina="3")
    post_select(admin, "aggiungi", client_id("PINK"), pagina="2")  # consented: skipped
    page, form = confirm(admin, "selezione")
    text = confirmation_text(page)
    assert "La richiesta sarà inviata a 2 clienti della selezione." in text
    assert "1 cliente ha già acconsentito e non la riceverà." in text
    page = parse(admin.post(SEND_URL, data=form, headers=GRID))
    assert visible_text(page.select_one(".message-success")) == (
        "Richieste di consenso: 2 inviate, 1 saltata perché ha già acconsentito.")
    assert selection_text(page) == "Nessun cliente selezionato"  # the selection was sent
    assert selected_codes() == []
    sent_today = {
        code for code, row in rows_by_code(parse(admin.get(URL + "?per_pagina=100", headers=GRID))).items()
        if row["stato_richiesta"] == "Inviato" and row["stato_risposta"] == "In attesa"
        and row["data_richiesta"].startswith(italian.format_datetime(models.utcnow())[:10])}
    assert sent_today == {"000120", far}


def test_a_second_submission_of_the_same_confirmation_sends_nothing(admin):
    _, form = confirm(admin, "tutti")
    admin.post(SEND_URL, data=form, headers=GRID)
    count = len(events())
    response = admin.post(SEND_URL, data=form, headers=GRID)
    assert response.status_code == 200
    message = visible_text(parse(response).select_one(".message-info"))
    assert message.startswith("Questo invio era già stato eseguito, non è stato ripetuto.")
    assert "4 inviate" in message
    assert len(events()) == count
    with models.db.connection_context():
        assert ConsentSending.select().count() == 1


def test_a_double_click_at_the_same_moment_sends_once(app):
    users = [login_as(app, "admin"), login_as(app, "admin")]
    _, form = confirm(users[0], "tutti")
    before = len(events())
    barrier = threading.Barrier(2)
    statuses = []

    def submit(user):
        barrier.wait()
        statuses.append(user.post(SEND_URL, data=form, headers=GRID).status_code)

    threads = [threading.Thread(target=submit, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200, 200]
    assert len(events()) == before + 4


def test_a_sending_whose_number_changed_is_not_sent_and_is_confirmed_again(app, admin):
    _, form = confirm(admin, "tutti")
    with models.db.connection_context():
        gelateria = Client.get(Client.code == "000131")
        consent.answer_request(gelateria, User.get(User.client == gelateria), accept=True)
    before = len(events())
    response = admin.post(SEND_URL, data=form, headers=GRID)
    assert response.status_code == 409
    page = parse(response)
    assert "nessuna richiesta è stata inviata" in visible_text(page.select_one(".message-warning"))
    assert "La richiesta sarà inviata a 3 clienti" in confirmation_text(page)
    assert len(events()) == before


@pytest.mark.parametrize("tamper", ["garbage", "other_mode", "missing", "expired"])
def test_a_bad_or_stale_confirmation_sends_nothing(admin, monkeypatch, tamper):
    _, form = confirm(admin, "tutti")
    if tamper == "garbage":
        form["token"] = form["token"][:-3] + "abc"
    elif tamper == "other_mode":
        form["modo"] = "selezione"
    elif tamper == "missing":
        del form["token"]
    else:
        import views.consents
        monkeypatch.setattr(views.consents, "CONFIRMATION_MAX_AGE", -1)
    before = len(events())
    response = admin.post(SEND_URL, data=form, headers=GRID)
    assert response.status_code == 400
    assert "nessuna richiesta è stata inviata" in visible_text(parse(response).select_one(".message-error"))
    assert len(events()) == before


def test_a_confirmation_is_good_only_for_the_admin_it_was_issued_to(app, admin):
    _, form = confirm(admin, "tutti")
    other = login_as(app, "admin.alt")
    before = len(events())
    assert other.post(SEND_URL, data=form, headers=GRID).status_code == 400
    assert len(events()) == before


def test_a_failure_mid_send_leaves_nothing_sent(app, admin, monkeypatch):
    post_select(admin, "filtrati")
    _, form = confirm(admin, "selezione")
    with models.db.connection_context():
        states_before = list(Client.select(Client.id, Client.consent_requested_at,
                                           Client.consent_answer, Client.consent_answered_at).tuples())
    count = len(events())

    def broken_insert(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ConsentEvent, "insert_from", broken_insert)  # after the UPDATE ran
    response = admin.post(SEND_URL, data=form, headers=GRID)
    assert response.status_code == 500
    monkeypatch.undo()
    with models.db.connection_context():
        states_after = list(Client.select(Client.id, Client.consent_requested_at,
                                          Client.consent_answer, Client.consent_answered_at).tuples())
        assert ConsentSending.select().count() == 0
    assert states_after == states_before
    assert len(events()) == count
    assert len(selected_codes()) == 11  # the selection is still there
    # and the same confirmation can be carried out once the failure is gone
    page = parse(admin.post(SEND_URL, data=form, headers=GRID))
    assert "4 inviate" in visible_text(page.select_one(".message-success"))


def test_send_confirmed_is_all_or_none_at_module_level(db, monkeypatch):
    admin = User.get(User.username == "admin")
    studio = admin.studio_id
    count = len(events())
    monkeypatch.setattr(ConsentEvent, "insert_from", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        consent.send_confirmed(studio, admin, consent.SEND_ALL, "k" * 32, 4)
    monkeypatch.undo()
    assert len(events()) == count
    assert Client.select().where(Client.consent_requested_at > models.utcnow() - dt.timedelta(minutes=5)).count() == 0


# --- isolation -----------------------------------------------------------------------


def test_the_other_studio_never_sends_to_bpf103(app):
    other = login_as(app, "admin.alt")
    with models.db.connection_context():
        bpf = list(Client.select().join(Studio).where(Studio.code == "BPF103").tuples())
        # a forged selection row pointing at another studio's client
        ConsentSelection.insert(user=User.get(User.username == "admin.alt").id,
                                client=client_id("000120")).execute()
    page, form = confirm(other, "tutti")
    assert "La richiesta sarà inviata a 3 clienti" in confirmation_text(page)
    other.post(SEND_URL, data=form, headers=GRID)
    page, form = confirm(other, "selezione")
    assert "Nessun cliente riceverà la richiesta" in confirmation_text(page)
    with models.db.connection_context():
        assert list(Client.select().join(Studio).where(Studio.code == "BPF103").tuples()) == bpf
        alt_sent = ConsentEvent.select().join(Studio).where(Studio.code == "ALT001").count()
        assert alt_sent == 3


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_operators_and_clients_cannot_select_or_send(app, username):
    user = login_as(app, username)
    assert post_select(user, "filtrati").status_code == 403
    assert user.get(SEND_URL + "?modo=tutti", headers=GRID).status_code == 403
    assert user.post(SEND_URL, data={"modo": "tutti", "token": "x"}, headers=GRID).status_code == 403
    assert selected_codes(username) == []


# --- scale ---------------------------------------------------------------------------


def test_send_to_all_costs_the_same_few_statements_whatever_the_number(app):
    costs = []
    with models.db.connection_context():
        admin_user = User.get(User.username == "admin")
        studio = Studio.get(Studio.code == "BPF103")
        for extra in (20, 3000):
            demo.add_synthetic_clients(studio, extra, demo.ensure_catalogue())
            will = consent.count_recipients(studio.id, admin_user, consent.SEND_ALL).will_receive
            with counting_statements() as counter:
                result = consent.send_confirmed(studio.id, admin_user, consent.SEND_ALL,
                                                f"key-{extra}", will)
            assert result.sent == will
            costs.append(counter.count)
    assert costs[0] == costs[1], costs
    assert costs[0] <= 12, costs


@pytest.mark.parametrize("sent, skipped, message", [
    (3, 0, "Richieste di consenso: 3 inviate."),
    (1, 0, "Richieste di consenso: 1 inviata."),
    (0, 2, "Richieste di consenso: nessuna inviata, 2 saltate perché hanno già acconsentito."),
])
def test_the_outcome_says_only_what_happened(sent, skipped, message):
    from views.consents import sent_message

    result = consent.SendResult(sent=sent, already_consented=skipped)
    assert sent_message(result) == message

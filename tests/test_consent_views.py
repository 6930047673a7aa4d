"""The screens of consent per service and for a limited time (issue 15): Altri Dati per
service, the renewal sentence of the consent dialog, the grid's "Scadenza", "scaduto" and
"parziale", and the reasons on /servizi-smart."""

import datetime as dt

import pytest
from conftest import htmx_headers, login_as, parse, visible_text
from smart_helpers import client, service, set_option7, set_switch, user

import consent
import consent_lifetime
import models
from models import AccessEvent, ClientService, ConsentEvent, Studio, utcnow

ALTRI_DATI = "/area-personale/altri-dati"
GRID = "/area-personale/consensi"
FORM = htmx_headers("altri-dati-form")


def studio_id():
    return Studio.get(Studio.code == "BPF103").id


def set_months(months):
    consent_lifetime.set_studio_months(studio_id(), months)


# --- Altri Dati: one checkbox per active service ------------------------------------


def altri_dati_form(response):
    return parse(response).find("form", id="altri-dati-form")


def service_boxes(form):
    """{service name: ticked} of the service checkboxes, in the order shown."""
    return {visible_text(form.find("label", attrs={"for": box["id"]})): box.has_attr("checked")
            for box in form.select(".service-choices input[type=checkbox]")}


def flag_ticked(form):
    return form.find("input", id="autorizzo").has_attr("checked")


def post_state(user_client, flag, ticked, shown=("fattura_smart", "smart_hub")):
    """Post the form as the browser does: the flag, the services shown, those ticked."""
    with models.db.connection_context():
        ids = {code: service(code).id for code in shown}
    data = {"autorizzo": ["0", "1"] if flag else "0",
            "servizi_mostrati": [str(ids[code]) for code in shown],
            "servizio": [str(ids[code]) for code in ticked]}
    return user_client.post(ALTRI_DATI, data=data, headers=FORM)


def consented_codes(code="PINK"):
    with models.db.connection_context():
        return sorted(row.service.code for row in ClientService.select().where(
            (ClientService.client == client(code)) & ClientService.consented_at.is_null(False)))


def test_altri_dati_lists_each_active_service_under_the_flag_ticked_as_consented(app, db):
    form = altri_dati_form(login_as(app, "pink").get(ALTRI_DATI))
    assert flag_ticked(form)
    assert visible_text(form.select_one(".service-choices legend")) == (
        "Servizi SMART che il tuo Professionista può utilizzare")
    assert service_boxes(form) == {"Fattura SMART": True, "SMART Hub": True}
    assert "Consenso senza scadenza." in visible_text(form.select_one("#altri-dati-state"))


def test_unticking_one_service_keeps_the_others_and_the_last_one_revokes(app, db):
    pink = login_as(app, "pink")
    response = post_state(pink, flag=True, ticked=["fattura_smart"])
    assert response.status_code == 200
    form = altri_dati_form(response)
    assert flag_ticked(form)
    assert service_boxes(form) == {"Fattura SMART": True, "SMART Hub": False}
    assert visible_text(form.select_one("#altri-dati-status")) == (
        "Salvato: il tuo Professionista non potrà più utilizzare «SMART Hub».")
    assert consented_codes() == ["fattura_smart"]
    assert client("PINK").consent_answer == "granted"

    response = post_state(pink, flag=True, ticked=[])
    form = altri_dati_form(response)
    assert not flag_ticked(form)
    assert service_boxes(form) == {"Fattura SMART": False, "SMART Hub": False}
    assert "hai revocato l'autorizzazione" in visible_text(form.select_one("#altri-dati-status"))
    assert client("PINK").consent_answer == "declined"
    kinds = [e.kind for e in ConsentEvent.select().where(ConsentEvent.client == client("PINK"))
             .order_by(ConsentEvent.id)][-2:]
    assert kinds == ["scope", "revoked"]


def test_ticking_one_service_after_a_revocation_grants_that_one_and_the_flag_grants_all(app, db):
    pink = login_as(app, "pink")
    post_state(pink, flag=False, ticked=[])  # the flag unticked: revoked
    assert client("PINK").consent_answer == "declined"
    form = altri_dati_form(post_state(pink, flag=False, ticked=["smart_hub"]))
    assert flag_ticked(form)
    assert service_boxes(form) == {"Fattura SMART": False, "SMART Hub": True}
    assert consented_codes() == ["smart_hub"]
    # the flag ticked again with a service left out: every active service
    post_state(pink, flag=False, ticked=[])
    form = altri_dati_form(post_state(pink, flag=True, ticked=[]))
    assert service_boxes(form) == {"Fattura SMART": True, "SMART Hub": True}
    assert consented_codes() == ["fattura_smart", "smart_hub"]


def test_the_same_state_again_changes_nothing(app, db):
    pink = login_as(app, "pink")
    before = ConsentEvent.select().count()
    form = altri_dati_form(post_state(pink, flag=True, ticked=["fattura_smart", "smart_hub"]))
    assert visible_text(form.select_one("#altri-dati-status")) == (
        "Nessuna modifica: la tua scelta era già registrata.")
    assert ConsentEvent.select().count() == before


@pytest.mark.parametrize("data", [
    {"autorizzo": ["0", "1"], "servizi_mostrati": "abc", "servizio": "abc"},
    {"autorizzo": ["0", "1"], "servizi_mostrati": "1", "servizio": "2"},  # ticked, not shown
])
def test_a_forged_service_list_is_refused_and_changes_nothing(app, db, data):
    before = ConsentEvent.select().count()
    response = login_as(app, "pink").post(ALTRI_DATI, data=data, headers=FORM)
    assert response.status_code == 400
    assert "Servizio SMART non valido" in visible_text(parse(response))
    assert ConsentEvent.select().count() == before
    assert consented_codes() == ["fattura_smart", "smart_hub"]


def test_another_clients_service_id_is_ignored(app, db):
    # 000088's Corrispettivi SMART: shown and ticked in a forged post, not active for PINK
    before = ConsentEvent.select().count()
    response = post_state(login_as(app, "pink"), flag=True,
                          ticked=["fattura_smart", "smart_hub", "corrispettivi_smart"],
                          shown=("fattura_smart", "smart_hub", "corrispettivi_smart"))
    assert response.status_code == 200
    assert ConsentEvent.select().count() == before


def test_altri_dati_says_until_when_the_consent_is_valid(app, db):
    set_months(12)
    pink = login_as(app, "pink")
    form = altri_dati_form(pink.get(ALTRI_DATI))
    assert not flag_ticked(form)  # the consent of 2020 has expired
    assert visible_text(form.select_one("#altri-dati-state")) == (
        "Il consenso che hai dato il 18/06/2020 è scaduto il 18/06/2021.")
    form = altri_dati_form(post_state(pink, flag=True, ticked=[]))
    until = consent_lifetime.last_valid_day(utcnow(), 12)
    assert f"Consenso valido fino al {until:%d/%m/%Y}." in visible_text(form.select_one("#altri-dati-state"))


# --- the consent dialog: renewal -----------------------------------------------------


def dialog_of(response):
    return parse(response).find("dialog", id="consent-modal")


def grant_at(code, moment, username=None):
    """The client ticks the Altri Dati flag at ``moment`` (every active service)."""
    consent.set_authorization(client(code), user(username or code.lower()), True, at=moment)


def send_to(code):
    admin = user("admin")
    consent.send_requests(admin.studio_id, admin, only=[client(code).id])


def test_an_expired_client_asked_again_reads_when_it_expired(app, db):
    set_months(12)
    send_to("PINK")
    dialog = dialog_of(login_as(app, "pink").get("/"))
    assert dialog is not None
    renewal = dialog.find(id="consent-modal-renewal")
    assert visible_text(renewal) == "Il consenso che hai dato il 18/06/2020 è scaduto il 18/06/2021."
    assert "consent-modal-renewal" in dialog["aria-describedby"].split()


def test_an_expiring_client_asked_again_reads_when_it_expires_and_keeps_access_meanwhile(app, db):
    set_months(12)
    given = utcnow() - dt.timedelta(days=350)
    grant_at("PINK", given)
    send_to("PINK")
    assert client("PINK").consent_answer == "granted"
    dialog = dialog_of(login_as(app, "pink").get("/"))
    until = consent_lifetime.last_valid_day(given, 12)
    rome_day = consent_lifetime._rome_day(given)
    assert visible_text(dialog.find(id="consent-modal-renewal")) == (
        f"Il consenso che hai dato il {rome_day:%d/%m/%Y} scade il {until:%d/%m/%Y}.")


def test_a_pending_first_request_has_no_renewal_sentence(app, db):
    set_months(12)
    dialog = dialog_of(login_as(app, "000131").get("/"))
    assert dialog is not None and dialog.find(id="consent-modal-renewal") is None


def test_answering_renews_from_that_day(app, db, hx):
    set_months(12)
    send_to("PINK")
    pink = login_as(app, "pink")
    response = pink.post("/consenso/risposta", data={"risposta": "si"}, headers=hx("consent-form"))
    assert response.status_code == 200
    assert client("PINK").consent_answer == "granted"
    assert dialog_of(pink.get("/")) is None
    until = consent_lifetime.last_valid_day(utcnow(), 12)
    state = altri_dati_form(pink.get(ALTRI_DATI)).select_one("#altri-dati-state")
    assert f"Consenso valido fino al {until:%d/%m/%Y}." in visible_text(state)


# --- the grid ------------------------------------------------------------------------


def grid_rows(admin, query=""):
    page = parse(admin.get(GRID + query, headers=htmx_headers("consent-grid")))
    found = {}
    for tr in page.select("#consent-grid tbody tr:not(.grid-empty)"):
        cells = {td["class"][0].removeprefix("col-"): td for td in tr.find_all("td") if td.get("class")}
        state = cells["stato_risposta"].select_one(".state")
        found[visible_text(cells["codice"])] = (
            visible_text(state) if state else "",
            visible_text(cells["scadenza"]),
            [visible_text(s) for s in cells["stato_risposta"].select("small")])
    total = visible_text(page.select_one(".pager-summary"))
    return found, total


def test_with_12_months_the_consents_of_2020_read_scaduto_with_their_day(app, db):
    admin = login_as(app, "admin")
    rows, _ = grid_rows(admin, "?codice=PINK&op=uguale")
    assert rows["PINK"] == ("aderito", "senza scadenza", ["Autorizzati: Fattura SMART, SMART Hub"])
    set_months(12)
    rows, _ = grid_rows(admin, "?codice=PINK&op=uguale")
    assert rows["PINK"] == ("scaduto", "18/06/2021", [])


def test_scaduto_is_shown_from_the_instant_before_the_daily_task(app, db):
    # The rule saved at "Senza scadenza", then a consent ends: no task has run yet.
    StudioSettings = models.StudioSettings
    StudioSettings.update(consent_months=12).where(StudioSettings.studio == studio_id()).execute()
    assert client("PINK").consent_answer == "granted"
    rows, _ = grid_rows(login_as(app, "admin"), "?stato_risposta=scaduto&per_pagina=100")
    assert rows["PINK"][0] == "scaduto"
    assert len(rows) == 7


def test_a_consent_leaving_out_a_service_reads_parziale_with_its_scope(app, db):
    pink = login_as(app, "pink")
    post_state(pink, flag=True, ticked=["fattura_smart"])
    admin = login_as(app, "admin")
    rows, total = grid_rows(admin, "?stato_risposta=parziale")
    assert rows == {"PINK": ("parziale", "senza scadenza",
                             ["Autorizzati: Fattura SMART", "Non autorizzati: SMART Hub"])}
    assert total == "Elementi 1 - 1 di 1"
    rows, _ = grid_rows(admin, "?stato_risposta=aderito&per_pagina=100")
    assert "PINK" not in rows and len(rows) == 6


def test_a_service_activated_later_is_not_consented_and_makes_the_row_parziale(app, db):
    ClientService.create(client=client("000011"), service=service("smart_hub"))
    rows, _ = grid_rows(login_as(app, "admin"), "?codice=000011&op=uguale")
    assert rows["000011"] == ("parziale", "senza scadenza",
                              ["Autorizzati: Fattura SMART", "Non autorizzati: SMART Hub"])


def test_the_expiring_filter_lists_the_consents_ending_within_30_days(app, db):
    set_months(12)
    admin = login_as(app, "admin")
    now = utcnow()
    grant_at("PINK", now - dt.timedelta(days=350))
    grant_at("000011", now - dt.timedelta(days=300))
    rows, total = grid_rows(admin, "?scadenza=entro_30")
    assert list(rows) == ["PINK"] and total == "Elementi 1 - 1 di 1"
    until = consent_lifetime.last_valid_day(now - dt.timedelta(days=350), 12)
    assert rows["PINK"][:2] == ("aderito", f"{until:%d/%m/%Y}")


@pytest.mark.parametrize("answer", ["tutti", "in_attesa", "aderito", "parziale", "non_aderito", "scaduto"])
def test_each_states_count_equals_its_rows(app, db, answer):
    set_months(12)
    pink = login_as(app, "pink")
    post_state(pink, flag=True, ticked=[])  # renews PINK's expired consent
    post_state(pink, flag=True, ticked=["fattura_smart"])  # then leaves SMART Hub out
    rows, total = grid_rows(login_as(app, "admin"), f"?stato_risposta={answer}&per_pagina=100")
    expected = {"tutti": 11, "in_attesa": 1, "aderito": 0, "parziale": 1, "non_aderito": 1,
                "scaduto": 6}[answer]
    assert len(rows) == expected
    assert total == (f"Elementi 1 - {expected} di {expected}" if expected else "Nessun elemento")
    assert all(state == consent.ANSWER_STATE_LABELS.get(answer, state) for state, _, _ in rows.values())


# --- the operator's list -------------------------------------------------------------


def smart_rows(user_client, query=""):
    page = parse(user_client.get("/servizi-smart" + query))
    found = {}
    for tr in page.select(".smart-table tbody tr"):
        services = {}
        for li in tr.select(".smart-services li"):
            name = visible_text(li.select_one(".smart-service-name"))
            reason = li.select_one(".smart-service-reason")
            services[name] = "Accedi" if li.find("button") else (visible_text(reason) if reason else "")
        found[visible_text(tr.find("td"))] = (visible_text(tr.select_one(".smart-state")), services)
    return found


@pytest.fixture
def operator(app, db):
    set_option7(on=True)
    set_switch("operatore1")
    return login_as(app, "operatore1")


def test_the_list_says_consenso_scaduto_with_the_day(operator):
    set_months(12)
    rows = smart_rows(operator)
    assert rows["PINK"] == ("consenso scaduto il 18/06/2021", {"Fattura SMART": "", "SMART Hub": ""})
    assert rows["000131"][0] == "non ha ancora risposto"
    assert rows["000145"][0] == "non ha aderito"
    assert list(smart_rows(operator, "?stato=scaduto")) == ["000006.000010", "002420.002420", "PINK"]
    assert smart_rows(operator, "?stato=raggiungibili") == {}


def test_a_service_left_out_reads_servizio_non_autorizzato_and_its_hand_off_is_refused(app, operator):
    post_state(login_as(app, "pink"), flag=True, ticked=["fattura_smart"])
    rows = smart_rows(operator)
    assert rows["PINK"] == ("raggiungibile", {"Fattura SMART": "Accedi",
                                              "SMART Hub": "servizio non autorizzato dal cliente"})
    assert list(smart_rows(operator, "?stato=non_autorizzato")) == ["PINK"]
    assert "PINK" in smart_rows(operator, "?stato=raggiungibili")
    forged = operator.post(f"/servizi-smart/{client('PINK').id}/smart_hub/accedi")
    assert forged.status_code == 403
    last = AccessEvent.select().order_by(AccessEvent.id.desc()).first()
    assert (last.client.code, last.service.code, last.granted, last.reason) == (
        "PINK", "smart_hub", False, "servizio_non_autorizzato")

"""The client's side of consent: the modal after login (SPEC 3.4) and Altri Dati (SPEC 3.5)."""

import pytest
from conftest import AuthActions, login_as, parse, visible_text

import consent
from models import Client, ConsentEvent, User

MODAL_TITLE = "Conferma del consenso affinché il tuo Commercialista possa accedere ai Servizi SMART"
FLAG = "Autorizzo il mio Professionista all'utilizzo dei Servizi SMART"
NOTE = "Deselezionando il Flag, l'amministratore non potrà accedere ai Servizi SMART del suo cliente."


def plain_text(node) -> str:
    """Text as read, inline markup joined without extra spaces ("<strong>Si</strong>, ..." → "Si, ...")."""
    return " ".join(node.get_text().split())


def client_of(username):
    return Client.get_by_id(User.get(User.username == username).client_id)


def events_of(client):
    return list(ConsentEvent.select().where(ConsentEvent.client == client).order_by(ConsentEvent.id))


def modal(response):
    return parse(response).find("dialog", id="consent-modal")


def send_request_to(username):
    """A new request for this user's company, through the module the admin's sending uses."""
    client = client_of(username)
    admin = User.get((User.studio == client.studio_id) & (User.role == "admin"))
    assert consent.send_requests(client.studio_id, admin, only=[client.id]).sent == 1
    return client


# --- the modal -------------------------------------------------------------------


def test_pending_client_sees_the_modal_with_the_exact_wording(app):
    page = login_as(app, "000131").get("/")
    dialog = modal(page)
    assert dialog is not None
    title = dialog.find(id=dialog["aria-labelledby"])
    assert visible_text(title) == MODAL_TITLE
    text = visible_text(dialog)
    assert (
        "Gentile Cliente stai ricevendo questo messaggio perché il tuo Commercialista desidera "
        "chiederti il consenso per accedere ai tuoi Servizi SMART per sostenerti nell'attività "
        "di emissione, invio e ricezione delle fatture e dei corrispettivi." in text
    )
    assert visible_text(dialog.find("legend")) == "Devi selezionare un'opzione:"
    labels = [plain_text(label) for label in dialog.select("label.choice-option")]
    assert labels == ["Si, acconsento", "No, non acconsento"]
    assert (
        "Ricordati che potrai modificare la tua decisione in qualsiasi momento accedendo "
        "all'Area personale di webdesk nella scelta di menu Altri dati." in text
    )
    buttons = [visible_text(button) for button in dialog.find_all("button")]
    assert buttons == ["Annulla", "Conferma"]


def test_the_modal_shows_the_stored_wording_version(app, db):
    # What the client reads is the text the events point to, word for word.
    stored = consent.wording("modal")
    assert stored.title == MODAL_TITLE
    lines = stored.body.split("\n")
    dialog_text = plain_text(modal(login_as(app, "000131").get("/")))
    for line in lines:
        assert line in dialog_text


@pytest.mark.parametrize("username", ["pink", "000145", "000120", "000088"])
def test_no_modal_without_a_pending_request(app, username):
    assert modal(login_as(app, username).get("/")) is None


@pytest.mark.parametrize("username", ["admin", "operatore1"])
def test_no_modal_for_the_studio(app, username):
    assert modal(login_as(app, username).get("/")) is None


def test_conferma_without_a_choice_keeps_the_modal_open_with_a_message(app, hx, db):
    client = login_as(app, "000131")
    response = client.post("/consenso/risposta", data={}, headers=hx("consent-form"))
    assert response.status_code == 422
    page = parse(response)
    assert page.find("header") is None and page.find("dialog") is None  # only the form
    alert = page.find(role="alert")
    assert visible_text(alert) == (
        "Per confermare seleziona un'opzione: «Si, acconsento» oppure «No, non acconsento»."
    )
    assert page.find("fieldset")["aria-describedby"] == alert["id"]
    assert "HX-Trigger" not in response.headers
    assert client_of("000131").consent_answer == "pending"


def test_a_made_up_answer_is_refused_like_no_answer(app, hx, db):
    client = login_as(app, "000131")
    response = client.post("/consenso/risposta", data={"risposta": "forse"}, headers=hx("consent-form"))
    assert response.status_code == 422
    assert client_of("000131").consent_answer == "pending"


@pytest.mark.parametrize("choice, answer, kind", [("si", "granted", "granted"), ("no", "declined", "declined")])
def test_conferma_records_the_answer_and_closes_the_modal(app, hx, db, choice, answer, kind):
    client = login_as(app, "000131")
    before = len(events_of(client_of("000131")))
    response = client.post(
        "/consenso/risposta", data={"risposta": choice},
        headers={**hx("consent-form"), "User-Agent": "Browser di prova"},
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "consentModalClose"
    assert response.headers["HX-Retarget"] == "#messages"
    assert parse(response).find(role="status") is not None
    company = client_of("000131")
    assert company.consent_answer == answer and company.consent_answered_at is not None
    events = events_of(company)
    assert len(events) == before + 1
    event = events[-1]
    assert (event.kind, event.channel) == (kind, "modal")
    assert event.actor_id == User.get(User.username == "000131").id
    assert event.user_agent == "Browser di prova" and event.ip == "127.0.0.1"
    assert event.consent_text_id == consent.wording("modal").id
    assert modal(client.get("/")) is None
    assert modal(login_as(app, "000131").get("/")) is None  # answered: not at the next login either


def test_a_second_answer_from_another_tab_changes_nothing(app, hx, db):
    first_tab = login_as(app, "000131")
    second_tab = login_as(app, "000131")
    assert first_tab.post("/consenso/risposta", data={"risposta": "si"}, headers=hx("consent-form")).status_code == 200
    count = len(events_of(client_of("000131")))
    response = second_tab.post("/consenso/risposta", data={"risposta": "no"}, headers=hx("consent-form"))
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "consentModalClose"
    assert "già stata registrata" in visible_text(parse(response))
    assert client_of("000131").consent_answer == "granted"
    assert len(events_of(client_of("000131"))) == count


def test_annulla_hides_the_modal_until_the_next_login(app, hx, db):
    client = login_as(app, "000131")
    response = client.post("/consenso/annulla", headers=hx())
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "consentModalClose"
    assert modal(client.get("/")) is None
    assert client_of("000131").consent_answer == "pending"
    AuthActions(client).logout()
    AuthActions(client).login("000131")
    assert modal(client.get("/")) is not None


def test_annulla_without_htmx_goes_home(app):
    client = login_as(app, "000131")
    response = client.post("/consenso/annulla")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_answer_without_htmx_redirects_home_with_the_message(app, db):
    client = login_as(app, "000131")
    response = client.post("/consenso/risposta", data={"risposta": "no"}, follow_redirects=True)
    assert "hai scelto di non acconsentire" in visible_text(parse(response).find(id="messages"))
    assert client_of("000131").consent_answer == "declined"


def test_a_request_sent_after_a_refusal_shows_the_modal_again(app, db):
    send_request_to("000145")  # declined before: a new sending asks again
    assert modal(login_as(app, "000145").get("/")) is not None


@pytest.mark.parametrize("username", ["admin", "operatore1"])
def test_only_clients_answer(app, username):
    client = login_as(app, username)
    assert client.post("/consenso/risposta", data={"risposta": "si"}).status_code == 403
    assert client.post("/consenso/annulla").status_code == 403


# --- Altri Dati --------------------------------------------------------------------


def flag_form(response):
    return parse(response).find("form", id="altri-dati-form")


def test_altri_dati_shows_the_section_flag_and_note(app):
    client = login_as(app, "pink")
    page = parse(client.get("/area-personale/altri-dati"))
    assert visible_text(page.find("h1")) == "Altri Dati"
    form = page.find("form", id="altri-dati-form")
    assert visible_text(form.find("h2")) == "Servizi SMART"
    checkbox = form.find("input", type="checkbox")
    assert visible_text(form.find("label", attrs={"for": checkbox["id"]})) == FLAG
    assert visible_text(form.find(id=checkbox["aria-describedby"])) == NOTE
    assert checkbox.has_attr("checked")  # pink consented
    menu = [visible_text(a) for a in page.select("nav.side-menu ul a")]
    assert menu == ["Cambio Password", "Altri Dati"]


def test_altri_dati_also_shows_who_opened_the_smart_services(app):
    page = parse(login_as(app, "pink").get("/area-personale/altri-dati"))
    headings = [visible_text(h) for h in page.find("main").find_all("h2")]
    assert headings == ["Servizi SMART", "Accessi dello studio ai tuoi Servizi SMART"]


@pytest.mark.parametrize("username", ["000131", "000145", "000120"])
def test_altri_dati_flag_is_off_unless_consent_is_granted(app, username):
    form = flag_form(login_as(app, username).get("/area-personale/altri-dati"))
    assert not form.find("input", type="checkbox").has_attr("checked")


def test_unticking_revokes_at_once(app, hx, db):
    client = login_as(app, "pink")
    response = client.post("/area-personale/altri-dati", data={"autorizzo": "0"}, headers=hx("altri-dati-form"))
    assert response.status_code == 200
    page = parse(response)
    assert page.find("header") is None  # only the form came back
    assert not page.find("input", type="checkbox").has_attr("checked")
    assert "hai revocato" in visible_text(page.find(role="status"))
    pink = client_of("pink")
    assert pink.consent_answer == "declined"
    event = events_of(pink)[-1]
    assert (event.kind, event.channel) == ("revoked", "altri_dati")
    assert event.consent_text_id == consent.wording("altri_dati").id


@pytest.mark.parametrize("username", ["000120", "000145", "000131"])
def test_ticking_grants_with_or_without_a_pending_request(app, hx, db, username):
    client = login_as(app, username)
    response = client.post("/area-personale/altri-dati", data={"autorizzo": "1"}, headers=hx("altri-dati-form"))
    assert response.status_code == 200
    assert parse(response).find("input", type="checkbox").has_attr("checked")
    company = client_of(username)
    assert company.consent_answer == "granted"
    assert (events_of(company)[-1].kind, events_of(company)[-1].channel) == ("granted", "altri_dati")


def test_saving_the_same_state_again_records_nothing(app, hx, db):
    client = login_as(app, "pink")
    before = len(events_of(client_of("pink")))
    response = client.post("/area-personale/altri-dati", data={"autorizzo": "1"}, headers=hx("altri-dati-form"))
    assert "Nessuna modifica" in visible_text(parse(response).find(role="status"))
    assert len(events_of(client_of("pink"))) == before


def test_a_bad_flag_value_is_a_clear_400_and_changes_nothing(app, hx, db):
    client = login_as(app, "pink")
    response = client.post("/area-personale/altri-dati", data={"autorizzo": "forse"}, headers=hx("altri-dati-form"))
    assert response.status_code == 400
    assert "Valore non valido" in visible_text(parse(response))
    assert client_of("pink").consent_answer == "granted"


def test_the_form_sends_the_flag_ticked_or_not(app):
    form = flag_form(login_as(app, "pink").get("/area-personale/altri-dati"))
    fields = [(field["name"], field.get("type"), field["value"])
              for field in form.find_all("input", attrs={"name": "autorizzo"})]
    assert fields == [("autorizzo", "hidden", "0"), ("autorizzo", "checkbox", "1")]


@pytest.mark.parametrize("data", [{}, {"csrf_token": "x"}, {"autorizzo": ["0", "forse"]}])
def test_a_post_without_the_flag_is_a_400_and_revokes_nothing(app, hx, db, data):
    # Before: a post missing the field (a stray request, a forged one) revoked the consent.
    for headers in ({}, hx("altri-dati-form")):
        response = login_as(app, "pink").post("/area-personale/altri-dati", data=data, headers=headers)
        assert response.status_code == 400
        assert "Valore non valido" in visible_text(parse(response))
        assert client_of("pink").consent_answer == "granted"


def test_ticked_as_the_browser_sends_it_grants(app, hx, db):
    client = login_as(app, "000120")
    response = client.post("/area-personale/altri-dati", data={"autorizzo": ["0", "1"]},
                           headers=hx("altri-dati-form"))
    assert response.status_code == 200
    assert client_of("000120").consent_answer == "granted"


def test_altri_dati_without_htmx_renders_the_whole_page(app, db):
    response = login_as(app, "pink").post("/area-personale/altri-dati", data={"autorizzo": "0"})
    assert response.status_code == 200
    page = parse(response)
    assert page.find("header") is not None and page.find("h1") is not None
    assert client_of("pink").consent_answer == "declined"


@pytest.mark.parametrize("username", ["admin", "operatore1"])
def test_altri_dati_is_for_clients_only(app, username):
    client = login_as(app, username)
    assert client.get("/area-personale/altri-dati").status_code == 403
    assert client.post("/area-personale/altri-dati", data={}).status_code == 403


def test_a_client_changes_only_its_own_company(app, hx, db):
    other_before = client_of("000088").consent_answer
    login_as(app, "pink").post("/area-personale/altri-dati", data={"autorizzo": "0"},
                               headers=hx("altri-dati-form"))
    assert client_of("pink").consent_answer == "declined"
    assert client_of("000088").consent_answer == other_before == "granted"

"""The administrator's settings: Configurazioni varie (SPEC 3.2) and the SMART banner (SPEC 3.1)."""

import pytest
from conftest import DEMO_PASSWORD, AuthActions, login_as, make_test_app, parse, visible_text

import demo
import models
import studio_settings
from models import Studio, StudioSettings, User

OPTIONS_URL = "/area-personale/configurazioni-varie"
SWITCHES = [option.field for option in studio_settings.OPTIONS]
LABELS = [
    "Abilitazione alla ricezione di conferma notifica lettura dei documenti",
    "Abilita creazione modelli/sottomodelli",
    "Abilita controllo mesi successivi per invio Giornaliere dipendenti (B.Point)",
    "Abilita invio notifica operatori di amministrazione",
    "Abilita invio notifica consegna fatture",
    "Modifica link nella mail di notifica di avvenuta pubblicazione",
    "Desidero accedere ai Servizi SMART dei clienti con le mie credenziali.",
]
CONSENT_LINK_TEXT = "Clicca qui per gestire l'invio delle richieste di consenso ai tuoi clienti."
BANNER_TITLE = "Accesso ai Servizi SMART dei tuoi clienti"


def studio_settings_row(code="BPF103"):
    with models.db.connection_context():
        return StudioSettings.get_or_none(StudioSettings.studio == Studio.get(code=code).id)


def checkbox_states(response):
    page = parse(response)
    return {field: page.find("input", id=field).has_attr("checked") for field in SWITCHES}


def toggle(client, field, on, headers=None):
    data = {"enabled": ["0", "1"] if on else ["0"]}
    return client.post(f"{OPTIONS_URL}/{field}", data=data, headers=headers or {})


def save_link(client, url, headers=None):
    return client.post(f"{OPTIONS_URL}/publication_link_url", data={"url": url},
                       headers=headers or {})


# --- Configurazioni varie ---------------------------------------------------------


def test_page_lists_the_seven_options_with_their_labels(app):
    page = parse(login_as(app, "admin").get(OPTIONS_URL))
    assert visible_text(page.find("h1")) == "Configurazioni varie"
    labels = [visible_text(page.find("label", attrs={"for": field})) for field in SWITCHES]
    assert labels == LABELS
    assert all(state is False for state in checkbox_states(
        login_as(app, "admin").get(OPTIONS_URL)).values())
    link_input = page.find("input", id="publication-link")
    assert visible_text(page.find("label", attrs={"for": "publication-link"}))
    assert link_input["placeholder"] == (
        "https://cloud.webdesk.it/Tasks/Documents/DocumentsSearch.aspx?idstudio=BPF103")


def test_menu_shows_configurazioni_varie_as_current_page(app):
    page = parse(login_as(app, "admin").get(OPTIONS_URL))
    current = page.select_one("nav.side-menu a[aria-current=page]")
    assert visible_text(current) == "Configurazioni Varie"


@pytest.mark.parametrize("field", SWITCHES)
def test_each_option_is_saved_in_place_and_survives_a_reload(app, hx, field):
    admin = login_as(app, "admin")
    response = toggle(admin, field, True, headers=hx(f"option-{field}"))
    assert response.status_code == 200
    fragment = parse(response)
    assert fragment.find("header") is None  # only the option came back
    assert fragment.find("input", id=field).has_attr("checked")
    assert visible_text(fragment.find(id=f"{field}-status")) == "Salvato: opzione attivata"
    assert fragment.find(id=f"{field}-status")["aria-live"] == "polite"
    states = checkbox_states(login_as(app, "admin").get(OPTIONS_URL))
    assert states == {other: other == field for other in SWITCHES}
    assert getattr(studio_settings_row(), field) is True

    response = toggle(admin, field, False, headers=hx(f"option-{field}"))
    assert visible_text(parse(response).find(id=f"{field}-status")) == "Salvato: opzione disattivata"
    assert checkbox_states(login_as(app, "admin").get(OPTIONS_URL))[field] is False


def test_settings_row_is_created_on_first_save(empty_app):
    with models.db.connection_context():
        demo.seed(password=DEMO_PASSWORD)
        StudioSettings.delete().execute()
    admin = login_as(empty_app, "admin")
    assert admin.get(OPTIONS_URL).status_code == 200  # defaults, nothing written
    assert studio_settings_row() is None
    toggle(admin, "smart_access", True)
    row = studio_settings_row()
    assert row.smart_access is True and row.read_receipts is False


def test_save_without_htmx_returns_to_the_page(app):
    response = toggle(login_as(app, "admin"), "read_receipts", True)
    assert response.status_code == 302
    assert response.headers["Location"] == OPTIONS_URL
    assert studio_settings_row().read_receipts is True


def test_unknown_option_is_404_and_changes_nothing(app):
    admin = login_as(app, "admin")
    for field in ("nope", "studio", "updated_at", "studio_id"):
        assert toggle(admin, field, True).status_code == 404
    row = studio_settings_row()
    assert not any(getattr(row, field) for field in SWITCHES)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.studiorossi.it/documenti?cliente=1",
        "http://intranet.studio.local:8080/pubblicazioni",
        "HTTPS://Example.COM/a",
        "https://example.com/" + "a" * 1980,  # exactly 2000 characters
    ],
)
def test_valid_link_is_saved_and_shown_after_reload(app, hx, url):
    admin = login_as(app, "admin")
    response = save_link(admin, url, headers=hx("option-link"))
    assert response.status_code == 200
    assert visible_text(parse(response).find(id="publication-link-status")) == (
        "Salvato: link personalizzato")
    assert studio_settings_row().publication_link_url == url
    page = parse(login_as(app, "admin").get(OPTIONS_URL))
    assert page.find("input", id="publication-link")["value"] == url


@pytest.mark.parametrize(
    "url, message",
    [
        ("javascript:alert(1)", "Il link non è valido"),
        ("ftp://files.example.com/x", "Il link non è valido"),
        ("www.example.com/senza-schema", "Il link non è valido"),
        ("https://", "Il link non è valido"),
        ("http:/example.com", "Il link non è valido"),
        ("https://exa mple.com/", "Il link non è valido"),
        ("https://example.com:porta/", "Il link non è valido"),
        ("https://[::1/", "Il link non è valido"),
        ("data:text/html,<b>x</b>", "Il link non è valido"),
        # a browser opens evil.com where urlsplit sees good.com
        ("http://evil.com\\@good.com/", "Il link non è valido"),
        ("https://good.com\\evil.com/", "Il link non è valido"),
        ("https://evil.com\\.good.com/x", "Il link non è valido"),
        ("https://good.com/documenti\\x", "Il link non è valido"),
        ("https://example.com/" + "a" * 1981, "Il link è troppo lungo"),
        ("https://example.com/" + "a" * 100_000, "Il link è troppo lungo"),
    ],
)
def test_bad_link_is_refused_with_a_clear_message_and_nothing_saved(app, hx, url, message):
    admin = login_as(app, "admin")
    save_link(admin, "https://www.studiorossi.it/ok")
    response = save_link(admin, url, headers=hx("option-link"))
    assert response.status_code == 422
    fragment = parse(response)
    error = fragment.find(id="publication-link-error")
    assert visible_text(error).startswith(message)
    assert fragment.find("input", id="publication-link")["aria-invalid"] == "true"
    assert studio_settings_row().publication_link_url == "https://www.studiorossi.it/ok"


def test_bad_link_without_htmx_shows_the_whole_page_with_the_message(app):
    response = save_link(login_as(app, "admin"), "ftp://x.it")
    assert response.status_code == 422
    page = parse(response)
    assert page.find("header") is not None
    assert visible_text(page.find(id="publication-link-error")).startswith("Il link non è valido")


def test_blank_or_default_link_means_the_default(app, hx):
    admin = login_as(app, "admin")
    save_link(admin, "https://www.studiorossi.it/ok")
    default = studio_settings.default_publication_link("BPF103")
    for url in ("", "   ", default):
        response = save_link(admin, url, headers=hx("option-link"))
        assert response.status_code == 200
        assert visible_text(parse(response).find(id="publication-link-status")) == (
            "Salvato: link predefinito")
        assert studio_settings_row().publication_link_url is None
        save_link(admin, "https://www.studiorossi.it/ok")


def test_mail_uses_the_custom_link_only_while_option_6_is_on(app):
    admin = login_as(app, "admin")
    save_link(admin, "https://www.studiorossi.it/ok")
    default = "https://cloud.webdesk.it/Tasks/Documents/DocumentsSearch.aspx?idstudio=BPF103"
    assert studio_settings.publication_link(studio_settings_row(), "BPF103") == default
    toggle(admin, "custom_publication_link", True)
    assert studio_settings.publication_link(studio_settings_row(), "BPF103") == (
        "https://www.studiorossi.it/ok")


@pytest.mark.parametrize("username", ["operatore1", "operatore2", "pink", "000131"])
def test_only_the_admin_reaches_the_settings(app, username):
    other = login_as(app, username)
    assert other.get(OPTIONS_URL).status_code == 403
    assert toggle(other, "smart_access", True).status_code == 403
    assert save_link(other, "https://evil.example/").status_code == 403
    row = studio_settings_row()
    assert row.smart_access is False and row.publication_link_url is None


def test_anonymous_save_goes_to_login_and_changes_nothing(app):
    response = toggle(app.test_client(), "smart_access", True)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert studio_settings_row().smart_access is False


def test_another_studios_admin_changes_only_his_own_studio(app):
    alt = login_as(app, "admin.alt")
    toggle(alt, "smart_access", True)
    save_link(alt, "https://alt.example/doc")
    assert studio_settings_row("ALT001").smart_access is True
    assert studio_settings_row("ALT001").publication_link_url == "https://alt.example/doc"
    bpf = studio_settings_row("BPF103")
    assert bpf.smart_access is False and bpf.publication_link_url is None
    page = parse(alt.get(OPTIONS_URL))
    assert page.find("input", id="publication-link")["placeholder"].endswith("idstudio=ALT001")
    assert checkbox_states(login_as(app, "admin").get(OPTIONS_URL))["smart_access"] is False


def test_save_without_csrf_token_is_refused(database_url):
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    with models.db.connection_context():
        demo.seed(password=DEMO_PASSWORD)
    client = app.test_client()
    login_page = parse(client.get("/login"))
    token = login_page.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    page = parse(client.get(OPTIONS_URL))
    token = page.find("input", attrs={"name": "csrf_token"})["value"]

    assert client.post(f"{OPTIONS_URL}/smart_access", data={"enabled": "1"}).status_code == 400
    assert client.post(f"{OPTIONS_URL}/publication_link_url",
                       data={"url": "https://x.it"}).status_code == 400
    assert client.post("/banner-servizi-smart/non-mostrare-piu").status_code == 400
    assert studio_settings_row().smart_access is False
    with models.db.connection_context():
        assert User.get(username="admin").smart_banner_dismissed is False

    ok = client.post(f"{OPTIONS_URL}/smart_access", data={"enabled": "1"},
                     headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert ok.status_code == 200
    assert studio_settings_row().smart_access is True
    models.db.close_all()


def test_option_7_links_to_the_consent_page(app):
    admin = login_as(app, "admin")
    page = parse(admin.get(OPTIONS_URL))
    links = page.find_all("a", string=CONSENT_LINK_TEXT)
    assert len(links) == 1 and links[0]["href"] == "/area-personale/consensi"
    assert links[0].find_parent("form")["id"] == "option-smart_access"
    assert admin.get(links[0]["href"]).status_code == 200


def test_admin_home_has_the_consent_tile(app):
    admin = login_as(app, "admin")
    tiles = parse(admin.get("/")).select("a.tile")
    tile = [t for t in tiles if "Richieste di consenso" in visible_text(t)]
    assert len(tile) == 1 and tile[0]["href"] == "/area-personale/consensi"
    assert admin.get(tile[0]["href"]).status_code == 200


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_only_the_admin_home_has_the_consent_tile(app, username):
    page = parse(login_as(app, username).get("/"))
    assert "Richieste di consenso" not in visible_text(page.find("main"))


# --- the SMART banner ------------------------------------------------------------


def banner(response):
    return parse(response).find(id="smart-banner")


def test_banner_is_shown_to_the_admin_after_login_with_the_seed_wording(app):
    page = parse(login_as(app, "admin").get("/"))
    section = page.find(id="smart-banner")
    assert visible_text(section.find("h2")) == BANNER_TITLE
    text = " ".join(section.get_text().split())
    assert ("Gentile Cliente, per accedere ai Servizi SMART dei tuoi clienti con le tue "
            "credenziali puoi attivare l'opzione dedicata in Area Personale-> Configurazione-> "
            "Configurazioni varie.") in text
    assert "Abbiamo introdotto le seguenti novità:" in text
    points = [visible_text(li) for li in section.select("ol > li")]
    assert points == [
        "La possibilità di selezionare puntualmente a quali clienti intendi inviare la "
        "richiesta di consenso.",
        "La possibilità di abilitare l'accesso ai Servizi SMART con gli stessi privilegi anche "
        "ai tuoi collaboratori di Studio.",
    ]
    path_link = section.find("a")
    assert visible_text(path_link) == "Area Personale-> Configurazione-> Configurazioni varie"
    assert path_link["href"] == OPTIONS_URL
    buttons = [visible_text(b) for b in section.find_all("button")]
    assert buttons == ["Non mostrare più", "Chiudi"]


@pytest.mark.parametrize("username", ["operatore1", "pink", "000131"])
def test_banner_is_for_the_admin_only(app, username):
    assert banner(login_as(app, username).get("/")) is None


def test_banner_stays_while_browsing_until_closed(app):
    admin = login_as(app, "admin")
    admin.get(OPTIONS_URL)
    assert banner(admin.get("/")) is not None


def test_chiudi_hides_the_banner_until_the_next_login(app, hx):
    admin = login_as(app, "admin")
    response = admin.post("/banner-servizi-smart/chiudi", headers=hx("home-heading"))
    assert response.status_code == 200
    region = parse(response).find(id="home-heading")  # the top of the home, without the banner
    assert region.find(id="smart-banner") is None
    assert region.find("h1").has_attr("autofocus")  # the keyboard stays on the page
    assert banner(admin.get("/")) is None
    AuthActions(admin).logout()
    AuthActions(admin).login()
    assert banner(admin.get("/")) is not None


def test_non_mostrare_piu_hides_the_banner_for_good(app, hx):
    admin = login_as(app, "admin")
    other_session = login_as(app, "admin")
    response = admin.post("/banner-servizi-smart/non-mostrare-piu", headers=hx("home-heading"))
    assert response.status_code == 200
    assert banner(admin.get("/")) is None
    assert banner(other_session.get("/")) is None
    AuthActions(admin).logout()
    AuthActions(admin).login()
    assert banner(admin.get("/")) is None
    assert banner(login_as(app, "admin").get("/")) is None
    assert banner(login_as(app, "admin.alt").get("/")) is not None  # another admin's choice


def test_banner_buttons_work_without_htmx(app):
    admin = login_as(app, "admin")
    response = admin.post("/banner-servizi-smart/chiudi")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert banner(admin.get("/")) is None


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_banner_actions_are_refused_to_other_roles(app, username):
    other = login_as(app, username)
    assert other.post("/banner-servizi-smart/non-mostrare-piu").status_code == 403
    assert other.post("/banner-servizi-smart/chiudi").status_code == 403
    with models.db.connection_context():
        assert User.get(username=username).smart_banner_dismissed is False

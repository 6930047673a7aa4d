"""The audit log: what is recorded, that it cannot be rewritten, and the admin's page."""

import datetime as dt

import pytest
from conftest import login_as, parse, visible_text

import audit
import models
from models import AuditEvent


def audit_rows(page):
    table = page.find("table", class_="audit-table")
    if table is None:
        return []
    return [[visible_text(cell) for cell in row.find_all("td")] for row in table.tbody.find_all("tr")]


def test_refusals_of_access_are_recorded(app):
    operator = login_as(app, "operatore1")
    assert operator.get("/area-personale/dati-generali").status_code == 403
    with models.db.connection_context():
        event = AuditEvent.get(AuditEvent.kind == "access_denied")
        assert event.actor.username == "operatore1" and event.studio.code == "BPF103"
        assert audit.details_of(event) == {"endpoint": "account.general", "method": "GET",
                                           "path": "/area-personale/dati-generali"}


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_audit_events_cannot_be_changed_or_deleted(app, db):
    login_as(app, "admin")
    event = AuditEvent.select().first()
    with pytest.raises(Exception, match="append-only"), models.db.atomic():
        AuditEvent.update(kind="x").where(AuditEvent.id == event.id).execute()
    with pytest.raises(Exception, match="append-only"), models.db.atomic():
        AuditEvent.delete().where(AuditEvent.id == event.id).execute()
    assert AuditEvent.get_by_id(event.id).kind == event.kind


def test_secrets_are_refused_as_details(app):
    with app.test_request_context(), models.db.connection_context():
        with pytest.raises(ValueError):
            audit.record("settings_changed", new_password="x")


def test_the_admin_reads_his_studios_events_with_who_when_and_where(app):
    login_as(app, "admin.alt")  # another studio: never shown to BPF103
    login_as(app, "operatore1").get("/area-personale/dati-generali")
    admin = login_as(app, "admin")
    response = admin.get("/area-personale/registro-attivita")
    assert response.status_code == 200
    page = parse(response)
    assert visible_text(page.find("h1")) == "Registro attività"
    rows = audit_rows(page)
    kinds = [row[1] for row in rows]
    assert kinds[0] == "Accesso" and rows[0][2] == "admin"  # newest first
    assert "Accesso negato" in kinds
    assert all(row[2] != "admin.alt" for row in rows)
    assert rows[0][3] == "127.0.0.1"
    assert "/" in rows[0][0] and ":" in rows[0][0]  # dd/mm/yyyy HH:MM


def test_the_page_is_in_the_admins_menu_only(app):
    admin_page = parse(login_as(app, "admin").get("/area-personale/dati-generali"))
    labels = [visible_text(a) for a in admin_page.select("nav.side-menu ul a")]
    assert "Registro attività" in labels
    for username in ("operatore1", "pink"):
        client = login_as(app, username)
        assert client.get("/area-personale/registro-attivita").status_code == 403
        page = parse(client.get("/area-personale/cambio-password"))
        assert "Registro attività" not in visible_text(page.select_one("nav.side-menu"))


def test_filter_by_kind_and_paging(app):
    for _ in range(3):
        login_as(app, "operatore2").get("/area-personale/dati-generali")
    admin = login_as(app, "admin")
    page = parse(admin.get("/area-personale/registro-attivita?tipo=access_denied"))
    assert [row[1] for row in audit_rows(page)] == ["Accesso negato"] * 3
    assert page.find("option", selected=True)["value"] == "access_denied"
    # an unknown kind or page number is answered with the whole list, first page
    response = admin.get("/area-personale/registro-attivita?tipo=%00x&pagina=-3")
    assert response.status_code in (200, 400)
    response = admin.get("/area-personale/registro-attivita?tipo=boh&pagina=abc")
    assert response.status_code == 200 and len(audit_rows(parse(response))) >= 4

    with app.test_request_context(), models.db.connection_context():
        from models import User

        operator = User.get(User.username == "operatore2")
        for number in range(60):
            audit.record("settings_changed", actor=operator, option=f"o{number}")
    page = parse(admin.get("/area-personale/registro-attivita"))
    assert len(audit_rows(page)) == 50
    pager = visible_text(page.find("nav", class_="audit-pager"))
    assert pager.startswith("Elementi 1 - 50 di ")
    second = parse(admin.get(page.find("nav", class_="audit-pager").find("a", rel="next")["href"]))
    assert visible_text(second.find("nav", class_="audit-pager")).startswith("Elementi 51 - ")


def test_changes_to_operators_are_recorded(app):
    admin = login_as(app, "admin")
    with models.db.connection_context():
        from models import User

        operator_id = User.get(User.username == "operatore2").id
    base = f"/area-personale/operatori/{operator_id}"
    assert admin.post(f"{base}/servizi-smart", data={"attivo": "1"}).status_code == 302
    assert admin.post(f"{base}/stato", data={"attivo": "0"}).status_code == 302
    assert admin.post(f"{base}/clienti/tutti", data={"azione": "aggiungi"}).status_code == 302
    assert admin.post(f"{base}/stato", data={"attivo": "x"}).status_code == 400
    with models.db.connection_context():
        events = list(AuditEvent.select().where(AuditEvent.kind.startswith("operator"))
                      .order_by(AuditEvent.id))
        assert [e.kind for e in events] == [
            "operator_rights_changed", "operator_disabled", "operator_clients_changed"]
        assert all(e.username == "admin" and e.studio.code == "BPF103" for e in events)
        assert audit.details_of(events[0]) == {"operator": "operatore2", "smart_access": True}
    page = parse(admin.get("/area-personale/registro-attivita?tipo=operator_rights_changed"))
    assert audit_rows(page)[0][4] == "operatore: operatore2 accesso Servizi SMART: sì"


def test_changes_of_settings_are_recorded(app):
    admin = login_as(app, "admin")
    base = "/area-personale/configurazioni-varie"
    assert admin.post(f"{base}/smart_access", data={"enabled": ["0", "1"]}).status_code == 302
    assert admin.post(f"{base}/publication_link_url",
                      data={"url": "https://documenti.example/cerca"}).status_code == 302
    assert admin.post(f"{base}/publication_link_url",
                      data={"url": "ftp://nope"}).status_code == 422  # refused: not recorded
    with models.db.connection_context():
        events = list(AuditEvent.select().where(AuditEvent.kind == "settings_changed")
                      .order_by(AuditEvent.id))
        assert [audit.details_of(e) for e in events] == [
            {"option": "smart_access", "value": True},
            {"option": "publication_link_url", "value": "https://documenti.example/cerca"},
        ]
        assert all(e.username == "admin" and e.ip == "127.0.0.1" for e in events)


def foreign_ids():
    with models.db.connection_context():
        pink = models.Client.get(models.Client.code == "PINK")
        operator = models.User.get(models.User.username == "operatore1")
        return pink.id, operator.id


def test_reaching_for_another_studios_objects_is_a_404_recorded_in_the_intruders_studio(app):
    pink_id, operator_id = foreign_ids()
    intruder = login_as(app, "admin.alt")
    assert intruder.get(f"/area-personale/consensi/{pink_id}/storia").status_code == 404
    assert intruder.get(f"/area-personale/operatori/{operator_id}/clienti").status_code == 404
    response = intruder.post("/area-personale/consensi/selezione",
                             data={"azione": "aggiungi", "cliente": str(pink_id)})
    assert response.status_code == 404
    # An id that exists nowhere is the same 404, and nothing to record.
    assert intruder.get("/area-personale/consensi/999999/storia").status_code == 404
    with models.db.connection_context():
        events = list(AuditEvent.select().where(AuditEvent.kind == "access_denied")
                      .order_by(AuditEvent.id))
        assert [audit.details_of(e)["path"] for e in events] == [
            f"/area-personale/consensi/{pink_id}/storia",
            f"/area-personale/operatori/{operator_id}/clienti",
            "/area-personale/consensi/selezione",
        ]
        assert {e.actor.username for e in events} == {"admin.alt"}
        # filed under the intruder's own studio: it is what one of its users did
        assert {e.studio.code for e in events} == {"ALT001"}
        assert {audit.details_of(e)["reason"] for e in events} == {"oggetto di un altro studio"}
        assert {audit.details_of(e)["target_studio"] for e in events} == {"BPF103"}
    intruder_log = visible_text(parse(login_as(app, "admin.alt").get("/area-personale/registro-attivita")))
    assert "motivo: oggetto di un altro studio" in intruder_log
    assert "BPF103" not in intruder_log  # one studio never reads about another
    # The target studio's admin reads nothing of the other studio: not its user, not its address.
    owner_page = parse(login_as(app, "admin").get("/area-personale/registro-attivita"))
    assert "admin.alt" not in visible_text(owner_page)
    assert "oggetto di un altro studio" not in visible_text(owner_page)


def test_the_security_log_shows_probes_of_every_studio_on_the_command_line(app):
    pink_id, _ = foreign_ids()
    intruder = login_as(app, "admin.alt")
    assert intruder.get(f"/area-personale/consensi/{pink_id}/storia").status_code == 404
    assert app.test_client().post("/login", data={"username": "admin", "password": "no"}
                                  ).status_code == 401
    result = app.test_cli_runner().invoke(args=["security-log", "--limit", "10"])
    assert result.exit_code == 0, result.output
    header, *lines = [line.split("\t") for line in result.output.splitlines()]
    assert header == ["quando (UTC)", "studio", "utente", "indirizzo", "evento", "volte",
                      "pagina", "studio bersaglio"]
    failed, probe = lines[:2]  # newest first
    assert failed[1:6] == ["BPF103", "admin", "127.0.0.1", "login_failed", "1"]
    assert probe[1:] == ["ALT001", "admin.alt", "127.0.0.1", "access_denied", "1",
                         f"/area-personale/consensi/{pink_id}/storia", "BPF103"]
    assert len(app.test_cli_runner().invoke(
        args=["security-log", "--limit", "1"]).output.splitlines()) == 2


def test_a_request_refused_for_its_csrf_token_is_recorded(database_url):
    from conftest import make_test_app
    from route_catalogue import login_with_csrf

    import demo

    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    with models.db.connection_context():
        demo.seed(password="demo")
    admin = login_with_csrf(app, "admin")
    response = admin.post("/area-personale/configurazioni-varie/read_receipts",
                          data={"enabled": "1"})
    assert response.status_code == 400
    with models.db.connection_context():
        event = AuditEvent.get(AuditEvent.kind == "csrf_refused")
        assert event.actor.username == "admin"
        assert audit.details_of(event)["reason"] == "token mancante"
        assert audit.details_of(event)["path"] == "/area-personale/configurazioni-varie/read_receipts"
    models.db.close_all()


def test_changed_options_are_named_as_the_admin_sees_them_in_configurazioni_varie(app):
    admin = login_as(app, "admin")
    base = "/area-personale/configurazioni-varie"
    assert admin.post(f"{base}/templates_enabled", data={"enabled": ["0", "1"]}).status_code == 302
    assert admin.post(f"{base}/publication_link_url",
                      data={"url": "https://documenti.example/cerca"}).status_code == 302
    page = parse(admin.get("/area-personale/registro-attivita?tipo=settings_changed"))
    details = [row[4] for row in audit_rows(page)]
    assert details == [
        "opzione: Link nella mail di notifica valore: https://documenti.example/cerca",
        "opzione: «Abilita creazione modelli/sottomodelli» valore: sì",
    ]


def test_the_admin_reads_details_not_internal_names(app):
    operator = login_as(app, "operatore1")
    assert operator.get("/area-personale/dati-generali").status_code == 403
    page = parse(login_as(app, "admin").get("/area-personale/registro-attivita?tipo=access_denied"))
    text = visible_text(page)
    assert "pagina: /area-personale/dati-generali" in text
    assert "account.general" not in text and "funzione" not in text and "metodo" not in text


def test_a_flood_of_anonymous_refusals_is_one_row_per_address_and_ten_minutes(
        database_url, monkeypatch):
    from conftest import make_test_app

    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    client = app.test_client()

    def refused(address):
        response = client.post("/login", data={"username": "admin", "password": "x"},
                               environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 400  # no CSRF token

    def rows():
        with models.db.connection_context():
            return [(e.ip, e.repeats) for e in audit.with_repeats(
                AuditEvent.select().where(AuditEvent.kind == "csrf_refused")
                .order_by(AuditEvent.id))]

    for _ in range(40):
        refused("203.0.113.5")
    refused("203.0.113.6")
    assert rows() == [("203.0.113.5", 40), ("203.0.113.6", 1)]
    later = models.utcnow() + dt.timedelta(minutes=10)
    monkeypatch.setattr(audit, "utcnow", lambda: later)
    refused("203.0.113.5")
    assert rows() == [("203.0.113.5", 40), ("203.0.113.6", 1), ("203.0.113.5", 1)]
    models.db.close_all()


def test_throttled_logins_are_one_row_with_their_count_in_the_registro(app):
    client = app.test_client()
    for _ in range(10):
        client.post("/login", data={"username": "operatore1", "password": "x"})
    for _ in range(25):
        assert client.post("/login", data={"username": "operatore1", "password": "demo"}
                           ).status_code == 429
    with models.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.kind == "login_throttled").count() == 1
    page = parse(login_as(app, "admin").get("/area-personale/registro-attivita?tipo=login_throttled"))
    assert [row[1:3] for row in audit_rows(page)] == [
        ["Accesso bloccato per troppi tentativi ×25", "operatore1"]]


def test_a_logged_in_users_refusals_are_recorded_one_by_one(app):
    operator = login_as(app, "operatore1")
    for _ in range(3):
        assert operator.get("/area-personale/dati-generali").status_code == 403
    with models.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.kind == "access_denied").count() == 3

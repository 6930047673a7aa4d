"""Anagrafica clienti → "Importa da file" in the portal: upload, report, confirm, result;
an upload is only its owner's, and bad files get a clear message and change nothing."""

from __future__ import annotations

import io

import pytest
from conftest import htmx_headers, login_as, parse, visible_text
from route_catalogue import changed_tables, fingerprint

import accounts
import client_import
import models
from models import AuditEvent, Client, Studio, User

UPLOAD_URL = "/area-personale/clienti/importa"
GOOD_FILE = (
    b"Codice;Ragione sociale;Partita IVA;E-mail;Servizi SMART\n"
    b"NUOVO1;Nuova S.r.l.;01234560157;info@nuova.it;Fattura SMART\n"
    b"NUOVO2;Seconda S.r.l.;;;\n"
    b"BAD;Sbagliata S.r.l.;123;;\n"
)


def upload(client, data: bytes, filename: str = "clienti.csv"):
    return client.post(UPLOAD_URL, data={"file": (io.BytesIO(data), filename)})


def run(client, job_url: str):
    return client.post(job_url + "/esegui", headers=htmx_headers("import-job"))


def uploaded(client, data: bytes = GOOD_FILE) -> str:
    response = upload(client, data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


def test_only_the_admin_imports(app):
    assert login_as(app, "admin").get(UPLOAD_URL).status_code == 200
    assert login_as(app, "operatore1").get(UPLOAD_URL).status_code == 403
    assert login_as(app, "pink").get(UPLOAD_URL).status_code == 403


def test_upload_report_confirm_result(app, admin):
    page = parse(admin.get(UPLOAD_URL))
    assert page.find("label", string="File dei clienti (CSV o XLSX)")
    job_url = uploaded(admin)
    waiting = parse(admin.get(job_url))
    assert "Controllo del file in corso" in visible_text(waiting.find(id="import-progress"))
    trigger = waiting.find(attrs={"hx-trigger": "load"})
    assert trigger["hx-post"] == job_url + "/esegui"

    with models.db.connection_context():
        before = fingerprint()
    report = run(admin, job_url)
    assert report.status_code == 200
    region = parse(report).find(id="import-job")
    assert visible_text(region.find(class_="import-summary")) == (
        "2 nuovi, 0 modificati, 0 invariati; 1 riga scartata.")
    rows = [visible_text(tr) for tr in region.select("table.import-refused tbody tr")]
    assert rows == ["4 BAD Partita IVA «123» non valida."]
    assert region.find("button", string="Importa le 2 righe valide")
    with models.db.connection_context():
        assert changed_tables(before, fingerprint()) == []  # the check changed nothing

    refused = admin.get(job_url + "/scartate.csv")
    assert refused.headers["Content-Type"].startswith("text/csv")
    assert refused.get_data(as_text=True).splitlines() == [
        "\ufeffRiga;Motivo;Codice;Ragione sociale;Partita IVA;E-mail;Servizi SMART",
        "4;Partita IVA «123» non valida.;BAD;Sbagliata S.r.l.;123;;"]

    confirmed = admin.post(job_url + "/importa", data={"invita": "1"},
                           headers=htmx_headers("import-job"))
    assert "Importazione in corso" in visible_text(parse(confirmed))
    done = parse(run(admin, job_url)).find(id="import-job")
    assert visible_text(done.find("h2")) == "Importazione completata"
    assert visible_text(done.find(class_="import-summary")) == (
        "2 nuovi, 0 modificati, 0 invariati; 1 riga scartata. Inviti in partenza: 1.")
    with models.db.connection_context():
        assert Client.select().where(Client.code.in_(["NUOVO1", "NUOVO2"])).count() == 2
        assert User.select().where(User.username.in_(["nuovo1", "nuovo2"])).count() == 2
        event = AuditEvent.get(AuditEvent.kind == "clients_imported")
        assert event.username == "admin"

    # A second run, a reload of the page: nothing happens twice.
    again = parse(run(admin, job_url))
    assert visible_text(again.find("h2")) == "Importazione completata"
    with models.db.connection_context():
        assert AuditEvent.select().where(AuditEvent.kind == "clients_imported").count() == 1

    log = parse(admin.get("/area-personale/registro-attivita"))
    entry = next(tr for tr in log.select("tbody tr") if "Clienti importati da file" in visible_text(tr))
    for detail in ("file: clienti.csv", "nuovi: 2", "modificati: 0", "scartati: 1", "inviti: 1"):
        assert detail in visible_text(entry)


def test_without_javascript_the_buttons_post_and_come_back(app, admin):
    job_url = uploaded(admin)
    response = admin.post(job_url + "/esegui")
    assert response.status_code == 302 and response.headers["Location"] == job_url
    response = admin.post(job_url + "/importa")
    assert response.status_code == 302
    admin.post(job_url + "/esegui")
    assert "Importazione completata" in visible_text(parse(admin.get(job_url)))


def test_the_progress_region_polls_until_the_job_ends(app, admin):
    job_url = uploaded(admin)
    polling = admin.get(job_url + "/stato", headers=htmx_headers("import-progress"))
    region = parse(polling).find(id="import-progress")
    assert region["hx-trigger"] == "every 1s" and "HX-Retarget" not in polling.headers
    run(admin, job_url)
    ended = admin.get(job_url + "/stato", headers=htmx_headers("import-progress"))
    assert ended.headers["HX-Retarget"] == "#import-job"
    assert parse(ended).find(id="import-job").find("button", string="Importa le 2 righe valide")


def test_an_upload_is_only_its_owners(app, admin):
    job_url = uploaded(admin)
    with models.db.connection_context(), models.write_transaction():
        studio = Studio.get(Studio.code == "BPF103")
        accounts.create_user(studio, "admin2", "Secondo Amministratore", "demo", "admin")
    others = [login_as(app, "admin2"), login_as(app, "admin.alt")]
    for other in others:
        for method, suffix in (("GET", ""), ("GET", "/stato"), ("POST", "/esegui"),
                               ("POST", "/importa"), ("GET", "/scartate.csv")):
            response = other.open(job_url + suffix, method=method)
            assert response.status_code == 404, (method, suffix)
    assert "Controllo del file in corso" in visible_text(parse(admin.get(job_url)))


def big_csv() -> bytes:
    return b"Codice;Ragione sociale\n" + b"x" * (client_import.MAX_FILE_BYTES + 10)


@pytest.mark.parametrize("data, filename, status, message", [
    (None, "", 422, "Scegli il file da importare."),
    (b"", "vuoto.csv", 422, "Il file è vuoto."),
    ("big", "grande.csv", 413, "Il file è troppo grande: al massimo 20 MB."),
])
def test_a_bad_upload_is_answered_on_the_form(app, admin, data, filename, status, message):
    with models.db.connection_context():
        before = fingerprint()
    if data is None:
        response = admin.post(UPLOAD_URL, data={})
    else:
        response = upload(admin, big_csv() if data == "big" else data, filename)
    assert response.status_code == status
    assert visible_text(parse(response).find(id="upload-error")) == message
    with models.db.connection_context():
        assert changed_tables(before, fingerprint()) == []


def test_a_file_far_over_the_limit_is_answered_on_the_form(app, admin):
    response = upload(admin, b"x" * (client_import.MAX_FILE_BYTES + 1024 * 1024))
    assert response.status_code == 413
    assert "Il file è troppo grande: al massimo 20 MB." in visible_text(parse(response))
    anonymous = app.test_client().post(UPLOAD_URL, data={"file": (io.BytesIO(b"x" * 2_000_000), "a.csv")})
    assert anonymous.status_code == 413  # the app's own limit: no large body before a login


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "Il file non è un CSV né un XLSX"),
    (b"Nome;Cognome\nMario;Rossi\n", "Mancano le colonne obbligatorie"),
    (b"Codice;Ragione sociale\n" + b"".join(b"C%d;N\n" % n for n in range(1_000_000)),
     "più di 200.000 righe"),
])
def test_a_file_that_cannot_be_imported_says_why_and_changes_nothing(app, admin, data, message):
    job_url = uploaded(admin, data)
    with models.db.connection_context():
        before = fingerprint()
    response = run(admin, job_url)
    assert response.status_code == 200
    alert = parse(response).find(role="alert")
    assert message in visible_text(alert)
    assert "Nessun cliente è stato modificato" in visible_text(parse(response))
    with models.db.connection_context():
        assert changed_tables(before, fingerprint()) == []


def test_a_file_without_valid_rows_offers_no_import(app, admin):
    job_url = uploaded(admin, b"Codice;Ragione sociale;Partita IVA\nX;Y;123\n")
    region = parse(run(admin, job_url))
    assert not region.find(id="import-confirm")
    assert "Nessuna riga valida da importare" in visible_text(region.find(role="alert"))


def test_with_a_queue_the_worker_runs_the_job(app, admin, immediate_queue):
    app.config["QUEUE_URL"] = "sqlite:///queue-of-a-worker.db"  # a worker is configured
    job_url = uploaded(admin)
    started = parse(run(admin, job_url))
    assert not started.find(attrs={"hx-trigger": "load"})  # queued once, not posted again
    assert started.find(id="import-progress")
    # Huey's immediate mode ran the worker's task as it was queued: the poll finds the report.
    ended = admin.get(job_url + "/stato", headers=htmx_headers("import-progress"))
    assert ended.headers["HX-Retarget"] == "#import-job"
    assert parse(ended).find("button", string="Importa le 2 righe valide")


def test_a_job_no_worker_begins_is_run_by_the_next_poll(app, admin, monkeypatch):
    import import_uploads

    app.config["QUEUE_URL"] = "sqlite:///queue-without-worker.db"
    job_url = uploaded(admin)
    with models.db.connection_context():
        import tasks

        monkeypatch.setattr(tasks.huey, "enqueue", lambda task: None)  # nobody listens
        run(admin, job_url)
    waiting = admin.get(job_url + "/stato", headers=htmx_headers("import-progress"))
    assert "In coda" in visible_text(parse(waiting)) and "HX-Retarget" not in waiting.headers
    monkeypatch.setattr(import_uploads, "WORKER_GRACE_SECONDS", 0)
    ended = admin.get(job_url + "/stato", headers=htmx_headers("import-progress"))
    assert ended.headers["HX-Retarget"] == "#import-job"
    assert parse(ended).find("button", string="Importa le 2 righe valide")

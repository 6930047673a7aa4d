"""The mail seen from the consent page (issue 14, parts 5 and 6): "Promemoria" from the grid
with its confirmation, the delivery's progress polled in place, the filter "E-mail in
errore", and the studio's mail rules."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import htmx_headers, login_as, parse, visible_text
from peewee import chunked

import audit
import consent
import consent_grid
import models
from models import (
    Client,
    ConsentSending,
    MailRound,
    OutboxMessage,
    Studio,
    StudioSettings,
    User,
    utcnow,
)

URL = "/area-personale/consensi"
REMIND_URL = URL + "/promemoria"
SEND_URL = URL + "/invio"
PROGRESS_URL = URL + "/posta"
RULES_URL = URL + "/regole"
GRID = htmx_headers("consent-grid")


@pytest.fixture
def admin(app):
    return login_as(app, "admin")


@pytest.fixture
def waiting(db):
    """000120 and 000150 asked too (000131 was already waiting); 000150 without an address."""
    studio = Studio.get(Studio.code == "BPF103")
    ids = [c.id for c in Client.select().where(Client.code.in_(["000120", "000150"]))]
    consent.send_requests(studio.id, User.get(User.username == "admin"), only=ids)
    Client.update(email=None).where(Client.code == "000150").execute()
    OutboxMessage.delete().execute()  # the requests' own mail: not what these tests look at
    return studio


def reminders():
    with models.db.connection_context():
        return sorted(m.client.code for m in OutboxMessage.select().where(
            OutboxMessage.kind == "reminder"))


def open_reminder(user, mode, query=""):
    response = user.get(f"{REMIND_URL}?modo={mode}{query}", headers=GRID)
    assert response.status_code == 200
    page = parse(response)
    form = page.select_one(".confirm-panel form")
    data = {i["name"]: i["value"] for i in form.select("input[type=hidden]")} if form else None
    return page, data


def panel_text(page):
    return visible_text(page.select_one(".confirm-panel"))


# --- Promemoria from the grid ------------------------------------------------------


def test_the_grid_offers_a_reminder_to_all_waiting_and_to_the_selection(admin, waiting):
    page = parse(admin.get(URL))
    link = page.find("a", string="Promemoria a tutti in attesa")
    assert link["href"] == REMIND_URL + "?modo=tutti" and link["hx-push-url"] == "false"
    disabled = page.find("button", string="Promemoria ai selezionati")
    assert disabled.has_attr("disabled")


def test_the_confirmation_says_how_many_and_who_has_no_address(admin, waiting):
    page, form = open_reminder(admin, "tutti")
    assert panel_text(page).startswith(
        "Conferma l'invio del promemoria Il promemoria sarà inviato per e-mail a 2 clienti in "
        "attesa di risposta. La data della richiesta non cambia. 1 cliente in attesa non ha un "
        "indirizzo e-mail e non lo riceverà.")
    assert page.find("button", string="Conferma il promemoria a 2 clienti") is not None
    assert reminders() == []  # asking is not sending


def test_confirming_sends_once_and_keeps_the_request_date(admin, waiting):
    with models.db.connection_context():
        before = {c.code: c.consent_requested_at for c in Client.select()}
    _, form = open_reminder(admin, "tutti")
    response = admin.post(REMIND_URL, data=form, headers=GRID)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "mail-queued"
    message = parse(response).select_one(".message-success")
    assert visible_text(message) == "Promemoria inviato per e-mail a 2 clienti."
    assert reminders() == ["000120", "000131"]
    again = admin.post(REMIND_URL, data=form, headers=GRID)
    assert "Questo promemoria era già stato inviato, non è stato ripetuto." in visible_text(
        parse(again).select_one(".message"))
    assert reminders() == ["000120", "000131"]
    with models.db.connection_context():
        assert {c.code: c.consent_requested_at for c in Client.select()} == before


def test_a_reminder_to_the_selection(admin, waiting):
    with models.db.connection_context():
        user = User.get(User.username == "admin")
        ids = [c.id for c in Client.select().where(Client.code.in_(["000131", "PINK"]))]
        consent_grid.select_clients(waiting.id, user.id, ids)
    page = parse(admin.get(URL, headers=GRID))
    assert page.find("a", string="Promemoria ai selezionati (2)") is not None
    page, form = open_reminder(admin, "selezione")
    assert "a 1 cliente in attesa di risposta della selezione" in panel_text(page)
    admin.post(REMIND_URL, data=form, headers=GRID)
    assert reminders() == ["000131"]


def test_nobody_to_remind_says_so_and_offers_no_confirmation(admin, db):
    Client.update(consent_answer="granted").where(Client.consent_answer == "pending").execute()
    page, form = open_reminder(admin, "tutti")
    assert form is None
    assert "Nessun cliente riceverà il promemoria: nessun cliente è in attesa di risposta." in (
        panel_text(page))


def test_a_changed_count_sends_nothing_and_asks_again(admin, waiting):
    _, form = open_reminder(admin, "tutti")
    with models.db.connection_context():
        client = Client.get(Client.code == "000120")
        consent.answer_request(client, User.get(User.client == client), accept=True)
    response = admin.post(REMIND_URL, data=form, headers=GRID)
    assert response.status_code == 409
    assert "nessun promemoria è stato inviato" in visible_text(parse(response).select_one(".message"))
    assert "a 1 cliente in attesa" in panel_text(parse(response))
    assert reminders() == []


@pytest.mark.parametrize("change", ["forged", "other mode", "missing", "sending's token"])
def test_a_bad_confirmation_sends_nothing(admin, waiting, change):
    _, form = open_reminder(admin, "tutti")
    if change == "forged":
        form["token"] = form["token"][:-3] + "abc"
    elif change == "other mode":
        form["modo"] = "selezione"
    elif change == "missing":
        del form["token"]
    else:
        sending = parse(admin.get(SEND_URL + "?modo=tutti", headers=GRID))
        form["token"] = sending.select_one(".confirm-panel input[name=token]")["value"]
    response = admin.post(REMIND_URL, data=form, headers=GRID)
    assert response.status_code == 400
    assert "nessun promemoria è stato inviato" in visible_text(parse(response).select_one(".message"))
    assert reminders() == []
    with models.db.connection_context():
        assert MailRound.select().count() == 0


def test_without_htmx_the_reminder_redirects_to_the_grid_with_its_message(admin, waiting):
    _, form = open_reminder(admin, "tutti")
    response = admin.post(REMIND_URL, data=form)
    assert response.status_code == 302 and response.headers["Location"] == URL
    page = parse(admin.get(URL))
    assert "Promemoria inviato per e-mail a 2 clienti." in visible_text(page.select_one(".messages"))


@pytest.mark.parametrize("username", ["operatore1", "pink"])
def test_only_the_administrator_reminds(app, username):
    user = login_as(app, username)
    assert user.get(REMIND_URL + "?modo=tutti").status_code == 403
    assert user.post(REMIND_URL, data={"modo": "tutti", "token": "x"}).status_code == 403
    assert user.get(PROGRESS_URL, headers=htmx_headers("mail-progress")).status_code == 403
    assert user.post(RULES_URL, data={}).status_code == 403


# --- the delivery's progress ----------------------------------------------------------


def progress(user):
    response = user.get(PROGRESS_URL, headers=htmx_headers("mail-progress"))
    assert response.status_code == 200
    return parse(response).select_one("#mail-progress")


def queue_batch(studio, batch, sent=0, failed=0, queued=0, at=None, reminder=False):
    """A sending (or reminder round) ``batch`` at ``at`` whose messages stand as given."""
    at = at or utcnow()
    client = Client.get(Client.code == "PINK")
    admin = User.get(User.username == "admin")
    if reminder:
        MailRound.create(key=batch, studio=studio.id, actor=admin.id, kind="reminder_all",
                         sent=sent + failed + queued, created_at=at)
    else:
        ConsentSending.create(key=batch, studio=studio.id, actor=admin.id, mode="all",
                              sent=sent + failed + queued, created_at=at)
    rows = ([("sent", at)] * sent) + ([("failed", None)] * failed) + ([("queued", None)] * queued)
    for chunk in chunked(rows, 200):
        OutboxMessage.insert_many([
            {"studio": studio.id, "kind": "consent_request", "recipient": "x@clienti.example",
             "client": client.id, "batch": batch, "status": status, "sent_at": sent_at,
             "next_attempt_at": at, "created_at": at}
            for status, sent_at in chunk
        ]).execute()


def test_no_progress_region_text_before_any_sending(admin, db):
    region = progress(admin)
    assert visible_text(region) == ""
    assert "every" not in region["hx-trigger"]
    assert region["hx-trigger"] == "mail-queued from:document"


def test_the_progress_of_the_latest_batch_polls_while_queued_and_stops_when_done(admin, db):
    studio = Studio.get(Studio.code == "BPF103")
    queue_batch(studio, "older", sent=5, at=utcnow() - dt.timedelta(days=2))
    queue_batch(studio, "old", sent=5, at=utcnow() - dt.timedelta(days=1), reminder=True)
    queue_batch(studio, "new", sent=1234, failed=3, queued=767)
    region = progress(admin)
    assert visible_text(region) == "E-mail: 1.234 di 2.004 consegnate · 3 in errore · invio in corso"
    assert region["hx-trigger"].startswith("every ")
    assert region["hx-get"] == PROGRESS_URL
    assert region["hx-target"] == "this" and region["hx-swap"] == "outerHTML"
    OutboxMessage.update(status="sent").where(OutboxMessage.status == "queued").execute()
    region = progress(admin)
    assert visible_text(region) == "E-mail: 2.001 di 2.004 consegnate · 3 in errore"
    assert "every" not in region["hx-trigger"]
    page = parse(admin.get(URL))  # the page shows the same region
    assert visible_text(page.select_one("#mail-progress")) == visible_text(region)


def test_the_progress_follows_the_latest_round_a_reminder_or_a_sending(admin, db):
    studio = Studio.get(Studio.code == "BPF103")
    queue_batch(studio, "sending", sent=3, at=utcnow() - dt.timedelta(hours=1))
    queue_batch(studio, "reminder", queued=2, reminder=True)
    assert visible_text(progress(admin)) == "E-mail: 0 di 2 consegnate · invio in corso"
    MailRound.create(key="nobody", studio=studio.id, kind="reminder_auto", sent=0)  # reached none
    MailRound.create(key="summary", studio=studio.id, kind="daily_summary", sent=1)
    assert visible_text(progress(admin)) == "E-mail: 0 di 2 consegnate · invio in corso"


def test_the_progress_is_the_studios_own(app, db):
    queue_batch(Studio.get(Studio.code == "BPF103"), "bpf", sent=2, queued=1)
    assert visible_text(progress(login_as(app, "admin.alt"))) == ""


def test_a_sending_shows_its_progress(admin, db):
    response = admin.get(SEND_URL + "?modo=tutti", headers=GRID)
    form = {i["name"]: i["value"] for i in parse(response).select(".confirm-panel form input[type=hidden]")}
    sent = admin.post(SEND_URL, data=form, headers=GRID)
    assert sent.headers["HX-Trigger"] == "mail-queued"
    region = progress(admin)
    assert visible_text(region) == "E-mail: 0 di 4 consegnate · invio in corso"
    assert "every" in region["hx-trigger"]


def test_the_progress_url_without_htmx_is_the_consent_page(admin):
    response = admin.get(PROGRESS_URL)
    assert response.status_code == 302 and response.headers["Location"] == URL


# --- the filter "E-mail in errore" ----------------------------------------------------


def codes(page):
    return [visible_text(tr.select_one(".col-codice"))
            for tr in page.select("#consent-grid tbody tr:not(.grid-empty)")]


def test_the_filter_shows_clients_whose_latest_message_failed(admin, db):
    studio = Studio.get(Studio.code == "BPF103")
    at = utcnow()

    def message(code, status, minutes, kind="consent_request"):
        OutboxMessage.create(studio=studio.id, kind=kind, recipient="x@clienti.example",
                             client=Client.get(Client.code == code).id, status=status,
                             next_attempt_at=at, created_at=at + dt.timedelta(minutes=minutes))

    message("000131", "failed", 0)  # failed, then a reminder went: not in error any more
    message("000131", "sent", 1, "reminder")
    message("000145", "sent", 0)
    message("000145", "failed", 1, "reminder")  # its latest failed
    message("000120", "failed", 0)
    message("000120", "sent", 1, "revocation")  # to the admin, not to the client
    page = parse(admin.get(URL + "?stato_email=in_errore", headers=GRID))
    assert codes(page) == ["000120", "000145"]
    assert page.select_one("select[name=stato_email] option[selected]")["value"] == "in_errore"
    assert "Elementi 1 - 2 di 2" in visible_text(page.select_one(".grid-pager"))
    page = parse(admin.get(URL + "?stato_email=in_errore&stato_risposta=non_aderito", headers=GRID))
    assert codes(page) == ["000145"]


def test_an_unknown_mail_filter_falls_back_to_all(admin):
    page = parse(admin.get(URL + "?stato_email=boh", headers=GRID))
    assert len(codes(page)) == 10
    assert "sono stati corretti" in visible_text(page.select_one(".message"))


# --- the studio's mail rules ------------------------------------------------------------


def rules_form(page):
    form = page.select_one("form#mail-rules")
    return {
        "reminder_enabled": form.select_one("#reminder-enabled").has_attr("checked"),
        "after": form.select_one("#reminder-after-days")["value"],
        "max": form.select_one("#reminder-max")["value"],
        "notify_revocation": form.select_one("#notify-revocation").has_attr("checked"),
        "daily_summary": form.select_one("#daily-summary").has_attr("checked"),
    }


def test_the_rules_are_on_the_consent_page_with_their_defaults(admin):
    page = parse(admin.get(URL))
    form = page.select_one("form#mail-rules")
    assert visible_text(form.find("legend")) == "Promemoria automatico"
    assert rules_form(page) == {"reminder_enabled": False, "after": "7", "max": "2",
                                "notify_revocation": True, "daily_summary": False}
    labels = [visible_text(label) for label in form.find_all("label")]
    assert labels == [
        "Invia un promemoria ai clienti che non hanno ancora risposto",
        "Dopo quanti giorni senza risposta", "Al massimo quante volte",
        "Avvisami per e-mail quando un cliente revoca il consenso",
        "Inviami ogni giorno un riepilogo delle risposte ricevute"]


def post_rules(user, headers=None, **values):
    data = {"reminder_enabled": ["0"], "notify_revocation": ["0"], "daily_summary": ["0"],
            "reminder_after_days": "7", "reminder_max": "2"}
    for name, value in values.items():
        data[name] = ["0", "1"] if value is True else value
    return user.post(RULES_URL, data=data,
                     headers=htmx_headers("mail-rules") if headers is None else headers)


def test_saving_the_rules_in_place(app, admin):
    response = post_rules(admin, reminder_enabled=True, reminder_after_days="10",
                          reminder_max="3", daily_summary=True)
    assert response.status_code == 200
    page = parse(response)
    assert visible_text(page.select_one("#mail-rules-status")) == "Salvato"
    assert rules_form(page) == {"reminder_enabled": True, "after": "10", "max": "3",
                                "notify_revocation": False, "daily_summary": True}
    with models.db.connection_context():
        row = StudioSettings.get(StudioSettings.studio == Studio.get(Studio.code == "BPF103"))
        assert (row.reminder_enabled, row.reminder_after_days, row.reminder_max,
                row.notify_revocation, row.daily_summary) == (True, 10, 3, False, True)
        other = StudioSettings.get(StudioSettings.studio == Studio.get(Studio.code == "ALT001"))
        assert not other.reminder_enabled
        [event] = models.AuditEvent.select().where(models.AuditEvent.kind == "settings_changed")
        assert audit.describe(event) == [
            "opzione: Avvisi e promemoria per e-mail",
            "valore: promemoria automatico: sì, dopo 10 giorni senza risposta, al massimo 3 "
            "volte; avviso di revoca: no; riepilogo giornaliero: sì"]


@pytest.mark.parametrize("field, value, problem", [
    ("reminder_after_days", "0", "Dopo quanti giorni: indica un numero intero di giorni tra 1 e 365."),
    ("reminder_after_days", "abc", "Dopo quanti giorni: indica un numero intero di giorni tra 1 e 365."),
    ("reminder_after_days", "9" * 5000, "Dopo quanti giorni: indica un numero intero di giorni tra 1 e 365."),
    ("reminder_max", "11", "Al massimo quante volte: indica un numero intero tra 1 e 10."),
    ("reminder_max", "", "Al massimo quante volte: indica un numero intero tra 1 e 10."),
])
def test_bad_rules_are_refused_in_italian_and_change_nothing(admin, field, value, problem):
    response = post_rules(admin, reminder_enabled=True, **{field: value})
    assert response.status_code == 422
    page = parse(response)
    assert visible_text(page.select_one("#mail-rules-error")) == problem
    assert page.select_one("#reminder-enabled").has_attr("checked")  # as typed
    assert page.select_one("[aria-invalid=true]")["name"] == field
    full = parse(admin.get(URL))
    assert rules_form(full)["reminder_enabled"] is False


def test_the_rules_without_htmx(admin):
    response = post_rules(admin, headers={}, reminder_enabled=True, reminder_after_days="3")
    assert response.status_code == 302 and response.headers["Location"] == URL
    assert rules_form(parse(admin.get(URL)))["after"] == "3"
    response = post_rules(admin, headers={}, reminder_max="x")
    assert response.status_code == 422
    page = parse(response)
    assert page.select_one("#consent-grid") is not None
    assert "Al massimo quante volte" in visible_text(page.select_one("#mail-rules-error"))

"""Gestione invio richieste di consenso (admin, SPEC 3.3): the grid, the selection, the sending,
the reminders ("Promemoria"), a client's history, the studio's consent register, its mail
rules and the latest delivery's progress (issue 14); where the campaign stands (counts and
weekly chart, shown above the grid) and the grid and register as files (issue 17).

One URL per resource: the grid page answers a full GET with the page and an htmx
request aimed at ``div#consent-grid`` with the grid alone; every action answers
with the grid in place (htmx) or a redirect back to it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    make_response,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

import audit
import consent
import consent_campaign
import consent_export
import consent_grid
import consent_history
import consent_lifetime
import consent_wordings
import italian
import listing
import mail
import mail_rules
import models
from models import Client, Studio, utcnow
from views import (
    allow,
    audit_if_foreign,
    client_ip,
    get_in_studio_or_404,
    htmx,
    is_htmx,
    redirect_to,
    redirect_to_url,
    render_page_or_fragment,
    user_agent,
    wants_fragment,
)

bp = Blueprint("consents", __name__, url_prefix="/area-personale/consensi")

GRID_ID = "consent-grid"
PROGRESS_ID = "mail-progress"
RULES_TITLE = "Avvisi e promemoria per e-mail"
# The event a response sends when it has put mail in the outbox: the progress region
# listens for it and shows the new delivery.
MAIL_QUEUED_EVENT = "mail-queued"
INTRO = (
    "Con questa funzione puoi domandare ai tuoi clienti il consenso per accedere ai loro "
    "Servizi SMART. Potrai inviare la richiesta a tutti i clienti oppure solo ad alcuni. La "
    "procedura estrarrà solo i clienti per i quali è attivo almeno un Servizio SMART (Fattura "
    "SMART, SMART Hub, Corrispettivi SMART, ecc.)."
)
CORRECTED_MESSAGE = (
    "Alcuni valori dell'indirizzo non erano validi e sono stati corretti: i testi troppo "
    "lunghi accorciati, gli altri riportati al valore predefinito."
)


@bp.before_request
def mark_side_menu():
    # The page sits below "Configurazioni Varie" in the side menu.
    g.menu_endpoint = "settings.options"


def back_url() -> str:
    """Where the page's back arrow leads: Configurazioni varie (the link to this page is there)."""
    return url_for("settings.options")


def grid_url(state: consent_grid.GridState, **changes) -> str:
    """The grid's address for ``state`` with ``changes`` (defaults left out)."""
    return url_for("consents.index", **state.query_args(**changes))


def _already_shown(grid: consent_grid.GridPage) -> bool:
    """Tell whether the address the browser shows is this grid, however it is written there.

    Read as the grid reads any address: values left out or corrected, a page past the end
    taken as the last one.
    """
    shown = urlsplit(htmx.current_url or "")
    if unquote(shown.path) != url_for("consents.index"):
        return False
    state = consent_grid.GridState.from_args(MultiDict(parse_qsl(shown.query)))
    return replace(state, pagina=min(state.pagina, grid.page.pages)) == grid.state


def render_grid(state: consent_grid.GridState, status: int = 200, message: str | None = None,
                level: str = "success", mail_queued: bool = False, **context):
    """The grid (or the whole page) for ``state``, with an optional message.

    ``mail_queued``: the action put mail in the outbox, so the progress region is told.
    """
    grid = consent_grid.load_page(current_user.studio_id, current_user.id, state)
    if not wants_fragment(GRID_ID):  # the page also shows the mail rules and the delivery
        if "rules" not in context:
            context.update(_rules_context())
        if "duration" not in context:
            # The rows carry the studio's rule: read it apart only for an empty grid.
            context.update(_duration_context(**({"duration": grid.rows[0].months} if grid.rows else {})))
        context.setdefault("progress", mail_rules.latest_progress(current_user.studio_id))
        context.update(consent_campaign.campaign(current_user.studio_id))
    state = grid.state
    if message is None and state.corrected:
        message, level = CORRECTED_MESSAGE, "warning"
    address = {}
    if request.endpoint == "consents.index":
        # The address bar shows the grid as it is (defaults left out, the page actually
        # shown): a new entry in the history, unless the address shown is already this grid.
        address = {"replace_url" if _already_shown(grid) else "push_url": grid_url(state)}
    response = render_page_or_fragment(
        "consents/index.html", "consents/_grid.html", GRID_ID, status=status, **address,
        grid=grid, state=state, grid_url=grid_url,
        page_url=lambda number: grid_url(state, pagina=number), ops=consent_grid.OPS,
        request_states=consent_grid.REQUEST_STATES, answer_states=consent_grid.ANSWER_STATES,
        mail_states=consent_grid.MAIL_STATES, expiry_states=consent_grid.EXPIRY_STATES,
        expiry_column=consent_grid.EXPIRY_COLUMN,
        columns=consent_grid.COLUMNS, page_sizes=consent_grid.PAGE_SIZES,
        plural=plural, plural_article=consent_grid.plural_article,
        message=message, level=level, intro=INTRO, back_url=back_url, **context,
    )
    if mail_queued:
        response.headers["HX-Trigger"] = MAIL_QUEUED_EVENT
    return response


@bp.get("")
@allow("admin")
def index():
    return render_grid(consent_grid.GridState.from_args(request.args))


def _done(state, message: str, level: str = "success", status: int = 200, **context):
    """Answer an action: the grid in place for htmx (or a refusal), else back to the grid's URL."""
    if is_htmx() or status >= 400:
        return render_grid(state, status=status, message=message, level=level, **context)
    context.pop("mail_queued", None)
    flash(message, level)
    return redirect_to_url(grid_url(state))


# --- the selection -------------------------------------------------------------------

@bp.post("/selezione")
@allow("admin")
def select():
    """Change the admin's selection: one client, the page shown, every filtered client, or none."""
    state = consent_grid.GridState.from_args(request.form)
    action = request.form.get("azione")
    studio_id, user_id = current_user.studio_id, current_user.id
    message = None
    if action in ("aggiungi", "togli"):
        client_id = listing.parse_id(request.form.get("cliente"))
        if client_id is None:
            return _done(state, "Cliente non valido.", "error", 400)
        if not consent_grid.is_listed(studio_id, client_id):
            audit_if_foreign(Client, client_id)
            return _done(state, "Cliente non trovato.", "error", 404)
        if action == "aggiungi":
            consent_grid.select_clients(studio_id, user_id, [client_id])
        else:
            consent_grid.unselect_clients(user_id, [client_id])
    elif action == "pagina_aggiungi":
        consent_grid.select_page(studio_id, user_id, state)
    elif action == "pagina_togli":
        consent_grid.unselect_page(studio_id, user_id, state)
    elif action == "filtrati":
        consent_grid.select_matching(studio_id, user_id, state)
        message = ("Selezionati tutti i clienti che corrispondono ai filtri." if state.is_filtered
                   else "Selezionati tutti i clienti dell'elenco.")
    elif action == "annulla":
        consent_grid.clear_selection(user_id)
        message = "Selezione annullata."
    else:
        return _done(state, "Operazione non riconosciuta.", "error", 400)
    if is_htmx():
        # "Annulla selezione" is gone with the selection: the keyboard goes to its outcome.
        return render_grid(state, message=message, focus_message=action == "annulla")
    if message:
        flash(message, "success")
    return redirect_to_url(grid_url(state))


# --- sending -------------------------------------------------------------------------

MODES = {"tutti": consent.SEND_ALL, "selezione": consent.SEND_SELECTION}
CONFIRMATION_MAX_AGE = 30 * 60  # seconds a confirmation stays valid


@dataclass(frozen=True)
class Confirmation:
    """The in-page step before a sending: how many clients will get the request."""

    mode: str  # "tutti" or "selezione"
    will_receive: int
    already_consented: int
    token: str


def _confirmed_claim(signer, mode: str | None) -> dict | None:
    """The confirmation a form carries, if it is this user's, for ``mode``, and not expired."""
    try:
        claim = signer.loads(request.form.get("token", ""), max_age=CONFIRMATION_MAX_AGE)
    except BadSignature:  # also an expired one
        return None
    if (not isinstance(claim, dict) or claim.get("user") != current_user.id
            or claim.get("mode") != mode or mode not in MODES):
        return None
    return claim


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="consent-sending")


def confirmation_for(mode: str) -> Confirmation:
    """Count the sending's recipients now and issue its one-time, signed confirmation."""
    recipients = consent.count_recipients(current_user.studio_id, current_user, MODES[mode])
    token = _signer().dumps({
        "key": secrets.token_hex(16),
        "user": current_user.id,
        "mode": mode,
        "count": recipients.will_receive,
    })
    return Confirmation(mode, recipients.will_receive, recipients.already_consented, token)


plural = italian.plural


def sent_message(result: consent.SendResult) -> str:
    """What a sending did, as the admin reads it."""
    sent = plural(result.sent, "inviata", "inviate") if result.sent else "nessuna inviata"
    if not result.already_consented:
        return f"Richieste di consenso: {sent}."
    if result.already_consented == 1:
        skipped = "1 saltata perché ha già acconsentito"
    else:
        skipped = f"{italian.format_number(result.already_consented)} saltate perché hanno già acconsentito"
    return f"Richieste di consenso: {sent}, {skipped}."


@bp.route("/invio", methods=["GET", "POST"])
@allow("admin")
def send():
    """GET: the confirmation stating how many clients will get the request. POST: send it."""
    if request.method == "GET":
        state = consent_grid.GridState.from_args(request.args)
        mode = request.args.get("modo")
        if mode not in MODES:  # the grid, with a word on how to send
            return render_grid(state, 200, "Scegli come inviare la richiesta: a tutti i clienti "
                               "oppure ai clienti selezionati.", "warning")
        if mode == "selezione" and not consent_grid.selection_size(current_user.id):
            return render_grid(state, 200, "Nessun cliente selezionato: spunta i clienti a cui "
                               "inviare la richiesta, poi premi di nuovo Invia ai selezionati.",
                               "warning")
        return render_grid(state, confirmation=confirmation_for(mode))

    state = consent_grid.GridState.from_args(request.form)
    mode = request.form.get("modo")
    claim = _confirmed_claim(_signer(), mode)
    if claim is None:
        return _done(state, "La conferma non è valida o è scaduta: nessuna richiesta è stata "
                            "inviata. Ripeti l'invio.", "error", 400, focus_message=True)
    try:
        result = consent.send_confirmed(
            current_user.studio_id, current_user, MODES[mode], claim["key"], int(claim["count"]),
            ip=client_ip(), user_agent=user_agent(),
        )
    except consent.SendingChanged:
        return _done(
            state,
            "Nel frattempo i clienti da raggiungere sono cambiati: nessuna richiesta è stata "
            "inviata. Controlla il nuovo numero e conferma di nuovo.",
            "warning", 409, confirmation=confirmation_for(mode), focus_message=True,
        )
    if result.repeated:
        return _done(state, "Questo invio era già stato eseguito, non è stato ripetuto. "
                            + sent_message(result), "info", focus_message=True)
    mail.wake()  # the sending committed: its e-mails go now, not at the next sweep
    # The confirmation that had focus is gone: focus goes to the outcome.
    return _done(state, sent_message(result), focus_message=True, mail_queued=bool(result.sent))


# --- history and register ------------------------------------------------------------


@bp.get("/<int:client_id>/storia")
@allow("admin")
def history(client_id: int):
    """A client's consent history, newest first: in place in the grid's dialog, or as a page."""
    client = get_in_studio_or_404(Client, client_id)
    return render_page_or_fragment(
        "consents/history.html", "consents/_history.html", "consent-history",
        client=client, entries=consent_history.history_of(current_user.studio_id, client.id),
        answer_labels=consent_grid.ANSWER_LABELS, grid_url=url_for("consents.index"),
        in_dialog=wants_fragment("consent-history"),
    )


def _file_name(name: str, extension: str) -> str:
    """A download's name: what it is, the studio's code, today's date (Rome)."""
    studio = Studio.get_by_id(current_user.studio_id)
    day = italian.to_rome(utcnow()).strftime("%Y-%m-%d")
    return f"{name}-{re.sub(r'[^A-Za-z0-9_-]', '', studio.code)}-{day}.{extension}"


def _xlsx_download(output, name: str):
    """An XLSX file (a rewound temporary file) as a download, never kept by a cache: it
    holds the studio's clients (send_file would allow a cache to keep it, "no-cache")."""
    response = send_file(output, as_attachment=True, download_name=_file_name(name, "xlsx"),
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/testi")
@allow("admin")
def wordings():
    """Every version of the consent text clients were shown, in full, with when it was in use."""
    return render_template("consents/wordings.html", wordings=consent_wordings.wordings(),
                           grid_url=url_for("consents.index"))


@bp.get("/registro.csv")
@allow("admin")
def register():
    """The studio's consent register as CSV (for Excel), streamed as it is read."""
    return Response(
        _on_own_connection(consent_history.register_csv(current_user.studio_id)),
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="{_file_name("registro-consensi", "csv")}"'},
    )


@bp.get("/registro.xlsx")
@allow("admin")
def register_xlsx():
    """The studio's consent register as an Excel workbook."""
    return _xlsx_download(consent_export.register_xlsx(current_user.studio_id),
                          "registro-consensi")


@bp.get("/esporta.csv")
@allow("admin")
def export_csv():
    """Every client the grid's filters match, in its order, as CSV (for Excel), streamed."""
    state = consent_grid.GridState.from_args(request.args)
    return Response(
        _on_own_connection(consent_export.grid_csv(current_user.studio_id, state)),
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="{_file_name("richieste-consenso", "csv")}"'},
    )


@bp.get("/esporta.xlsx")
@allow("admin")
def export_xlsx():
    """Every client the grid's filters match, in its order, as an Excel workbook."""
    state = consent_grid.GridState.from_args(request.args)
    return _xlsx_download(consent_export.grid_xlsx(current_user.studio_id, state),
                          "richieste-consenso")


def _on_own_connection(pieces):
    """Stream ``pieces`` on a database connection of their own.

    The body is sent after the request has ended (and returned its connection), so
    the generator takes one when it starts and gives it back when it ends or is
    dropped; a body never read opens nothing.
    """
    opened = models.db.connect(reuse_if_open=True)
    try:
        yield from pieces
    finally:
        if opened and not models.db.is_closed():
            models.db.close()


# --- reminders ("Promemoria") ------------------------------------------------------


@dataclass(frozen=True)
class ReminderConfirmation:
    """The in-page step before a reminder: how many clients waiting for an answer will get it."""

    mode: str  # "tutti" or "selezione"
    will_receive: int
    without_address: int
    token: str


def _reminder_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="consent-reminder")


def reminder_confirmation_for(mode: str) -> ReminderConfirmation:
    """Count the reminder's recipients now and issue its one-time, signed confirmation."""
    recipients = consent.count_reminder_recipients(current_user.studio_id, current_user,
                                                   MODES[mode])
    token = _reminder_signer().dumps({
        "key": secrets.token_hex(16),
        "user": current_user.id,
        "mode": mode,
        "count": recipients.will_receive,
    })
    return ReminderConfirmation(mode, recipients.will_receive, recipients.without_address, token)


def reminded_message(result: consent.ReminderResult) -> str:
    """What a reminder did, as the admin reads it."""
    if not result.sent:
        return "Nessun promemoria inviato."
    if result.sent == 1:
        return "Promemoria inviato per e-mail a 1 cliente."
    return f"Promemoria inviato per e-mail a {italian.format_number(result.sent)} clienti."


@bp.route("/promemoria", methods=["GET", "POST"])
@allow("admin")
def remind():
    """GET: the confirmation stating how many clients will get a reminder. POST: send it.

    As the sending: a one-time signed key, a repeat sends nothing, a count changed since
    the confirmation sends nothing and asks again.
    """
    if request.method == "GET":
        state = consent_grid.GridState.from_args(request.args)
        mode = request.args.get("modo")
        if mode not in MODES:
            return render_grid(state, 200, "Scegli a chi inviare il promemoria: a tutti i clienti "
                               "in attesa di risposta oppure ai clienti selezionati.", "warning")
        if mode == "selezione" and not consent_grid.selection_size(current_user.id):
            return render_grid(state, 200, "Nessun cliente selezionato: spunta i clienti a cui "
                               "inviare il promemoria, poi premi di nuovo Promemoria ai "
                               "selezionati.", "warning")
        return render_grid(state, reminder_confirmation=reminder_confirmation_for(mode))

    state = consent_grid.GridState.from_args(request.form)
    mode = request.form.get("modo")
    claim = _confirmed_claim(_reminder_signer(), mode)
    if claim is None:
        return _done(state, "La conferma non è valida o è scaduta: nessun promemoria è stato "
                            "inviato. Ripeti l'invio.", "error", 400, focus_message=True)
    try:
        result = consent.remind_confirmed(
            current_user.studio_id, current_user, MODES[mode], claim["key"], int(claim["count"]))
    except consent.RemindingChanged:
        return _done(
            state,
            "Nel frattempo i clienti da raggiungere sono cambiati: nessun promemoria è stato "
            "inviato. Controlla il nuovo numero e conferma di nuovo.",
            "warning", 409, reminder_confirmation=reminder_confirmation_for(mode),
            focus_message=True,
        )
    if result.repeated:
        return _done(state, "Questo promemoria era già stato inviato, non è stato ripetuto. "
                            + reminded_message(result), "info", focus_message=True)
    if result.sent:
        mail.wake()  # the reminders committed: they go now, not at the next sweep
    return _done(state, reminded_message(result), focus_message=True, mail_queued=bool(result.sent))


# --- the mail rules and the delivery's progress ---------------------------------------


def _rules_context(typed=None, **extra) -> dict:
    """The rules form's context: the saved rules, or (after an error) what was typed."""
    rules = mail_rules.rules_of(current_user.studio_id)
    if typed is not None:
        def ticked(name):
            return typed.getlist(name)[-1:] == ["1"]

        rules = mail_rules.MailRules(
            ticked("reminder_enabled"), typed.get("reminder_after_days", "")[:10],
            typed.get("reminder_max", "")[:10], ticked("notify_revocation"),
            ticked("daily_summary"))
    return {"rules": rules, "rules_title": RULES_TITLE, "days_range": mail_rules.REMINDER_DAYS_RANGE,
            "max_range": mail_rules.REMINDER_MAX_RANGE, **extra}


@bp.post("/regole")
@allow("admin")
def save_rules():
    """Save the studio's mail rules (Promemoria automatico, revocation notice, daily summary)."""
    try:
        rules = mail_rules.read_rules(request.form)
    except mail_rules.InvalidSetting as invalid:
        context = _rules_context(request.form, rules_error=str(invalid))
        if not is_htmx():
            return render_grid(consent_grid.GridState(), 422, **context)
        return make_response(render_template("consents/_mail_rules.html", **context), 422)
    with models.write_transaction():
        mail_rules.save_rules(current_user.studio_id, rules)
        audit.record("settings_changed", option=RULES_TITLE, value=rules.description)
    if not is_htmx():
        flash("Regole della posta salvate.", "success")
        return redirect_to("consents.index")
    return render_template("consents/_mail_rules.html",
                           **_rules_context(rules_status="Salvato"))


# --- "Durata del consenso" ---------------------------------------------------------------

DURATION_TITLE = "Durata del consenso"


def _duration_context(**extra) -> dict:
    """The duration form's context: the studio's saved rule and the choices (and an error)."""
    if "duration" not in extra:
        extra["duration"] = consent_lifetime.studio_months(current_user.studio_id)
    return {"duration_options": consent_lifetime.DURATION_OPTIONS, **extra}


def _duration_label(months) -> str:
    return dict(consent_lifetime.DURATION_OPTIONS)[months]


@bp.post("/durata")
@allow("admin")
def save_duration():
    """Save the studio's "Durata del consenso"; consents it ends expire at once (and are said so)."""
    try:
        months = consent_lifetime.parse_months(request.form.get("durata"))
    except consent_lifetime.InvalidDuration as invalid:
        context = _duration_context(duration_error=str(invalid))
        if not is_htmx():
            return render_grid(consent_grid.GridState(), 422, **context)
        return make_response(render_template("consents/_consent_duration.html", **context), 422)
    with models.write_transaction():
        expired = consent_lifetime.set_studio_months(current_user.studio_id, months)
        audit.record("settings_changed", option=DURATION_TITLE, value=_duration_label(months))
    message = f"{DURATION_TITLE}: {_duration_label(months).lower()}."
    if expired:
        message += (f" {italian.format_number(expired)} "
                    + ("consenso è scaduto ora." if expired == 1 else "consensi sono scaduti ora."))
    # The whole page again, not the form alone: the grid's "Scadenza" and states change with it.
    flash(message, "success")
    return redirect_to("consents.index")


@bp.get("/posta")
@allow("admin")
def mail_progress():
    """How far the latest sending or reminder round has been delivered (the polled region)."""
    if not wants_fragment(PROGRESS_ID):
        return redirect_to("consents.index")
    response = make_response(render_template(
        "consents/_mail_progress.html",
        progress=mail_rules.latest_progress(current_user.studio_id)))
    response.vary.update(("HX-Request", "HX-Target"))
    return response

"""The client's side of consent: the modal shown after login, and Area personale → Altri Dati.

Recording the decision is ``consent.py``'s job; these views only ask it and show the result.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, flash, request, session, url_for
from flask_htmx import make_response as htmx_response
from flask_login import current_user

import access_csv
import consent
import consent_lifetime
import mail
import smart_access
from listing import parse_id
from models import CONSENT_GRANTED, Client, Studio
from views import allow, client_ip, is_htmx, redirect_to, render_page_or_fragment, user_agent
from views.messages import error_response, message_response
from views.smart import log_period_args

bp = Blueprint("client_area", __name__)

# Set at each login of a client; "Annulla" (or Esc) clears it until the next login.
ASK_FOR_CONSENT = "ask_for_consent"
# Sent with the answer's response: static/app.js closes the modal when it hears it.
CLOSE_MODAL_EVENT = "consentModalClose"

ANSWERS = {"si": True, "no": False}
CHOICE_MISSING = (
    "Per confermare seleziona un'opzione: «Si, acconsento» oppure «No, non acconsento»."
)
ANSWER_SAVED = {
    True: "Grazie: hai acconsentito all'accesso del tuo Commercialista ai tuoi Servizi SMART.",
    False: "Grazie: hai scelto di non acconsentire all'accesso ai tuoi Servizi SMART.",
}
ALREADY_ANSWERED = "La tua risposta era già stata registrata: non c'è più nessuna richiesta in attesa."
FLAG_SAVED = {
    True: "Salvato: hai autorizzato il tuo Professionista all'utilizzo dei Servizi SMART.",
    False: "Salvato: hai revocato l'autorizzazione. L'amministratore non potrà accedere "
    "ai tuoi Servizi SMART.",
}
FLAG_UNCHANGED = "Nessuna modifica: la tua scelta era già registrata."
BAD_FLAG = "Valore non valido per l'autorizzazione ai Servizi SMART."
FLAG_VALUES = {"0": False, "1": True}
# One service's checkbox (issue 15): what consent.set_service_consent did -> the message.
SERVICE_SAVED = {
    "granted": "Salvato: hai autorizzato il tuo Professionista all'utilizzo di «{name}».",
    "scope": {True: "Salvato: il tuo Professionista può utilizzare anche «{name}».",
              False: "Salvato: il tuo Professionista non potrà più utilizzare «{name}»."},
    "revoked": FLAG_SAVED[False],
}
BAD_SERVICE = "Servizio SMART non valido: ricarica la pagina e riprova."


def ask_for_consent(user) -> None:
    """At login: a client with a pending request is asked again (the home shows the modal)."""
    if user.is_client:
        session[ASK_FOR_CONSENT] = True


def own_client() -> Client:
    """The current client user's company, read fresh (its consent state may just have changed)."""
    return Client.get_by_id(current_user.client_id)


def consent_modal_wanted() -> bool:
    """Tell whether the client's home shows the consent modal now (no query unless it might)."""
    if not session.get(ASK_FOR_CONSENT):
        return False
    # Pending, or a renewal asked of a consent expired or about to (issue 15).
    return consent.awaits_answer(current_user.client_id)


@bp.app_context_processor
def consent_wording():
    # The modal's and Altri Dati's wording: the constants of consent.py, not the module.
    wording = {name: getattr(consent, name) for name in WORDING_NAMES}
    return {"consent_wording": SimpleNamespace(**wording)}


WORDING_NAMES = ("MODAL_TITLE", "MODAL_INTRO", "MODAL_PROMPT", "MODAL_YES", "MODAL_NO",
                 "MODAL_REMINDER", "ALTRI_DATI_TITLE", "ALTRI_DATI_FLAG", "ALTRI_DATI_NOTE")


def client_home() -> dict:
    """What the client's home shows: its company, its studio, whether the consent modal opens."""
    client = own_client()
    modal = consent_modal_wanted()
    return {"client": client, "studio": Studio.get_by_id(current_user.studio_id),
            "consent_modal": modal,
            "renewal_notice": consent.renewal_notice(client) if modal else None}


def _consent_form(status=200, **context):
    # Without htmx the answer comes back as the client's home, its modal still open.
    return render_page_or_fragment(
        "home/client.html", "client_area/_consent_form.html", "consent-form",
        status=status, **client_home(), **context,
    )


def _close_modal_with(message: str, level: str):
    """Close the modal in place and say why in the page's messages (a redirect without htmx)."""
    if not is_htmx():
        flash(message, level)
        return redirect_to("home.index")
    return message_response(message, level, trigger=CLOSE_MODAL_EVENT)


@bp.post("/consenso/risposta")
@allow("client")
def answer_consent():
    """The modal's "Conferma": record the chosen answer, or ask for a choice."""
    choice = request.form.get("risposta", "")
    if choice not in ANSWERS:
        return _consent_form(status=422, choice_error=CHOICE_MISSING)
    accept = ANSWERS[choice]
    recorded = consent.answer_request(
        own_client(), current_user, accept, ip=client_ip(), user_agent=user_agent()
    )
    session.pop(ASK_FOR_CONSENT, None)
    if not recorded:
        return _close_modal_with(ALREADY_ANSWERED, "info")
    return _close_modal_with(ANSWER_SAVED[accept], "success")


@bp.post("/consenso/annulla")
@allow("client")
def dismiss_consent():
    """The modal's "Annulla" (and Esc): hide it until the next login, record nothing."""
    session[ASK_FOR_CONSENT] = False
    if not is_htmx():
        return redirect_to("home.index")
    return htmx_response("", 200, trigger=CLOSE_MODAL_EVENT)


def _other_data(status=200, **context):
    client = own_client()
    validity = consent.validity(client)
    in_force = client.consent_answer == CONSENT_GRANTED and not validity.expired
    period = log_period_args()
    return render_page_or_fragment(
        "client_area/other_data.html", "client_area/_other_data_form.html", "altri-dati-form",
        status=status, client=client, authorized=in_force, validity=validity,
        scope=consent.scope_of(client.id), renewal_notice=consent.renewal_notice(client),
        smart_accesses=smart_access.client_access_log(client.id, first=period["first"],
                                                      last=period["last"]),
        period=period,
        accesses_csv_url=url_for("client_area.smart_accesses_csv",
                                 **{k: period[k] for k in ("dal", "al") if period[k]}),
        **context,
    )

@bp.get("/area-personale/altri-dati/accessi-smart.csv")
@allow("client")
def smart_accesses_csv():
    """The accesses to the client's SMART services actually opened, in the chosen period, as CSV."""
    period = log_period_args()
    events = smart_access.client_access_log(own_client().id, limit=None, first=period["first"],
                                            last=period["last"])
    return access_csv.download("accessi-miei-servizi-smart", access_csv.client_log_csv(events))


def _ticked_services(form) -> tuple[set, set] | None:
    """The services shown and those ticked, as the form says; None if it says nonsense."""
    shown = [parse_id(value) for value in form.getlist("servizi_mostrati")]
    ticked = [parse_id(value) for value in form.getlist("servizio")]
    if None in shown or None in ticked or not set(ticked) <= set(shown):
        return None
    return set(shown), set(ticked)


def _save_service(client: Client, shown: set, ticked: set):
    """Apply the service checkbox that differs from what is recorded: (message, changed, its id).

    The form holds the whole state; a change event saves at once, so one box differs
    (a post without script may change several: each is applied in turn).
    """
    message, changed, control = FLAG_UNCHANGED, False, None
    for item in consent.scope_of(client.id):
        wanted = item.service_id in ticked
        if item.service_id not in shown or wanted == (item.consented and _in_force(client)):
            continue
        outcome = consent.set_service_consent(client, current_user, item.service_id, wanted,
                                              ip=client_ip(), user_agent=user_agent())
        if outcome is None:
            continue
        changed, control = True, item.service_id
        saved = SERVICE_SAVED[outcome]
        message = (saved[wanted] if isinstance(saved, dict) else saved).format(name=item.name)
        if outcome == "revoked":
            mail.wake()  # the revocation committed: the administrator's notice goes now
        client = own_client()
    return message, changed, control


def _in_force(client: Client) -> bool:
    return client.consent_answer == CONSENT_GRANTED and not consent_lifetime.is_expired(
        client.consent_answered_at, consent_lifetime.studio_months(client.studio_id))


@bp.route("/area-personale/altri-dati", methods=["GET", "POST"])
@allow("client")
def other_data():
    """Altri Dati: the "Servizi SMART" flag and one checkbox per active service.

    Ticking the flag grants every active service, unticking it revokes; a service's
    checkbox widens or narrows the consent, and unticking the last one revokes it.
    The form sends its whole state: the flag changed is the flag's answer, otherwise
    the service box that differs from what is recorded.
    """
    if request.method == "GET":
        return _other_data()
    # The form always sends the field: a hidden "0", then the checkbox's "1" if ticked.
    # A post without it is no answer (a stray or forged request), never a revocation.
    values = request.form.getlist("autorizzo")
    if not values or any(value not in FLAG_VALUES for value in values):
        return error_response(400, BAD_FLAG)
    authorized = FLAG_VALUES[values[-1]]
    client = own_client()
    if "servizi_mostrati" in request.form and authorized == _in_force(client):
        services = _ticked_services(request.form)
        if services is None:
            return error_response(400, BAD_SERVICE)
        message, changed, control = _save_service(client, *services)
        return _other_data(message=message, level="success" if changed else "info",
                           changed_control=control)
    changed = consent.set_authorization(
        client, current_user, authorized, ip=client_ip(), user_agent=user_agent()
    )
    if changed and not authorized:
        mail.wake()  # the revocation committed: the administrator's notice goes now
    return _other_data(message=FLAG_SAVED[authorized] if changed else FLAG_UNCHANGED,
                       level="success" if changed else "info", changed_control="autorizzo")

"""Servizi SMART: the list of reachable clients, the hand-off, the access log.

Who may reach what is decided by ``smart_access`` alone; these views only ask it.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_htmx import make_response as htmx_response
from flask_login import current_user

import access_csv
import listing
import smart_access
import smart_handoff
import smart_list
import throttle
from models import SmartService, write_transaction
from views import (
    CONTENT_SECURITY_POLICY,
    allow,
    client_ip,
    is_htmx,
    public,
    render_page_or_fragment,
)
from views.messages import error_response

bp = Blueprint("smart", __name__)

CODE_MAX_LENGTH = 40  # Client.code's length: a longer cursor is cut, never an error


def clients_context() -> dict:
    """The page of the user's clients asked for by the query string, each reachable or with the reason."""
    search = listing.search_text(request.args.get("q"))
    state = request.args.get("stato", "tutti")
    state = smart_list.RENAMED_STATES.get(state, state)
    state = state if state in smart_list.STATES else "tutti"
    size = listing.page_size(request.args.get("per_pagina"))
    after = request.args.get("dopo") or None
    before = request.args.get("prima") or None
    refusal = smart_access.user_refusal(current_user)
    page = None
    if refusal.allowed:
        page = smart_list.load_page(current_user, search, state, size,
                                    after=after and after[:CODE_MAX_LENGTH],
                                    before=before and before[:CODE_MAX_LENGTH])
    args = {"q": search, "stato": "" if state == "tutti" else state,
            "per_pagina": "" if size == listing.DEFAULT_PAGE_SIZE else size}
    return {
        "search": search,
        "state": state,
        "states": smart_list.STATES,
        "size": size,
        "listing": page,
        "page_sizes": listing.PAGE_SIZES,
        "refusal": refusal,
        "page_url": lambda **cursor: url_keeping_args("smart.index", args, **cursor),
    }


def url_keeping_args(endpoint: str, args: dict, **changes):
    """The URL of ``endpoint`` with the list's query string, some values changed; empty ones left out."""
    values = {**args, **changes}
    return url_for(endpoint, **{k: v for k, v in values.items() if v not in (None, "")})


def _allow_forms_to_services(response, origins=None):
    """Let the page's forms post to the SMART services (all configured ones, or ``origins``)."""
    origins = smart_handoff.launch_origins() if origins is None else origins
    if origins:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(origins)
        )
    return response


@bp.get("/servizi-smart")
@allow("admin", "operator")
def index():
    return _allow_forms_to_services(render_page_or_fragment(
        "smart/index.html", "smart/_clients.html", "smart-clients", **clients_context()
    ))


@bp.post("/servizi-smart/<int:client_id>/<service_code>/accedi")
@allow("admin", "operator")
def open_service(client_id, service_code):
    """Re-check the rule, record the attempt, and hand a fresh token over to the service.

    The token leaves in the body of a form posted to the service's launch URL, never
    in a URL (where access logs, the browser's history and a Referer would keep it).
    """
    service = SmartService.get_or_none(SmartService.code == service_code[:40])
    service_id = service.id if service else 0
    target = smart_handoff.launch_url(service.code) if service else None
    if service is not None and target is None:
        return error_response(503, f"Il servizio «{service.name}» non è ancora configurato: "
                                   "avvisa l'amministratore del portale.")
    with write_transaction():
        decision = smart_access.check(current_user, client_id, service_id)
        token = (smart_handoff.issue_token(current_user, client_id, service.id)
                 if decision.allowed else None)
        smart_access.record_access(current_user, client_id, service and service.id, decision,
                                   ip=client_ip(),
                                   token_ref=smart_handoff.token_ref(token) if token else None)
    if not token:
        return error_response(403, f"Accesso negato. {decision.message}",
                              trigger="smart-access-refused")
    context = {"service": service, "launch_url": target, "token": token}
    if is_htmx():
        # Into the page's messages, where static/app.js submits it (the page's CSP
        # already lets its forms post to every configured service).
        return htmx_response(render_template("smart/_handoff.html", **context), 200,
                             retarget="#messages", reswap="innerHTML")
    origin = smart_handoff.origin_of(target)
    return _allow_forms_to_services(
        make_response(render_template("smart/handoff.html", **context)),
        [origin] if origin else [])


@bp.post("/servizi-smart/introspezione")
@public
@throttle.limit_introspection
def introspect():
    """Tell a SMART service whether a token is active and for whom (HTTP Basic: code, secret)."""
    auth = request.authorization
    service = None
    if auth is not None and auth.type == "basic":
        service = smart_handoff.authenticate_service(auth.username or "", auth.password or "")
    if service is None:
        response = jsonify({"error": "invalid_client"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="introspezione-servizi-smart"'
        return response
    return jsonify(smart_handoff.introspect(request.form.get("token", ""), service))


@public
def simulated_service(service_code):
    """Stand in for the external SMART product: validate the posted token by introspection, show whom it serves.

    Registered in development only (``_add_stand_in``); it takes the token as a real
    service would, from the hand-off's POST body (a GET carries none: refused).
    """
    service = SmartService.get_or_none(SmartService.code == service_code[:40])
    if service is None:
        return make_response(render_template(
            "error.html", status=404, title="Servizio inesistente",
            message="Il servizio SMART richiesto non esiste."), 404)
    answer = smart_handoff.introspect(request.form.get("token", ""), service)
    response = make_response(
        render_template("smart/simulated.html", service=service, answer=answer),
        200 if answer["active"] else 401,
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.record
def _add_stand_in(state):
    """The stand-in service page exists in development only."""
    if state.app.config["DEVELOPMENT"]:
        state.add_url_rule("/servizio-smart-simulato/<service_code>", view_func=simulated_service,
                           methods=["GET", "POST"])


def log_period_args() -> dict:
    """The date range of a log's query string ("dal", "al": days), and what is wrong with it."""
    raw = {name: (request.args.get(name) or "").strip()[:10] for name in ("dal", "al")}
    days = {name: smart_access.parse_day(value) for name, value in raw.items()}
    problem = None
    if any(value and days[name] is None for name, value in raw.items()):
        years = smart_access.LOG_YEARS
        problem = (f"Data non valida: scrivi un giorno dal 01/01/{years.start} al 31/12/{years.stop - 1}, "
                   "come gg/mm/aaaa. Il filtro per data non è applicato.")
        days = {"dal": None, "al": None}
    elif days["dal"] and days["al"] and days["dal"] > days["al"]:
        problem = "La data «dal» viene dopo la data «al»: il filtro per data non è applicato."
        days = {"dal": None, "al": None}
    return {"dal": raw["dal"] if days["dal"] else "", "al": raw["al"] if days["al"] else "",
            "first": days["dal"], "last": days["al"], "period_problem": problem}


def _access_log_args() -> dict:
    outcome = request.args.get("esito", "tutti")
    return {
        "codice": listing.search_text(request.args.get("codice")),
        "utente": listing.search_text(request.args.get("utente")),
        "esito": outcome if outcome in smart_access.ACCESS_OUTCOMES else "tutti",
        "per_pagina": listing.page_size(request.args.get("per_pagina")),
    }


def _access_log_query(args: dict, period: dict):
    return smart_access.access_log(
        current_user.studio_id, args["codice"], args["utente"], args["esito"],
        period["first"], period["last"],
    )


def access_log_context() -> dict:
    """The page of the studio's access log asked for by the query string."""
    args, period = _access_log_args(), log_period_args()
    events = _access_log_query(args, period)
    paging = listing.make_page(
        events.order_by().count(), listing.page_number(request.args.get("pagina")),
        args["per_pagina"],
    )
    link_args = {**args, "dal": period["dal"], "al": period["al"]}
    return {
        "args": link_args,
        "period_problem": period["period_problem"],
        "paging": paging,
        "rows": list(smart_access.log_rows(events.limit(paging.size).offset(paging.offset))),
        "page_sizes": listing.PAGE_SIZES,
        "outcomes": [("tutti", "Tutti"), *smart_access.OUTCOME_LABELS.items()],
        "page_url": lambda number: url_keeping_args("smart.access_log", link_args, pagina=number),
        "csv_url": url_keeping_args("smart.access_log_csv", {**link_args, "per_pagina": None}),
    }


@bp.get("/area-personale/accessi-smart")
@allow("admin")
def access_log():
    g.menu_endpoint = "smart.access_log"
    return render_page_or_fragment(
        "smart/access_log.html", "smart/_access_log.html", "access-log", **access_log_context()
    )


@bp.get("/area-personale/accessi-smart.csv")
@allow("admin")
def access_log_csv():
    """The access log with the page's filters, every row, as CSV for Excel."""
    query = _access_log_query(_access_log_args(), log_period_args())
    return access_csv.download("accessi-servizi-smart", access_csv.studio_log_csv(query))

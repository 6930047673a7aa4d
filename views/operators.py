"""Area personale → Operatori di studio (admin): operators, their state, SMART switch and clients.

Every action answers in place for htmx (the region it changed, with a message)
and with a redirect back to the page otherwise, so each page also works without JS.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for
from flask_login import current_user

import account_links
import accounts
import audit
import listing
import mail
import operator_clients
from italian import plural
from models import User, write_transaction
from views import allow, is_htmx, not_found, redirect_to_url, render_page_or_fragment

bp = Blueprint("operators", __name__, url_prefix="/area-personale/operatori")


def _operator_or_404(operator_id):
    operator = operator_clients.get_operator(current_user.studio_id, operator_id)
    if operator is None:
        not_found(User, operator_id)
    return operator


def _operators_region(status=200, message=None, level="success", errors=None, form=None,
                      editing=None):
    """The operators' region; ``editing``: the operator whose details form stays open, with
    the values typed and what is wrong with them ({"id", "display_name", "email", "errors"})."""
    return render_page_or_fragment(
        "operators/index.html", "operators/_operators.html", "operators", status=status,
        operators=list(operator_clients.operators_of(current_user.studio_id)),
        message=message, level=level, errors=errors or {},
        form=form or operator_clients.NewOperator(), editing=editing or {},
    )


def _done(message: str, region, endpoint: str, **values):
    """Answer a successful change: the region in place for htmx, else back to the page."""
    if is_htmx():
        return region(message=message)
    flash(message, "success")
    return redirect_to_url(url_for(endpoint, **values))


@bp.get("")
@allow("admin")
def index():
    return _operators_region()


@bp.post("")
@allow("admin")
def create():
    form = operator_clients.NewOperator(
        username=request.form.get("username", "")[:200],
        display_name=request.form.get("display_name", "")[:400],
        email=request.form.get("email", "")[:1000],
    )
    errors = operator_clients.operator_problems(form.username, form.display_name, form.email)
    operator = None
    if not errors:
        with write_transaction():
            operator = operator_clients.create_operator(
                current_user.studio_id, form.username, form.display_name, email=form.email
            )
            if operator is not None:
                account_links.invite(operator)
                audit.record("operator_created", operator=operator.username)
                audit.record("invitation_sent", user=operator.username, address=operator.email)
        if operator is None:
            errors["username"] = "Questo nome utente è già in uso: scegline un altro."
    if errors:
        form.email = form.email[:254]
        return _operators_region(
            status=422, errors=errors, form=form, level="error",
            message="L'operatore non è stato creato: correggi i campi indicati.",
        )
    mail.wake()
    return _done(
        f"Operatore {operator.username} creato: gli è stato inviato a {operator.email} il link "
        "per scegliere la password (valido 7 giorni). Scegli ora i clienti che gestisce.",
        _operators_region, "operators.index",
    )


@bp.post("/<int:operator_id>/dati")
@allow("admin")
def change_details(operator_id):
    """Rename the operator and change his e-mail; each change goes to the Registro attività."""
    operator = _operator_or_404(operator_id)
    display_name = request.form.get("display_name", "")[:400]
    email = request.form.get("email", "")[:1000]
    errors = operator_clients.details_problems(display_name, email)
    if errors:
        return _operators_region(
            status=422, level="error",
            message=f"I dati di {operator.username} non sono stati cambiati: correggi i campi indicati.",
            editing={"id": operator.id, "display_name": display_name[:200], "email": email[:254],
                     "errors": errors})
    said = []
    with write_transaction():
        changes = operator_clients.change_details(operator, display_name, email)
        if "display_name" in changes:
            old, new = changes["display_name"]
            audit.record("operator_renamed", operator=operator.username, old=old, new=new)
            said.append(f"nome «{new}»")
        if "email" in changes:
            old, new = changes["email"]
            audit.record("operator_email_changed", operator=operator.username, old=old, new=new)
            said.append(f"e-mail {new}")
    message = (f"Dati di {operator.username} salvati: {', '.join(said)}." if said else
               f"Nessun cambiamento per {operator.username}.")
    return _done(message, _operators_region, "operators.index")


@bp.post("/<int:operator_id>/invito")
@allow("admin")
def invite(operator_id):
    """Send the operator the link to set his password: the invitation while he has none, else
    a link to choose a new one (the "Password dimenticata?" link, valid an hour)."""
    operator = _operator_or_404(operator_id)
    if not operator.active or not operator.email:
        return _operators_region(
            status=422, level="error",
            message=(f"Operatore {operator.username} disabilitato: riabilitalo prima di inviargli "
                     "il link." if not operator.active else
                     f"L'operatore {operator.username} non ha un indirizzo e-mail."))
    if not accounts.has_usable_password(operator):
        with write_transaction():
            account_links.invite(operator)
            audit.record("invitation_sent", user=operator.username, address=operator.email)
        message = (f"Link per la password inviato a {operator.username} ({operator.email}), "
                   "valido 7 giorni.")
    else:
        with write_transaction():
            queued = account_links.send_reset(operator)
            if queued is not None:
                audit.record("password_link_sent", user=operator.username, address=operator.email)
        if queued is None:
            return _operators_region(
                status=429, level="error",
                message=(f"A {operator.username} sono già stati inviati "
                         f"{account_links.RESETS_PER_ACCOUNT_PER_HOUR} link nell'ultima ora: "
                         "sono ancora validi, attendi prima di inviarne un altro."))
        message = (f"Link per scegliere una nuova password inviato a {operator.username} "
                   f"({operator.email}), valido un'ora. La password attuale resta valida "
                   "finché non ne sceglie una nuova.")
    mail.wake()
    return _done(message, _operators_region, "operators.index")


def _flag(name: str) -> bool:
    value = request.form.get(name)
    if value not in ("0", "1"):
        abort(400)
    return value == "1"


@bp.post("/<int:operator_id>/stato")
@allow("admin")
def set_state(operator_id):
    operator = _operator_or_404(operator_id)
    active = _flag("attivo")
    with write_transaction():
        operator_clients.set_active(operator, active)
        audit.record("operator_enabled" if active else "operator_disabled",
                     operator=operator.username)
    message = (f"Operatore {operator.username} riabilitato." if active else
               f"Operatore {operator.username} disabilitato: la sua sessione è stata chiusa.")
    return _done(message, _operators_region, "operators.index")


@bp.post("/<int:operator_id>/servizi-smart")
@allow("admin")
def set_smart(operator_id):
    operator = _operator_or_404(operator_id)
    on = _flag("attivo")
    with write_transaction():
        operator_clients.set_smart_switch(operator, on)
        audit.record("operator_rights_changed", operator=operator.username, smart_access=on)
    message = (f"Accesso ai Servizi SMART attivato per {operator.username}." if on else
               f"Accesso ai Servizi SMART disattivato per {operator.username}.")
    return _done(message, _operators_region, "operators.index")


# --- the clients an operator manages ------------------------------------------------


def _list_args():
    shown = request.values.get("mostra", "tutti")
    return {
        "q": listing.search_text(request.values.get("q")),
        "mostra": shown if shown in operator_clients.MANAGED_FILTERS else "tutti",
        "per_pagina": listing.page_size(request.values.get("per_pagina")),
        "pagina": listing.page_number(request.values.get("pagina")),
    }


def _clients_region(operator, status=200, message=None, level="success"):
    g.menu_endpoint = "operators.index"
    args = _list_args()
    matching = operator_clients.clients_for(operator, args["q"], args["mostra"])
    paging = listing.make_page(matching.order_by().count(), args["pagina"], args["per_pagina"])
    rows = list(matching.limit(paging.size).offset(paging.offset))

    def page_url(number):
        values = {**args, "pagina": number}
        return url_for("operators.clients", operator_id=operator.id,
                       **{k: v for k, v in values.items() if v not in ("", None)})

    return render_page_or_fragment(
        "operators/clients.html", "operators/_clients.html", "managed-clients", status=status,
        operator=operator, rows=rows, paging=paging, args=args, page_url=page_url,
        page_sizes=listing.PAGE_SIZES, message=message, level=level,
        filters=[("tutti", "Tutti"), ("gestiti", "Gestiti"), ("non_gestiti", "Non gestiti")],
    )


@bp.get("/<int:operator_id>/clienti")
@allow("admin")
def clients(operator_id):
    return _clients_region(_operator_or_404(operator_id))


def _back_to_clients(operator, message):
    if is_htmx():
        return _clients_region(operator, message=message)
    flash(message, "success")
    args = {k: v for k, v in _list_args().items() if v not in ("", None)}
    return redirect_to_url(url_for("operators.clients", operator_id=operator.id, **args))


@bp.post("/<int:operator_id>/clienti")
@allow("admin")
def save_clients(operator_id):
    operator = _operator_or_404(operator_id)
    with write_transaction():
        operator_clients.save_page(
            operator, request.form.getlist("visibili"), request.form.getlist("gestiti")
        )
        audit.record("operator_clients_changed", operator=operator.username,
                     managed_on_page=len(request.form.getlist("gestiti")))
    return _back_to_clients(operator, "Clienti gestiti salvati.")


@bp.post("/<int:operator_id>/clienti/tutti")
@allow("admin")
def manage_all(operator_id):
    operator = _operator_or_404(operator_id)
    action = request.form.get("azione")
    if action not in ("aggiungi", "rimuovi"):
        abort(400)
    args = _list_args()
    with write_transaction():
        changed = operator_clients.manage_all(
            operator, args["q"], args["mostra"], action == "aggiungi")
        audit.record("operator_clients_changed", operator=operator.username,
                     action=action, clients=changed, search=args["q"], shown=args["mostra"])
    message = (f"{plural(changed, 'cliente aggiunto', 'clienti aggiunti')} a quelli gestiti "
               f"da {operator.username}." if action == "aggiungi" else
               f"{plural(changed, 'cliente tolto', 'clienti tolti')} da quelli gestiti "
               f"da {operator.username}.")
    return _back_to_clients(operator, message)

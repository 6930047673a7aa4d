"""Area personale → Anagrafica clienti (admin): the studio's clients, a client's page, the export.

The list is searched and paged through the query string; the client's page answers
each change in place for htmx (its region, with a message) and with a redirect back
to the page otherwise, so both work without JavaScript.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, flash, g, request, send_file, url_for
from flask_login import current_user

import audit
import client_export
import client_register
import italian
import listing
import mail
import models
from models import Client, Studio, utcnow
from views import allow, get_in_studio_or_404, is_htmx, redirect_to_url, render_page_or_fragment

bp = Blueprint("clients", __name__, url_prefix="/area-personale/clienti")

IMPORT_ENDPOINT = "clients_import.upload"  # helper D1's import: linked once it exists


def _list_args() -> dict:
    return {
        "q": listing.search_text(request.args.get("q")),
        "per_pagina": listing.page_size(request.args.get("per_pagina")),
        "pagina": listing.page_number(request.args.get("pagina")),
    }


def _without_defaults(args: dict) -> dict:
    return {key: value for key, value in args.items() if value not in ("", None)}


@bp.get("")
@allow("admin")
def index():
    args = _list_args()
    matching = Client.select().where(
        client_register.search_condition(current_user.studio_id, args["q"]))
    paging = listing.make_page(matching.count(), args["pagina"], args["per_pagina"])
    window = listing.window(paging)
    clients = list(matching.order_by(*listing.window_ordering(client_register.ORDERING,
                                                              window.from_end))
                   .limit(window.limit).offset(window.offset))
    if window.from_end:
        clients.reverse()

    def page_url(number):
        return url_for("clients.index", **_without_defaults({**args, "pagina": number}))

    export_args = _without_defaults({"q": args["q"]})
    return render_page_or_fragment(
        "clients/index.html", "clients/_list.html", "clients", args=args, paging=paging,
        rows=client_register.rows_of(clients), page_url=page_url,
        page_sizes=listing.PAGE_SIZES, export_args=export_args,
        import_url=(url_for(IMPORT_ENDPOINT) if IMPORT_ENDPOINT in current_app.view_functions
                    else None),
    )


# --- a client's page ---------------------------------------------------------------------


def _client_region(client: Client, status=200, message=None, level="success", errors=None,
                   typed=None, near="top", confirm_deactivate=False):
    """The client's region; ``near`` places the message by the button that caused it
    ("top", "state" or "invite"), so the user scrolled down sees it where he clicked."""
    g.menu_endpoint = "clients.index"
    row = client_register.rows_of([client])[0]
    if typed is None:
        current = row.operators
        typed = client_register.FormState(
            email=client.email or "",
            service_ids=client_register.service_ids_of(client),
            operator=(client_register.KEEP_OPERATORS if len(current) > 1
                      else str(current[0].id) if current else ""),
        )
    return render_page_or_fragment(
        "clients/client.html", "clients/_client.html", "client-record", status=status,
        client=client, row=row, form=typed, errors=errors or {}, message=message, level=level,
        services=client_register.catalogue(),
        operators=client_register.studio_operators(current_user.studio_id),
        users=client_register.client_users(client),
        keep_operators=client_register.KEEP_OPERATORS, near=near,
        confirm_deactivate=confirm_deactivate,
    )


def _done(client: Client, message: str, near: str = "top"):
    if is_htmx():
        return _client_region(client, message=message, near=near)
    flash(message, "success")
    return redirect_to_url(url_for("clients.show", client_id=client.id))


@bp.get("/<int:client_id>")
@allow("admin")
def show(client_id):
    return _client_region(get_in_studio_or_404(Client, client_id))


@bp.post("/<int:client_id>")
@allow("admin")
def update(client_id):
    client = get_in_studio_or_404(Client, client_id)
    current = client_register.operators_of([client.id])[client.id]
    edit, errors, typed = client_register.read_edit(client, request.form, current)
    if errors:
        return _client_region(client, status=422, errors=errors, typed=typed, level="error",
                              message="Nessuna modifica salvata: correggi i campi indicati.")
    changes = client_register.apply_edit(client, edit, current_user)
    client = Client.get_by_id(client.id)
    if not changes:
        return _done(client, "Nessuna modifica da salvare.")
    return _done(client, "Modifiche salvate: " + ", ".join(c.label for c in changes) + ".")


@bp.post("/<int:client_id>/stato")
@allow("admin")
def set_state(client_id):
    client = get_in_studio_or_404(Client, client_id)
    value = request.form.get("attivo")
    if value not in ("0", "1"):
        abort(400)
    active = value == "1"
    if not active and client.active and request.form.get("conferma") != "1":
        return _client_region(client, confirm_deactivate=True)  # nothing changes before "Sì"
    client_register.set_active(client, active, current_user)
    client = Client.get_by_id(client.id)
    if active:
        message = (f"Cliente {client.code} riattivato. Attiva di nuovo i suoi Servizi SMART, "
                   "se ne ha.")
    else:
        message = (f"Cliente {client.code} disattivato: non può più accedere al portale, non "
                   "riceve richieste di consenso e nessuno può aprire i suoi Servizi SMART.")
    return _done(client, message, near="state")


@bp.post("/<int:client_id>/invito")
@allow("admin")
def invite(client_id):
    """Send (again) the client's user the link to set his password."""
    client = get_in_studio_or_404(Client, client_id)
    try:
        invited = client_register.invite(client)
    except client_register.CannotInvite as problem:
        return _client_region(client, status=422, level="error", message=str(problem),
                              near="invite")
    mail.wake()
    names = ", ".join(f"{entry.user.username} ({entry.address})" for entry in invited)
    return _done(client, f"Link per la password inviato a {names}, valido 7 giorni.", near="invite")


# --- export ------------------------------------------------------------------------------


def _file_name(extension: str) -> str:
    studio = Studio.get_by_id(current_user.studio_id)
    day = italian.to_rome(utcnow()).strftime("%Y-%m-%d")
    return f"anagrafica-clienti-{re.sub(r'[^A-Za-z0-9_-]', '', studio.code)}-{day}.{extension}"


def _audit_export(file_format: str, search: str) -> None:
    with models.write_transaction():
        audit.record("clients_exported", format=file_format, search=search)


@bp.get("/esporta.csv")
@allow("admin")
def export_csv():
    """The studio's clients (those of the search) as CSV for Excel, streamed as they are read."""
    search = listing.search_text(request.args.get("q"))
    _audit_export("CSV", search)
    return Response(
        _on_own_connection(client_export.csv_chunks(current_user.studio_id, search)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_file_name("csv")}"'},
    )


@bp.get("/esporta.xlsx")
@allow("admin")
def export_xlsx():
    """The studio's clients (those of the search) as an Excel workbook."""
    search = listing.search_text(request.args.get("q"))
    _audit_export("XLSX", search)
    output = client_export.write_xlsx(current_user.studio_id, search)
    return send_file(
        output, as_attachment=True, download_name=_file_name("xlsx"),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _on_own_connection(pieces):
    """Stream ``pieces`` on a database connection of their own (the request's is returned
    before the body is sent); a body never read opens nothing."""
    opened = models.db.connect(reuse_if_open=True)
    try:
        yield from pieces
    finally:
        if opened and not models.db.is_closed():
            models.db.close()

"""Registro attività (admin): the studio's audit events, newest first, paged and filtered by kind.

The blueprint keeps the name ``audit`` (its endpoints are ``audit.index``); the module is
named for the page, so that ``audit`` alone is the domain module that writes the log.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for
from flask_login import current_user

import audit
import listing
from models import AuditEvent
from views import allow

bp = Blueprint("audit", __name__, url_prefix="/area-personale")

PAGE_SIZE = 50


@bp.get("/registro-attivita")
@allow("admin")
def index():
    kind = request.args.get("tipo", "")
    if kind not in audit.KINDS:
        kind = ""  # unknown filter: show everything
    scope = AuditEvent.studio == current_user.studio_id
    if kind:
        scope &= AuditEvent.kind == kind
    total = AuditEvent.select().where(scope).count()
    page = listing.make_page(total, listing.page_number(request.args.get("pagina")), PAGE_SIZE)
    events = list(
        audit.with_repeats(AuditEvent.select().where(scope)).order_by(AuditEvent.id.desc())
        .limit(page.size).offset(page.offset)
    )

    def page_url(number):
        return url_for("audit.index", tipo=kind or None, pagina=number)

    g.menu_endpoint = "audit.index"
    return render_template(
        "audit/index.html", events=events, page=page, page_url=page_url, kind=kind,
        kinds=audit.KINDS, label=audit.label, describe=audit.describe,
    )

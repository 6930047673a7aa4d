"""Servizi SMART: the tile, the list of reachable clients, the hand-off, the access log.

Who may reach what is decided by ``smart_access`` alone; these views only ask it.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

import listing
import smart_access
from views import allow, render_page_or_fragment

bp = Blueprint("smart", __name__)


@bp.app_context_processor
def smart_context():
    return {"smart_tile": smart_tile}


def smart_tile() -> dict | None:
    """The current user's "Servizi SMART" tile (count of reachable clients), or None without access."""
    if not current_user.is_authenticated or current_user.is_client:
        return None
    if not smart_access.has_smart_access(current_user):
        return None
    return {"count": smart_access.count_reachable(current_user), "url": url_for("smart.index")}


def clients_context() -> dict:
    """The page of reachable clients asked for by the query string, with their services."""
    search = listing.search_text(request.args.get("q"))
    size = listing.page_size(request.args.get("per_pagina"))
    reachable = smart_access.reachable_clients(current_user, search)
    page = listing.make_page(
        reachable.order_by().count(), listing.page_number(request.args.get("pagina")), size
    )
    clients = list(reachable.limit(page.size).offset(page.offset))
    services = smart_access.services_of(client.id for client in clients)
    return {
        "search": search,
        "paging": page,
        "page_sizes": listing.PAGE_SIZES,
        "rows": [(client, services[client.id]) for client in clients],
        "refusal": smart_access.user_refusal(current_user),
        "page_url": lambda number: url_keeping_args(
            "smart.index", {"q": search, "per_pagina": size}, pagina=number
        ),
    }


def url_keeping_args(endpoint: str, args: dict, **changes):
    """The URL of ``endpoint`` with the list's query string, some values changed; empty ones left out."""
    values = {**args, **changes}
    return url_for(endpoint, **{k: v for k, v in values.items() if v not in (None, "")})


@bp.get("/servizi-smart")
@allow("admin", "operator")
def index():
    return render_page_or_fragment(
        "smart/index.html", "smart/_clients.html", "smart-clients", **clients_context()
    )

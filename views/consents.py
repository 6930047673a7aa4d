"""Gestione invio richieste di consenso (admin, SPEC 3.3): the grid, the selection, the sending,
a client's consent history and the studio's consent register.

One URL per resource: the grid page answers a full GET with the page and an htmx
request aimed at ``div#consent-grid`` with the grid alone; every action answers
with the grid in place (htmx) or a redirect back to it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request, url_for
from flask_login import current_user

import consent_grid
from views import allow, render_page_or_fragment, wants_fragment

bp = Blueprint("consents", __name__, url_prefix="/area-personale/consensi")

GRID_ID = "consent-grid"
INTRO = (
    "Con questa funzione puoi domandare ai tuoi clienti il consenso per accedere ai loro "
    "Servizi SMART. Potrai inviare la richiesta a tutti i clienti oppure solo ad alcuni. La "
    "procedura estrarrà solo i clienti per i quali è attivo almeno un Servizio SMART (Fattura "
    "SMART, SMART Hub, Corrispettivi SMART, ecc.)."
)
CORRECTED_MESSAGE = (
    "Alcuni valori dell'indirizzo non erano validi e sono stati sostituiti con quelli predefiniti."
)


@bp.before_request
def mark_side_menu():
    # The page sits below "Configurazioni Varie" in the side menu.
    g.menu_endpoint = "settings.options"


def back_url() -> str:
    """Where the page's back arrow leads: Configurazioni varie (the link to this page is there)."""
    if "settings.options" in current_app.view_functions:
        return url_for("settings.options")
    return url_for("account.index")


def grid_url(state: consent_grid.GridState, **changes) -> str:
    return url_for("consents.index", **state.query_args(**changes))


def render_grid(state: consent_grid.GridState, status: int = 200, message: str | None = None,
                level: str = "success", **context):
    """The grid (or the whole page) for ``state``, with an optional message."""
    page = consent_grid.load_page(current_user.studio_id, current_user.id, state)
    if message is None and state.corrected:
        message, level = CORRECTED_MESSAGE, "warning"
    response = render_page_or_fragment(
        "consents/index.html", "consents/_grid.html", GRID_ID, status=status,
        grid=page, state=page.state, grid_url=grid_url, ops=consent_grid.OPS,
        request_states=consent_grid.REQUEST_STATES, answer_states=consent_grid.ANSWER_STATES,
        columns=consent_grid.COLUMNS, page_sizes=consent_grid.PAGE_SIZES,
        message=message, level=level, intro=INTRO, back_url=back_url(), **context,
    )
    if request.method == "GET" and wants_fragment(GRID_ID):
        # The address bar shows the grid as it is (defaults left out, the page actually shown).
        response.headers["HX-Push-Url"] = grid_url(page.state)
    return response


@bp.get("")
@allow("admin")
def index():
    return render_grid(consent_grid.GridState.from_args(request.args))

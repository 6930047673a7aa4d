"""Messages for the user: into the page's ``#messages`` for htmx, else on a page of their own.

``message_response`` is the one answer that puts a message in ``#messages`` in place of
what the request would have swapped; ``error_response`` is the one way a view or an
error handler answers an error.
"""

from __future__ import annotations

from flask import current_app, make_response, render_template
from flask_htmx import make_response as htmx_response

from views import is_htmx

ERROR_MESSAGES = {
    400: ("Richiesta non valida", "La richiesta non è valida. Controlla i dati e riprova."),
    403: ("Accesso negato", "Non hai i permessi per questa pagina o per questa operazione."),
    404: ("Pagina non trovata", "La pagina o l'elemento richiesto non esiste."),
    405: ("Operazione non consentita", "Questa operazione non è consentita su questa pagina."),
    413: ("Richiesta troppo grande", "I dati inviati sono troppo grandi."),
    429: ("Troppi tentativi", "Hai fatto troppi tentativi. Attendi qualche minuto e riprova."),
    500: ("Errore interno", "Si è verificato un errore imprevisto. Riprova tra poco."),
    503: (
        "Servizio non disponibile",
        "Il servizio non è momentaneamente disponibile. Riprova tra poco.",
    ),
}


def message_response(message: str, level: str, status: int = 200, trigger: str | None = None,
                     without_user: bool = False):
    """Show ``message`` in the page's #messages, whatever the request meant to swap (htmx only)."""
    return htmx_response(
        _render("message.html", without_user, level=level, message=message), status,
        retarget="#messages", reswap="innerHTML", trigger=trigger,
    )


def error_response(status: int, message: str | None = None, trigger: str | None = None,
                   without_user: bool = False):
    """Answer an error as a full page, or as a message in #messages for htmx requests.

    ``without_user``: the answer must not need the database (where the login session
    lives), as when it is down.
    """
    title, default_message = ERROR_MESSAGES.get(status, ERROR_MESSAGES[500])
    message = message or default_message
    if is_htmx():
        return message_response(message, "error", status, trigger, without_user)
    page = _render("error.html", without_user, status=status, title=title, message=message)
    return make_response(page, status)


def _render(template: str, without_user: bool, **context) -> str:
    if not without_user:
        return render_template(template, **context)
    # Without the template context processors: Flask-Login's would load the user from
    # the database; the page's header then names no one.
    return current_app.jinja_env.get_template(template).render(show_account=False, **context)

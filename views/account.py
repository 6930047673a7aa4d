"""Area personale: its side menu, "Dati generali" and "Cambio password"."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for
from flask_login import current_user

import accounts
import audit
import throttle
from models import Studio, User, write_transaction
from views import ANY_ROLE, allow, redirect_to_url, render_page_or_fragment

bp = Blueprint("account", __name__, url_prefix="/area-personale")

# The side menu of each role, in order.
AREA_MENU = {
    "admin": [
        ("Dati generali", "account.general"),
        ("Configurazioni Varie", "settings.options"),
        ("Operatori di studio", "operators.index"),
        ("Anagrafica clienti", "clients.index"),
        ("Accessi ai Servizi SMART", "smart.access_log"),
        ("Registro attività", "audit.index"),
        ("Cambio password", "account.password"),
    ],
    "operator": [
        ("Cambio password", "account.password"),
    ],
    "client": [
        ("Cambio Password", "account.password"),
        ("Altri Dati", "client_area.other_data"),
    ],
}


def area_menu() -> list[dict]:
    """The current user's side-menu entries, with the active one marked.

    A page below an entry (the consent grid below "Configurazioni Varie", say)
    marks its entry by setting ``g.menu_endpoint``.
    """
    active = g.get("menu_endpoint") or request.endpoint
    return [
        {"label": label, "url": url_for(endpoint), "active": endpoint == active}
        for label, endpoint in AREA_MENU[current_user.role]
    ]


@bp.app_context_processor
def menu_context():
    # A helper, not data: it reads no table, and only the pages of the area call it.
    if current_user and current_user.is_authenticated:
        return {"area_menu": area_menu}
    return {}


@bp.get("")
@allow(*ANY_ROLE)
def index():
    """Open the first entry of the user's menu."""
    return redirect_to_url(area_menu()[0]["url"])


@bp.get("/dati-generali")
@allow("admin")
def general():
    studio = Studio.get_by_id(current_user.studio_id)
    counts = {
        role: User.select().where((User.studio == studio) & (User.role == role)).count()
        for role in ("operator", "client")
    }
    return render_template("account/general.html", studio=studio, counts=counts)


def _password_form(status=200, **context):
    return render_page_or_fragment(
        "account/password.html", "account/_password_form.html", "password-form",
        status=status, **context,
    )


def throttled_password_change():
    """Answer a password change past one of the limits on failed password checks (throttle.py)."""
    audit.record_repeated_safely("password_change_throttled")
    return _password_form(status=429, errors={"current_password": throttle.THROTTLED_MESSAGE})


@bp.route("/cambio-password", methods=["GET", "POST"])
@allow(*ANY_ROLE)
@throttle.limit_failed_logins  # a wrong current password is a failed login, counted as one
def password():
    if request.method == "GET":
        return _password_form()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    repeat = request.form.get("repeat_password", "")
    errors = {}
    if not current:
        errors["current_password"] = "Inserisci la password attuale."
    elif len(current) > accounts.PASSWORD_MAX_LENGTH or not accounts.check_password(
        current_user, current
    ):
        errors["current_password"] = "La password attuale non è corretta."
        throttle.password_failed()
        audit.record_safely("password_change_failed")
    problem = accounts.password_problem(new, current_user.username) if new else (
        "Inserisci la nuova password."
    )
    if problem:
        errors["new_password"] = problem
    elif new != repeat:
        errors["repeat_password"] = "Le due password non coincidono."
    elif new == current:
        errors["new_password"] = "La nuova password deve essere diversa da quella attuale."
    if errors:
        return _password_form(status=422, errors=errors)
    with write_transaction():
        accounts.change_password(current_user, new, keep_token=current_user.session_token)
        audit.record("password_changed")
    return _password_form(saved=True)


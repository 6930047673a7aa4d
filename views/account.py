"""Area personale: its side menu, "Dati generali", "Indirizzo e-mail" and "Cambio password"."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for
from flask_login import current_user

import accounts
import addresses
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
        ("Indirizzo e-mail", "account.email"),
        ("Cambio password", "account.password"),
    ],
    "operator": [
        ("Cambio password", "account.password"),
        ("Indirizzo e-mail", "account.email"),
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
    new_problems = accounts.new_password_problems(new, repeat, current_user.username)
    if new_problems:
        errors.update(new_problems)
    elif new == current:
        errors["new_password"] = "La nuova password deve essere diversa da quella attuale."
    if errors:
        return _password_form(status=422, errors=errors)
    with write_transaction():
        accounts.change_password(current_user, new, keep_token=current_user.session_token)
        audit.record("password_changed")
    return _password_form(saved=True)



def _email_form(status=200, **context):
    context.setdefault("email", current_user.email or "")
    return render_page_or_fragment(
        "account/email.html", "account/_email_form.html", "email-form",
        status=status, **context,
    )


def throttled_email_change():
    """Answer an address change past one of the limits on failed password checks (throttle.py)."""
    audit.record_repeated_safely("email_change_throttled")
    return _email_form(status=429, errors={"current_password": throttle.THROTTLED_MESSAGE},
                       email=request.form.get("email", "")[:254])


@bp.route("/indirizzo-email", methods=["GET", "POST"])
@allow("admin", "operator")  # a client's address is his client's, kept by the studio
@throttle.limit_failed_logins  # the password asked here is checked as at the login
def email():
    """Show or change the user's own address, where his account links and the studio's mail go.

    The password is asked because the address is the way to a new password.
    """
    if request.method == "GET":
        return _email_form()
    typed = request.form.get("email", "")[:1000]
    current = request.form.get("current_password", "")
    errors = {}
    try:
        address = addresses.normalize(typed)
    except addresses.BadAddress as problem:
        errors["email"] = str(problem)
    else:
        if address is None:
            errors["email"] = "Inserisci l'indirizzo e-mail."
    if not current:
        errors["current_password"] = "Inserisci la password attuale."
    elif len(current) > accounts.PASSWORD_MAX_LENGTH or not accounts.check_password(
        current_user, current
    ):
        errors["current_password"] = "La password attuale non è corretta."
        throttle.password_failed()
        audit.record_safely("email_change_failed")
    if errors:
        return _email_form(status=422, errors=errors, email=typed[:254])
    with write_transaction():
        User.update(email=address).where(User.id == current_user.id).execute()
        audit.record("email_changed", old=current_user.email, new=address)
    return _email_form(saved=True, email=address)

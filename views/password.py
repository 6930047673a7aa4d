"""Account links' pages: "Password dimenticata?" and setting a password from a link.

The request for a link answers the same whether the account exists or not, after the
same work; the link's page lets its user set a password once, then logs him in.
"""

from __future__ import annotations

import logging

from flask import Blueprint, flash, render_template, request
from flask_login import current_user, logout_user

import account_links
import accounts
import audit
import mail
import throttle
from models import User, is_sqlite, write_transaction
from views import public, redirect_to
from views.auth import log_in

bp = Blueprint("password", __name__)
log = logging.getLogger("portal.password")

RESET_ANSWER = (
    "Se l'account esiste, riceverà un'e-mail con il link per impostare una nuova password. "
    "Il link vale un'ora e si può usare una sola volta."
)
THROTTLED_MESSAGE = (
    "Troppe richieste da questo indirizzo di rete: attendi qualche minuto e riprova."
)
LINK_TITLES = {
    account_links.INVITATION: "Imposta la tua password",
    account_links.PASSWORD_RESET: "Scegli una nuova password",
}


def _forgot_page(status=200, **context):
    return render_template("auth/forgot_password.html", **context), status


def throttled_request():
    """Answer a "Password dimenticata?" request past its limit (see throttle.py)."""
    audit.record_repeated_safely("password_reset_throttled")
    return _forgot_page(status=429, error=THROTTLED_MESSAGE,
                        identifier=request.form.get("identificativo", "")[:254])


@bp.route("/password-dimenticata", methods=["GET", "POST"])
@public
@throttle.limit_reset_requests
def forgot():
    if request.method == "GET":
        return _forgot_page()
    identifier = request.form.get("identificativo", "")
    if not identifier.strip():
        return _forgot_page(status=422, identifier="",
                            error="Inserisci il nome utente o l'indirizzo e-mail.")
    # The same work whether the account exists or not: one look-up, one transaction
    # with an audit event (plus the mail when it does), one wake of the worker.
    with write_transaction():
        users = account_links.accounts_named_by(identifier[:254])
        for user in users:
            queued = account_links.send_reset(user)
            audit.record("password_reset_requested", actor=user, mail_queued=queued is not None)
        if not users:
            audit.record("password_reset_requested", username=identifier.strip()[:80],
                         reason="account inesistente")
    mail.wake()
    log.info("password reset asked: %d account(s)", len(users))
    return _forgot_page(sent=True, answer=RESET_ANSWER)


def _link_user(kind: str, token: str, lock: bool = False) -> User:
    """The link's user, or ``LinkRefused``; ``lock`` holds his row until the transaction ends."""
    user = account_links.user_of_link(kind, token)
    if lock and not is_sqlite():  # SQLite's write transaction already holds the database
        User.select().where(User.id == user.id).for_update().execute()
        user = account_links.user_of_link(kind, token)  # as it is now that nobody else writes it
    return user


def _refused(kind: str, refused: account_links.LinkRefused):
    user = refused.user
    audit.record_repeated_safely(
        "account_link_refused", studio_id=user.studio_id if user else None,
        username=user.username if user else None, link=account_links.LINK_NAMES[kind],
        reason=refused.reason)
    return render_template("auth/link_refused.html", kind=kind), 410


def _set_password_page(kind, token, user, status=200, errors=None):
    return render_template(
        "auth/set_password.html", kind=kind, token=token, user=user,
        title=LINK_TITLES[kind], errors=errors or {},
    ), status


@bp.route("/invito/<token>", methods=["GET", "POST"])
@public
def invitation(token):
    return _set_password(account_links.INVITATION, token)


@bp.route("/nuova-password/<token>", methods=["GET", "POST"])
@public
def reset(token):
    return _set_password(account_links.PASSWORD_RESET, token)


def _set_password(kind: str, token: str):
    """Show the link's form, or set the password it was sent for and log its user in."""
    try:
        user = _link_user(kind, token)
    except account_links.LinkRefused as refused:
        return _refused(kind, refused)
    if request.method == "GET":
        return _set_password_page(kind, token, user)
    errors = accounts.new_password_problems(
        request.form.get("new_password", ""), request.form.get("repeat_password", ""),
        user.username)
    if errors:
        return _set_password_page(kind, token, user, status=422, errors=errors)
    try:
        with write_transaction():
            # Checked again under the lock: of two uses of one link, only the first sets it.
            user = _link_user(kind, token, lock=True)
            accounts.change_password(user, request.form["new_password"], keep_token=None)
            audit.record("password_set_by_link", actor=user, link=account_links.LINK_NAMES[kind])
    except account_links.LinkRefused as refused:
        return _refused(kind, refused)
    if current_user.is_authenticated:  # someone else's session in this browser: it ends here
        accounts.end_session(current_user.session_token)
        logout_user()
    log_in(user)
    flash("Password impostata: ora sei entrato nel portale.", "success")
    return redirect_to("home.index")

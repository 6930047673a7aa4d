"""Logging in and out."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

import accounts
import audit
import throttle
from models import User
from views import ANY_ROLE, allow, client_ip, public, redirect_to_url, user_agent

bp = Blueprint("auth", __name__)
log = logging.getLogger("portal.auth")

LOGIN_FAILED = "Nome utente o password non corretti."


def safe_next_url(target: str | None) -> str:
    """Return ``target`` if it is a path on this site, else the home page."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and len(target) <= 2000
    ):
        return target
    return url_for("home.index")


def _attempted_user(username: str) -> User | None:
    key = User.normalize_username(username)
    if not key or len(key) > accounts.USERNAME_MAX_LENGTH:
        return None
    return User.get_or_none(User.username == key)


def _record_failure(kind: str, username: str, reason: str | None = None,
                    repeated: bool = False) -> None:
    """Log and audit a refused login (the password is never written anywhere).

    A ``repeated`` refusal is counted into one audit row per address and window
    (``audit.record_repeated``), so that a flood of them cannot flood the log.
    """
    typed = User.normalize_username(username)[:80]
    log.warning("%s: username=%r ip=%s", kind, typed, client_ip())
    target = _attempted_user(username)
    details = {"reason": reason} if reason else {}
    write = audit.record_repeated_safely if repeated else audit.record_safely
    write(kind, username=typed, studio_id=target.studio_id if target is not None else None,
          **details)


def throttled_login():
    """Answer a login attempt past one of the limits (see throttle.py)."""
    _record_failure("login_throttled", request.form.get("username", ""), repeated=True)
    return render_template(
        "auth/login.html",
        next_url=request.values.get("next", ""),
        username=request.form.get("username", "")[:80],
        error=throttle.THROTTLED_MESSAGE,
    ), 429


@bp.route("/login", methods=["GET", "POST"])
@public
@throttle.limit_failed_logins
def login():
    next_url = request.values.get("next", "")
    if current_user.is_authenticated:
        return redirect_to_url(safe_next_url(next_url))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, username="")

    username = request.form.get("username", "")
    password = request.form.get("password", "")
    if not username.strip() or not password:
        return render_template(
            "auth/login.html",
            next_url=next_url,
            username=username[:80],
            error="Inserisci nome utente e password.",
        ), 422
    reason = None
    try:
        user = accounts.authenticate(username, password)
    except accounts.AccountDisabled:
        # The same answer as a wrong password (it must not confirm a disabled account's
        # password); the administrator reads in the Registro attività that it was this.
        user, reason = None, "account disabilitato"
    if user is None:
        throttle.password_failed()
        _record_failure("login_failed", username, reason)
        return render_template(
            "auth/login.html", next_url=next_url, username=username[:80], error=LOGIN_FAILED
        ), 401

    log_in(user)
    return redirect_to_url(safe_next_url(next_url))


def log_in(user: User) -> None:
    """Open a new session for ``user`` and record the login (nothing carries over from before)."""
    session.clear()
    user.session_token = accounts.start_session(user, client_ip(), user_agent())
    login_user(user)
    log.info("login: user=%s ip=%s", user.username, client_ip())
    audit.record_safely("login", actor=user)


@bp.post("/logout")
@allow(*ANY_ROLE)
def logout():
    audit.record_safely("logout")
    accounts.end_session(current_user.session_token)
    logout_user()
    session.clear()
    flash("Sei uscito dal portale.", "info")
    return redirect_to_url(url_for("auth.login"))

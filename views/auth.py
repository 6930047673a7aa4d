"""Logging in and out."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

import accounts
from views import ANY_ROLE, allow, client_ip, public, redirect_to_url, user_agent

bp = Blueprint("auth", __name__)

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


@bp.route("/login", methods=["GET", "POST"])
@public
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
    user = accounts.authenticate(username, password)
    if user is None:
        return render_template(
            "auth/login.html", next_url=next_url, username=username[:80], error=LOGIN_FAILED
        ), 401

    session.clear()  # a new session at every login: nothing carries over from before
    user.session_token = accounts.start_session(user, client_ip(), user_agent())
    login_user(user)
    return redirect_to_url(safe_next_url(next_url))


@bp.post("/logout")
@allow(*ANY_ROLE)
def logout():
    accounts.end_session(current_user.session_token)
    logout_user()
    session.clear()
    flash("Sei uscito dal portale.", "info")
    return redirect_to_url(url_for("auth.login"))

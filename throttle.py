"""Throttling of failed logins, per account and per address (Flask-Limiter).

Only failures count: a login attempt is tested against both limits before it is
checked, and counted after it when it failed (401). Past a limit the login form
answers 429 with a clear message, even for the right password, until the window
has moved on. Counters live in memory (one per worker) unless
``RATELIMIT_STORAGE_URI`` names a shared store such as ``redis://127.0.0.1:6379``.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter

from models import User

THROTTLED_MESSAGE = (
    "Troppi tentativi di accesso non riusciti. Per sicurezza l'accesso è sospeso "
    "per qualche minuto: attendi e riprova più tardi."
)


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


def attempted_account() -> str:
    """The account a login attempt is for, as the login form would normalize it."""
    return "account:" + User.normalize_username(request.form.get("username", ""))[:80]


def login_failed(response) -> bool:
    return response.status_code == 401


EXTENSION_KEY = "portal_login_limiter"


def init_app(app: Flask) -> None:
    """Give ``app`` its own Limiter, and apply both login limits to the views marked for them.

    Call it once the blueprints are registered: it wraps their marked views.
    """
    config = app.config
    config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    config.setdefault("RATELIMIT_KEY_PREFIX", "portal")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # If the shared store is down, count in memory rather than refuse every login.
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    config.setdefault("LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes")
    config.setdefault("LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes")
    # One Limiter per app: a Limiter keeps the storage, strategy and key prefix of the
    # app it was last initialised with, and the tests build many apps in one process.
    limiter = Limiter(key_func=client_address, app=app)
    app.extensions[EXTENSION_KEY] = limiter
    for endpoint, view in list(app.view_functions.items()):
        if getattr(view, "limits_failed_logins", False):
            app.view_functions[endpoint] = _apply_login_limits(limiter, view)


def limiter_for(app: Flask) -> Limiter:
    """The Limiter that counts ``app``'s failed logins."""
    return app.extensions[EXTENSION_KEY]


def limit_failed_logins(view):
    """Mark ``view`` for both login limits (its POST only; only failures are counted).

    ``init_app`` applies them with the app's own Limiter.
    """
    view.limits_failed_logins = True
    return view


def _apply_login_limits(limiter: Limiter, view):
    per_account = limiter.limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
        key_func=attempted_account, methods=["POST"], deduct_when=login_failed,
        scope="login-account",
    )
    per_address = limiter.limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
        key_func=client_address, methods=["POST"], deduct_when=login_failed,
        scope="login-address",
    )
    return per_account(per_address(view))

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


limiter = Limiter(key_func=client_address)


def init_app(app: Flask) -> None:
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
    # One Limiter serves every app built in this process (the tests build many) and
    # would keep these settings of the first app it saw: take them from this one.
    limiter._key_prefix = None
    limiter._strategy = None
    limiter.init_app(app)


def limit_failed_logins(view):
    """Apply both login limits to ``view`` (its POST only; only failures are counted)."""
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
